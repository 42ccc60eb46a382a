"""Export a computation graph to Graphviz: ``to_dot(loss)`` returns a ``graphviz.Digraph``.

One node per tensor: leaves show their name, shape and dtype; an op's node shows the op
with its static arguments and the shape of its result (op and result drawn as one node,
which halves the picture). Constant operands are small plain-text nodes. Node ids are
``t<k>`` with k the tensor's ``%k`` in :func:`graph_listing` (creation order), so the DOT
text of a graph is the same on every run. Modules become (nested) clusters, or single
nodes with ``collapse``.
"""
import graphviz

from ..tensor import Tensor
from .display import DotGraph
from .graph import GraphView, INPUT, PARAMETER, OP, OUTPUT, RELEASED
from .listing import node_line
from .text import (dtype_text, shape_text, op_text, values_text, summary_text, constant_text, formula_text,
                   one_line, operand_roles, SMALL)

CONSTANT, MODULE = 'constant', 'module'

STYLES = {
    INPUT: dict(shape='box', style='rounded,filled', fillcolor='#dbeafe', color='#1d4ed8'),
    PARAMETER: dict(shape='box', style='rounded,filled', fillcolor='#fde68a', color='#b45309'),
    CONSTANT: dict(shape='plaintext', style='solid', fontcolor='#4b5563', fontsize='9',
                   height='0.2', width='0.3', margin='0.02'),
    OP: dict(shape='ellipse', style='filled', fillcolor='#f3f4f6', color='#6b7280'),
    OUTPUT: dict(shape='ellipse', style='filled', fillcolor='#bbf7d0', color='#15803d', peripheries='2'),
    RELEASED: dict(shape='ellipse', style='dashed', color='#9ca3af', fontcolor='#6b7280'),
    MODULE: dict(shape='box3d', style='filled', fillcolor='#ede9fe', color='#6d28d9'),
}
LEGEND = {
    INPUT: 'input (no grad)', PARAMETER: 'parameter (grad)', CONSTANT: 'constant',
    OP: 'op: its result', OUTPUT: 'output', RELEASED: 'released by backward',
    MODULE: 'module (collapsed)',
}
_LEGEND_ROW = 2  # entries per row of the legend: narrower than a small graph
# An operand's role ('left', 'right') by the arrowhead of its edge, in small print: a head
# label is placed after the layout, where a mid-edge label is a node more for dot to lay out
# (a 2,000-node chain: 1.3 s with head labels, 6.6 s with edge labels).
_ROLE_EDGE = dict(fontsize='8', fontcolor='#6b7280', labeldistance='2', labelangle='40')
# Up to this many tensors each node's tooltip is its listing line (hover in an SVG). Larger
# graphs are not laid out as pictures anyway, and tooltips would add ~40% to export time.
TOOLTIP_LIMIT = 5000
_CLUSTER_FILL = ('#faf5ff', '#f3e8ff', '#ede9fe')  # deeper modules a shade darker


def _label(lines):
    """Plain DOT text: lines joined by DOT's line break, backslashes (in user names) doubled
    so they print as themselves (what graphviz.escape does, without its call cost), and
    ``&`` written ``&amp;``, since Graphviz reads entities such as ``&lt;`` in any label.
    Quotes are escaped by graphviz's quoting, and ``nohtml`` keeps a name like ``<b>`` from
    being read as an HTML-like label. Every label and tooltip goes through here."""
    return graphviz.nohtml('\\n'.join(line.replace('\\', '\\\\').replace('&', '&amp;') for line in lines))


def _operand_word(view, x):
    """An operand inside a node's formula: its name, else the op that made it, else its
    shape (a constant: its value)."""
    if not isinstance(x, Tensor):
        return constant_text(x)
    return view.name(x) or (one_line(x._op.name) if x._op is not None else shape_text(x.shape))


def _tensor_lines(view, t, kind, show_data, show_grad):
    lines = []
    if t._op is not None:
        text = op_text(t._op.name, t._static)
        if t._inputs is not None:
            formula = formula_text(t._op.name, [_operand_word(view, x) for x in t._inputs])
            if formula is not None:
                text = f"{text}: {formula}"
        lines.append(text)
    name = view.name(t)
    if name:
        lines.append(name)
    lines.append(f"{shape_text(t.shape)} {dtype_text(t.dtype)}")
    if show_data and t.data.size <= SMALL:
        lines.append(f"data {values_text(t.data)}")
    if show_grad and t.grad is not None:
        lines.append(f"grad {summary_text(t.grad)}")
    if kind == RELEASED:
        lines.append('(released by backward)')
    return lines


