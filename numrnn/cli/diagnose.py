"""Gradient flow of one architecture at initialisation: ratios, decay, Jacobian spectra, figures.

Builds the model with its preset's initialisation, scores an mse loss on the
last step only (:func:`numrnn.diagnostics.last_step_problem`) and prints the
parameter counts by component, the sequential depth, the gradient ratio
``‖∂loss/∂h_1‖ / ‖∂loss/∂h_T‖``, the fitted decay per step with its verdict
(the thresholds are printed), and the step Jacobians' top singular values per
layer. With ``--out DIR`` it also writes the model's unrolled computation graph
(:func:`numrnn.plotting.plot_architecture`), the (L, T) gradient-norm heat map, the norm
against distance, and the Jacobian spectrum, each as PNG and SVG.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import diagnostics
from ..presets import ARCHITECTURES, build
from .arguments import WholeNumber

# Which presets take which shape flags: the others fix them (vanilla has q = 0 and L = 1).
_TAKES_DEPTH = {name for name in ARCHITECTURES if "deep-transition" in name}
_TAKES_LAYERS = {name for name in ARCHITECTURES if name.startswith("hierarchical")}
_FIGURES = ("architecture", "grad_norms", "norm_vs_distance", "jacobian_spectra")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn diagnose``."""
    parser.add_argument("--arch", required=True, choices=list(ARCHITECTURES), help="architecture")
    parser.add_argument("--T", type=WholeNumber(2), default=100, help="sequence length T")
    parser.add_argument(
        "--depth",
        type=WholeNumber(1),
        default=None,
        help="transition depth q (deep-transition architectures only)",
    )
    parser.add_argument(
        "--layers",
        type=WholeNumber(1),
        default=None,
        help="stacked layers L (hierarchical architectures only)",
    )
    parser.add_argument("--hidden", type=WholeNumber(1), default=32, help="hidden size H")
    parser.add_argument("--input-size", type=WholeNumber(1), default=4, help="input size D")
    parser.add_argument("--batch", type=WholeNumber(1), default=8, help="sequences averaged over")
    parser.add_argument("--seed", type=WholeNumber(0), default=0, help="seed of weights and data")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the figures (PNG and SVG)"
    )


def _check_contradictions(args) -> str | None:
    if args.depth is not None and args.arch not in _TAKES_DEPTH:
        return (
            f"--depth applies to {sorted(_TAKES_DEPTH)}; {args.arch} has transition depth 0 "
            f"(got --depth {args.depth})"
        )
    if args.layers is not None and args.arch not in _TAKES_LAYERS:
        return (
            f"--layers applies to {sorted(_TAKES_LAYERS)}; {args.arch} has one layer "
            f"(got --layers {args.layers})"
        )
    return None


def _check_out(out: Path) -> str | None:
    """Make sure the figures can be written before any work is done."""
    if out.exists() and not out.is_dir():
        return f"--out must be a folder; {str(out)!r} is a file"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as error:
        return f"--out {str(out)!r} cannot be written: {error.strerror or error}"
    return None


def _report(args, model, summary, spectra) -> str:
    counts = summary.parameters
    depth = summary.sequential_depth
    shape = (
        f"H={args.hidden}, L={model.config.num_layers}, q={model.config.layers[0].transition_depth}"
    )
    lines = [
        f"{args.arch} ({shape}) at initialisation, T={summary.T}, loss on the last step only",
        "parameters: "
        + ", ".join(f"{key} {counts[key]:,}" for key in ("input", "transition", "output"))
        + f", total {counts['total']:,}",
        f"sequential depth: {depth.recurrent} nonlinearities from h_(t-1) to h_t, "
        f"{depth.input_to_output} from x_t to y_t",
        f"gradient ratio |dloss/dh_1| / |dloss/dh_T| = {summary.ratio:.3g} "
        f"(log10 {summary.log10_ratio:.1f})",
        f"decay per step: {summary.rate:.3f} -> {summary.verdict} "
        f"(below {diagnostics.VANISHING_BELOW} vanishing, "
        f"above {diagnostics.EXPLODING_ABOVE} exploding)",
    ]
    for l, layer_spectra in enumerate(spectra, start=1):
        top = layer_spectra[..., 0]  # (T, B) largest singular value
        lines.append(
            f"step Jacobian dh_t/dh_(t-1), layer {l}: largest singular value "
            f"mean {top.mean():.3f}, max {top.max():.3f}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the diagnosis; 0 on success, 2 for a bad argument."""
    problem = _check_contradictions(args) or (
        _check_out(args.out) if args.out is not None else None
    )
    if problem:
        print(f"numrnn diagnose: error: {problem}", file=sys.stderr)
        return 2
    overrides = {}
    if args.depth is not None:
        overrides["transition_depth"] = args.depth
    if args.layers is not None:
        overrides["num_layers"] = args.layers
    model = build(args.arch, args.input_size, args.hidden, 1, seed=args.seed, **overrides)
    summary = diagnostics.summarize(model, T=args.T, batch_size=args.batch, seed=args.seed)
    x, _, _ = diagnostics.last_step_problem(model, args.T, batch_size=args.batch, seed=args.seed)
    spectra = diagnostics.jacobian_spectra(model, x)
    print(_report(args, model, summary, spectra))
    if args.out is not None:
        from .. import plotting  # matplotlib only when drawing

        flow = diagnostics.gradient_flow(model, args.T, batch_size=args.batch, seed=args.seed)
        # one curve per layer, each named: a stack's lower layers fade differently from its top
        L = len(spectra)
        layer_names = [args.arch if L == 1 else f"{args.arch} (layer {l})" for l in range(1, L + 1)]
        figures = {
            "architecture": plotting.plot_architecture(model),
            "grad_norms": plotting.plot_gradient_norms(flow.grad_norms).figure,
            "norm_vs_distance": plotting.plot_norm_vs_distance(
                dict(zip(layer_names, np.atleast_2d(flow.grad_norms), strict=True))
            ).figure,
            "jacobian_spectra": plotting.plot_jacobian_spectra(
                dict(zip(layer_names, spectra, strict=True))
            ).figure,
        }
        written = []
        for name in _FIGURES:
            for suffix in (".png", ".svg"):
                path = args.out / f"{name}{suffix}"
                plotting.save_figure(figures[name], path, close=suffix == ".svg")
                written.append(path.name)
        print(f"wrote {', '.join(written)} into {args.out}")
    return 0
