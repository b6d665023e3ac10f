"""Sphinx configuration of the numrnn docs (MyST Markdown, autodoc with numpydoc docstrings).

Build with ``python -m sphinx -W -b html docs docs/_build/html`` from the top of
the repository. Two local extensions in ``docs/_ext`` run at ``builder-inited``:
``tutorial_notebooks`` writes ``docs/tutorials/*.ipynb``, each tutorial executed
as a notebook (or taken from ``-D numrnn_executed_tutorials=FOLDER``, where the
test suite has executed them), which myst-nb renders with their outputs and
figures without executing anything; ``numrnn_examples`` runs small seeded
examples so the pages show measured output (``docs/_generated/``). Both folders
are generated and not in git.

The built docs load nothing from the network: MathJax is bundled
(``sphinx-mathjax-offline`` copies it into ``_static/mathjax``), and the
pydata-sphinx-theme is configured without icon links, analytics, a version
switcher or web fonts (``tests/test_docs.py`` checks every page).
"""

import inspect
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the numrnn in this tree, installed or not

import numrnn  # noqa: E402

project = "numrnn"
author = "the numrnn authors"
copyright = "the numrnn authors, MIT licence"
release = version = numrnn.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and executed notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served from _static/mathjax, not a CDN
    "tutorial_notebooks",
    "numrnn_examples",
]

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "_generated", "_static", "_theme", "README.md", "**/.*"]
templates_path = []

# MyST: $...$ and $$...$$ maths, amsmath environments, ::: fences.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# myst-nb: show the notebooks as executed (by tutorial_notebooks), never execute them here.
nb_execution_mode = "off"
nb_output_stderr = "remove"  # progress bars and kernel chatter, not part of the lesson
nb_merge_streams = True  # one block per cell for what a cell prints
nb_ipywidgets_js = {}  # no widget scripts from a CDN (no tutorial uses widgets)

# autodoc + napoleon: numpydoc sections, shapes in the types, no prefix soup.
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": False}
autodoc_typehints = "none"  # the numpydoc types say more (shapes) than the annotations
add_module_names = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # NamedTuple/dataclass "Attributes": fields, not duplicate objects
napoleon_use_rtype = False

html_theme = "pydata_sphinx_theme"
html_title = f"numrnn {release}"
html_static_path = ["_theme"]  # numrnn.css: a wider column for 100-character code
html_css_files = ["numrnn.css"]
html_show_sourcelink = False
html_sidebars = {"**": ["globaltoc.html"]}  # every page: the whole contents, as in a textbook
html_theme_options = {
    # Nothing from the network: no icon links (GitHub, PyPI ...), no analytics, no version
    # switcher JSON; the theme's fonts (FontAwesome) and scripts ship with the theme.
    "icon_links": [],
    "analytics": {},
    "navbar_end": ["theme-switcher"],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
}


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """Leave out NamedTuple fields ("Alias for field number N"): the class docstring lists them."""
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    return None


def _skip_docstrings_from_outside(app, what, name, obj, skip, options):
    """Leave out a method with no docstring of its own whose inherited one is not numrnn's.

    ``InlineExecutor.submit`` would otherwise show ``concurrent.futures.Executor.submit``'s
    docstring, written for another tool (and not in numpydoc style).
    """
    if what != "class" or not inspect.isfunction(obj) or obj.__doc__ is not None:
        return None
    owner_name = obj.__qualname__.rpartition(".")[0]
    owner = getattr(sys.modules.get(obj.__module__), owner_name, None)
    for base in getattr(owner, "__mro__", ())[1:]:
        inherited = base.__dict__.get(name)
        if inherited is not None and getattr(inherited, "__doc__", None):
            return True if not base.__module__.startswith("numrnn") else None
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.connect("autodoc-skip-member", _skip_docstrings_from_outside)
