"""Write a graph to a file: a picture where Graphviz's ``dot`` is installed, DOT text where not."""
import subprocess
import warnings
from pathlib import Path

import graphviz

from .display import GraphvizWarning, dot_available, warn_missing_dot
from .dot import to_dot
from .listing import graph_listing

_FORMATS = frozenset(graphviz.FORMATS)


def _graph(root, to_dot_kwargs):
    if isinstance(root, graphviz.Digraph):
        if to_dot_kwargs:
            raise TypeError(f"render_graph: options {sorted(to_dot_kwargs)} apply to a Tensor, not to a ready Digraph")
        return root
    roots = tuple(root) if isinstance(root, (list, tuple)) else (root,)
    return to_dot(*roots, **to_dot_kwargs)


def _target(path, format):
    path = Path(path)
    suffix = path.suffix[1:].lower()
    if format is None:
        format = suffix if suffix in _FORMATS or suffix == 'dot' else 'svg'
    if format != 'dot' and format not in _FORMATS:
        raise ValueError(f"render_graph: unknown format {format!r}; use 'svg', 'png', 'pdf' or 'dot' "
                         "(or another Graphviz output format)")
    return (path if suffix == format else path.with_name(f"{path.name}.{format}")), format


def render_graph(root, path, format=None, **to_dot_kwargs):
    """Draw the graph behind ``root`` into ``path`` and return the path written.

    ``root``: a Tensor, a list of Tensors, or a Digraph from :func:`to_dot`.
    ``format``: 'svg', 'png', 'pdf', 'dot' (the DOT text) or any Graphviz format; by
    default taken from the path's suffix, else 'svg' (the suffix is added when missing:
    ``render_graph(loss, 'out/graph')`` writes ``out/graph.svg``). Other keywords go to
    :func:`to_dot`.

    Where the ``dot`` program is missing (or fails), the DOT text is written next to it
    (``out/graph.dot``) and returned instead, with a GraphvizNotFoundWarning (once per
    process) saying how to install Graphviz and render the file: never an exception.
    """
    target, format = _target(path, format)
    graph = _graph(root, to_dot_kwargs)
    target.parent.mkdir(parents=True, exist_ok=True)
    dot_file = target if format == 'dot' else target.with_suffix('.dot')
    if format != 'dot':
        if not dot_available():
            warn_missing_dot(dot_file)
        else:
            try:
                target.write_bytes(graph.pipe(format=format))
                return target
            except graphviz.ExecutableNotFound:
                warn_missing_dot(dot_file)
            except (subprocess.CalledProcessError, OSError) as exc:
                detail = getattr(exc, 'stderr', None) or exc
                if isinstance(detail, bytes):
                    detail = detail.decode(errors='replace').strip()
                warnings.warn(f"render_graph: Graphviz could not render {target.name} ({detail}); "
                              f"the DOT text was written to {dot_file} instead", GraphvizWarning, stacklevel=2)
    dot_file.write_text(graph.source, encoding='utf-8')
    return dot_file


def write_graph(root, out_dir, stem='graph', module=None, **to_dot_kwargs):
    """Write the graph behind ``root`` (e.g. one training step's loss) into ``out_dir``.

    Writes ``<stem>.svg`` where Graphviz's ``dot`` is installed, else ``<stem>.dot``
    (with one warning on how to install Graphviz), and always ``<stem>.txt``, the
    :func:`graph_listing`. ``module`` names parameters and clusters (``names=`` of
    :func:`to_dot`). Call it before ``loss.backward()``, or after
    ``loss.backward(retain_graph=True)`` to show the gradients. Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / f"{stem}.txt"
    listing.write_text(graph_listing(root, names=module, show_grad=to_dot_kwargs.get('show_grad', True),
                                     show_data=to_dot_kwargs.get('show_data', False)), encoding='utf-8')
    picture = render_graph(root, out_dir / f"{stem}.svg", names=module, **to_dot_kwargs)
    return [picture, listing]
