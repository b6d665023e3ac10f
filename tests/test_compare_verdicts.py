"""numrnn compare's verdicts: planted nulls stay inconclusive, planted effects are supported,
Holm is applied per family, and the flow column never calls an exploding layer stable.

Each test's docstring names the wrong implementation it catches.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from numrnn.cli import main
from numrnn.compare import results as compare_results
from numrnn.compare import stats
from numrnn.compare.jobs import _flow, flow_inputs
from numrnn.compare.protocol import DEFAULT
from numrnn.compare.report import flow_cell
from numrnn.compare.results import compare_seeds, decide, worst_layer
from numrnn.presets import build
from numrnn.training.tasks import make_task


def claim(a, b, family="use cases", name="a beats b"):
    return {
        "pattern": "test",
        "cell": "test",
        "claim": name,
        "rule": "",
        "family": family,
        "test": compare_seeds(a, b),
        "verdict": None,
        "deciding": "",
        "numbers": {},
    }


@pytest.fixture
def few_resamples(monkeypatch):
    """The bootstrap interval describes; the exact p decides: a few resamples keep tests fast."""
    monkeypatch.setattr(compare_results, "N_RESAMPLES", 20)


def test_two_identical_architectures_under_different_names_are_inconclusive(few_resamples):
    """Jobs are deterministic, so one architecture under two names gives the same per-seed
    values: that must be inconclusive in either order. Catches a rule that calls a tie
    supported (e.g. "not worse than"), or a p of 0 from an all-tied permutation test."""
    values = [0.03, 0.16, 0.05, 0.15, 0.02, 0.17]
    claims = [claim(values, list(values)), claim(list(values), values, name="b beats a")]
    decide(claims)
    assert [c["verdict"] for c in claims] == ["inconclusive", "inconclusive"]


def test_planted_nulls_are_supported_at_most_at_the_family_wise_rate(few_resamples):
    """200 families of 5 claims, all 6 vs 6 draws from one distribution: a family with any
    verdict other than inconclusive happens at most at rate alpha (plus binomial slack,
    P < 0.001). Catches verdicts from raw p's (about 5 × 2 × 4.7 % of families) or the old
    one-sd rule."""
    rng = np.random.default_rng(1)
    wrong = 0
    for _ in range(200):
        claims = [claim(list(rng.normal(size=6)), list(rng.normal(size=6))) for _ in range(5)]
        decide(claims)
        wrong += any(c["verdict"] != "inconclusive" for c in claims)
    assert wrong <= 20  # Binomial(200, 0.05) exceeds 20 with P < 0.001


def test_a_planted_large_effect_is_supported_in_a_family_of_the_default_size(few_resamples):
    """6 reporting seeds that learn against 6 that do not, in a family of as many claims as the
    default run's largest (with the others null): supported, and the swapped claim
    contradicted. Catches a protocol with too few seeds or too large a family for Holm to
    ever pass (5 vs 5 seeds over 15 claims: p >= 1/252 > 0.05/30)."""
    rng = np.random.default_rng(2)
    learnt = [0.010, 0.012, 0.008, 0.015, 0.011, 0.009]
    stuck = [0.160, 0.158, 0.171, 0.166, 0.162, 0.169]
    claims = [claim(learnt, stuck), claim(stuck, learnt, name="swapped")]
    claims += [claim(list(rng.normal(size=6)), list(rng.normal(size=6))) for _ in range(4)]
    decide(claims)
    assert claims[0]["verdict"] == "supported"
    assert claims[1]["verdict"] == "contradicted"
    assert claims[0]["test"]["family_size"] == 12
    assert stats.minimum_p(DEFAULT.seeds, DEFAULT.seeds) * 12 <= 0.05


def test_families_are_adjusted_separately(few_resamples):
    """A claim's Holm p depends on its own family's size only. Catches Holm over every claim of
    the run (which the report does not state) or no adjustment at all."""
    rng = np.random.default_rng(3)
    alone = [
        claim([0.01, 0.02, 0.03, 0.04, 0.05, 0.06], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "principles")
    ]
    crowd = [claim(list(rng.normal(size=6)), list(rng.normal(size=6))) for _ in range(6)]
    decide(alone + crowd)
    test = alone[0]["test"]
    assert test["family_size"] == 2
    assert test["holm_p_for"] == pytest.approx(min(1.0, 2 * test["p_for"]))
    assert all(c["test"]["family_size"] == 12 for c in crowd)


def test_a_model_whose_lower_layer_explodes_is_not_stable_in_the_table():
    """A two-layer stack whose layer 1 recurrent weights are scaled up (its gradient grows
    towards step 1) and whose layer 2 is an identity recurrence with small inputs (stable):
    the flow column names layer 1 and never says "stable". Catches the old column, which read
    the top layer only (it said "stable" here)."""
    task = make_task("adding", seq_len=20, dtype=np.float32)
    model = build("hierarchical", task.input_size, 16, task.output_size, seed=0)
    model.params["layer1.W_hh"] *= 4.0
    model.params["layer2.W_hh"][:] = np.eye(16)
    model.params["layer2.W_xh"] *= 0.05
    x = flow_inputs(task, 4)
    flow = _flow(model, x, 0)
    layers = {layer["layer"]: layer["verdict"] for layer in flow["layers"]}
    assert layers == {1: "exploding", 2: "stable"}
    worst = worst_layer(flow)
    assert (worst["layer"], worst["verdict"]) == (1, "exploding")
    column = compare_results._flow_column([flow, flow])
    cell = flow_cell(column)
    assert "stable" not in cell and "exploding" in cell and "worst layer 1" in cell


def test_the_float64_flow_of_a_q8_transition_is_finite_where_float32_underflows():
    """The job's flow is float64 on the task's own inputs: a budget-sized q = 8 deep transition
    on adding-500, whose float32 gradient at step 1 underflows to 0 on the same inputs, gets a
    finite log10 ratio (no bound) from the job. Catches a flow measured in the training dtype
    (or a dropped -inf, as the old sweep figure did)."""
    T = 500
    task = make_task("adding", seq_len=T, dtype=np.float32)
    model = build("deep-transition", 2, 14, 1, transition_depth=8, seed=0, dtype=np.float32)
    x = flow_inputs(task, 4)  # (T, 4, 2), float64
    mask = np.zeros((T, 4), np.float32)
    mask[-1] = 1  # the loss on the last step, as the flow's
    _, _, info = model.loss_and_grads(
        x.astype(np.float32), np.ones((T, 4, 1), np.float32), loss="mse", mask=mask, need_dx=False
    )
    assert info.grad_norms[0][0] == 0 < info.grad_norms[0][-1]  # float32: underflowed at step 1
    worst = worst_layer(_flow(model, x, 0))
    assert worst["bound"] is None and np.isfinite(worst["value"]) and worst["value"] < -40


def test_without_the_compare_extra_the_command_names_it_in_one_line(tmp_path, monkeypatch, capsys):
    """scipy missing: one line on stderr naming the extra, exit 2. Catches a traceback."""
    monkeypatch.setitem(sys.modules, "scipy", None)
    code = main(["compare", "--out", str(tmp_path / "out"), "--quick", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "python -m pip install 'numrnn[compare]'" in err
