"""Sphinx configuration of the hsctsim manual (``sphinx-build -W -b html docs OUT``).

Pages are Markdown (MyST); the API reference is read from the numpydoc docstrings;
the model reference tables are generated at build time from the process table and
the bundled configs by the local extension ``_ext/hsctsim_reference.py``. No
intersphinx: the build needs no network.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package of this checkout, installed or not

from hsctsim._version import __version__  # noqa: E402

project = "hsctsim"
author = "the hsctsim developers"
copyright = "the hsctsim developers (MIT licence)"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "numpydoc",
    "hsctsim_reference",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}  # .rst: numpydoc loads autosummary
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "alabaster"
html_title = f"hsctsim {__version__}"
html_static_path = []
html_theme_options = {"page_width": "1200px", "sidebar_width": "230px"}  # wide tables
