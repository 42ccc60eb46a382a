"""Showing a graph where the Graphviz program may be missing.

The ``graphviz`` Python package only writes DOT text; pictures need the ``dot`` program.
Where it is missing we warn once per process with how to install it and how to render
the DOT file later, and fall back to text, so drawing never breaks the caller.
"""
import shutil
import warnings

import graphviz


class GraphvizWarning(UserWarning):
    """Graphviz could not render a graph; the DOT source was written instead."""


class GraphvizNotFoundWarning(GraphvizWarning):
    """The Graphviz program ``dot`` is not installed (or not on PATH)."""


_warned_missing = False


def dot_available():
    """Whether the Graphviz program ``dot`` is on PATH."""
    return shutil.which('dot') is not None


def warn_missing_dot(dot_file=None):
    """Warn, once per process, that ``dot`` is missing: how to install it and render ``dot_file``."""
    global _warned_missing
    if _warned_missing:
        return
    _warned_missing = True
    source = dot_file or 'graph.dot'
    target = str(source)[:-4] + '.svg' if str(source).endswith('.dot') else f"{source}.svg"
    where = f"the graph was written as DOT text to {dot_file}" if dot_file else "the graph is shown as DOT text"
    warnings.warn(
        f"Graphviz's 'dot' program was not found on PATH, so {where}. To draw pictures, install "
        "Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
        "conda: conda install -c conda-forge graphviz), then render the file with: "
        f"dot -Tsvg {source} -o {target}. ag.graph_listing(loss) prints the same graph as text "
        "with nothing installed.", GraphvizNotFoundWarning, stacklevel=3)


class DotGraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that Jupyter shows inline as SVG, or as DOT text (with one
    warning) where the ``dot`` program is missing, instead of a traceback."""

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if dot_available():
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                pass
        warn_missing_dot()
        return {'text/plain': self.source}