def _collapsed_modules(view, collapse):
    """ids of the modules to draw as one node each.

    True: the children of each outermost module (a model's layers), or the outermost
    module itself when nothing below it recorded an op. A set of names: the modules whose
    path in named_modules() (``'fc1'``) or class name (``'Linear'``) is in it.
    """
    if collapse is False or collapse is None:
        return set()
    scopes = {tuple(map(id, t._scope)): t._scope for t in view.nodes if t._scope}.values()
    if collapse is True:
        deep = {id(s[0]) for s in scopes if len(s) > 1}  # outermost modules whose children ran ops
        return {id(s[1]) for s in scopes if len(s) > 1} | {id(s[0]) for s in scopes if id(s[0]) not in deep}
    wanted = {collapse} if isinstance(collapse, str) else set(collapse)
    modules = {id(m): m for s in scopes for m in s}.values()
    chosen, found = set(), set()
    for m in modules:
        names = {view.module_path(m), type(m).__name__}
        if names & wanted:
            chosen.add(id(m))
            found |= names
    missing = wanted - found
    if missing:
        known = ', '.join(view.module_label(m) for m in modules) or 'none (no op ran inside a Module)'
        raise ValueError(f"to_dot: collapse names {sorted(missing)} match no module in the graph; "
                         f"modules in the graph: {known}")
    return chosen


class _Clusters:
    """One subgraph per module scope, created on first use and nested at the end."""

    def __init__(self, top, view):
        self.view = view
        self.graphs = {(): top}
        self.order = []

    def get(self, scope):
        """The subgraph for ``scope`` (a tuple of modules, outermost first), parents made first."""
        for depth in range(1, len(scope) + 1):
            key = tuple(map(id, scope[:depth]))
            if key not in self.graphs:
                self.graphs[key] = DotGraph(name=f"cluster_{len(self.order)}", graph_attr=dict(
                    label=_label([self.view.module_label(scope[depth - 1])]), labeljust='l', style='rounded,filled',
                    fillcolor=_CLUSTER_FILL[min(depth, len(_CLUSTER_FILL)) - 1], color='#7c3aed',
                    fontcolor='#5b21b6'))
                self.order.append(key)
        return self.graphs[tuple(map(id, scope))]

    def close(self):
        """Add each cluster to its parent, deepest first (``subgraph`` copies the body)."""
        for key in sorted(self.order, key=len, reverse=True):
            self.graphs[key[:-1]].subgraph(self.graphs[key])


class _Collapsed:
    """A module drawn as one node: what went in, what came out, what it holds."""
    __slots__ = ('node_id', 'scope', 'ins', 'outs', 'params', 'ops')

    def __init__(self, scope):
        self.node_id, self.scope = None, scope
        self.ins, self.outs, self.params, self.ops = {}, {}, [], []  # dicts: ordered sets of tensors


def _collapse(view, collapsed):
    """Map each tensor inside a collapsed module to that module's node; the rest to their own.

    Returns ``{tensor: node id}`` and the collapsed modules, numbered m0, m1, ... in the
    order of their first op (the order the forward ran them)."""
    rep, boxes = {}, {}
    for t in view.nodes:
        scope = view.scope(t)
        cut = next((i for i, m in enumerate(scope) if id(m) in collapsed), None)
        if cut is None:
            rep[t] = f"t{view.ids[t]}"
            continue
        key = tuple(map(id, scope[:cut + 1]))
        box = boxes.get(key)
        if box is None:
            box = boxes[key] = _Collapsed(scope[:cut + 1])
        rep[t] = box
        (box.ops if t._op is not None else box.params).append(t)
    order = sorted(boxes.values(), key=lambda b: (b.ops or b.params)[0]._created)
    for i, box in enumerate(order):
        box.node_id = f"m{i}"
    for t, r in rep.items():
        if r.__class__ is _Collapsed:
            rep[t] = r.node_id
            if t in view.outputs:
                r.outs[t] = None
    return rep, {b.node_id: b for b in order}


def _edges(view, rep, boxes, add_constant):
    """(source id, target id, label or None) for each input of each op, following the data.
    An op whose operands' order matters labels each edge with the operand's role ('left',
    'right'). Edges inside a collapsed module disappear, edges to and from one are drawn
    once, unlabelled; constants feeding a drawn op get their own node
    (``add_constant(op tensor, position, value)`` makes it)."""
    edges, seen = [], set()
    for t in view.nodes:
        if not t._inputs:
            continue
        dst = rep[t]
        roles = None if dst in boxes else operand_roles(t._op.name, len(t._inputs))
        for j, x in enumerate(t._inputs):
            if isinstance(x, Tensor):
                src = rep[x]
                if src == dst:
                    continue
                if src in boxes:
                    boxes[src].outs[x] = None
                if dst in boxes:
                    boxes[dst].ins[x] = None
            elif dst in boxes:
                continue  # a constant inside a collapsed module is part of it
            else:
                src = add_constant(t, j, x)
            if src in boxes or dst in boxes:
                if (src, dst) in seen:
                    continue
                seen.add((src, dst))
            edges.append((src, dst, roles[j] if roles else None))
    return edges


def _module_lines(view, box, show_grad):
    lines = [view.module_label(box.scope[-1])]
    ins = ', '.join(shape_text(x.shape) for x in box.ins)
    outs = ', '.join(shape_text(x.shape) for x in box.outs)
    lines.append(f"{ins or '()'} -> {outs or '(unused)'}")
    for p in box.params:
        grad = f"  grad {summary_text(p.grad)}" if show_grad and p.grad is not None else ''
        lines.append(f"{view.name(p) or 'parameter'} {shape_text(p.shape)}{grad}")
    ops = list(dict.fromkeys(one_line(t._op.name) for t in box.ops))
    lines.append(', '.join(ops[:4]) + (', ...' if len(ops) > 4 else ''))
    return lines


