"""Sphinx configuration of the numrnn docs (MyST Markdown, autodoc with numpydoc docstrings).

Build with ``python -m sphinx -W -b html docs docs/_build/html`` from the top of
the repository. Two local extensions in ``docs/_ext`` run at ``builder-inited``:
``percent_to_myst`` renders ``tutorials/*.py`` into ``docs/tutorials/*.md``
(without running them), and ``numrnn_examples`` runs small seeded examples so
the pages show measured output (``docs/_generated/``). Both folders are
generated and not in git.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))          # the numrnn in this tree, installed or not

import numrnn  # noqa: E402

project = "numrnn"
author = "the numrnn authors"
copyright = "the numrnn authors, MIT licence"
release = version = numrnn.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "percent_to_myst",
    "numrnn_examples",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_generated", "README.md", "**/.*"]
templates_path = []

# MyST: $...$ and $$...$$ maths, amsmath environments, ::: fences.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc + napoleon: numpydoc sections, shapes in the types, no prefix soup.
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": False}
autodoc_typehints = "none"          # the numpydoc types say more (shapes) than the annotations
add_module_names = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True            # NamedTuple/dataclass "Attributes": fields, not duplicate objects
napoleon_use_rtype = False

html_theme = "alabaster"
html_title = f"numrnn {release}"
html_static_path = []
html_theme_options = {
    "description": "Deep recurrent networks in pure NumPy, every gradient checked.",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """Leave out NamedTuple fields ("Alias for field number N"): the class docstring lists them."""
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
