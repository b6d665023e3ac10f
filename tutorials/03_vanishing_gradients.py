# %% [markdown]
# # Tutorial 3: vanishing gradients, measured
#
# How far back in time does a gradient reach? Score a sequence on its **last step only** and
# look at $\Vert \partial\,\mathrm{loss} / \partial h_t \Vert$ for every step t: whatever
# arrives at an early step has travelled back through every step after it.
#
# numrnn's core computes these norms during the backward pass, for every layer and step:
# `info.grad_norms`, an (L, T) array. This tutorial compares four architectures at T = 50 —
# vanilla, deep transition, deep transition with skip, hierarchical — and plots them with
# `numrnn.plotting`.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

import numrnn
import numrnn.plotting

T, B, D, H, O = 50, 8, 3, 16, 4  # steps, batch, input, hidden, output (classes)
out_dir = Path(
    os.environ.get("NUMRNN_TUTORIAL_OUTPUT") or tempfile.mkdtemp(prefix="numrnn-tutorial-")
)
out_dir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## A task scored on its last step only
#
# For the softmax cross-entropy loss, a target of -1 means "not counted". Setting every target
# to -1 except at the last step makes the loss depend on step T's output only.

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((T, B, D))  # (T, B, D)
targets = np.full((T, B), -1)  # -1: not counted ...
targets[-1] = rng.integers(0, O, size=B)  # ... except at the last step


def last_step_grad_norms(name):
    """The (L, T) map of gradient norms of a preset, freshly initialised with seed 0."""
    model = numrnn.presets.build(name, D, H, O, seed=0)
    loss, grads, info = model.loss_and_grads(x, targets, loss="xent")
    return info.grad_norms


names = ["vanilla", "deep-transition", "deep-transition-skip", "hierarchical"]
norms = {name: last_step_grad_norms(name) for name in names}
for name, value in norms.items():
    print(f"{name:22s} grad_norms shape {value.shape}")

# %% [markdown]
# ## The ratio $\Vert \partial L / \partial h_1 \Vert \,/\, \Vert \partial L / \partial h_T \Vert$
#
# For the top layer, divide the norm at step 1 by the norm at step T. Far below 1 means the
# gradient vanishes on its way back; above 1 means it grows.

# %%
ratios = {name: value[-1, 0] / value[-1, -1] for name, value in norms.items()}
for name, ratio in ratios.items():
    print(f"ratio ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ for {name:22s} = {ratio:.2e}")

# %% [markdown]
# What to see (`docs/gradient_flow.md` explains it):
#
# * **vanilla**: each step back multiplies the gradient by
#   $\mathrm{diag}(\tanh'(a_t))\,W_{hh}^\top$; at this initialisation the factor is below one,
#   so the gradient decays geometrically.
# * **deep transition**: q + 1 = 3 such factors per step, so it decays much faster — the chapter's
#   "challenging" gradient flow.
# * **deep transition with skip**: $h_t = h_{t-1} + \varphi(a_t)$ gives the gradient an identity
#   path back through time, so it does not vanish — the chapter's "improved" gradient flow.
# * **hierarchical**: each layer is a vanilla layer in time.

# %%
vanilla, skip = ratios["vanilla"], ratios["deep-transition-skip"]
print(f"the skip connection keeps {skip / vanilla:.1e} times more of the gradient than vanilla")

# %% [markdown]
# ## Pictures
#
# `plot_gradient_norms` draws the whole (L, T) map as a heat map; `compare_gradient_flow` draws
# one curve per architecture (the top layer), here each divided by its value at step T so that
# they all end at 1.

# %%
ax = numrnn.plotting.plot_gradient_norms(
    norms["hierarchical"], title="hierarchical, loss on step T"
)
ax.figure.savefig(out_dir / "gradient_norm_map.png", dpi=80)

ax = numrnn.plotting.compare_gradient_flow(norms, normalize=True)
ax.set_title("top layer, divided by the value at step T")
ax.figure.savefig(out_dir / "gradient_flow_compare.png", dpi=80)
print(f"figures saved to {out_dir}")

# numrnn.plotting draws with the Agg backend (files only) unless you chose a backend, e.g. by
# running with MPLBACKEND=qtagg or in Jupyter; then plt.show() would show the figures.
import matplotlib.pyplot as plt  # noqa: E402

plt.close("all")

# %% [markdown]
# ## Try it
#
# * Change `T` to 200: the vanilla ratio falls further, the skip ratio does not.
# * Initialise with `init="orthogonal"` or `spectral_radius=1.0` (vanilla only): the vanilla
#   gradient decays more slowly.
# * Add `layer_skip=True` to the deep transition with skip, or try `"deep-transition-shortcut"`.
