"""The workspace: scratch memory reused across training steps, never visible in a result.

A reused buffer that leaks into something ``loss_and_grads`` returns would be
silently overwritten by the next step, so the tests here keep every returned
array of one call, run another call on other data, and check that nothing
kept has changed and that each call equals the same call without a workspace.

Shape legend: T steps, B batch, D input size, H hidden size, O output size.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import build_problem, model_settings, random_targets
from hypothesis import given, settings

import numrnn
from numrnn.workspace import FRESH, Workspace


def _call(problem, workspace, x=None, targets=None, need_dx=True):
    model = problem.model
    model.workspace = workspace
    return model.loss_and_grads(
        problem.x if x is None else x,
        problem.targets if targets is None else targets,
        loss=problem.loss,
        h0=problem.h0,
        mask=problem.mask,
        need_dx=need_dx,
    )


def _returned_arrays(result) -> dict:
    """Every array a loss_and_grads call hands back, by a readable name."""
    loss, grads, info = result
    arrays = {f"grads[{name!r}]": value for name, value in grads.items()}
    arrays.update({"info.y": info.y, "info.grad_norms": info.grad_norms})
    arrays.update({f"info.final_state[{l}]": s for l, s in enumerate(info.final_state)})
    arrays.update({f"info.dh0[{l}]": d for l, d in enumerate(info.dh0)})
    if info.dx is not None:
        arrays["info.dx"] = info.dx
    return arrays


@settings(max_examples=60, deadline=None)
@given(model_settings())
def test_nothing_returned_is_overwritten_by_the_next_step_and_results_equal_fresh_arrays(setting):
    """Catches a workspace buffer that leaks into a result (y, a gradient, dx, dh0, the norms):
    the second call would overwrite the first call's result. Also catches a buffer read before it
    is written (stale data from the previous call): the results would differ from fresh arrays."""
    problem = build_problem(setting)
    workspace = Workspace()
    first = _call(problem, workspace)
    kept = {name: value.copy() for name, value in _returned_arrays(first).items()}

    rng = np.random.default_rng(setting.seed + 7)
    T, B, D = problem.x.shape
    other_x = rng.standard_normal((T, B, D))
    other_targets = random_targets(problem.loss, T, B, problem.model.config.output_size, rng)
    second = _call(problem, workspace, x=other_x, targets=other_targets)

    for name, value in _returned_arrays(first).items():
        np.testing.assert_array_equal(
            value, kept[name], err_msg=f"{name} changed when the workspace was reused"
        )
    for result, x, targets in ((first, None, None), (second, other_x, other_targets)):
        expected = _returned_arrays(_call(problem, FRESH, x=x, targets=targets))
        for name, value in _returned_arrays(result).items():
            np.testing.assert_array_equal(value, expected[name], err_msg=name)
        assert result[0] == _call(problem, FRESH, x=x, targets=targets)[0]


def test_the_model_reuses_its_workspace_and_a_second_step_allocates_no_scratch():
    """Catches a model that does not pass its workspace to the core (every step would ask the
    system for fresh memory again) or a role whose buffer is replaced on every call."""
    model = numrnn.DeepRNN(
        3,
        8,
        4,
        num_layers=2,
        transition_depth=2,
        skip="residual",
        output_depth=1,
        input_depth=1,
        seed=0,
    )
    rng = np.random.default_rng(0)
    x, targets = rng.standard_normal((6, 5, 3)), rng.integers(0, 4, size=(6, 5))
    model.loss_and_grads(x, targets, need_dx=False)
    buffers = dict(model.workspace._buffers)
    assert model.workspace.nbytes > 0
    model.loss_and_grads(x, targets, need_dx=False)
    model.loss_and_grads(
        x[:4, :3], targets[:4, :3], need_dx=False
    )  # a smaller batch fits in the same memory
    assert model.workspace._buffers.keys() == buffers.keys()
    assert all(model.workspace._buffers[role] is buffer for role, buffer in buffers.items())


def test_from_config_models_have_their_own_workspace():
    """Catches a model built by from_config without a workspace (AttributeError at the first step)
    or sharing one with the model it was copied from (two models would clobber each other)."""
    model = numrnn.DeepRNN(3, 4, 2, seed=0)
    copy = numrnn.DeepRNN.from_config(model.config, {k: v.copy() for k, v in model.params.items()})
    assert isinstance(copy.workspace, Workspace) and copy.workspace is not model.workspace
    x, targets = np.zeros((2, 1, 3)), np.zeros((2, 1), dtype=int)
    assert copy.loss_and_grads(x, targets)[0] == model.loss_and_grads(x, targets)[0]


def test_a_role_reuses_its_memory_grows_when_needed_and_follows_the_dtype():
    """Catches a workspace that hands out a new array for every request, or a view too small for
    the shape asked, or a float64 request served from float32 memory."""
    ws = Workspace()
    a = ws.empty("deltas", (4, 3, 2), np.float64)
    assert a.shape == (4, 3, 2) and a.dtype == np.float64 and a.flags.c_contiguous
    b = ws.empty("deltas", (2, 3, 2), np.float64)
    assert np.shares_memory(a, b) and b.shape == (2, 3, 2)
    c = ws.empty("deltas", (5, 3, 2), np.float64)  # larger: new memory, now the role's
    assert not np.shares_memory(a, c) and ws.nbytes == c.nbytes
    d = ws.empty("deltas", (5, 3, 2), np.float32)  # another dtype: new memory
    assert d.dtype == np.float32 and not np.shares_memory(c, d)
    assert not np.shares_memory(
        ws.empty("other", (2,), np.float64), ws.empty("deltas", (2,), np.float32)
    )


def test_scopes_prefix_roles_and_share_one_pool():
    """Catches scopes whose roles collide (two layers' states in one buffer) or that keep memory
    the parent cannot see or clear."""
    ws = Workspace()
    one, two = ws.scope("layer1"), ws.scope("layer2")
    assert not np.shares_memory(
        one.empty("states", (3,), np.float64), two.empty("states", (3,), np.float64)
    )
    assert np.shares_memory(
        one.empty("states", (3,), np.float64), ws.scope("layer1").empty("states", (2,), np.float64)
    )
    assert ws.nbytes == 2 * 3 * 8
    ws.clear()
    assert ws.nbytes == 0 and one.nbytes == 0
    one.empty("states", (3,), np.float64), two.empty("states", (3,), np.float64)
    assert repr(ws) == "Workspace(2 buffers, 0.0 MiB)"


def test_fresh_never_reuses_and_holds_nothing():
    """Catches FRESH (the default of every core function) reusing memory: two layers of one
    functional call would then share their caches."""
    a = FRESH.empty("states", (3, 2), np.float64)
    b = FRESH.scope("layer1").empty("states", (3, 2), np.float64)
    assert not np.shares_memory(a, b) and FRESH.nbytes == 0
    assert repr(FRESH) == "Workspace(reuse=False)"


@pytest.mark.parametrize("loss", ["xent", "mse", "bce"])
def test_losses_with_a_workspace_equal_the_public_losses(loss):
    """Catches a loss kernel that reads stale workspace memory (the dy buffer is reused)."""
    from numrnn.losses import LOSSES, compute_loss, step_weights

    rng = np.random.default_rng(1)
    y = rng.standard_normal((4, 3, 5))
    ws = Workspace()
    for _ in range(2):  # the second call finds old data
        targets = random_targets(loss, 4, 3, 5, rng)
        with ws.in_use():
            value, dy = LOSSES[loss](y, targets, step_weights(None, y.shape, y.dtype))
        expected_value, expected_dy = compute_loss(loss, y, targets)
        assert value == pytest.approx(expected_value, rel=1e-14)
        np.testing.assert_allclose(dy, expected_dy, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: Workspace(reuse="yes"), TypeError, "reuse must be True or False; got 'yes'"),
        (lambda: Workspace().empty(3, (2,), np.float64), TypeError, "role must be a string"),
        (
            lambda: Workspace().empty("dy", [2, 3], np.float64),
            ValueError,
            "shape must be a tuple of integers >= 0; got [2, 3]",
        ),
        (lambda: Workspace().empty("dy", (2, -1), np.float64), ValueError, "got (2, -1)"),
        (lambda: FRESH.empty("dy", (2.5,), np.float64), ValueError, "got (2.5,)"),
        (lambda: Workspace().scope(1), TypeError, "scope name must be a string; got 1"),
    ],
)
def test_bad_arguments_get_errors_that_name_the_argument(call, error, words):
    """Catches a negative or list shape that would slice the role's buffer into a confusing NumPy
    error (or, with -1, a silently wrong view), and roles or scopes that are not strings."""
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_column_sums_equal_sum_over_rows_also_for_column_blocks_and_reject_other_ranks():
    """Catches a column_sums that sums the wrong axis, mishandles a strided column block of a
    wider array (how the core passes DT(S) deltas), or accepts a 1-D or 3-D array silently."""
    from numrnn.mlp import column_sums

    wide = np.random.default_rng(3).standard_normal((7, 10))
    block = wide[:, 2:6]
    np.testing.assert_allclose(column_sums(block), block.sum(axis=0), rtol=1e-14)
    assert column_sums(block).shape == (4,)
    for bad in (wide[:, 0], wide[None]):
        with pytest.raises(ValueError, match="column_sums needs a 2-D array"):
            column_sums(bad)
