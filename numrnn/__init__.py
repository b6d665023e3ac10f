"""numrnn: deep recurrent networks in pure NumPy, every pass written by hand.

The three ways to make an RNN deep (hierarchical stacking, deep transition,
deep transition with skip, and Pascanu et al.'s DT(S) shortcut), in any
combination, on one vectorized BPTT core whose every gradient is checked
against finite differences.

Reading order
-------------
The maths lives flat in this package; read it in this order, each module beside
its section of the docs' derivations:

1. :mod:`numrnn.reference`: one step at a time, the naive oracle.
2. :mod:`numrnn.activations`: φ, ψ and their derivatives.
3. :mod:`numrnn.mlp`: the MLP block, forward and backward.
4. :mod:`numrnn.core`: one recurrent layer, the vectorized BPTT core.
5. :mod:`numrnn.network`: a stack of layers and the output MLP.
6. :mod:`numrnn.losses`: xent, mse and bce with their gradients.
7. :mod:`numrnn.model`: :class:`DeepRNN`, the object a user holds.
8. :mod:`numrnn.gradcheck`: every gradient against finite differences.
9. :mod:`numrnn.diagnostics`: gradient norms and step Jacobians.

Beside them: :mod:`numrnn.config` (the settings and parameter names),
:mod:`numrnn.records` (what the backward passes return) and
:mod:`numrnn.workspace` (the one place memory is reused between steps).
Around the maths: :mod:`numrnn.presets` (named architectures),
:mod:`numrnn.layers` (the functional API for exercises), :mod:`numrnn.training`
(optimizers, tasks, trainer, checkpoints), :mod:`numrnn.plotting` (the only
module that imports matplotlib; :func:`numrnn.explore` is its interactive
gradient-flow explorer for Jupyter) and :mod:`numrnn.cli` (the ``numrnn`` command).
"""

from . import diagnostics, gradcheck, layers, losses, presets, training
from ._version import __version__
from .config import LayerConfig, ModelConfig
from .model import DeepRNN
from .network import LossInfo
from .plotting.explorer import explore  # imports neither matplotlib nor ipywidgets until called
from .training import Trainer, TrainingDiverged, train

__all__ = [
    "DeepRNN",
    "LayerConfig",
    "ModelConfig",
    "LossInfo",
    "Trainer",
    "TrainingDiverged",
    "train",
    "explore",
    "diagnostics",
    "gradcheck",
    "layers",
    "losses",
    "presets",
    "training",
    "__version__",
]
