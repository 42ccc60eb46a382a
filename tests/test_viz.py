"""Graph export (to_dot), rendering (render_graph, write_graph) and the text listing."""
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import autograd_lite as ag
from autograd_lite import nn
from autograd_lite.viz import (to_dot, render_graph, graph_listing, write_graph, DotGraph,
                               GraphvizNotFoundWarning, GraphReleasedWarning, display)
from autograd_lite.viz import render as viz_render
from autograd_lite.viz.dot import LEGEND, STYLES
from autograd_lite.viz.text import one_line, op_text

needs_dot = pytest.mark.skipif(not display.dot_available(), reason="Graphviz 'dot' program not installed")
SVG = '{http://www.w3.org/2000/svg}'


# -- reading DOT source back ------------------------------------------------------------
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def parse(source):
    """nodes {id: attrs} (legend excluded), edges [(a, b)], clusters {name: (label, parent)}."""
    nodes, edges, clusters, stack = {}, [], {}, []
    for line in source.splitlines():
        line = line.strip()
        m = re.match(r'subgraph (cluster_\w+) \{', line)
        if m:
            clusters[m.group(1)] = [None, stack[-1] if stack else None]
            stack.append(m.group(1))
        elif line == '}':
            if stack:
                stack.pop()
        elif stack and line.startswith('graph ['):
            clusters[stack[-1]][0] = dict(_ATTR.findall(line)).get('label', '').strip('"')
        elif stack and re.match(r'\w+=', line):  # a bare attribute statement
            clusters[stack[-1]][0] = dict(_ATTR.findall(line)).get('label', '').strip('"')
        elif (m := re.match(r'(\w+) -> (\w+)', line)):
            if not m.group(1).startswith('legend'):
                edges.append((m.group(1), m.group(2)))
        elif (m := re.match(r'(\w+) \[(.*)\]$', line)) and m.group(1) not in ('graph', 'node', 'edge'):
            attrs = {k: v.strip('"') for k, v in _ATTR.findall(m.group(2))}
            attrs['cluster'] = stack[-1] if stack else None
            if not m.group(1).startswith('legend'):
                nodes[m.group(1)] = attrs
    return nodes, edges, {k: tuple(v) for k, v in clusters.items()}


def lines(label):
    return label.split('\\n')


def small_graph():
    """loss = sum(sum(0.5 * sigmoid(x @ W + b) ** 2, axis=0)): 3 leaves, 7 ops, 2 constants."""
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.normal(size=(3, 2)), name='x')
    W = ag.Tensor(rng.normal(size=(2, 4)), requires_grad=True, name='W')
    b = ag.Tensor(np.zeros(4), requires_grad=True, name='b')
    y = ag.sigmoid(x @ W + b)
    loss = (0.5 * y ** 2).sum(axis=0).sum()
    return x, W, b, y, loss


class TwoLayer(nn.Module):
    def __init__(self):
        self.fc1 = nn.Linear(4, 8, seed=0)
        self.fc2 = nn.Linear(8, 3, seed=1)

    def forward(self, x):
        return self.fc2(ag.tanh(self.fc1(x)))


class Outer(nn.Module):
    def __init__(self):
        self.body = TwoLayer()

    def forward(self, x):
        return self.body(x).sum()


