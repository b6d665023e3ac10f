"""Check every gradient of every architecture against finite differences.

For each architecture it builds a small float64 model with non-zero biases,
random inputs, a random initial state and random targets (some not counted),
and compares every parameter's gradient, ``dx`` and ``dh0`` with fourth-order
central differences (:mod:`numrnn.gradcheck`). It prints a table per
architecture and exits with status 1 if any check fails.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..gradcheck import check_model
from ..presets import ARCHITECTURES, build


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn gradcheck``."""
    parser.add_argument("--arch", default="all", choices=["all", *ARCHITECTURES],
                        help="architecture to check, or all of them")
    parser.add_argument("--layers", type=int, default=None, help="stacked layers L (default: the preset's)")
    parser.add_argument("--depth", type=int, default=None,
                        help="transition depth q (default: the preset's; 0 for vanilla and hierarchical)")
    parser.add_argument("--input-depth", type=int, default=0, help="hidden layers p of the input MLP")
    parser.add_argument("--output-depth", type=int, default=0, help="hidden layers r of the output MLP")
    parser.add_argument("--layer-skip", action="store_true", help="layer-skips inside the MLPs")
    parser.add_argument("--loss", default="xent", choices=["xent", "mse", "bce"], help="loss to check through")
    parser.add_argument("--hidden", type=int, default=4, help="hidden size H")
    parser.add_argument("--steps", type=int, default=5, help="sequence length T")
    parser.add_argument("--batch", type=int, default=2, help="batch size B")
    parser.add_argument("--method", default="auto", choices=["auto", "full", "sampled", "directional"],
                        help="which entries to check")
    parser.add_argument("--tolerance", type=float, default=1e-7, help="largest relative error that passes")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, data and sampled entries")


def _problem(model, loss: str, T: int, B: int, rng: np.random.Generator):
    """Random inputs, initial state and targets that fit ``model``."""
    D, O = model.config.input_size, model.config.output_size
    x = rng.standard_normal((T, B, D))
    h0 = [0.5 * rng.standard_normal((B, layer.hidden_size)) for layer in model.config.layers]
    if loss == "xent":
        targets = rng.integers(-1, O, size=(T, B))
        targets[-1] = rng.integers(0, O, size=B)          # at least one counted entry
    elif loss == "mse":
        targets = rng.standard_normal((T, B, O))
    else:
        targets = rng.uniform(0, 1, size=(T, B, O))
    return x, h0, targets


def run(args: argparse.Namespace) -> int:
    """Run the checks; 0 when all pass, 1 otherwise."""
    names = list(ARCHITECTURES) if args.arch == "all" else [args.arch]
    rng = np.random.default_rng(args.seed)
    overrides = dict(input_depth=args.input_depth, output_depth=args.output_depth, layer_skip=args.layer_skip)
    if args.layers is not None:
        overrides["num_layers"] = args.layers
    if args.depth is not None:
        overrides["transition_depth"] = args.depth
    failed = []
    for name in names:
        try:
            model = build(name, 3, args.hidden, 3, bias=0.1, seed=args.seed, dtype=np.float64, **overrides)
        except (TypeError, ValueError) as error:
            print(f"{name}: cannot build with these settings: {error}\n")
            failed.append(name)
            continue
        x, h0, targets = _problem(model, args.loss, args.steps, args.batch, rng)
        report = check_model(model, x, targets, loss=args.loss, h0=h0, method=args.method,
                             tolerance=args.tolerance, seed=args.seed, title=f"{name} ({model.num_params()} parameters)")
        print(report, end="\n\n")
        if not report.passed:
            failed.append(name)
    checked = len(names)
    print(f"{checked - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
