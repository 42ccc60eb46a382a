"""Showing a graph where the Graphviz program may be missing, or the graph too big.

The ``graphviz`` Python package only writes DOT text; pictures need the ``dot`` program.
Where it is missing we warn once per process with how to install it and how to render
the DOT file later, and fall back to text, so drawing never breaks the caller.
``dot``'s layout time grows faster than the graph (measured, chains and MLP-like graphs:
about 1 s at 2,000 nodes, 10 s at 5,000, 17 s at 6,000), so graphs above ``MAX_NODES``
are not sent to it unless asked, and it is stopped after a timeout.
"""
import re
import shutil
import subprocess
import warnings

import graphviz


class GraphvizWarning(UserWarning):
    """Graphviz could not render a graph; the DOT source was written instead."""


class GraphvizNotFoundWarning(GraphvizWarning):
    """The Graphviz program ``dot`` is not installed (or not on PATH)."""


_warned_missing = False

MAX_NODES = 5000  # the most nodes drawn as a picture unless max_nodes= says otherwise
DOT_TIMEOUT = 60  # seconds dot may take before it is stopped

# A node statement of DOT text, e.g. ``t3 [label=...]`` (not graph/node/edge defaults,
# edges, subgraphs, ``label=...`` attributes or to_dot's legend): the nodes of a picture.
_NODE_STATEMENT = re.compile(r'^[ \t]*(?!(?:graph|node|edge|subgraph|legend)\b)(?:"(?:[^"\\]|\\.)*"|[\w.]+)[ \t]*'
                             r'(?:\[|$)', re.M | re.I)


def node_count(graph):
    """The number of nodes in ``graph``'s DOT text (a ``graphviz.Digraph``), legend aside."""
    return len(_NODE_STATEMENT.findall(graph.source))


def too_big(caller, n, max_nodes, instead):
    """The message for a graph of ``n`` nodes, more than ``max_nodes``: what to do instead."""
    return (f"{caller}: the graph has {n:,} nodes, more than max_nodes={max_nodes:,}, and Graphviz's dot slows "
            "down faster than graphs grow (about 10 s at 5,000 nodes, minutes beyond). Draw less: "
            "collapse=True (one node per layer) or the graph of an intermediate tensor (a sub-graph); or "
            f"print(ag.graph_listing(loss)) (text, any size); {instead}")


def run_dot(graph, format, timeout):
    """``graph`` laid out by its engine (``dot``) as ``format`` bytes, stopped (killed) after
    ``timeout`` seconds (None: no limit). Raises subprocess.TimeoutExpired,
    CalledProcessError (with dot's stderr), or FileNotFoundError when dot is missing."""
    done = subprocess.run([graph.engine, f"-T{format}"], input=graph.source.encode(graph.encoding),
                          capture_output=True, timeout=timeout, check=True)
    return done.stdout


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
    warning) where the ``dot`` program is missing, instead of a traceback. A graph of
    more than ``MAX_NODES`` nodes, or one ``dot`` cannot draw within ``DOT_TIMEOUT``
    seconds, is shown as a note on what to do instead (with a GraphvizWarning)."""

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        n = node_count(self)
        if n > MAX_NODES:
            note = too_big('to_dot', n, MAX_NODES, "or ag.render_graph(loss, 'graph.dot') for the DOT text, "
                           "ag.render_graph(loss, 'graph.svg', max_nodes=None) to draw it anyway")
        elif not dot_available():
            warn_missing_dot()
            return {'text/plain': self.source}
        else:
            try:
                return {'image/svg+xml': run_dot(self, 'svg', DOT_TIMEOUT).decode('utf-8')}
            except FileNotFoundError:
                warn_missing_dot()
                return {'text/plain': self.source}
            except subprocess.TimeoutExpired:
                note = (f"to_dot: Graphviz's dot did not draw the graph ({n:,} nodes) within {DOT_TIMEOUT} s and was "
                        "stopped. Draw less (collapse=True, the graph of an intermediate tensor), print "
                        "ag.graph_listing(loss), or use ag.render_graph(loss, 'graph.svg', timeout=None)")
            except subprocess.CalledProcessError as exc:
                note = f"to_dot: Graphviz's dot could not draw the graph ({exc.stderr.decode(errors='replace').strip()})"
        warnings.warn(note, GraphvizWarning, stacklevel=2)
        return {'text/plain': note}