def to_dot(*roots, show_data=False, show_grad=True, rankdir='TB', collapse=False, names=None, legend=True):
    """The graph that computed ``roots`` as a ``graphviz.Digraph`` (shows inline in Jupyter).

    - ``show_data``: values of tensors with at most 6 elements.
    - ``show_grad``: each tensor's ``.grad`` (values when small, else its norm) where set:
      leaves after a backward, intermediates that called ``retain_grad()``. Export after
      ``backward(retain_graph=True)`` (or before backward): a plain backward releases the
      graph, and what was released is drawn dashed, with a GraphReleasedWarning.
    - ``rankdir``: 'TB' (top to bottom), 'LR', 'BT' or 'RL'.
    - ``collapse``: False; True draws each layer of a model (the children of the outermost
      module) as one node; or a set of module paths / class names to draw as one node each.
    - ``names``: a Module (names its parameters and cluster labels, ``Linear fc1``) or a
      dict ``{name: Tensor}``.
    - ``legend``: add one small node (a row at the bottom) explaining the node styles
      that appear.

    >>> g = ag.to_dot(loss, names=model)        # doctest: +SKIP
    >>> g.render('graph', format='svg')        # or ag.render_graph(loss, 'graph.svg')
    """
    if rankdir not in ('TB', 'LR', 'BT', 'RL'):
        raise ValueError(f"to_dot: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    view = GraphView(roots, names)
    collapsed = _collapsed_modules(view, collapse)
    g = DotGraph(name='autograd_lite', graph_attr=dict(rankdir=rankdir, ordering='in', fontname='Helvetica', fontsize='11',
                                                        nodesep='0.25', ranksep='0.35'),
                 # ops are most of a big graph: their style is the default, so their
                 # statements carry only a label and a tooltip (export time is in quoting)
                 node_attr=dict(fontname='Helvetica', fontsize='10', **STYLES[OP]),
                 edge_attr=dict(color='#4b5563', arrowsize='0.7', fontname='Helvetica'))
    clusters = _Clusters(g, view)
    rep, boxes = _collapse(view, collapsed)
    kinds = set()
    tooltips = len(view.nodes) <= TOOLTIP_LIMIT
    for t in view.nodes:
        if rep[t] in boxes:
            continue
        kind = view.kind(t)
        kinds.add(kind)
        attrs = {} if kind == OP else STYLES[kind]
        if tooltips:
            attrs = dict(attrs, tooltip=_label([node_line(view, t)]))
        clusters.get(view.scope(t)).node(rep[t], _label(_tensor_lines(view, t, kind, show_data, show_grad)), **attrs)

    def add_constant(t, j, value):
        kinds.add(CONSTANT)
        node_id = f"t{view.ids[t]}c{j}"
        clusters.get(view.scope(t)).node(node_id, _label([constant_text(value)]), **STYLES[CONSTANT])
        return node_id

    edges = _edges(view, rep, boxes, add_constant)
    for box in boxes.values():
        kinds.add(MODULE)
        is_output = any(t in view.outputs for t in box.outs)
        if is_output:
            kinds.add(OUTPUT)
        style = dict(STYLES[MODULE], peripheries='2') if is_output else STYLES[MODULE]
        clusters.get(box.scope[:-1]).node(box.node_id, _label(_module_lines(view, box, show_grad)), **style)
    clusters.close()
    for src, dst, role in edges:
        if role is None:
            g.edge(src, dst)
        else:
            g.edge(src, dst, headlabel=role, **_ROLE_EDGE)
    if legend:
        _add_legend(g, kinds)
    return g


def _add_legend(g, kinds):
    """One small node at the bottom (the right with rankdir='LR'): the node styles that
    appear, each a swatch and a few words, two to a row, in small print, so that it
    never outgrows a small graph."""
    cells = []
    for kind in STYLES:
        if kind not in kinds:
            continue
        style = STYLES[kind]
        dashed = ' style="dashed"' if kind == RELEASED else ''
        swatch = ('<td width="12" height="9" fixedsize="true">2</td>' if kind == CONSTANT else
                  f'<td width="12" height="9" fixedsize="true" border="1" bgcolor="{style.get("fillcolor", "white")}"'
                  f' color="{style["color"]}"{dashed}></td>')
        cells.append(f'{swatch}<td align="left">{LEGEND[kind]}</td>')
    rows = ['<td width="4"></td>'.join(cells[i:i + _LEGEND_ROW]) for i in range(0, len(cells), _LEGEND_ROW)]
    label = ('<<table border="0" cellborder="0" cellspacing="2" cellpadding="0">'
             + ''.join(f'<tr>{row}</tr>' for row in rows) + '</table>>')
    with g.subgraph(name='legend') as leg:
        leg.attr(rank='sink')
        leg.node('legend', label, shape='plaintext', style='solid', fontsize='8', fontcolor='#4b5563',
                 margin='0', height='0', width='0', tooltip='legend')
