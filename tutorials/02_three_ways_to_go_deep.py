# %% [markdown]
# # Tutorial 2: three ways to go deep
#
# A recurrent network can be made deep in three places (`docs/architectures.md`):
#
# 1. **hierarchical stacking**: L layers, layer l reading the states of layer l - 1;
# 2. **deep transition**: an MLP with q hidden layers on the recurrent path, so each step is
#    itself deep;
# 3. **deep transition with skip**: $h_t = h_{t-1} + \varphi(a_t)$, a residual path through time
#    (and Pascanu et al.'s DT(S) variant, with learned shortcuts from $h_{t-1}$).
#
# numrnn has each one as a preset. This tutorial builds them all at the same sizes, prints what
# is inside, compares their parameter counts and runs them forward.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting
from numrnn.presets import ARCHITECTURES

D, H, O = 3, 16, 5  # input size, hidden size, output size
T, B = 20, 4  # steps, batch
x = np.random.default_rng(0).standard_normal((T, B, D))  # (T, B, D), float64 like the models
out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The three pictures
#
# `numrnn.plotting.plot_architecture` draws a model's unrolled graph from its config: time to the
# right, layers and transition levels upwards, each kind of edge in its own line. Look for the
# orange stacking arrows between the two layers of the stack, the two transition levels
# $g_1, g_2$ that each step of the deep transition climbs through, and the thick blue residual
# arc that skips them.

# %%
for name in ["hierarchical", "deep-transition", "deep-transition-skip"]:
    figure = numrnn.plotting.plot_architecture(name, steps=3)
    figure.savefig(out_dir / f"diagram_{name}.png", dpi=80)

import matplotlib.pyplot as plt  # after numrnn.plotting chose the backend (Agg in a script)

plt.show()

# %% [markdown]
# ## Every preset, by name
#
# `numrnn.presets.build(name, D, H, O)` builds an architecture by name; each name is also a
# function (`numrnn.presets.deep_transition_skip(D, H, O)`), and any `DeepRNN` keyword overrides
# the preset's own settings.

# %%
models = {name: numrnn.presets.build(name, D, H, O, seed=0) for name in ARCHITECTURES}

print(f"{'architecture':36s} {'layers':>6s} {'q':>3s} {'skip':>9s} {'parameters':>10s}  y.shape")
for name, model in models.items():
    y, state = model.forward(x)
    layer = model.config.layers[0]
    print(
        f"{name:36s} {model.config.num_layers:6d} {layer.transition_depth:3d} {layer.skip:>9s} "
        f"{model.num_params():10d}  {y.shape}"
    )

# %% [markdown]
# The vanilla layer has $D H + H H + H$ parameters plus the output's $H O + O$. Each transition
# level adds an $H \times M$ matrix and a bias, and DT(S) adds a shortcut matrix per level above
# the first: depth buys expressiveness with parameters, as the chapter's table says. The counts
# follow from the parameter shapes:

# %%
vanilla_count = D * H + H * H + H + H * O + O
print(f"vanilla by the formula: {vanilla_count}, by the model: {models['vanilla'].num_params()}")
assert vanilla_count == models["vanilla"].num_params()

# %% [markdown]
# ## What is inside: `summary()`
#
# `model.summary()` lists every parameter with its shape and the equation it belongs to. Compare
# the deep transition with skip and DT(S): the same transition levels `W_h1`, `W_h2`, `W_hh`, but
# the input joins a different level, and DT(S) has the shortcuts `S_h2`, `S_hh`.

# %%
print(models["deep-transition-skip"].summary())
print()
print(models["deep-transition-shortcut"].summary())

# %% [markdown]
# ## Special cases agree
#
# A deep transition of depth 0 is the vanilla RNN, and a hierarchical stack of one layer is one
# layer. Built from the same seed, they have the same parameters and compute the same outputs:

# %%
shallow = numrnn.presets.deep_transition(D, H, O, transition_depth=0, seed=0)
one_layer = numrnn.presets.hierarchical(D, H, O, num_layers=1, seed=0)
y_vanilla, _ = models["vanilla"].forward(x)
for label, model in [
    ("deep transition with q = 0", shallow),
    ("hierarchical with L = 1", one_layer),
]:
    y, _ = model.forward(x)
    print(f"{label} equals vanilla: max |difference| = {np.abs(y - y_vanilla).max():.1e}")
    assert np.array_equal(y, y_vanilla)

# %% [markdown]
# ## Combining the patterns
#
# Every layer of a stack can be any kind of layer. The chapter's "hierarchical RNN where each
# layer uses deep transitions with skip connections" is the preset
# `hierarchical-deep-transition-skip`; `layers=` gives each layer its own settings:

# %%
mixed = numrnn.DeepRNN(
    D,
    32,
    O,
    layers=[
        dict(hidden_size=32),  # a wide vanilla layer
        dict(hidden_size=16, transition_depth=2, skip="residual"),  # a residual deep transition
        dict(hidden_size=16, transition_depth=2, skip="shortcut"),  # a DT(S) layer
    ],
    output_depth=1,
    seed=0,
)
y, state = mixed.forward(x)
print(repr(mixed))
print("layers:", [layer.architecture for layer in mixed.config.layers])
print("y:", y.shape, " final states:", [h.shape for h in state])
