"""Write a graph to a file: a picture where Graphviz's ``dot`` is installed, DOT text where not.

Files are written whole or not at all: next to their destination, then renamed over it.
"""
import os
import subprocess
import warnings
from pathlib import Path

import graphviz

from .display import (GraphvizWarning, MAX_NODES, DOT_TIMEOUT, dot_available, node_count, run_dot, too_big,
                      warn_missing_dot)
from ..tensor import Tensor
from .dot import to_dot
from .listing import graph_listing

_FORMATS = frozenset(graphviz.FORMATS)


def _graph(root, to_dot_kwargs):
    if isinstance(root, graphviz.Digraph):
        if to_dot_kwargs:
            raise TypeError(f"render_graph: options {sorted(to_dot_kwargs)} apply to a Tensor, not to a ready Digraph")
        return root
    roots = tuple(root) if isinstance(root, (list, tuple)) else (root,)
    for r in roots:  # here, so that the message names render_graph rather than to_dot
        if not isinstance(r, Tensor):
            raise TypeError(f"render_graph: expected a Tensor (or a list of them, or a graphviz.Digraph) to draw, "
                            f"got {type(r).__name__}")
    return to_dot(*roots, **to_dot_kwargs)


def _target(path, format):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"render_graph: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    if format is not None and not isinstance(format, str):
        raise TypeError(f"render_graph: format must be a str such as 'svg', or None, got {type(format).__name__}")
    path = Path(path)
    suffix = path.suffix[1:].lower()
    if format is None:
        format = suffix if suffix in _FORMATS or suffix == 'dot' else 'svg'
    if format != 'dot' and format not in _FORMATS:
        raise ValueError(f"render_graph: unknown format {format!r}; use 'svg', 'png', 'pdf' or 'dot' "
                         "(or another Graphviz output format)")
    return (path if suffix == format else path.with_name(f"{path.name}.{format}")), format


def _write(path, data):
    """Write ``data`` (bytes) to ``path`` whole or not at all: an interrupted write leaves no half file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_graph(root, path, format=None, max_nodes=MAX_NODES, timeout=DOT_TIMEOUT, **to_dot_kwargs):
    """Draw the graph behind ``root`` into ``path`` and return the path written.

    ``root``: a Tensor, a list of Tensors, or a Digraph from :func:`to_dot`.
    ``format``: 'svg', 'png', 'pdf', 'dot' (the DOT text) or any Graphviz format; by
    default taken from the path's suffix, else 'svg' (the suffix is added when missing:
    ``render_graph(loss, 'out/graph')`` writes ``out/graph.svg``). Other keywords go to
    :func:`to_dot`.

    ``max_nodes`` (default 5,000; None: no limit): a picture of a graph with more nodes
    is refused with a ValueError before ``dot`` runs and before anything is written
    (``dot`` takes about 10 s at 5,000 nodes, minutes beyond); the DOT text
    (``format='dot'``) is written at any size. ``timeout`` (seconds, default 60; None:
    no limit): ``dot`` is stopped after it.

    Where the ``dot`` program is missing, fails or times out, the DOT text is written next
    to it (``out/graph.dot``) and returned instead, with a GraphvizWarning (missing: a
    GraphvizNotFoundWarning, once per process) saying what to do. No picture is left
    half-written.
    """
    target, format = _target(path, format)
    graph = _graph(root, to_dot_kwargs)
    if format != 'dot' and max_nodes is not None:
        n = node_count(graph)
        if n > max_nodes:
            raise ValueError(too_big('render_graph', n, max_nodes, "or write the DOT text with format='dot'; or "
                                     "pass max_nodes=None to draw it anyway"))
    target.parent.mkdir(parents=True, exist_ok=True)
    dot_file = target if format == 'dot' else target.with_suffix('.dot')
    if format != 'dot':
        if not dot_available():
            warn_missing_dot(dot_file)
        else:
            try:
                _write(target, run_dot(graph, format, timeout))
                return target
            except FileNotFoundError:
                warn_missing_dot(dot_file)
            except subprocess.TimeoutExpired:
                warnings.warn(f"render_graph: Graphviz's dot did not draw {target.name} within {timeout} s and was "
                              f"stopped; the DOT text was written to {dot_file} instead. Draw less (collapse=True, "
                              "the graph of an intermediate tensor, or ag.graph_listing), pass a larger timeout= "
                              f"(None: no limit), or render the file yourself: dot -T{format} {dot_file} -o {target}",
                              GraphvizWarning, stacklevel=2)
            except (subprocess.CalledProcessError, OSError) as exc:
                detail = getattr(exc, 'stderr', None) or exc
                if isinstance(detail, bytes):
                    detail = detail.decode(errors='replace').strip()
                warnings.warn(f"render_graph: Graphviz could not render {target.name} ({detail}); "
                              f"the DOT text was written to {dot_file} instead", GraphvizWarning, stacklevel=2)
    _write(dot_file, graph.source.encode('utf-8'))
    return dot_file


def write_graph(root, out_dir, stem='graph', module=None, **to_dot_kwargs):
    """Write the graph behind ``root`` (e.g. one training step's loss) into ``out_dir``.

    Writes ``<stem>.svg`` where Graphviz's ``dot`` is installed, else ``<stem>.dot``
    (with one warning on how to install Graphviz), and always ``<stem>.txt``, the
    :func:`graph_listing`. ``module`` names parameters and clusters (``names=`` of
    :func:`to_dot`); ``max_nodes`` and ``timeout`` are as for :func:`render_graph` (the
    picture is drawn first, so a refused one writes nothing). Call it before
    ``loss.backward()``, or after ``loss.backward(retain_graph=True)`` to show the
    gradients. Returns the paths written.
    """
    out_dir = Path(out_dir)
    picture = render_graph(root, out_dir / f"{stem}.svg", names=module, **to_dot_kwargs)
    listing = out_dir / f"{stem}.txt"
    text = graph_listing(root, names=module, show_grad=to_dot_kwargs.get('show_grad', True),
                         show_data=to_dot_kwargs.get('show_data', False))
    _write(listing, text.encode('utf-8'))
    return [picture, listing]