# -- structure -----------------------------------------------------------------------------
def test_dot_structure_of_a_known_expression():
    x, W, b, y, loss = small_graph()
    g = to_dot(loss)
    assert isinstance(g, DotGraph) and hasattr(g, '_repr_mimebundle_')
    nodes, edges, clusters = parse(g.source)
    assert len(nodes) == 12 and len(edges) == 11
    # ids are the listing's %k: leaves 0-2, ops 3-9 in creation order, constants after their op
    # an order-sensitive op writes its operands into its label: names, else the op that made them
    assert [lines(nodes[f"t{k}"]['label'])[0] for k in range(3, 10)] == \
        ['matmul: x @ W', 'add', 'sigmoid', 'pow: sigmoid ** 2', 'mul', 'sum(axis=0)', 'sum']
    assert lines(nodes['t0']['label']) == ['x', '(3, 2) float64']
    assert lines(nodes['t1']['label'])[:2] == ['W', '(2, 4) float64']
    assert lines(nodes['t3']['label']) == ['matmul: x @ W', '(3, 4) float64']
    assert lines(nodes['t9']['label']) == ['sum', '() float64']
    assert nodes['t6c1']['label'] == '2' and nodes['t7c0']['label'] == '0.5'
    # edges follow the data, in argument order
    assert edges[:4] == [('t0', 't3'), ('t1', 't3'), ('t3', 't4'), ('t2', 't4')]
    assert ('t6c1', 't6') in edges and ('t7c0', 't7') in edges and ('t8', 't9') in edges
    # kinds styled apart: input, parameters, constants, ops (the graph's default), output
    assert nodes['t0']['fillcolor'] == STYLES['input']['fillcolor']
    assert nodes['t1']['fillcolor'] == nodes['t2']['fillcolor'] == STYLES['parameter']['fillcolor']
    assert nodes['t6c1']['shape'] == 'plaintext'
    assert 'fillcolor' not in nodes['t3']
    assert nodes['t3']['tooltip'] == '%3 = matmul(%0 x (3, 2), %1 W (2, 4)) -> (3, 4)'  # its listing line
    assert nodes['t9']['peripheries'] == '2' and nodes['t9']['fillcolor'] == STYLES['output']['fillcolor']
    # the legend: one node, a swatch and words for each kind that appears
    legend = re.search(r'^\s*legend \[label=<(.*)>', g.source, re.M).group(1)
    assert [w for w in LEGEND.values() if w in legend] == [LEGEND[k] for k in STYLES if k not in ('released', 'module')]
    assert 'cluster_legend' not in clusters
    listing = graph_listing(loss).splitlines()  # the same ids; static arguments in brackets
    assert listing[0] == ('# the graph that computed %9 (): 1 input, 2 parameters, 7 ops, one tensor per line '
                          'in the order they were made, so each line uses only lines above it')
    assert listing[1 + 8] == '%8 = sum[axis=0](%7 (3, 4)) -> (4,)'
    assert 'legend' not in to_dot(loss, legend=False).source


def test_operand_order_is_drawn_and_labelled():
    """X @ W and W.T @ X.T, x - y and y - x: the labels say which operand is which."""
    X = ag.Tensor(np.ones((5, 4)), name='X')
    W = ag.Tensor(np.ones((4, 3)), requires_grad=True, name='W')
    y = ag.Tensor(np.ones((5, 3)), name='y')
    source = to_dot((X @ W - y).sum(), legend=False).source
    assert 'label="matmul: X @ W\\n(5, 3) float64"' in source
    assert 'label="sub: matmul - y\\n(5, 3) float64"' in source
    edges = re.findall(r'(\w+) -> (\w+)(?: \[[^\]]*headlabel=(\w+))?', source)
    assert edges == [('t0', 't3', 'left'), ('t1', 't3', 'right'), ('t3', 't4', 'left'), ('t2', 't4', 'right'),
                     ('t4', 't5', '')]  # sum has one operand: no label
    swapped = to_dot(y.T - W.T @ X.T, legend=False).source
    # an unnamed operand: the op that made it, or the shape of a leaf (X.T and y.T need no grad)
    assert 'matmul: transpose @ (4, 5)' in swapped and 'sub: (3, 5) - matmul' in swapped
    # head labels, drawn after the layout: a mid-edge label= is a node more for dot to place
    # (measured: a 2,000-node chain took 6.6 s to lay out with them, 1.3 s with head labels)
    assert not re.search(r'-> \w+ \[label=', source)
    # commutative ops need no labels; others of several operands say their role or position
    a, b = ag.Tensor(np.ones(3), requires_grad=True, name='a'), ag.Tensor(np.ones(3), name='b')
    assert 'label=' not in ''.join(re.findall(r'-> .*', to_dot(a * b + b, legend=False).source))
    roles = re.findall(r'-> \w+ \[[^\]]*headlabel=(\w+)', to_dot(ag.stack([a, b, a * b]), legend=False).source)
    assert roles == ['1', '2', '3']
    net = nn.Linear(4, 3, seed=0)
    loss = nn.functional.cross_entropy(net(X), np.zeros(5, dtype=int))
    roles = re.findall(r'-> \w+ \[[^\]]*headlabel=(\w+)', to_dot(loss, names={'fc': net}, legend=False).source)
    assert roles == ['x', 'weight', 'bias', 'scores', 'labels']


