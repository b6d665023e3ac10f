"""numrnn: deep recurrent networks in pure NumPy, every pass written by hand.

The three ways to make an RNN deep (hierarchical stacking, deep transition,
deep transition with skip, and Pascanu et al.'s DT(S) shortcut), in any
combination, on one vectorized BPTT core whose every gradient is checked
against finite differences. Start with :class:`DeepRNN` or :mod:`numrnn.presets`;
read :mod:`numrnn.reference` beside :mod:`numrnn.core`.
"""

__version__ = "0.1.0"

from . import diagnostics, gradcheck, layers, losses, presets
from .config import LayerConfig, ModelConfig
from .model import DeepRNN
from .network import LossInfo
from . import checkpoint, optim, tasks           # training (issue 4); tqdm is imported only by a run
from .trainer import Trainer, train

__all__ = ["DeepRNN", "LayerConfig", "ModelConfig", "LossInfo", "diagnostics", "gradcheck", "layers", "losses", "presets",
           "checkpoint", "optim", "tasks", "Trainer", "train", "__version__"]
