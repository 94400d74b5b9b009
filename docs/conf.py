"""Sphinx configuration for the LWR documentation (build: sphinx-build -W -b html docs docs/_build/html)."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# _ext/lwr_options.py writes the option tables from the declarations in the lwr package.
sys.path[:0] = [os.path.join(HERE, "_ext"), os.path.dirname(HERE)]


def _version() -> str:
    with open(os.path.join(HERE, os.pardir, "lwr", "__init__.py")) as handle:
        match = re.search(r'^__version__ = "([^"]+)"', handle.read(), re.M)
    return match.group(1) if match else "unknown"


project = "LWR"
author = "LWR contributors"
copyright = "2014-2026, LWR contributors"
release = _version()
version = ".".join(release.split(".")[:2])

extensions = ["lwr_options"]
templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
master_doc = "index"
root_doc = "index"
language = "en"
highlight_language = "none"
pygments_style = "sphinx"

html_theme = "alabaster"
html_static_path = []
html_title = "LWR %s documentation" % release
