"""Check every gradient of every architecture against finite differences.

For each architecture it builds a small float64 model with non-zero biases,
random inputs, a random initial state and random targets (some not counted),
and compares every parameter's gradient, ``dx`` and ``dh0`` with sixth-order
central differences (:mod:`numrnn.gradcheck`). It prints a table per
architecture and exits with status 1 if any check fails, 2 for a bad or
contradictory argument (one ``error:`` line, before any work).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..gradcheck import check_model
from ..presets import ARCHITECTURES, build
from .arguments import WholeNumber, positive_number

# What each architecture's definition fixes (numrnn.presets): flag -> (allowed, as said in a
# message). A flag outside its range would check another architecture under this one's name.
FIXED = {
    "vanilla": {"layers": (lambda L: L == 1, "L = 1"), "depth": (lambda q: q == 0, "q = 0")},
    "hierarchical": {"layers": (lambda L: L >= 2, "L >= 2"), "depth": (lambda q: q == 0, "q = 0")},
    "deep-transition": {
        "layers": (lambda L: L == 1, "L = 1"),
        "depth": (lambda q: q >= 1, "q >= 1"),
    },
    "deep-transition-skip": {
        "layers": (lambda L: L == 1, "L = 1"),
        "depth": (lambda q: q >= 1, "q >= 1"),
    },
    "deep-transition-shortcut": {
        "layers": (lambda L: L == 1, "L = 1"),
        "depth": (lambda q: q >= 1, "q >= 1"),
    },
    "hierarchical-deep-transition-skip": {
        "layers": (lambda L: L >= 2, "L >= 2"),
        "depth": (lambda q: q >= 1, "q >= 1"),
    },
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn gradcheck``; every value is checked here, at parse time."""
    parser.add_argument(
        "--arch",
        default="all",
        choices=["all", *ARCHITECTURES],
        help="architecture to check, or all of them",
    )
    parser.add_argument(
        "--layers",
        type=WholeNumber(1),
        default=None,
        help="stacked layers L, for one --arch that allows it (default: the preset's)",
    )
    parser.add_argument(
        "--depth",
        type=WholeNumber(0),
        default=None,
        help="transition depth q, for one --arch that allows it (default: the preset's)",
    )
    parser.add_argument(
        "--input-depth", type=WholeNumber(0), default=0, help="hidden layers p of the input MLP"
    )
    parser.add_argument(
        "--output-depth", type=WholeNumber(0), default=0, help="hidden layers r of the output MLP"
    )
    parser.add_argument("--layer-skip", action="store_true", help="layer-skips inside the MLPs")
    parser.add_argument(
        "--loss", default="xent", choices=["xent", "mse", "bce"], help="loss to check through"
    )
    parser.add_argument("--hidden", type=WholeNumber(1), default=4, help="hidden size H")
    parser.add_argument("--steps", type=WholeNumber(1), default=5, help="sequence length T")
    parser.add_argument("--batch", type=WholeNumber(1), default=2, help="batch size B")
    parser.add_argument(
        "--method",
        default="auto",
        choices=["auto", "full", "sampled", "directional"],
        help="which entries to check",
    )
    parser.add_argument(
        "--tolerance", type=positive_number, default=1e-7, help="largest relative error that passes"
    )
    parser.add_argument(
        "--seed",
        type=WholeNumber(0),
        default=0,
        help="seed for weights, data and sampled entries",
    )


def _contradiction(args: argparse.Namespace) -> str | None:
    """Why --layers/--depth contradict --arch, in one line; None when they do not."""
    for flag in ("layers", "depth"):
        value = getattr(args, flag)
        if value is None:
            continue
        if args.arch == "all":
            return (
                f"--{flag} {value} changes what an architecture is, so it needs one --arch "
                f"(with --arch all it would contradict e.g. vanilla, "
                f"whose {FIXED['vanilla'][flag][1]})"
            )
        allowed, rule = FIXED[args.arch][flag]
        if not allowed(value):
            return f"--{flag} {value} contradicts --arch {args.arch}, which has {rule}"
    return None


def _usage_error(message: str) -> int:
    """Print ``message`` as one ``error:`` line on stderr; exit code 2."""
    print(f"numrnn gradcheck: error: {message}", file=sys.stderr)
    return 2


def _problem(model, loss: str, T: int, B: int, rng: np.random.Generator):
    """Random inputs, initial state and targets that fit ``model``."""
    D, O = model.config.input_size, model.config.output_size
    x = rng.standard_normal((T, B, D))
    h0 = [0.5 * rng.standard_normal((B, layer.hidden_size)) for layer in model.config.layers]
    if loss == "xent":
        targets = rng.integers(-1, O, size=(T, B))
        targets[-1] = rng.integers(0, O, size=B)  # at least one counted entry
    elif loss == "mse":
        targets = rng.standard_normal((T, B, O))
    else:
        targets = rng.uniform(0, 1, size=(T, B, O))
    return x, h0, targets


def run(args: argparse.Namespace) -> int:
    """Run the checks; 0 when all pass, 1 when one fails, 2 for settings that contradict or
    cannot be built."""
    contradiction = _contradiction(args)
    if contradiction:
        return _usage_error(contradiction)
    names = list(ARCHITECTURES) if args.arch == "all" else [args.arch]
    overrides = dict(
        input_depth=args.input_depth, output_depth=args.output_depth, layer_skip=args.layer_skip
    )
    if args.layers is not None:
        overrides["num_layers"] = args.layers
    if args.depth is not None:
        overrides["transition_depth"] = args.depth
    models = {}
    for name in names:  # build every model before checking any: bad settings fail fast
        try:
            models[name] = build(
                name, 3, args.hidden, 3, bias=0.1, seed=args.seed, dtype=np.float64, **overrides
            )
        except (TypeError, ValueError) as error:
            return _usage_error(f"--arch {name} cannot be built with these settings: {error}")
    rng = np.random.default_rng(args.seed)
    failed = []
    for name, model in models.items():
        x, h0, targets = _problem(model, args.loss, args.steps, args.batch, rng)
        report = check_model(
            model,
            x,
            targets,
            loss=args.loss,
            h0=h0,
            method=args.method,
            tolerance=args.tolerance,
            seed=args.seed,
            title=f"{name} ({model.num_params()} parameters)",
        )
        print(report, end="\n\n")
        if not report.passed:
            failed.append(name)
    checked = len(names)
    print(
        f"{checked - len(failed)} passed, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
