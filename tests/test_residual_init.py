"""The residual branch starts small (numrnn.init, Fixup/ReZero); gradient checks stay meaningful.

Shape legend: T steps, B batch, D input size, H hidden size.
"""

from __future__ import annotations

import numpy as np
import pytest

import numrnn
from numrnn.init import RESIDUAL_SCALE, init_params, residual_branch_weights
from numrnn.training.tasks import AddingTask


def test_the_weights_that_end_a_residual_branch_are_scaled_and_no_others():
    model = numrnn.presets.build("hierarchical-deep-transition-skip", 3, 8, 2, seed=0)
    plain = init_params(model.config, residual_scale=1.0, rng=np.random.default_rng(0))
    default = init_params(model.config, rng=np.random.default_rng(0))
    ends = residual_branch_weights(model.config)
    assert ends == ["layer1.W_xh", "layer1.W_hh", "layer2.W_xh", "layer2.W_hh"]
    for name, value in plain.items():
        factor = RESIDUAL_SCALE if name in ends else 1.0
        np.testing.assert_allclose(default[name], factor * value, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(
        model.params["layer1.W_hh"], default["layer1.W_hh"]
    )  # the model's
    assert residual_branch_weights(numrnn.presets.build("deep-transition", 3, 8, 2).config) == []


def test_the_residual_state_no_longer_drifts_a_unit_per_step_at_initialisation():
    """The repro: on the adding problem the untrained flagship's state reached tens of units."""
    task = AddingTask(seq_len=50, validation_size=64)
    batch = task.validation_batches()[0]
    final = {}
    for scale in (1.0, RESIDUAL_SCALE):
        model = numrnn.presets.build("deep-transition-skip", 2, 64, 1, seed=0)
        model.params = init_params(model.config, residual_scale=scale, rng=np.random.default_rng(0))
        _, state = model.forward(batch.x)
        final[scale] = float(np.abs(state[0]).max())
    assert final[1.0] > 10  # the plain draw: about one unit of drift per step
    assert final[RESIDUAL_SCALE] < 0.5  # RESIDUAL_SCALE: at most a unit over a hundred steps


@pytest.mark.parametrize("arch", ["deep-transition-skip", "hierarchical-deep-transition-skip"])
def test_a_gradient_check_of_a_fresh_residual_model_is_not_trivial(arch):
    """numrnn gradcheck builds presets with bias=0.1. A zero-initialised W_hh would make the lower
    levels' gradients exactly 0, and a check would compare zeros with zeros; with the small scale
    every gradient is non-zero, right, and a 0.1 % error planted in the smallest one is caught."""
    model = numrnn.presets.build(arch, 3, 5, 3, bias=0.1, seed=0)
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    targets = np.random.default_rng(2).integers(0, 3, size=(6, 2))
    _, grads, _ = model.loss_and_grads(x, targets)
    smallest = min(grads, key=lambda name: np.abs(grads[name]).max())
    assert np.abs(grads[smallest]).max() > 1e-6, smallest
    assert numrnn.gradcheck.check_model(model, x, targets, method="sampled", num_samples=4).passed
    params = dict(model.params)

    def loss(point):
        model.params = point
        try:
            return model.loss_and_grads(x, targets)[0]
        finally:
            model.params = params

    planted = {**grads, smallest: grads[smallest] * 1.001}
    report = numrnn.gradcheck.check_gradients(
        loss, params, planted, method="sampled", num_samples=4
    )
    assert [row.name for row in report.rows if not row.passed] == [smallest]


def test_residual_scale_is_checked():
    config = numrnn.presets.build("deep-transition-skip", 3, 4, 2).config
    with pytest.raises(
        ValueError, match=r"residual_scale must be >= 0 \(1 = the plain draw\); got -1.0"
    ):
        init_params(config, residual_scale=-1.0, rng=np.random.default_rng(0))


def test_deep_rnn_passes_residual_scale_to_its_initialisation():
    """DeepRNN(residual_scale=) and build(..., residual_scale=) reach init_params; the compare
    protocol tunes the scale through them, so a keyword that was dropped would tune nothing."""
    default = numrnn.presets.build("deep-transition-skip", 3, 8, 2, seed=0)
    plain = numrnn.presets.build("deep-transition-skip", 3, 8, 2, seed=0, residual_scale=1.0)
    ends = residual_branch_weights(default.config)
    for name, value in plain.params.items():
        factor = RESIDUAL_SCALE if name in ends else 1.0
        np.testing.assert_allclose(default.params[name], factor * value, rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match=r"residual_scale must be >= 0 .*got -0.5"):
        numrnn.DeepRNN(3, 8, 2, residual_scale=-0.5)
