"""The graph as text, one line per tensor in topological order (in the spirit of a jaxpr).

Needs nothing installed and prints in any terminal::

    # the graph that computed %2 (130, 8): 1 input, 1 parameter, 1 op, one tensor per line ...
    %0 x = input (130, 4) float64
    %1 W1 = parameter (4, 8) float64          # grad (4, 8) norm 0.213
    %2 = matmul(%0 x (130, 4), %1 W1 (4, 8)) -> (130, 8)

After a backward it adds the backward pass, last op first: which gradient each op
receives and which inputs it sends gradients to, with their shapes.
"""
import numpy as np

from ..tensor import Tensor
from .graph import GraphView, INPUT, PARAMETER
from .text import dtype_text, shape_text, constant_text, op_text, values_text, SMALL, summary_text, one_line

_PAD = 56  # annotations start at this column when the line is shorter


def operand_text(view, x):
    """``%1 W1 (4, 8)`` for a tensor (name when known), ``0.5`` for a constant."""
    if not isinstance(x, Tensor):
        return constant_text(x)
    name = view.name(x)
    return f"%{view.ids[x]} {name} {shape_text(x.shape)}" if name else f"%{view.ids[x]} {shape_text(x.shape)}"


def node_line(view, t):
    """The definition of t: ``%2 = matmul(%0 x (130, 4), %1 W1 (4, 8)) -> (130, 8)``."""
    name = view.name(t)
    head = f"%{view.ids[t]} {name}" if name else f"%{view.ids[t]}"
    if t._op is None:
        return f"{head} = {PARAMETER if t._requires_grad else INPUT} {shape_text(t.shape)} {dtype_text(t.dtype)}"
    if t._inputs is None:
        args = '<released by backward>'
    else:
        args = ', '.join(operand_text(view, x) for x in t._inputs)
    return f"{head} = {op_text(t._op.name, t._static, brackets=True)}({args}) -> {shape_text(t.shape)}"


def _notes(view, t, show_grad, show_data):
    notes = []
    scope = view.scope(t)
    if scope:
        notes.append('in ' + view.module_label(scope[-1]))
    if show_data and t.data.size <= SMALL:
        notes.append(f"data {values_text(t.data)}")
    if show_grad and t.grad is not None:
        notes.append(f"grad {shape_text(np.shape(t.grad))} {summary_text(t.grad)}")
    if t in view.outputs:
        notes.append('output')
    return notes


def _backward_lines(view):
    """Last op first: ``d%2 (130, 8) -> matmul -> d%1 W1 (4, 8)``, for inputs that need grad."""
    lines = []
    for t in reversed(view.nodes):
        if t._op is None or t._inputs is None:
            continue
        targets = [x for x in t._inputs if isinstance(x, Tensor) and x._requires_grad]
        if targets:
            sent = ', '.join('d' + operand_text(view, x) for x in targets)
            lines.append(f"d%{view.ids[t]} {shape_text(t.shape)} -> {one_line(t._op.name)} -> {sent}")
    return lines


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def graph_listing(*roots, show_grad=True, show_data=False, names=None):
    """The graph behind ``roots`` as text, one line per tensor, inputs before the ops using them.

    ``%k`` numbers the tensors in creation order (the same ids as ``to_dot``'s tooltips).
    Each op line names its inputs (``%1 W1 (4, 8)``; constants written inline) and gives
    the result's shape; a trailing comment gives the module it ran in, and with
    ``show_grad`` the gradient's shape and norm (values when small) wherever ``.grad`` is
    set: leaves, and intermediates that called ``retain_grad()``. Once a backward has run
    (some ``.grad`` is set), a second section lists the backward pass, last op first.
    ``names`` is as for :func:`to_dot`.

    >>> print(ag.graph_listing(loss))        # doctest: +SKIP
    """
    view = GraphView(roots, names, caller='graph_listing')
    leaves = [t for t in view.nodes if t._op is None]
    n_params = sum(1 for t in leaves if t._requires_grad)
    # The header says what the lines are, for a reader who has never seen a listing.
    header = (f"# the graph that computed {', '.join(operand_text(view, r) for r in view.roots)}: "
              f"{_count(len(leaves) - n_params, 'input')}, {_count(n_params, 'parameter')}, "
              f"{_count(len(view.nodes) - len(leaves), 'op')}, one tensor per line in the order they "
              "were made, so each line uses only lines above it")
    lines = [header]
    for t in view.nodes:
        line = node_line(view, t)
        notes = _notes(view, t, show_grad, show_data)
        if notes:
            line = f"{line:<{_PAD}}  # {'; '.join(notes)}"
        lines.append(line)
    if show_grad and any(t.grad is not None for t in view.nodes):
        lines.append("# backward, last op first: each op turns the gradient of its result (d%k) into "
                     "gradients for its inputs that require grad")
        lines.extend(_backward_lines(view))
    return '\n'.join(lines) + '\n'
