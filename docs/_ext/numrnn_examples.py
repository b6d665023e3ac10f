"""Sphinx extension: run small numrnn examples at build time, so the docs show measured output.

At ``builder-inited`` it writes into ``docs/_generated/`` (not in git):

* ``gradient_flow_map.png``, ``gradient_flow_compare.png`` and
  ``gradient_flow_ratios.md``: the vanishing-gradient experiment of
  ``docs/gradient_flow.md``, by :func:`last_step_grad_norms`;
* ``architecture_<name>.png``: the unrolled computation graph of every preset, of a layer-skip
  model and of a mixed stack
  (:func:`numrnn.plotting.plot_architecture`), for ``docs/architectures.md``;
* ``summary_example.txt``: ``model.summary()`` of a preset;
* ``gradcheck_cli.txt``: the output of ``numrnn gradcheck --arch deep-transition-skip``;
* ``gradcheck_planted_bug.txt``: :func:`numrnn.gradcheck.check_gradients` catching a wrong gradient;
* ``gradcheck_float32.txt``: a correct gradient failing its check in float32.

Everything is seeded and small (about a second in all). Where a page shows
an output, it shows the code that made it too (``literalinclude`` of this file).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ARCHITECTURES = (
    "vanilla",
    "hierarchical",
    "deep-transition",
    "deep-transition-skip",
    "deep-transition-shortcut",
)


def last_step_grad_norms(
    name: str, T: int = 50, B: int = 8, D: int = 3, H: int = 16, O: int = 4, seed: int = 0
) -> np.ndarray:
    """The (L, T) map ‖∂loss/∂h_t^(l)‖ of a preset, with the loss on the last step only."""
    import numrnn

    model = numrnn.presets.build(name, D, H, O, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, D))  # (T, B, D)
    targets = np.full((T, B), -1)  # -1: not counted ...
    targets[-1] = rng.integers(0, O, size=B)  # ... except at the last step
    loss, grads, info = model.loss_and_grads(x, targets, loss="xent")
    return info.grad_norms  # (L, T)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_text(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        _write_atomic(path, text.encode("utf-8"))


def _save_figure(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    data = buffer.getvalue()
    if not path.exists() or path.read_bytes() != data:
        _write_atomic(path, data)


def gradient_flow(out: Path) -> None:
    """The figures and the ratio table of the vanishing-gradient experiment."""
    import matplotlib.pyplot as plt

    import numrnn.plotting

    norms = {name: last_step_grad_norms(name) for name in ARCHITECTURES}

    ax = numrnn.plotting.plot_gradient_norms(
        norms["hierarchical"], title="hierarchical (L = 2), loss on step T = 50"
    )
    _save_figure(ax.figure, out / "gradient_flow_map.png")
    plt.close(ax.figure)

    ax = numrnn.plotting.compare_gradient_flow(norms, normalize=True)
    ax.set_title("top layer, each curve divided by its value at step T")
    _save_figure(ax.figure, out / "gradient_flow_compare.png")
    plt.close(ax.figure)

    rows = [
        "| architecture | ‖∂L/∂h_1‖ | ‖∂L/∂h_T‖ | ratio ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ |",
        "| --- | --- | --- | --- |",
    ]
    for name, value in norms.items():
        first, last = value[-1, 0], value[-1, -1]
        rows.append(f"| `{name}` | {first:.2e} | {last:.2e} | {first / last:.2e} |")
    _write_text(out / "gradient_flow_ratios.md", "\n".join(rows) + "\n")


def architecture_diagrams(out: Path) -> None:
    """The diagram of every preset, a layer-skip model and a mixed stack, three steps unrolled."""
    import matplotlib.pyplot as plt

    import numrnn.plotting

    models = {name: name for name in numrnn.presets.ARCHITECTURES}  # plot_architecture takes both
    models["layer-skips"] = numrnn.DeepRNN(
        3, 16, 5, transition_depth=2, skip="residual", layer_skip=True, seed=0
    )
    models["mixed-stack"] = numrnn.DeepRNN(  # the layers= example of architectures.md
        3,
        32,
        5,
        layers=[
            dict(hidden_size=32),
            dict(hidden_size=16, transition_depth=2, skip="shortcut", input_depth=1),
        ],
        output_depth=1,
        seed=0,
    )
    for name, model in models.items():
        figure = numrnn.plotting.plot_architecture(model, steps=3)
        _save_figure(figure, out / f"architecture_{name}.png")
        plt.close(figure)


def summary_example(out: Path) -> None:
    """``model.summary()`` of a residual deep transition with a deep input."""
    import numrnn

    model = numrnn.presets.build("deep-transition-skip", 3, 8, 5, input_depth=1, seed=0)
    _write_text(out / "summary_example.txt", model.summary() + "\n")


def gradcheck_cli(out: Path) -> None:
    """The output of ``numrnn gradcheck --arch deep-transition-skip`` (the command's module, run
    directly)."""
    import argparse

    from numrnn.cli import gradcheck as command

    parser = argparse.ArgumentParser(prog="numrnn gradcheck")
    command.add_arguments(parser)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = command.run(parser.parse_args(["--arch", "deep-transition-skip"]))
    _write_text(
        out / "gradcheck_cli.txt",
        f"$ numrnn gradcheck --arch deep-transition-skip\n{buffer.getvalue()}$ echo $?\n{status}\n",
    )


def planted_bug() -> None:
    """A gradient with one entry 0.1 % wrong, and the report that catches it (shown in
    docs/gradcheck.md)."""
    # [planted-bug-start]
    import numpy as np

    from numrnn.gradcheck import check_gradients

    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    v = rng.standard_normal((5, 3))  # 5 rows of input

    def f(p):  # loss = Σ tanh(v W + b)
        return np.tanh(v @ p["W"] + p["b"]).sum()

    d = 1 - np.tanh(v @ params["W"] + params["b"]) ** 2  # ∂loss/∂(v W + b), (5, 4)
    grads = {"W": v.T @ d, "b": d.sum(axis=0)}  # the affine rule
    grads["W"][1, 2] *= 1.001  # the planted bug
    report = check_gradients(f, params, grads, title="tanh layer with a planted bug")
    print(report)
    # [planted-bug-end]


def float32_check(out: Path) -> None:
    """A correct gradient, checked in float32: the check cannot tell, and warns."""
    import warnings

    import numrnn
    from numrnn.gradcheck import check_model

    model = numrnn.presets.build("vanilla", 3, 4, 3, bias=0.1, dtype=np.float32, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    targets = rng.integers(0, 3, size=(5, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_model(model, x, targets, title="vanilla RNN in float32 (a correct gradient)")
    lines = [textwrap.fill(f"{w.category.__name__}: {w.message}", 100) for w in caught]
    _write_text(out / "gradcheck_float32.txt", "\n".join(lines + ["", str(report)]) + "\n")


def _on_builder_inited(app) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    gradient_flow(out)
    architecture_diagrams(out)
    summary_example(out)
    gradcheck_cli(out)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        planted_bug()
    _write_text(out / "gradcheck_planted_bug.txt", buffer.getvalue())
    float32_check(out)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
