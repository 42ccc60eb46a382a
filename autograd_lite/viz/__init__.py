"""Seeing computation graphs: Graphviz export, rendering, and a text listing.

- :func:`to_dot`: the graph as a ``graphviz.Digraph`` (shows inline in Jupyter).
- :func:`render_graph`: write it as SVG/PNG/PDF, or as DOT text where Graphviz is missing.
- :func:`graph_listing`: the graph as text, one line per op; needs nothing installed.
- :func:`write_graph`: picture (or DOT) plus listing into a folder, for the CLI.
"""
from .display import DotGraph, GraphvizWarning, GraphvizNotFoundWarning
from .dot import to_dot
from .graph import GraphReleasedWarning
from .listing import graph_listing
from .render import render_graph, write_graph

__all__ = ['to_dot', 'render_graph', 'graph_listing', 'write_graph', 'DotGraph',
           'GraphvizWarning', 'GraphvizNotFoundWarning', 'GraphReleasedWarning']
