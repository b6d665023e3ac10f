"""numrnn compare: the report's files and numbers, fair-comparison rules, resuming, workers, Dask.

One ``numrnn compare --quick`` run is shared by the module (``quick_report``); the sweep
machinery (resume, settings that differ, interruption, executors) is tested on a tiny protocol
through the library, which takes a fraction of a second per run.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from numrnn.cli import main
from numrnn.compare.budget import solve_width
from numrnn.compare.jobs import build_model, job_key, job_label, run_job, train_settings
from numrnn.compare.protocol import QUICK, Protocol, TaskSpec, parse_task
from numrnn.compare.results import TIMING_KEYS, collect_results
from numrnn.compare.sweep import InlineExecutor, choose_tuning, run_sweep
from numrnn.init import residual_branch_weights
from numrnn.presets import build
from numrnn.training.tasks import TASKS, AddingTask, Task

TINY = Protocol(
    tasks=(TaskSpec("adding", 6),),
    architectures=("vanilla", "deep-transition", "deep-transition-skip"),
    tuning_seeds=1,
    seeds=2,
    budget=120,
    tolerance=0.15,
    steps=4,
    lr_range=(1e-2, 3e-2),
    tuning_points=2,
    tuning_rungs=(0.5, 1.0),
    batch_size=4,
    eval_every=2,
    depths=(1, 2),
    fixed_width_sweep=False,
    flow_batch=2,
    spectra_T=3,
)
# 5 configurations (vanilla; deep-transition q=2, q=1; deep-transition-skip q=2, q=1), each with
# 2 tuning points: 2 short runs, then the better one at full length (1 tuning seed), then
# 2 reporting seeds; and 3 flow jobs
TINY_JOBS = 3 + 5 * (2 + 1 + 2)


def without_timing(value):
    """``value`` with every measured time (and the run's own facts) left out."""
    if isinstance(value, dict):
        return {
            key: without_timing(item)
            for key, item in value.items()
            if key not in TIMING_KEYS and key not in ("run", "timing")
        }
    if isinstance(value, list):
        return [without_timing(item) for item in value]
    return value


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "report"
    code = main(["compare", "--out", str(out), "--quick", "--workers", "2", "--no-progress"])
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


def table_rows(markdown: str, heading: str) -> list:
    """The cells of the first table under ``## heading``."""
    section = markdown.split(f"## {heading}\n", 1)[1].lstrip("\n")
    table = section.split("\n\n", 1)[0].splitlines()
    return [re.split(r"(?<!\\) \| ", line.strip()[2:-2]) for line in table[2:]]


def numbers_in(cell: str) -> list:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", cell)]


def close(shown: float, value: float) -> bool:
    """``shown`` is ``value`` at 3 significant digits."""
    return float(f"{value:.3g}") == shown


# ------------------------------------------------------------------------------ the quick report


def test_a_quick_report_opens_with_a_banner_that_its_numbers_decide_nothing(quick_report):
    """The banner is the first thing of report.md and report.html and is in the JSON's run facts;
    catches a report that drops it or shows it below the table."""
    out, results = quick_report
    assert results["run"]["quick"] is True
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("**QUICK RUN: these numbers decide nothing.")
    body = (out / "report.html").read_text().split("<body>", 1)[1]
    assert body.lstrip().startswith("<p><strong>QUICK RUN: these numbers decide nothing.")


def test_quick_run_writes_every_file(quick_report):
    out, results = quick_report
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("report.md", "report.html", "results.json", "gradient_maps.png"):
        assert (out / name).stat().st_size > 0
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask  # not a private temp file
    expected = {
        "gradient_maps",
        "norm_vs_distance",
        "jacobian_spectra",
        "span_norms",
        "depth_sweep_ratio",
        "depth_sweep_metric",
    } | {f"training_curves_{task}" for task in results["tasks"]}
    assert set(results["figures"]) == expected
    for name in expected:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{name}.svg").read_bytes()[:500]


def test_html_is_self_contained_with_every_figure_embedded(quick_report):
    out, results = quick_report
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(results["figures"])
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    for row in results["table"]:  # the same table as report.md
        assert row["title"] in page


def test_report_table_has_a_row_per_architecture_with_the_json_numbers(quick_report):
    out, results = quick_report
    rows = table_rows((out / "report.md").read_text(), "The chapter's table, measured")
    assert [cells[0] for cells in rows] == [row["title"] for row in results["table"]]
    assert len(rows) == len(QUICK.architectures) == 6
    for cells, row in zip(rows, results["table"], strict=True):
        assert cells[1] == row["depth_location"]
        assert numbers_in(cells[2]) == [row["hidden"]]
        p = row["parameters"]
        assert numbers_in(cells[3]) == [p["total"], p["input"], p["transition"], p["output"]]
        assert close(numbers_in(cells[4])[0], row["parameters_vs_vanilla_at_equal_width"])
        depth = row["sequential_depth"]
        assert numbers_in(cells[5]) == [depth["recurrent"], depth["input_to_output"]]
        assert close(numbers_in(cells[6])[0], row["ms_per_step"])
        flow = row["flow_init"]
        assert f"worst layer {', '.join(map(str, flow['worst_layers']))}" in cells[7]
        assert (flow["verdict"] if flow["verdict"] != "mixed" else "") in cells[7]
        for cell, task in zip(cells[9:], results["tasks"], strict=True):
            metric = row["metrics"][task]
            shown = numbers_in(cell)
            assert close(shown[0], metric["median"]) and close(shown[3], metric["mean"])
            assert close(shown[4], metric["sd"])
            assert f"learnt {metric['learned']} of {metric['learned_of']}" in cell


def test_parameter_counts_meet_the_budget_and_are_the_models_counts(quick_report):
    """Every budget-matched configuration meets the budget; a fixed-width one has the width of
    the preset's q at the budget, whatever its count. Catches a fixed-width sweep that
    re-solves the width (depth confounded with width again)."""
    _, results = quick_report
    protocol = results["protocol"]
    preset_width = {
        run["arch"]: run["hidden"]
        for run in results["runs"]
        if "main" in run["roles"] and run["task"] == results["flow_task"]
    }
    fixed = [run for run in results["runs"] if "width sweep" in run["roles"]]
    assert fixed and all(run["hidden"] == preset_width[run["arch"]] for run in fixed)
    for run in results["runs"]:
        task = results["tasks"][run["task"]]["settings"]
        model = build(run["arch"], 2, run["hidden"], 1, transition_depth=run["transition_depth"])
        assert task["name"] == "adding" and model.num_params() == run["parameters"]["total"]
        if run["roles"] == ["width sweep"]:
            continue
        total = run["parameters"]["total"]
        assert abs(total - protocol["budget"]) / protocol["budget"] <= protocol["tolerance"]


def test_verdicts_are_three_way_and_every_tested_one_follows_its_holm_p_values(quick_report):
    """Each tested claim's verdict is what three_way gives on its Holm-adjusted p's; catches a
    verdict read from the raw p (before Holm) or the old "not supported" two-way verdicts."""
    from numrnn.compare import stats

    _, results = quick_report
    assert {c["verdict"] for c in results["claims"]} <= {
        "supported",
        "contradicted",
        "inconclusive",
        "not measured",
    }
    for claim in results["claims"]:
        test = claim["test"]
        if test is None:
            continue
        expected = stats.three_way(test["holm_p_for"], test["holm_p_against"], 0.05)
        if test.get("equivalence"):
            expected = "inconclusive" if expected == "inconclusive" else "contradicted"
        assert claim["verdict"] == expected
        assert test["holm_p_for"] >= test["p_for"] and test["holm_p_against"] >= test["p_against"]
        # 2 vs 2 seeds: no test can pass
        assert claim["verdict"] in ("inconclusive", "not measured")
    text = (quick_report[0] / "report.md").read_text()
    for claim in results["claims"]:
        assert f"**{claim['verdict']}**" in text


def test_depth_sweep_lists_every_depth_in_order_for_both_architectures(quick_report):
    out, results = quick_report
    depths = [str(q) for q in results["protocol"]["depths"]]
    assert list(results["sweep"]) == ["deep-transition", "deep-transition-skip"]
    for by_q in results["sweep"].values():
        assert list(by_q) == depths
    rows = table_rows(
        (out / "report.md").read_text(), "The depth sweep on adding-20, budget-matched"
    )
    assert [(cells[0], cells[1]) for cells in rows] == [
        (arch, q) for arch in results["sweep"] for q in depths
    ]


def test_tuning_halves_and_picks_the_best_mean_over_the_tuning_seeds_on_validation(quick_report):
    """Every point trains the first rung; the best 1/halving_rate go on; the chosen point is the
    lowest mean validation metric of the last rung. Catches a choice made on the short rung, on
    one seed, or on a point that did not reach the last rung."""
    _, results = quick_report
    protocol = results["protocol"]
    for run in results["runs"]:
        residual = run["arch"] in ("deep-transition-skip", "hierarchical-deep-transition-skip")
        assert len(run["tuning"]) == protocol["tuning_points"]
        assert all(("residual_scale" in point) == residual for point in run["tuning"])
        first = [point["rungs"][0] for point in run["tuning"]]
        assert all(r["steps"] == protocol["rung_steps"][0] for r in first)
        last = [p for p in run["tuning"] if len(p["rungs"]) == len(protocol["rung_steps"])]
        assert len(last) == math.ceil(protocol["tuning_points"] / protocol["halving_rate"])
        for point in last:
            rung = point["rungs"][-1]
            assert len(rung["per_seed"]) == protocol["tuning_seeds"]
            if None not in rung["per_seed"]:
                assert rung["final_val_metric"] == pytest.approx(np.mean(rung["per_seed"]))
        best = min(
            last,
            key=lambda p: (
                math.inf
                if p["rungs"][-1]["final_val_metric"] is None
                else p["rungs"][-1]["final_val_metric"],
                p["lr"],
                p.get("residual_scale", 0),
            ),
        )
        assert (run["lr"], run["residual_scale"]) == (best["lr"], best.get("residual_scale"))


def test_every_architecture_gets_the_same_number_of_tuning_runs(quick_report):
    """Counted from the job files: the tuning runs of every configuration, the residual ones
    (lr × residual scale) included. Catches the old grid, which gave a residual architecture
    twice the runs."""
    out, _ = quick_report
    runs = {}
    for path in (out / "jobs").glob("*.json"):
        settings = json.loads(path.read_text())["settings"]
        if settings["kind"] == "train" and not settings["measure_flow"]:
            key = (settings["arch"], json.dumps(settings["task"]), settings["transition_depth"])
            key += (settings["hidden"],)
            runs[key] = runs.get(key, 0) + 1
    assert len(runs) == len(json.loads((out / "results.json").read_text())["runs"])
    assert len(set(runs.values())) == 1, runs


def test_reporting_seeds_are_disjoint_from_tuning_seeds_and_the_offset_shifts_both(quick_report):
    """From the job files: tuning runs use only the tuning seeds, reporting runs only the
    reporting seeds, and the two sets do not meet; --seed-offset moves every seed and the
    held-out sets. Catches reporting the seeds that chose the settings."""
    out, results = quick_report
    protocol = results["protocol"]
    tuning, reporting = set(protocol["tuning_seeds_used"]), set(protocol["reporting_seeds_used"])
    assert tuning and reporting and not tuning & reporting
    seen = {True: set(), False: set()}
    for path in (out / "jobs").glob("*.json"):
        settings = json.loads(path.read_text())["settings"]
        if settings["kind"] == "train":
            seen[settings["measure_flow"]].add(settings["seed"])
    assert seen == {True: reporting, False: tuning}
    shifted = QUICK.replace(seed_offset=1000)
    assert shifted.tuning_seed_list == [s + 1000 for s in QUICK.tuning_seed_list]
    assert shifted.reporting_seed_list == [s + 1000 for s in QUICK.reporting_seed_list]
    assert not set(shifted.tuning_seed_list + shifted.reporting_seed_list) & (tuning | reporting)
    task = QUICK.tasks[0]
    moved = train_settings(shifted, "vanilla", task, 8, 0, 1000, {"lr": 1e-2})
    assert (moved["validation_seed"], moved["test_seed"]) == (1000, 1001)
    with pytest.raises(ValueError, match="seed_offset must be"):
        QUICK.replace(seed_offset=-1)


def test_the_tuning_table_shows_every_point_and_marks_the_chosen_one_once(quick_report):
    """One line per tuning point of every configuration, the chosen one marked once, with EDGE
    where it sits at the end of the learning-rate range. Catches a table that lists only the
    survivors of the halving, or an edge choice shown unflagged."""
    out, results = quick_report
    rows = table_rows(
        (out / "report.md").read_text(),
        "Tuning: the mean final validation metric of the tuning seeds at each rung",
    )
    for run in results["runs"]:
        where = [run["arch"], run["task"], str(run["transition_depth"]), str(run["hidden"])]
        mine = [cells for cells in rows if cells[:4] == where]
        assert len(mine) == len(run["tuning"])
        chosen = [cells[-1] for cells in mine if cells[-1]]
        assert len(chosen) == 1 and chosen[0].startswith(f"lr {run['lr']:g}")
        assert ("EDGE" in chosen[0]) == (run["grid_edge"] is not None)


# ------------------------------------------------------------------------------ the sweep machinery


def tiny_results(out, executor=None, protocol=TINY):
    sweep = run_sweep(protocol, out, executor=executor, progress=False)
    return sweep, without_timing(collect_results(protocol, sweep))


def test_rerun_reuses_every_job_and_gives_the_same_numbers(tmp_path):
    first, results = tiny_results(tmp_path)
    assert (first.ran, first.cached) == (TINY_JOBS, 0)
    again, results_again = tiny_results(tmp_path)
    assert (again.ran, again.cached) == (0, TINY_JOBS)
    assert results_again == results


def test_a_job_with_other_settings_is_not_reused(tmp_path):
    tiny_results(tmp_path)
    longer = TINY.replace(steps=5)
    sweep, _ = tiny_results(tmp_path, protocol=longer)
    # only the first rung (2 steps either way: 0.5 × 4 and round(0.5 × 5)) can be reused
    assert 10 <= sweep.cached <= 13 and sweep.cached + sweep.ran == TINY_JOBS
    assert all(
        result["steps_done"] == 5 for results in sweep.seed_results.values() for result in results
    )


def test_a_torn_job_file_is_run_again(tmp_path):
    _, results = tiny_results(tmp_path)
    victim = sorted((tmp_path / "jobs").glob("*.json"))[0]
    victim.write_text('{"settings": ')
    sweep, again = tiny_results(tmp_path)
    assert (sweep.ran, sweep.cached) == (1, TINY_JOBS - 1)
    assert again == results
    assert json.loads(victim.read_text())["key"] == victim.stem


class InterruptedExecutor(InlineExecutor):
    """Runs ``allowed`` jobs, then acts as if the user pressed Ctrl-C."""

    def __init__(self, allowed):
        self.allowed = allowed

    def submit(self, fn, /, *args, **kwargs):
        if self.allowed == 0:
            raise KeyboardInterrupt
        self.allowed -= 1
        return super().submit(fn, *args, **kwargs)


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    _, results = tiny_results(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        tiny_results(tmp_path / "cut", executor=InterruptedExecutor(allowed=7))
    assert len(list((tmp_path / "cut" / "jobs").glob("*.json"))) == 7
    sweep, resumed = tiny_results(tmp_path / "cut")
    assert (sweep.cached, sweep.ran) == (7, TINY_JOBS - 7)
    assert resumed == results


def test_two_worker_processes_give_the_same_numbers_as_one(tmp_path):
    _, results = tiny_results(tmp_path / "one")
    with ProcessPoolExecutor(max_workers=2) as pool:
        sweep, in_two = tiny_results(tmp_path / "two", executor=pool)
    assert sweep.ran == TINY_JOBS
    assert in_two == results


def test_a_dask_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    small = ["--quick", "--no-progress", "--task", "adding:6", "--arch", "vanilla"]
    small += ["--arch", "deep-transition", "--depths", "none", "--budget", "150", "--steps", "4"]
    protocol = QUICK.replace(
        tasks=(TaskSpec("adding", 6),),
        architectures=("vanilla", "deep-transition"),
        sweep_architectures=("deep-transition",),  # as the command sets it (no depths: no sweep)
        depths=(),
        budget=150,
        steps=4,
    )
    _, local = tiny_results(tmp_path / "local", protocol=protocol)  # in this process
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert (
            main(["compare", "--out", str(tmp_path / "dask"), "--scheduler", address, *small]) == 0
        )
    on_dask = json.loads((tmp_path / "dask" / "results.json").read_text())
    assert on_dask["run"]["executor"] == f"Dask scheduler {address}"
    del on_dask["figures"]
    assert without_timing(on_dask) == json.loads(json.dumps(local))


class SplitTask(Task):
    """A data set with a validation and a test split (as chorales has): the adding problem."""

    name, loss, metric_name, input_size, output_size = "split", "mse", "mse", 2, 1

    def __init__(self, seq_len=6, *, dtype=np.float64, split_seed=0):
        super().__init__(seq_len, dtype=dtype)
        self.inner = AddingTask(seq_len, seed=split_seed, dtype=dtype)

    def train_batch(self, step, batch_size, rng):
        return self.inner.train_batch(step, batch_size, rng)

    def validation_batches(self, batch_size=None):
        return self.inner.validation_batches(batch_size)

    @property
    def baseline(self):
        return self.inner.baseline

    def held_out(self):
        return SplitTask(self.seq_len, dtype=self.dtype, split_seed=7)


def test_a_task_with_a_test_split_is_scored_on_it(monkeypatch):
    monkeypatch.setitem(TASKS, "split", SplitTask)
    task = parse_task("split:6")
    settings = train_settings(TINY, "vanilla", task, 8, 0, 0, {"lr": 1e-2})
    result = run_job(settings)["result"]
    assert result["held_out"] == "test"
    model = build("vanilla", 2, 8, 1, seed=0, dtype=np.float32)
    assert result["parameters"]["total"] == model.num_params()
    assert result["test_metric"] is not None and result["test_metric"] != result["final_val_metric"]


def test_choose_tuning_takes_the_mean_over_seeds_counts_divergence_as_worst_and_breaks_ties_low():
    def runs(*values):
        return [{"final_val_metric": value} for value in values]

    grid = [{"lr": 0.1}, {"lr": 0.01}]
    assert choose_tuning(grid, [runs(None), runs(5.0)]) == 1
    assert choose_tuning(grid, [runs(1.0), runs(1.0)]) == 1
    assert choose_tuning(grid, [runs(0.1, None), runs(5.0, 5.0)]) == 1  # one diverged seed: worst
    assert choose_tuning(grid, [runs(0.01, 3.0), runs(1.0, 1.0)]) == 1  # lucky once loses
    grid = [{"lr": 0.01, "residual_scale": 1.0}, {"lr": 0.01, "residual_scale": 0.01}]
    assert choose_tuning(grid, [runs(1.0), runs(1.0)]) == 1  # then the smaller scale
    assert choose_tuning(grid, [runs(0.5), runs(1.0)]) == 0
    with pytest.raises(ValueError, match="grid and results must be non-empty and of one length"):
        choose_tuning(grid, [runs(1.0)])
    with pytest.raises(ValueError, match="at least one result per point"):
        choose_tuning(grid, [runs(1.0), []])


def test_the_residual_scale_reaches_the_trained_model_and_the_job_key():
    """A job's residual_scale builds its model (the flow at init differs) and is hashed, and an
    architecture without a residual branch gets no such key (its jobs keep their old keys)."""
    task = parse_task("adding:6")
    small, plain = (
        train_settings(
            TINY, "deep-transition-skip", task, 8, 2, 0, {"lr": 1e-2, "residual_scale": s}
        )
        for s in (0.01, 1.0)
    )
    assert job_key(small) != job_key(plain)
    assert "residual scale 0.01" in job_label(small)
    ends = residual_branch_weights(build_model(small, 2, 1).config)
    for name in ends:
        np.testing.assert_allclose(
            build_model(small, 2, 1).params[name], 0.01 * build_model(plain, 2, 1).params[name]
        )
    vanilla = train_settings(TINY, "vanilla", task, 8, 0, 0, {"lr": 1e-2})
    assert "residual_scale" not in vanilla
    with pytest.raises(ValueError, match="tuning must be a dict with 'lr'"):
        train_settings(TINY, "vanilla", task, 8, 0, 0, 1e-2)


def test_width_solver_meets_the_budget_or_says_what_works():
    width = solve_width("deep-transition", 2, 1, 2000, tolerance=0.05)
    assert abs(width.parameters["total"] - 2000) <= 100
    assert build("deep-transition", 2, width.hidden, 1).num_params() == width.parameters["total"]
    with pytest.raises(ValueError, match=r"budget: no hidden size .* raise --budget to about \d+"):
        solve_width("hierarchical-deep-transition-skip", 2, 1, 12, tolerance=0.05)


def test_task_specs_parse_and_refuse_bad_lengths():
    assert parse_task("adding:50") == TaskSpec("adding", 50)
    assert parse_task("charlm") == TaskSpec("charlm")
    with pytest.raises(ValueError, match=r"task must be NAME or NAME:T with an integer T"):
        parse_task("adding:x")
    with pytest.raises(ValueError, match=r"task must be one of"):
        parse_task("nope")


# ------------------------------------------------------------------------------ the command line


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--seeds", "0"], r"--seeds must be a whole number >= 1; got 0"),
        (["--budget", "many"], r"--budget must be a whole number >= 10; got 'many'"),
        (["--workers", "0"], r"--workers must be a whole number >= 1; got 0"),
        (["--depths", "1,x"], r"--depths must be a whole number >= 1; got 'x'"),
        (["--depths", "2,2"], r"--depths must not repeat a depth"),
        (["--residual-scales", "0.01,x"], r"--residual-scales must be comma-separated positive"),
        (["--residual-scales", "0"], r"--residual-scales must be .* got '0'"),
        (["--residual-scales", "1,1"], r"do not repeat; got '1,1'"),
        (["--residual-scales", "inf"], r"--residual-scales must be .* got 'inf'"),
        (["--task", "nope"], r"task must be one of \["),
        (["--task", "adding:1"], r"T must be >= 2; got 1"),
        (["--arch", "lstm"], r"--arch must be one of \["),
        (["--budget", "12"], r"raise --budget to about"),
        (["--task", "chorales"], r"pip install 'numrnn\[music\]'"),
        (["--seed-offset", "-1"], r"--seed-offset must be a whole number >= 0; got -1"),
        (["--residual-scales", "0.1,0.2,0.3"], r"divides the 2 tuning points.*got 3"),
    ],
)
def test_bad_flags_are_one_line_errors_with_exit_2(flags, message, tmp_path, capsys):
    if (
        "chorales" in flags
        and "chorales" in __import__("numrnn.training.tasks").training.tasks.TASKS
    ):
        pytest.skip("the chorales task is installed here")
    code = main(["compare", "--out", str(tmp_path / "out"), "--quick", "--no-progress", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("numrnn compare: error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["compare", "--out", str(target), "--quick"]) == 2
    assert "--out must be a folder" in capsys.readouterr().err


def test_results_json_is_strict_json_with_finite_numbers(quick_report):
    out, _ = quick_report

    def check(value):
        if isinstance(value, float):
            assert math.isfinite(value)
        elif isinstance(value, dict):
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)

    check(json.loads((out / "results.json").read_text(), parse_constant=pytest.fail))


def test_shared_jobs_folder_can_be_copied_to_resume_elsewhere(quick_report, tmp_path):
    out, results = quick_report
    shutil.copytree(out / "jobs", tmp_path / "jobs")
    sweep = run_sweep(QUICK, tmp_path, progress=False)
    assert sweep.ran == 0
    collected = json.loads(json.dumps(collect_results(QUICK, sweep)))
    assert without_timing(collected) == without_timing(
        {key: value for key, value in results.items() if key != "figures"}
    )


def test_residual_scales_flag_sets_the_tuning_grid_of_the_residual_architectures():
    import argparse

    from numrnn.cli.compare import add_arguments, make_protocol

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    protocol = make_protocol(parser.parse_args(["--out", "x", "--residual-scales", "1"]))
    assert protocol.residual_scales == (1.0,)
    plain = protocol.tuning_grid("deep-transition-shortcut")
    assert protocol.tuning_grid("deep-transition-skip") == [
        {**point, "residual_scale": 1.0} for point in plain
    ]
    default = make_protocol(parser.parse_args(["--out", "x"]))
    assert default.residual_scales == (0.01, 1.0)
    assert (default.tuning_seeds, default.seeds) == (2, 6)
    residual = default.tuning_grid("deep-transition-skip")
    assert len(residual) == len(default.tuning_grid("vanilla")) == default.tuning_points
    assert {p["residual_scale"] for p in residual} == {0.01, 1.0}
    assert make_protocol(parser.parse_args(["--out", "x", "--seeds", "7"])).seeds == 7
    assert make_protocol(parser.parse_args(["--out", "x", "--seed-offset", "9"])).seed_offset == 9


def test_the_gradient_flow_pictures_use_the_residual_scale_each_architecture_chose(quick_report):
    """The figures and the table describe the same models: a residual architecture's flow job
    is built at the scale its tuning chose on the sweep task; the others carry no scale."""
    out, results = quick_report
    flows = {}
    for path in (out / "jobs").glob("*.json"):
        job = json.loads(path.read_text())
        if job["settings"]["kind"] == "flow":
            flows[job["settings"]["arch"]] = job["settings"]
    assert set(flows) == set(results["protocol"]["architectures"])
    for row in results["table"]:
        chosen = row["metrics"][results["flow_task"]]["residual_scale"]
        assert flows[row["arch"]].get("residual_scale") == chosen


def test_has_residual_branch_reads_the_preset_and_names_a_bad_architecture():
    from numrnn.compare.protocol import has_residual_branch

    assert [has_residual_branch(arch) for arch in TINY.architectures] == [False, False, True]
    assert has_residual_branch("hierarchical-deep-transition-skip")
    with pytest.raises(ValueError, match=r"arch must be one of \[.*\]; got 'lstm'"):
        has_residual_branch("lstm")


def test_early_stopping_scores_the_best_validation_checkpoint_and_only_then_changes_the_key():
    """With early stopping a run ends with the parameters of its lowest validation metric: its
    held-out score is that of the same run stopped there. Fails if the checkpoint is not restored
    (the score would be the last step's), or if it holds views of the arrays the optimizer keeps
    updating (the restored values would be the last step's); the flag is hashed only when on."""
    task = parse_task("adding:6")
    protocol = TINY.replace(steps=30, eval_every=5, early_stopping=True)
    settings = train_settings(protocol, "vanilla", task, 8, 1, 0, {"lr": 0.03}, reporting=False)
    result = run_job(settings)["result"]
    history = result["history"]
    best = int(np.argmin(history["val_metric"]))
    assert result["stopped_at"] == history["eval_step"][best] < protocol.steps
    assert result["final_val_metric"] == history["val_metric"][best] < history["val_metric"][-1]
    stopped = dict(settings, steps=result["stopped_at"])
    del stopped["early_stopping"]
    there = run_job(stopped)["result"]
    assert there["stopped_at"] is None
    assert result["test_metric"] == pytest.approx(there["test_metric"], rel=1e-6)
    assert result["final_val_metric"] == pytest.approx(there["final_val_metric"], rel=1e-6)
    plain = train_settings(TINY, "vanilla", task, 8, 1, 0, {"lr": 0.03})
    assert "early_stopping" not in plain
    with pytest.raises(TypeError, match="early_stopping must be True or False; got 'yes'"):
        TINY.replace(early_stopping="yes")


def test_early_stopping_and_eval_every_flags_reach_the_protocol(tmp_path, capsys):
    """--early-stopping and --eval-every set their fields (fails if a flag is parsed but
    dropped); a bad cadence is a one-line error naming the flag."""
    import argparse

    from numrnn.cli.compare import add_arguments, make_protocol

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    default = make_protocol(parser.parse_args(["--out", "x"]))
    assert (default.early_stopping, default.eval_every) == (False, 50)
    flags = ["--out", "x", "--early-stopping", "--eval-every", "25"]
    protocol = make_protocol(parser.parse_args(flags))
    assert (protocol.early_stopping, protocol.eval_every) == (True, 25)
    code = main(["compare", "--out", str(tmp_path / "o"), "--quick", "--eval-every", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--eval-every must be a whole number >= 1; got 0" in err