@needs_dot
def test_the_legend_is_one_small_node_under_a_small_graph():
    x = ag.Tensor(np.ones((3, 2)), name='x')
    W = ag.Tensor(np.ones((2, 4)), requires_grad=True, name='W')
    plain = subprocess.run(['dot', '-Tplain'], input=to_dot((x @ W).sum()).source, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    width, height = map(float, plain[0].split()[2:4])
    nodes = {line.split()[1]: [float(v) for v in line.split()[2:6]] for line in plain if line.startswith('node ')}
    lx, ly, lw, lh = nodes.pop('legend')
    assert ly - lh / 2 < min(y - h / 2 for _, y, _, h in nodes.values())   # below every node
    assert lh < min(h for *_, h in nodes.values())                         # lower than any node
    left = min(x - w / 2 for x, _, w, _ in nodes.values())
    right = max(x + w / 2 for x, _, w, _ in nodes.values())
    assert lw <= right - left                                               # it does not widen the picture
    assert lw * lh < 0.15 * width * height  # measured 10%: 2.44 x 3.16 in (a legend column made it 4.99 x 4.16)


def test_op_arguments_are_shown_shortened():
    x = ag.Tensor(np.arange(200.0).reshape(100, 2), requires_grad=True)
    parts = [x[:, 0], x[np.arange(100), 1], x[1:3, ::2], x.sum(axis=0, keepdims=True), x.reshape(2, 100),
             x.astype(np.float32).T]
    nodes, _, _ = parse(to_dot(*parts).source)
    ops = [lines(nodes[f"t{k}"]['label'])[0] for k in range(1, 8)]
    assert ops == ['getitem[:, 0]', 'getitem[int64 (100,), 1]', 'getitem[1:3, ::2]',
                   'sum(axis=0, keepdims=True)', 'reshape(shape=(2, 100))', 'astype(dtype=float32)', 'transpose']
    assert [lines(n['label'])[-1] for n in nodes.values()][-2:] == ['(100, 2) float32', '(2, 100) float32']


def test_names_from_a_dict_and_from_tensors():
    x, W, b, y, loss = small_graph()
    nodes, _, _ = parse(to_dot(loss, names={'weights': W, b: 'bias'}).source)
    assert [lines(nodes[k]['label'])[0] for k in ('t0', 't1', 't2')] == ['x', 'weights', 'bias']
    with pytest.raises(TypeError, match="names: expected a Module or a dict"):
        to_dot(loss, names=['W'])
    with pytest.raises(TypeError, match="to_dot: expected Tensors"):
        to_dot(np.ones(3))
    with pytest.raises(ValueError, match="rankdir must be"):
        to_dot(loss, rankdir='up')
    assert 'rankdir=LR' in to_dot(loss, rankdir='LR').source


def test_modules_become_nested_clusters_with_parameter_names():
    model = Outer()
    x = ag.Tensor(np.ones((5, 4)), name='x')
    nodes, edges, clusters = parse(to_dot(model(x)).source)
    labels = {label: parent for label, parent in clusters.values()}
    assert set(labels) == {'Outer', 'TwoLayer body', 'Linear body.fc1', 'Linear body.fc2'}
    by_label = {label: name for name, (label, _) in clusters.items()}
    assert labels['TwoLayer body'] == by_label['Outer']
    assert labels['Linear body.fc1'] == labels['Linear body.fc2'] == by_label['TwoLayer body']
    where = {lines(n['label'])[0]: n['cluster'] for n in nodes.values()}
    assert where['body.fc1.weight'] == where['body.fc1.bias'] == by_label['Linear body.fc1']
    assert where['tanh'] == by_label['TwoLayer body'] and where['x'] is None
    assert where['sum'] == by_label['Outer']
    # names= from the model also labels modules when a submodule is called on its own
    _, _, alone = parse(to_dot(model.body.fc1(x), names=model).source)
    assert [label for label, _ in alone.values()] == ['Linear body.fc1']
    _, _, unnamed = parse(to_dot(model.body.fc1(x)).source)
    assert [label for label, _ in unnamed.values()] == ['Linear']


def test_collapse_draws_each_layer_as_one_node():
    net = nn.MLP([4, 8, 3], activation='sigmoid', seed=0)
    X = ag.Tensor(np.random.default_rng(0).normal(size=(130, 4)), name='X')
    loss = nn.functional.cross_entropy(net(X), np.arange(130) % 3)
    loss.backward(retain_graph=True)
    nodes, edges, clusters = parse(to_dot(loss, collapse=True).source)
    modules = {k: lines(v['label']) for k, v in nodes.items() if k.startswith('m')}
    assert [m[:2] for m in modules.values()] == [['Linear 0', '(130, 4) -> (130, 8)'],
                                                 ['Sigmoid 1', '(130, 8) -> (130, 8)'],
                                                 ['Linear 2', '(130, 8) -> (130, 3)']]
    assert modules['m0'][2] == f"0.weight (4, 8)  grad norm {np.linalg.norm(net.linears[0].weight.grad):.3g}"
    assert modules['m0'][-1] == 'linear' and all(v['shape'] == 'box3d' for k, v in nodes.items() if k[0] == 'm')
    assert not any(lines(v['label'])[0].startswith('linear') for v in nodes.values())
    x_id = next(k for k, v in nodes.items() if v['label'].startswith('X'))
    loss_id = next(k for k, v in nodes.items() if v['label'].startswith('cross_entropy'))
    assert [e for e in edges if not e[0].endswith('c1')] == [(x_id, 'm0'), ('m0', 'm1'), ('m1', 'm2'), ('m2', loss_id)]
    assert [label for label, _ in clusters.values()] == ['MLP']
    # chosen modules by path or class name; the others stay expanded
    nodes, edges, _ = parse(to_dot(loss, collapse={'Linear'}).source)
    assert sorted(k for k in nodes if k[0] == 'm') == ['m0', 'm1']
    assert any(lines(v['label'])[0] == 'sigmoid' for v in nodes.values())
    with pytest.raises(ValueError, match=r"collapse names \['fc9'\] match no module.*Linear 0"):
        to_dot(loss, collapse={'fc9'})


def test_collapse_of_a_lone_module_and_of_a_model_output():
    layer = nn.Linear(4, 2, seed=0)
    out = layer(ag.Tensor(np.ones((3, 4))))
    nodes, edges, _ = parse(to_dot(out, collapse=True).source)
    assert list(nodes) == ['t2', 'm0'] and edges == [('t2', 'm0')]
    assert nodes['m0']['peripheries'] == '2'  # the module holds the output
    assert lines(nodes['m0']['label'])[:4] == ['Linear', '(3, 4) -> (3, 2)', 'weight (4, 2)', 'bias (2,)']


# -- data and gradients -------------------------------------------------------------------
def test_gradients_and_data_are_shown_after_backward_with_retain_graph():
    x, W, b, y, loss = small_graph()
    y.retain_grad()
    loss.backward(retain_graph=True)
    nodes, _, _ = parse(to_dot(loss, show_data=True).source)
    assert lines(nodes['t1']['label'])[-1] == f"grad norm {np.linalg.norm(W.grad):.3g}"  # 8 elements
    b_lines = lines(nodes['t2']['label'])
    assert b_lines[-2] == 'data [0, 0, 0, 0]' and b_lines[-1].startswith('grad [')
    np.testing.assert_allclose(np.array(b_lines[-1][6:-1].split(', '), dtype=float), b.grad, atol=6e-4)
    assert lines(nodes['t5']['label'])[-1].startswith('grad norm ')  # the retained intermediate
    assert lines(nodes['t9']['label'])[-1] == f"data {loss.item():.3g}"
    assert not any('grad' in v['label'] for v in parse(to_dot(loss, show_grad=False).source)[0].values())


def test_a_released_graph_is_drawn_dashed_with_a_warning():
    x, W, b, y, loss = small_graph()
    loss.backward()
    with pytest.warns(GraphReleasedWarning, match=r"retain_graph=True"):
        nodes, edges, _ = parse(to_dot(loss).source)
    assert list(nodes) == ['t0'] and edges == []
    assert nodes['t0']['style'] == 'dashed' and lines(nodes['t0']['label'])[-1] == '(released by backward)'
    with pytest.warns(GraphReleasedWarning):
        assert graph_listing(loss).splitlines()[1] == f"{'%0 = sum(<released by backward>) -> ()':<56}  # output"


# -- determinism and size -------------------------------------------------------------------
_BUILD = """
import numpy as np, autograd_lite as ag
rng = np.random.default_rng(0)
x = ag.Tensor(rng.normal(size=(3, 2)), name='x')
W = ag.Tensor(rng.normal(size=(2, 4)), requires_grad=True, name='W')
b = ag.Tensor(np.zeros(4), requires_grad=True, name='b')
loss = (0.5 * ag.sigmoid(x @ W + b) ** 2).sum(axis=0).sum()
loss.backward(retain_graph=True)
"""


def test_dot_source_is_the_same_on_every_run_and_in_another_process():
    first = to_dot(small_graph()[-1]).source
    junk = [ag.Tensor(np.ones(2), requires_grad=True) * 2 for _ in range(5)]  # shifts creation counters
    assert junk and to_dot(small_graph()[-1]).source == first
    ns = {}
    exec(_BUILD, ns)
    here = ag.to_dot(ns['loss']).source
    code = _BUILD + "import sys; sys.stdout.write(ag.to_dot(loss).source + ag.graph_listing(loss))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONHASHSEED='123')).stdout
    assert out == here + ag.graph_listing(ns['loss'])


def test_a_100000_op_graph_exports_without_recursion():
    x = ag.Tensor(np.array(0.5), requires_grad=True, name='x')
    y = x
    for _ in range(100_000):
        y = ag.tanh(y)
    assert sys.getrecursionlimit() < 100_000
    source = to_dot(y, legend=False).source
    assert source.count(' -> ') == 100_000
    assert source.count(' [label=') == 100_001
    listing = graph_listing(y).splitlines()
    assert len(listing) == 1 + 100_001
    assert listing[-1] == f"{'%100000 = tanh(%99999 ()) -> ()':<56}  # output"


# -- the listing --------------------------------------------------------------------------------
def test_listing_lines_name_inputs_and_give_shapes():
    x = ag.Tensor(np.ones((130, 4)), name='x')
    W1 = ag.Tensor(np.full((4, 8), 0.1), requires_grad=True, name='W1')
    h = ag.sigmoid(x @ W1)
    loss = (0.5 * h ** 2).mean()
    text = graph_listing(loss, show_grad=False).splitlines()
    assert text == [
        '# the graph that computed %6 (): 1 input, 1 parameter, 5 ops, one tensor per line in the order '
        'they were made, so each line uses only lines above it',
        '%0 x = input (130, 4) float64',
        '%1 W1 = parameter (4, 8) float64',
        '%2 = matmul(%0 x (130, 4), %1 W1 (4, 8)) -> (130, 8)',
        '%3 = sigmoid(%2 (130, 8)) -> (130, 8)',
        '%4 = pow(%3 (130, 8), 2) -> (130, 8)',
        '%5 = mul(0.5, %4 (130, 8)) -> (130, 8)',
        f"{'%6 = mean(%5 (130, 8)) -> ()':<56}  # output",
    ]
    assert 'backward' not in graph_listing(loss)  # no gradients yet
    loss.backward(retain_graph=True)
    after = graph_listing(loss).splitlines()
    assert after[2] == f"{'%1 W1 = parameter (4, 8) float64':<56}  # grad (4, 8) norm {np.linalg.norm(W1.grad):.3g}"
    back = after[after.index(next(l for l in after if l.startswith('# backward'))) + 1:]
    assert back == ['d%6 () -> mean -> d%5 (130, 8)', 'd%5 (130, 8) -> mul -> d%4 (130, 8)',
                    'd%4 (130, 8) -> pow -> d%3 (130, 8)', 'd%3 (130, 8) -> sigmoid -> d%2 (130, 8)',
                    'd%2 (130, 8) -> matmul -> d%1 W1 (4, 8)']


def test_listing_shows_modules_data_and_constants():
    model = TwoLayer()
    out = model(ag.Tensor(np.ones((1, 4)), name='x'))
    text = graph_listing(out * np.ones((1, 3), dtype=bool), show_data=True)
    assert '%2 fc2.weight = parameter (8, 3) float64' in text
    assert re.search(r"%5 = linear\(%4 x \(1, 4\), %0 fc1.weight \(4, 8\), %1 fc1.bias \(8,\)\) -> \(1, 8\) +# in Linear fc1$",
                     text, re.M)
    assert re.search(r"= tanh\(%5 \(1, 8\)\) -> \(1, 8\) +# in TwoLayer$", text, re.M)
    assert re.search(r"%8 = mul\(%7 \(1, 3\), \[\[True, True, True\]\]\) -> \(1, 3\) +# data \[\[", text, re.M)


# -- user text: any name, class name, op name or argument ------------------------------------------------------
def _user_text_graph(tensor_name, class_name, attr, op_name, arg):
    """out = sum(prim(Outer(x), tag=arg)) with every string the user chose: x's name, the
    model's class name, the attribute holding its Linear (its path), the op and its argument."""
    def init(self):
        setattr(self, attr, nn.Linear(2, 3, seed=0))

    def forward(self, x):
        return getattr(self, attr)(x)

    model = type(class_name.replace('\0', ''), (nn.Module,), {'__init__': init, 'forward': forward})()
    prim = ag.Primitive(op_name, lambda a, tag: a * 1.0, (lambda g, ans, a, tag: g,), static={'tag': None})
    x = ag.Tensor(np.ones((1, 2)), name=tensor_name)
    return model, x, prim(model(x), tag=arg).sum()


def _svg_texts(source):
    """{node or cluster title: [its text lines, then its tooltip]} of ``dot -Tsvg``'s
    picture of ``source`` (dot writes runs of spaces with no-break spaces)."""
    done = subprocess.run(['dot', '-Tsvg'], input=source.encode('utf-8'), capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors='replace')
    root = ET.fromstring(done.stdout)
    return {g.find(SVG + 'title').text: [text.replace('\xa0', ' ') for text in
                                          [t.text or '' for t in g.iter(SVG + 'text')] +
                                          [a.get('{http://www.w3.org/1999/xlink}title') for a in g.iter(SVG + 'a')][:1]]
            for g in root.iter(SVG + 'g') if g.get('class') in ('node', 'cluster')}


any_text = st.text(max_size=12)  # all of Unicode: newlines, quotes, backslashes, NUL, ...
_TRICKY = ['&amp;', '&#38;', '<i>X</i>', '\\N', 'a\\', '\\"', '  ', 'node', '[label=x]', '\n', '\u2028']


@needs_dot
@example(*_TRICKY[:5]).via('entities, HTML, DOT escapes')
@example(*_TRICKY[5:10]).via('quotes, spaces, DOT keywords and syntax')
@example(*_TRICKY[6:]).via('line breaks')
@given(tensor_name=any_text, class_name=any_text, attr=any_text, op_name=any_text, arg=any_text)
def test_any_user_text_is_escaped_in_dot_and_kept_on_one_listing_line(tensor_name, class_name, attr, op_name, arg):
    model, x, out = _user_text_graph(tensor_name, class_name, attr, op_name, arg)
    out.backward(retain_graph=True)
    shown = one_line(tensor_name)
    listing = graph_listing(out)
    rows = listing.splitlines()  # splitlines breaks at \r, \x0b, \x1c, \x85, \u2028 ... too
    for collapse in (False, True):
        texts = _svg_texts(to_dot(out, collapse=collapse).source)  # dot parses it
        if shown:
            assert texts['t2'][0] == shown  # and draws the name as it is (escapes undone)
    texts = _svg_texts(to_dot(out).source)
    assert texts['t4'][0] == op_text(op_name, {'tag': arg})
    if '\\' not in rows[3]:  # Graphviz 2.43 undoes a tooltip's backslash escapes twice (labels: once)
        assert texts['t2'][-1] == rows[3]  # the tooltip: the listing line
    clusters = sorted(lines[0] for title, lines in texts.items() if title.startswith('cluster_') and lines)
    path = f" {one_line(attr)}" if attr else ''
    drawn = [one_line(class_name.replace('\0', '')), 'Linear' + path]
    assert clusters == sorted(label for label in drawn if label)  # an empty label draws no text
    assert listing.count('\n') == len(rows) == 1 + 6 + 1 + 3  # header, 6 tensors, backward header, 3 ops
    assert all(r.startswith(('#', '%', 'd%')) for r in rows)
    assert rows[3].startswith(f"%2 {shown} = input" if shown else "%2 = input")


# -- rendering -------------------------------------------------------------------------------------
@needs_dot
def test_render_svg_is_a_valid_svg_with_every_node(tmp_path):
    model = TwoLayer()
    loss = model(ag.Tensor(np.ones((5, 4)), name='x')).sum()
    loss.backward(retain_graph=True)
    path = render_graph(loss, tmp_path / 'graph', names=model)
    assert path == tmp_path / 'graph.svg'
    root = ET.parse(path).getroot()
    assert root.tag == SVG + 'svg'
    titles = {g.find(SVG + 'title').text for g in root.iter(SVG + 'g') if g.get('class') == 'node'}
    nodes, _, _ = parse(to_dot(loss, names=model).source)
    assert set(nodes) <= titles and titles - {'legend'} == set(nodes)
    cluster_labels = {t.text for g in root.iter(SVG + 'g') if g.get('class') == 'cluster' for t in g.iter(SVG + 'text')}
    assert {'TwoLayer', 'Linear fc1', 'Linear fc2'} <= cluster_labels
    texts = [t.text for t in root.iter(SVG + 'text')]
    assert 'fc1.weight' in texts and f"grad norm {np.linalg.norm(model.fc1.weight.grad):.3g}" in texts
    links = [a.get('{http://www.w3.org/1999/xlink}title') for a in root.iter(SVG + 'a')]
    assert '%5 = linear(%4 x (5, 4), %0 fc1.weight (4, 8), %1 fc1.bias (8,)) -> (5, 8)' in links


@needs_dot
def test_render_other_formats_and_inline_display(tmp_path):
    loss = small_graph()[-1]
    assert render_graph(loss, tmp_path / 'g.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert render_graph(loss, tmp_path / 'g', format='pdf').read_bytes()[:5] == b'%PDF-'
    assert render_graph(to_dot(loss), tmp_path / 'g.dot').read_text() == to_dot(loss).source
    bundle = to_dot(loss)._repr_mimebundle_()
    assert ET.fromstring(bundle['image/svg+xml']).tag == SVG + 'svg'
    with pytest.raises(ValueError, match="unknown format 'bmpx'"):
        render_graph(loss, tmp_path / 'g', format='bmpx')
    with pytest.raises(TypeError, match="apply to a Tensor"):
        render_graph(to_dot(loss), tmp_path / 'g.svg', collapse=True)
    paths = write_graph(loss, tmp_path / 'run', stem='step')
    assert paths == [tmp_path / 'run' / 'step.svg', tmp_path / 'run' / 'step.txt']
    assert paths[1].read_text() == graph_listing(loss)


def test_without_the_dot_program_the_dot_file_is_written_and_one_warning_given(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    monkeypatch.setattr(display, '_warned_missing', False)
    loss = small_graph()[-1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        first = render_graph(loss, tmp_path / 'out' / 'graph.svg')
        second = render_graph(loss, tmp_path / 'out' / 'again', format='png', rankdir='LR')
        bundle = to_dot(loss)._repr_mimebundle_()
        paths = write_graph(loss, tmp_path / 'run')
    assert first == tmp_path / 'out' / 'graph.dot' and first.read_text() == to_dot(loss).source
    assert second == tmp_path / 'out' / 'again.dot' and 'rankdir=LR' in second.read_text()
    assert bundle == {'text/plain': to_dot(loss).source}
    assert paths == [tmp_path / 'run' / 'graph.dot', tmp_path / 'run' / 'graph.txt']
    assert all(p.exists() for p in paths)
    missing = [w for w in caught if issubclass(w.category, GraphvizNotFoundWarning)]
    assert len(missing) == 1 and len(caught) == 1
    message = str(missing[0].message)
    for hint in ('apt-get install graphviz', 'brew install graphviz', 'conda install',
                 f"dot -Tsvg {first} -o {tmp_path / 'out' / 'graph.svg'}", 'graph_listing'):
        assert hint in message
    assert missing[0].filename == __file__  # points at the caller's line


def _fake_dot(tmp_path, monkeypatch, script):
    """Put a ``dot`` that runs ``script`` (sh) first on PATH: a Graphviz that fails or hangs."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'dot').write_text('#!/bin/sh\n' + script + '\n')
    (bin_dir / 'dot').chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.skipif(sys.platform == 'win32', reason='the fake dot is a shell script')
def test_a_failing_dot_program_falls_back_to_the_dot_file_and_leaves_no_half_picture(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "cat > /dev/null; printf '<svg partial'; "
                                     "echo 'Error: syntax error in line 3' >&2; exit 1")
    loss = small_graph()[-1]
    out = tmp_path / 'out'
    with pytest.warns(display.GraphvizWarning, match=r"could not render g.svg \(Error: syntax error in line 3\); "
                                                     r"the DOT text was written to .*g.dot instead"):
        path = render_graph(loss, out / 'g.svg')
    assert path == out / 'g.dot' and path.read_text() == to_dot(loss).source
    assert os.listdir(out) == ['g.dot']  # no g.svg holding what dot printed before failing, no temporary file


@pytest.mark.skipif(sys.platform == 'win32', reason='the fake dot is a shell script')
def test_dot_is_stopped_after_the_timeout(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, 'exec sleep 30')  # a layout that never ends
    loss = small_graph()[-1]
    out = tmp_path / 'out'
    with pytest.warns(display.GraphvizWarning) as caught:
        path = render_graph(loss, out / 'g.png', timeout=0.2)
    message = str(caught[0].message)
    assert message == (f"render_graph: Graphviz's dot did not draw g.png within 0.2 s and was stopped; the DOT text "
                       f"was written to {out / 'g.dot'} instead. Draw less (collapse=True, the graph of an "
                       "intermediate tensor, or ag.graph_listing), pass a larger timeout= (None: no limit), or render "
                       f"the file yourself: dot -Tpng {out / 'g.dot'} -o {out / 'g.png'}")
    assert path == out / 'g.dot' and os.listdir(out) == ['g.dot']
    monkeypatch.setattr(display, 'DOT_TIMEOUT', 0.2)  # the inline display in Jupyter is stopped too
    with pytest.warns(display.GraphvizWarning, match=r"^to_dot: Graphviz's dot did not draw the graph \(12 nodes\) "
                                                     r"within 0.2 s and was stopped"):
        bundle = to_dot(loss)._repr_mimebundle_()
    assert list(bundle) == ['text/plain'] and 'timeout=None' in bundle['text/plain']


class _Calls:
    """Stands in for display.run_dot: records the calls, returns a tiny SVG."""

    def __init__(self):
        self.calls = []

    def __call__(self, graph, format, timeout):
        self.calls.append((format, timeout))
        return b'<svg/>'


def _too_big(n, max_nodes, instead="or write the DOT text with format='dot'; or pass max_nodes=None to draw it anyway"):
    return re.escape(
        f"render_graph: the graph has {n:,} nodes, more than max_nodes={max_nodes:,}, and Graphviz's dot slows "
        "down faster than graphs grow (about 10 s at 5,000 nodes, minutes beyond). Draw less: collapse=True "
        "(one node per layer) or the graph of an intermediate tensor (a sub-graph); or print(ag.graph_listing(loss)) "
        f"(text, any size); {instead}")


@given(length=st.integers(0, 12), max_nodes=st.integers(0, 15), format=st.sampled_from(['svg', 'png', 'dot']))
def test_max_nodes_refuses_bigger_pictures_before_dot_runs_and_writes_nothing(tmp_path_factory, length, max_nodes,
                                                                              format):
    y = ag.Tensor(np.array(0.5), requires_grad=True)
    for _ in range(length):
        y = ag.tanh(y)  # length + 1 nodes, no constants
    out = tmp_path_factory.mktemp('render') / 'out'
    with pytest.MonkeyPatch.context() as mp:
        dot = _Calls()
        mp.setattr(viz_render, 'dot_available', lambda: True)
        mp.setattr(viz_render, 'run_dot', dot)
        if length + 1 > max_nodes and format != 'dot':
            with pytest.raises(ValueError, match='^' + _too_big(length + 1, max_nodes) + '$'):
                render_graph(y, out / 'g', format=format, max_nodes=max_nodes)
            assert not out.exists() and dot.calls == []
        else:
            path = render_graph(y, out / 'g', format=format, max_nodes=max_nodes, timeout=7)
            assert os.listdir(out) == [path.name] == [f'g.{format}']
            assert dot.calls == ([] if format == 'dot' else [(format, 7)])


def test_a_10000_op_graph_is_refused_by_default_but_drawn_collapsed(tmp_path, monkeypatch):
    class Deep(nn.Module):
        def forward(self, x):
            for _ in range(10_000):
                x = ag.tanh(x)
            return x

    y = Deep()(ag.Tensor(np.array(0.5), requires_grad=True))
    dot = _Calls()
    monkeypatch.setattr(viz_render, 'dot_available', lambda: True)
    monkeypatch.setattr(viz_render, 'run_dot', dot)
    with pytest.raises(ValueError, match='^' + _too_big(10_001, 5000) + '$') as refused:
        render_graph(y, tmp_path / 'out' / 'g.svg')
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, 'docs', 'graphs.md'), encoding='utf-8') as f:
        quoted = f.read().split('(here for a chain of 10,000 `tanh`):\n\n```text\n', 1)[1].split('```', 1)[0]
    assert ' '.join(quoted.split('\n')).strip() == str(refused.value), "update the message quoted in docs/graphs.md"
    with pytest.raises(ValueError, match='^' + _too_big(10_001, 5000)):
        write_graph(y, tmp_path / 'out')
    assert not (tmp_path / 'out').exists() and dot.calls == []
    assert render_graph(y, tmp_path / 'g.svg', collapse=True) == tmp_path / 'g.svg'  # 2 nodes: x and Deep
    assert render_graph(y, tmp_path / 'g.svg', max_nodes=None) == tmp_path / 'g.svg'
    assert render_graph(y, tmp_path / 'g.dot').read_text() == to_dot(y).source  # DOT text at any size
    assert dot.calls == [('svg', 60), ('svg', 60)]
    with pytest.warns(display.GraphvizWarning, match='^' + _too_big(10_001, 5000, '').replace('render_graph', 'to_dot')):
        bundle = to_dot(y)._repr_mimebundle_()  # Jupyter shows what to do instead of waiting for dot
    assert list(bundle) == ['text/plain'] and "max_nodes=None" in bundle['text/plain']


# -- the docs ---------------------------------------------------------------------------------------
def test_docs_listing_is_what_the_iris_step_prints(tmp_path):
    pytest.importorskip('sklearn')
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location('make_graphs', os.path.join(root, 'docs', 'make_graphs.py'))
    make_graphs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_graphs)
    model, loss = make_graphs.iris_step()
    listing = graph_listing(loss, names=model)
    stale = "out of date: run `python docs/make_graphs.py` and paste docs/images/iris_graph.txt into docs/graphs.md"
    with open(os.path.join(root, 'docs', 'images', 'iris_graph.txt'), encoding='utf-8') as f:
        assert f.read() == listing, stale
    with open(os.path.join(root, 'docs', 'graphs.md'), encoding='utf-8') as f:
        doc = f.read()
    quoted = doc.split('<!-- listing: iris_graph.txt -->\n```text\n', 1)[1].split('```', 1)[0]
    assert quoted == listing, stale
    nodes, _, _ = parse(to_dot(loss, names=model).source)
    with open(os.path.join(root, 'docs', 'images', 'iris_graph.svg'), encoding='utf-8') as f:
        svg = ET.parse(f).getroot()
    titles = {g.find(SVG + 'title').text for g in svg.iter(SVG + 'g') if g.get('class') == 'node'}
    assert titles - {'legend'} == set(nodes), stale
