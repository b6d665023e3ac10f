"""Sphinx extension: render jupytext "percent" tutorials as MyST pages, without running them.

At ``builder-inited`` every ``*.py`` in ``percent_tutorials_source`` (relative
to the docs folder) becomes ``<name>.md`` in ``percent_tutorials_output``
(relative to the docs source folder): ``# %% [markdown]`` cells lose their
``# `` prefix and become Markdown, ``# %%`` cells become ```` ```python ````
blocks. Pages are rewritten only when their text changes (atomically), and
pages whose tutorial is gone are removed. Neither jupytext nor a kernel is
needed: the tutorials are plain Python files that ``python`` runs as they are.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

MARKER = re.compile(r"^# %%(?P<rest>.*)$")
MARKDOWN_CELL = re.compile(r"^\s*\[(markdown|md)\]")
GENERATED = "% generated from {source} by docs/_ext/percent_to_myst.py: edit the tutorial, not this page"


def split_cells(text: str) -> list[tuple[str, list[str]]]:
    """The cells of a percent-format script, as ``(kind, lines)`` with kind "markdown" or "code"."""
    cells, kind, lines = [], "code", []
    source = text.splitlines()
    if source and source[0].strip() == "# ---":                  # a jupytext YAML header: not content
        end = next((i for i, line in enumerate(source[1:], 1) if line.strip() == "# ---"), 0)
        source = source[end + 1:]
    for line in source:
        match = MARKER.match(line)
        if match:
            cells.append((kind, lines))
            kind = "markdown" if MARKDOWN_CELL.match(match.group("rest")) else "code"
            lines = []
        else:
            lines.append(line)
    cells.append((kind, lines))
    return [(kind, lines) for kind, lines in cells if any(line.strip() for line in lines)]


def _uncomment(line: str) -> str:
    """A Markdown cell's line without its comment prefix: ``# text`` -> ``text``, ``#`` -> ``""``."""
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def _strip_blank_edges(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def to_myst(text: str, source: str) -> str:
    """The MyST Markdown page of one percent-format script; ``source`` names it in the page."""
    blocks = []
    for kind, lines in split_cells(text):
        lines = _strip_blank_edges(lines)
        if kind == "markdown":
            blocks.append("\n".join(_uncomment(line) for line in lines))
        else:
            fence = "`" * max(3, 1 + max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0))
            blocks.append(f"{fence}python\n" + "\n".join(lines) + f"\n{fence}")
    if not blocks or not blocks[0].startswith("# "):
        blocks.insert(0, f"# {Path(source).stem}")
    title, _, rest = blocks[0].partition("\n")
    run = (f"```{{note}}\nThis page is `{source}`, shown without its output. Run it with "
           f"`python {source}` from the top of the repository; it takes a few seconds.\n```")
    blocks[0] = title + "\n\n" + run + ("\n\n" + rest.strip() if rest.strip() else "")
    return GENERATED.format(source=source) + "\n\n" + "\n\n".join(blocks) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, and only when it differs from what is there."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def render_tutorials(source_dir: Path, output_dir: Path, label: str) -> list[Path]:
    """Write one page per ``source_dir/*.py`` into ``output_dir``; remove pages of deleted tutorials."""
    written = []
    for script in sorted(source_dir.glob("*.py")):
        page = output_dir / f"{script.stem}.md"
        _write_if_changed(page, to_myst(script.read_text(encoding="utf-8"), f"{label}/{script.name}"))
        written.append(page)
    if output_dir.is_dir():
        for page in output_dir.glob("*.md"):
            if page not in written and page.read_text(encoding="utf-8").startswith("% generated from"):
                page.unlink()
    return written


def _on_builder_inited(app) -> None:
    source_dir = (Path(app.confdir) / app.config.percent_tutorials_source).resolve()
    output_dir = Path(app.srcdir) / app.config.percent_tutorials_output
    render_tutorials(source_dir, output_dir, source_dir.name)


def setup(app):
    app.add_config_value("percent_tutorials_source", "../tutorials", "env")
    app.add_config_value("percent_tutorials_output", "tutorials", "env")
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
