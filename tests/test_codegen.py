"""ag.backward_code and ag.compile: the generated NumPy code gives the engine's numbers, on
every primitive, and reads like hand-written backprop (autograd_lite/codegen.py)."""
import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_lite as ag
from autograd_lite import codegen, nn, ops
from autograd_lite.engine import Primitive
from strategies import NAMED_PAIRS, seeds

F = nn.functional


# -- one small graph per primitive ---------------------------------------------------------------
_REUSE = []  # when not empty: the leaves to hand out again (rebuilding a graph on the same leaves)


def _leaf(data, name):
    if _REUSE:
        return _REUSE.pop(0)
    return ag.Tensor(data, requires_grad=True, name=name)


def _t(rng, shape, name, low=-2.0, high=2.0, avoid=None):
    x = rng.uniform(low, high, size=shape)
    if avoid is not None:  # keep away from a kink: the rules pick a side there
        x = np.where(np.abs(x - avoid) < 0.1, x + 0.3, x)
    return _leaf(x, name)


def _pair(rng):
    return NAMED_PAIRS[rng.integers(len(NAMED_PAIRS))]


def _binary(op, low=-2.0, high=2.0):
    def build(rng):
        sa, sb = _pair(rng)
        x, y = _t(rng, sa, 'x', low, high), _t(rng, sb, 'y', low, high)
        if rng.random() < 0.3:  # a literal number on one side
            return op(x, float(rng.uniform(0.5, 1.5))), [x]
        return op(x, y), [x, y]
    return build


def _unary(op, low=-2.0, high=2.0, avoid=None):
    def build(rng):
        shape = [(), (4,), (3, 4), (2, 1, 3)][rng.integers(4)]
        x = _t(rng, shape, 'x', low, high, avoid)
        return op(x), [x]
    return build


def _div(rng):
    sa, sb = _pair(rng)
    x = _t(rng, sa, 'x')
    y = _leaf(rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1, 1], size=sb), 'y')
    return x / y, [x, y]


def _pow(rng):
    sa, sb = _pair(rng)
    x = _t(rng, sa, 'x', 0.5, 2.0)
    choice = rng.integers(3)
    if choice == 0:
        return x ** 2, [x]
    if choice == 1:
        return x ** 1.5, [x]
    y = _t(rng, sb, 'y', -1.0, 2.0)
    return x ** y, [x, y]


def _reduction(name):
    def build(rng):
        shape = [(3, 4), (2, 3, 4), (5,)][rng.integers(3)]
        x = _t(rng, shape, 'x')
        axis = [None, 0, -1, (0, -1)][rng.integers(4)]
        if len(shape) == 1 and isinstance(axis, tuple):
            axis = (0,)
        return getattr(ops, name)(x, axis=axis, keepdims=bool(rng.integers(2))), [x]
    return build


def _max_with_ties(name):
    def build(rng):
        x = _leaf(rng.integers(0, 3, size=(3, 4)).astype(float), 'x')
        return getattr(ops, name)(x, axis=[None, 1, 0][rng.integers(3)]), [x]
    return build


def _matmul(rng):
    sa, sb = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 2)),
              ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))][rng.integers(7)]
    a, b = _t(rng, sa, 'A'), _t(rng, sb, 'B')
    return a @ b, [a, b]


def _linear(rng):
    shape = [(5, 3), (2, 5, 3), (3,)][rng.integers(3)]
    x, w, b = _t(rng, shape, 'x'), _t(rng, (3, 4), 'W'), _t(rng, (4,), 'b')
    return F.linear(x, w, b), [x, w, b]


def _clip(rng):
    x = _t(rng, (3, 4), 'x', avoid=0.5)
    if rng.random() < 0.4:  # tensor bounds, broadcast, with gradients
        lo, hi = _t(rng, (4,), 'lo', -1.0, 0.0), _t(rng, (3, 1), 'hi', 0.0, 1.0)
        return ops.clip(x, lo, hi), [x, lo, hi]
    lo, hi = [(-0.5, 0.5), (None, 0.5), (-0.5, None), (None, None)][rng.integers(4)]
    return ops.clip(x, lo, hi), [x]


def _where(rng):
    sa, sb = _pair(rng)
    x, y = _t(rng, sa, 'x'), _t(rng, sb, 'y')
    cond = rng.random(np.broadcast_shapes(sa, sb)) < 0.5
    return ops.where(cond, x, y), [x, y]


def _maximum(name):
    def build(rng):
        sa, sb = _pair(rng)
        x = _leaf(rng.integers(-2, 3, size=sa).astype(float), 'x')  # ties
        y = _leaf(rng.integers(-2, 3, size=sb).astype(float), 'y')
        return getattr(ops, name)(x, y), [x, y]
    return build


def _astype(rng):
    x = _t(rng, (3, 4), 'x')
    return x.astype(np.float32).astype(np.float64) * 2.0, [x]


def _softmax(name):
    def build(rng):
        x = _t(rng, [(3, 4), (2, 3, 4)][rng.integers(2)], 'x')
        return getattr(ops, name)(x, axis=[-1, 0, 1][rng.integers(3)]), [x]
    return build


def _reshape(rng):
    x = _t(rng, (2, 3, 4), 'x')
    return x.reshape([(6, 4), (-1,), (4, 3, 2)][rng.integers(3)]), [x]


def _squeeze(rng):
    x = _t(rng, (3, 1, 4, 1), 'x')
    return ops.squeeze(x, [None, 1, (1, 3)][rng.integers(3)]), [x]


def _expand_dims(rng):
    x = _t(rng, (3, 4), 'x')
    return ops.expand_dims(x, [0, 1, -1][rng.integers(3)]), [x]


def _transpose(rng):
    x = _t(rng, (2, 3, 4), 'x')
    return x.transpose([None, (1, 0, 2), (2, 0, 1)][rng.integers(3)]), [x]


def _broadcast_to(rng):
    shape, target = [((1, 4), (3, 4)), ((4,), (2, 3, 4)), ((3, 1), (3, 4)), ((), (2, 2))][rng.integers(4)]
    x = _t(rng, shape, 'x')
    return ops.broadcast_to(x, target), [x]


def _concatenate(rng):
    axis = int(rng.integers(2))
    a = _t(rng, (2, 3), 'a')
    b = _t(rng, (2, 3) if axis else (4, 3), 'b')
    b = _t(rng, (2, 5), 'b') if axis else b
    return ops.concatenate([a, b, a], axis=axis), [a, b]


def _stack(rng):
    a, b = _t(rng, (2, 3), 'a'), _t(rng, (2, 3), 'b')
    return ops.stack([a, b, a], axis=[0, 1, -1][rng.integers(3)]), [a, b]


def _getitem(rng):
    x = _t(rng, (4, 5), 'x')
    index = [(slice(1, 3), slice(None)), 2, (np.array([0, 2, 2, 3]),), (slice(None), np.array([1, 1, 4])),
             x.data > 0, (None, slice(None, None, 2)), (Ellipsis, 1), (np.array([0, 3]), np.array([1, 1]))][rng.integers(8)]
    return x[index], [x]


def _scatter(rng):
    src = _t(rng, (3, 2), 'src')
    index = [(np.array([0, 2, 2]),), (slice(1, 4),)][rng.integers(2)]
    return ops.scatter(src, index=index, shape=(5, 2)), [src]


def _cross_entropy(rng):
    x = _t(rng, (6, 3), 'scores')
    labels = rng.integers(0, 3, size=6)
    return F.cross_entropy(x, labels, reduction=['mean', 'sum', 'none'][rng.integers(3)]), [x]


def _bce(rng):
    x, y = _t(rng, (6, 3), 'scores'), _t(rng, (6, 3), 'target', 0.0, 1.0)
    return F.binary_cross_entropy_with_logits(x, y, reduction=['mean', 'sum', 'none'][rng.integers(3)]), [x, y]


def _mse(rng):
    x, y = _t(rng, (6, 3), 'pred'), _t(rng, (6, 3), 'target')
    return F.mse_loss(x, y, reduction=['mean', 'sum', 'none'][rng.integers(3)]), [x, y]


CASES = {
    'add': _binary(lambda x, y: x + y), 'sub': _binary(lambda x, y: x - y), 'mul': _binary(lambda x, y: x * y),
    'div': _div, 'neg': _unary(lambda x: -x), 'pow': _pow,
    'exp': _unary(ops.exp), 'log': _unary(ops.log, 0.2, 3.0), 'sqrt': _unary(ops.sqrt, 0.2, 3.0),
    'abs': _unary(ops.abs, avoid=0.0), 'tanh': _unary(ops.tanh), 'sigmoid': _unary(ops.sigmoid),
    'relu': _unary(ops.relu, avoid=0.0), 'maximum': _maximum('maximum'), 'minimum': _maximum('minimum'),
    'clip': _clip, 'where': _where, 'astype': _astype, 'matmul': _matmul, 'linear': _linear,
    'sum': _reduction('sum'), 'mean': _reduction('mean'), 'max': _max_with_ties('max'),
    'min': _max_with_ties('min'), 'logsumexp': _reduction('logsumexp'),
    'softmax': _softmax('softmax'), 'log_softmax': _softmax('log_softmax'),
    'reshape': _reshape, 'squeeze': _squeeze, 'expand_dims': _expand_dims, 'transpose': _transpose,
    'broadcast_to': _broadcast_to, 'concatenate': _concatenate, 'stack': _stack,
    'getitem': _getitem, 'scatter': _scatter, 'cross_entropy': _cross_entropy,
    'binary_cross_entropy_with_logits': _bce, 'mse_loss': _mse,
}


def _prod(rng):
    shape = [(3, 4), (2, 3, 4)][rng.integers(2)]
    x = rng.uniform(0.5, 1.5, size=shape)
    if rng.random() < 0.5:
        x[0, 1] = 0.0  # a zero: the product of the others
    x = _leaf(x, 'x')
    return ops.prod(x, axis=[None, 0, -1][rng.integers(3)], keepdims=bool(rng.integers(2))), [x]


def _cumsum(rng):
    x = _t(rng, (3, 4), 'x')
    return ops.cumsum(x, axis=[0, 1, -1][rng.integers(3)]), [x]


def _flip(rng):
    x = _t(rng, (3, 4), 'x')
    return ops.flip(x, axis=[None, 0, 1][rng.integers(3)]), [x]


def _pad(rng):
    x = _t(rng, (3, 4), 'x')
    return ops.pad(x, pad_width=((1, 0), (2, 1)), constant_values=[0, 0.5][rng.integers(2)]), [x]


def _einsum(rng):
    subscripts, shapes = [('ij,jk->ik', [(3, 4), (4, 2)]), ('ij->j', [(3, 4)]), ('i,j->ij', [(3,), (4,)]),
                          ('ij,ij->i', [(3, 4), (3, 4)]), ('ijk,k->ij', [(2, 3, 4), (4,)])][rng.integers(5)]
    xs = [_t(rng, shape, f'x{i}') for i, shape in enumerate(shapes)]
    return ops.einsum(xs, subscripts=subscripts), xs


def _positive_binary(op):
    def build(rng):
        sa, sb = _pair(rng)
        x = _leaf(rng.uniform(0.5, 2.0, size=sa), 'x')
        y = _leaf(rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1, 1], size=sb), 'y')
        return op(x, y), [x, y]
    return build


CASES.update({
    'square': _unary(ops.square), 'cbrt': _unary(ops.cbrt, avoid=0.0), 'reciprocal': _unary(ops.reciprocal, 0.3, 2.0),
    'input': _unary(__import__('autograd_lite.func', fromlist=['_input'])._input),
    'positive': _unary(ops.positive), 'exp2': _unary(ops.exp2), 'expm1': _unary(ops.expm1),
    'log2': _unary(ops.log2, 0.2, 3.0), 'log10': _unary(ops.log10, 0.2, 3.0), 'log1p': _unary(ops.log1p, -0.5, 2.0),
    'sin': _unary(ops.sin), 'cos': _unary(ops.cos), 'tan': _unary(ops.tan, -1.0, 1.0),
    'arcsin': _unary(ops.arcsin, -0.9, 0.9), 'arccos': _unary(ops.arccos, -0.9, 0.9), 'arctan': _unary(ops.arctan),
    'sinh': _unary(ops.sinh), 'cosh': _unary(ops.cosh), 'arcsinh': _unary(ops.arcsinh),
    'arccosh': _unary(ops.arccosh, 1.2, 3.0), 'arctanh': _unary(ops.arctanh, -0.9, 0.9),
    'logaddexp': _binary(ops.logaddexp), 'logaddexp2': _binary(ops.logaddexp2), 'arctan2': _binary(ops.arctan2),
    'hypot': _binary(ops.hypot), 'float_power': _positive_binary(ops.float_power),
    'remainder': _positive_binary(ops.remainder), 'fmod': _positive_binary(ops.fmod),
    'fmax': _maximum('fmax'), 'fmin': _maximum('fmin'), 'prod': _prod, 'cumsum': _cumsum, 'flip': _flip,
    'pad': _pad, 'einsum': _einsum,
})


def _loss_of(out, leaves, rng):
    """A scalar from ``out``: weighted by a constant, and with the first leaf used a second time."""
    weights = rng.uniform(-1.0, 1.0, size=out.shape)
    loss = (out * weights).sum()
    x = leaves[0]
    if rng.random() < 0.5:
        loss = loss + (ag.tanh(x) * x).sum()
    return loss


def _engine_grads(loss, leaves):
    for x in leaves:
        x.grad = None
    loss.backward(retain_graph=True)
    grads = {x: None if x.grad is None else x.grad.copy() for x in leaves}
    for x in leaves:
        x.grad = None
    return grads


def _assert_close(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, what
    assert got.dtype == want.dtype, what
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    assert np.max(np.abs(got - want), initial=0.0) <= 1e-12 * scale, what


def _check_backward_code(name, seed, fast=False):
    rng = np.random.default_rng(seed)
    out, leaves = CASES[name](rng)
    loss = _loss_of(out, leaves, rng)
    code = ag.backward_code(loss, fast=fast)
    assert code.startswith('import numpy as np\n') and 'autograd_lite' not in code.split('"""')[0]
    value, grads = code.run()
    want = _engine_grads(loss, leaves)
    _assert_close(value, loss.data, f'{name}: loss')
    by_tensor = {id(t): n for n, t in code.grad_names.items()}
    assert sorted(by_tensor) == sorted(id(x) for x in leaves if want[x] is not None)
    for x in leaves:
        if want[x] is not None:
            _assert_close(grads[by_tensor[id(x)]], want[x], f'{name}: gradient of {x.name}\n{code}')
    return code


def test_every_primitive_has_a_template():
    """Each Primitive defined anywhere in the package (but the demo) has a code template, and
    this file has a test graph for each template."""
    found = {}
    for info in pkgutil.walk_packages(ag.__path__, 'autograd_lite.'):
        if '.demo' in info.name or info.name.endswith('__main__'):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Primitive):
                found[value.name] = value
    assert len(found) >= 35
    missing = sorted(n for n in found if n not in codegen.TEMPLATES)
    assert not missing, f"primitives without a code template in codegen.TEMPLATES: {missing}"
    assert set(CASES) == set(codegen.TEMPLATES)
    for name, prim in found.items():  # one gradient template per input
        if not prim.variadic:
            assert len(codegen.TEMPLATES[name].vjps) == len(prim.vjps), name


@pytest.mark.parametrize('name', sorted(CASES))
def test_backward_code_of_each_primitive_equals_the_engine(name):
    for seed in range(6):
        _check_backward_code(name, seed)
        _check_backward_code(name, seed, fast=True)  # the code compile runs


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.sampled_from(['add', 'sub', 'mul', 'div', 'tanh', 'sigmoid', 'exp', 'relu', 'sum',
                                       'mean', 'softmax', 'log_softmax', 'logsumexp', 'matmul', 'transpose',
                                       'reshape', 'getitem', 'broadcast_to', 'maximum', 'where', 'abs']),
                      min_size=1, max_size=5), seed=seeds())
def test_generated_programs_equal_the_engine(names, seed):
    """Chains of random ops on one (3, 4) input and a (4,) parameter, each op's output fed to
    the next (values reused, broadcast): the executed code, and the compiled program, against
    the engine's gradients."""
    rng = np.random.default_rng(seed)
    x = ag.Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True, name='x')
    b = ag.Tensor(rng.uniform(-1.0, 1.0, (4,)), requires_grad=True, name='b')
    loss = _program(names, seed, x, b)
    code = ag.backward_code(loss)
    value, grads = code.run()
    want = _engine_grads(loss, [x, b])
    _assert_close(value, loss.data, 'loss')
    for t in (x, b):
        if want[t] is not None:
            _assert_close(grads[t.name], want[t], f'{t.name}\n{code}')
    # compiled: new x at each call (the constant matrices made inside are checked on the
    # second call, which has other arguments; the third runs the generated code)
    compiled = ag.compile(lambda x, b: _program(names, seed, x, b))
    for k in range(3):
        xk = ag.Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True, name='x')
        b.grad = None
        loss = compiled(xk, b)
    got = {xk: xk.grad, b: b.grad}
    eager = _program(names, seed, xk, b)
    want = _engine_grads(eager, [xk, b])
    _assert_close(loss.data, eager.data, 'compiled loss')
    for t in (xk, b):
        if want[t] is not None:
            _assert_close(got[t], want[t], f'compiled {t.name}\n{compiled.source}')


def _program(names, seed, x, b):
    rng = np.random.default_rng(seed + 1)
    h, made = x, [x]
    for name in names:
        if name in ('add', 'sub', 'mul', 'maximum'):
            other = made[rng.integers(len(made))] if rng.random() < 0.5 else b
            h = {'add': ops.add, 'sub': ops.sub, 'mul': ops.mul, 'maximum': ops.maximum}[name](h, other)
        elif name == 'div':
            h = h / (b * b + 1.0)
        elif name in ('sum', 'mean', 'logsumexp'):
            h = getattr(ops, name)(h, axis=-1, keepdims=True) + h
        elif name in ('softmax', 'log_softmax'):
            h = getattr(ops, name)(h, axis=-1)
        elif name == 'matmul':
            h = h @ ag.Tensor(rng.uniform(-1, 1, (h.shape[-1], 4)), name='M') if h.ndim else h * b
        elif name == 'transpose':
            h = h.T.T if h.ndim == 2 else h
        elif name == 'reshape':
            h = h.reshape(-1).reshape(h.shape)
        elif name == 'getitem':
            h = h[..., np.array([0, 1, 1, 3])] if h.ndim else h
        elif name == 'broadcast_to':
            h = ops.broadcast_to(h, (2,) + h.shape).sum(axis=0)
        elif name == 'where':
            h = ops.where(rng.random(h.shape) < 0.5, h, b)  # (a mask from x.data would change with x)
        else:
            h = getattr(ops, name)(h)
        made.append(h)
    return (h * h).sum() if h.ndim else h * h


@settings(max_examples=25, deadline=None)
# (ag.func's private identity 'input' returns its argument's own array, which compile takes
# for a constant of the recording; it is never in a function compile sees.)
@given(name=st.sampled_from(sorted(set(CASES) - {'input'})), seed=seeds())
def test_compiled_function_equals_the_engine(name, seed):
    """ag.compile of a function over fixed leaves: the second call runs only the generated
    code and accumulates what backward() accumulates."""
    rng = np.random.default_rng(seed)
    out, leaves = CASES[name](rng)
    weights = rng.uniform(-1.0, 1.0, size=out.shape)

    def fn_fixed():  # the same graph, on the same leaf tensors, at each call
        _REUSE[:] = leaves
        out = CASES[name](np.random.default_rng(seed))[0]
        assert not _REUSE
        return (out * weights).sum()

    compiled = ag.compile(fn_fixed)
    compiled()
    for x in leaves:
        x.grad = None
    loss = compiled()
    # (1: a second recording checks arrays made during the call, such as where's condition)
    assert compiled.recordings <= 2 and loss.grad is None and not loss.requires_grad
    got = {x: x.grad for x in leaves}
    eager = fn_fixed()
    want = _engine_grads(eager, leaves)
    _assert_close(loss.data, eager.data, 'loss')
    for x in leaves:
        if want[x] is not None:
            _assert_close(got[x], want[x], f'{name}: {x.name}\n{compiled.source}')


# -- the seed network --------------------------------------------------------------------------------
def _seed_network(n=130, seed=0):
    """The answer's vectorised 4-8-1 sigmoid network with J = 0.5 * sum((y_hat - y)**2)."""
    rng = np.random.default_rng(seed)
    X = ag.Tensor(rng.standard_normal((n, 4)), name='X')
    y = ag.Tensor(rng.integers(0, 2, (n, 1)).astype(float), name='y')
    W1 = ag.Tensor(rng.random((4, 8)), requires_grad=True, name='W1')
    W2 = ag.Tensor(rng.random((8, 1)), requires_grad=True, name='W2')
    z1 = X @ W1
    a1 = ag.sigmoid(z1)
    z2 = a1 @ W2
    y_hat = ag.sigmoid(z2)
    y_hat.name = 'y_hat'
    J = 0.5 * ((y_hat - y) ** 2).sum()
    J.name = 'J'
    return J, X, y, W1, W2


def test_seed_network_code_reads_like_the_hand_derived_backprop():
    J, X, y, W1, W2 = _seed_network()
    code = ag.backward_code(J)
    lines = [line.strip() for line in code.splitlines()]
    assert 'def forward_backward(X, W1, W2, y):' in code
    for statement in ['z1 = X @ W1  # (130, 8)',
                      'a1 = 1.0 / (1.0 + np.exp(-z1))  # (130, 8)',
                      'z2 = a1 @ W2  # (130, 1)',
                      'y_hat = 1.0 / (1.0 + np.exp(-z2))  # (130, 1)',
                      'delta2 = ddiff * y_hat * (1 - y_hat)  # (130, 1)',    # the output's delta
                      'dW2 = a1.T @ delta2  # (8, 1)',
                      'delta1 = (delta2 @ W2.T) * a1 * (1 - a1)  # (130, 8)',  # the hidden delta
                      'dW1 = X.T @ delta1  # (4, 8)',
                      "return J, {'W1': dW1, 'W2': dW2}"]:
        assert statement in lines, f"{statement!r} not in\n{code}"
    # nothing for the data: no gradient of X or y is computed
    assert 'dX' not in code and 'dy ' not in code and 'dy_hat =' not in code
    value, grads = code.run()
    J.backward()
    assert value == J.item()
    np.testing.assert_allclose(grads['W1'], W1.grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grads['W2'], W2.grad, rtol=1e-13, atol=1e-15)


def test_bias_sum_and_a_value_used_twice_are_written_out():
    rng = np.random.default_rng(1)
    X = ag.Tensor(rng.standard_normal((130, 4)), name='X')
    W1 = ag.Tensor(rng.standard_normal((4, 8)), requires_grad=True, name='W1')
    b1 = ag.Tensor(np.zeros(8), requires_grad=True, name='b1')
    z1 = X @ W1 + b1
    loss = (ag.tanh(z1) * z1).mean()
    code = ag.backward_code(loss)
    assert 'db1 = delta1.sum(axis=0)  # (130, 8) -> (8,)' in code
    assert 'accumulated' in code  # z1 feeds tanh and the product: its gradient is a sum of two
    _check_code_equals_engine(code, loss, [W1, b1])


def _check_code_equals_engine(code, loss, params):
    value, grads = code.run()
    want = _engine_grads(loss, params)
    _assert_close(value, loss.data, 'loss')
    for p in params:
        _assert_close(grads[code_name(code, p)], want[p], p.name)


def code_name(code, tensor):
    return next(n for n, t in code.grad_names.items() if t is tensor)


def test_module_parameter_names_become_identifiers():
    model = nn.MLP([4, 8, 3], seed=0).name_parameters()
    X = np.random.default_rng(0).standard_normal((10, 4))
    loss = F.cross_entropy(model(ag.Tensor(X, name='X')), np.arange(10) % 3)
    code = ag.backward_code(loss, names=model)
    assert 'def forward_backward(X, p0_weight, p0_bias, p2_weight, p2_bias, labels):' in code
    assert 'dp2_weight = a1.T @ delta2  # (8, 3)' in code
    renamed = ag.backward_code(loss, names={p: n for n, p in zip(['W1', 'b1', 'W2', 'b2'], model.parameters())})
    assert 'dW2 = a1.T @ delta2' in renamed and 'db1 = delta1.sum(axis=0)  # (10, 8) -> (8,)' in renamed
    _check_code_equals_engine(renamed, loss, list(model.parameters()))


def test_backward_code_errors():
    x = ag.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"backward_code: the loss must have one element, got shape \(3,\)"):
        ag.backward_code(x * 2)
    loss = (x * 2).sum()
    loss.backward()
    with pytest.raises(ag.CompileError, match="the graph was released by backward"):
        ag.backward_code(loss)
    with pytest.raises(ag.CompileError, match="no graph"):
        ag.backward_code(ag.Tensor(1.0) * 2)
    h = x * 2
    h.retain_grad()
    with pytest.raises(ag.CompileError, match=r"calls retain_grad\(\)"):
        ag.backward_code(h.sum())
    custom = Primitive('twice', lambda a: 2 * a, (lambda g, ans, a: 2 * g,))
    with pytest.raises(ag.CompileError, match="no code template for the primitive 'twice'"):
        ag.backward_code(custom(x).sum())


# -- compile ------------------------------------------------------------------------------------------
def _mlp_setup(sizes=(4, 8, 3), n=30, seed=0, dtype=np.float64, activation='sigmoid'):
    rng = np.random.default_rng(seed)
    model = nn.MLP(list(sizes), activation=activation, seed=seed, dtype=dtype).name_parameters()
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], n)
    return model, X, y


def _eager_grads(model, fn, *args):
    model.zero_grad()
    fn(*args).backward()
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    return grads


def test_compiled_training_step_matches_eager_and_records_again_on_a_new_batch_shape():
    model, X, y = _mlp_setup()
    opt = ag.optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(X, y):
        return F.cross_entropy(model(ag.Tensor(X)), y)

    step = ag.compile(loss_fn)
    for i in range(3):  # record, then twice the generated code; the optimizer changes the weights
        want = _eager_grads(model, loss_fn, X, y)
        eager_loss = loss_fn(X, y).item()
        loss = step(X, y)
        assert loss.item() == pytest.approx(eager_loss, abs=1e-14)
        for p, g in zip(model.parameters(), want):
            np.testing.assert_allclose(p.grad, g, rtol=1e-12, atol=1e-15)
        opt.step()
        opt.zero_grad()
    assert step.recordings == 1 and 'def forward_backward(' in step.source
    # gradients accumulate, as backward() does
    step(X, y)
    step(X, y)
    want = _eager_grads(model, loss_fn, X, y)
    step(X, y)
    step(X, y)
    for p, g in zip(model.parameters(), want):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-12)
    model.zero_grad()
    # a smaller last batch: recorded again, and both shapes stay compiled
    step(X[:7], y[:7])
    assert step.recordings == 2 and '# (7, 3)' in step.source
    step(X, y)
    assert step.recordings == 2
    assert step.check(X[:7], y[:7])['loss'] <= 1e-12


def test_a_parameter_used_twice_accumulates():
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((4, 4)), requires_grad=True, name='W')
    X = rng.standard_normal((5, 4))

    @ag.compile
    def tied(X):
        return (ag.tanh(ag.Tensor(X) @ W) @ W.T).sum()

    tied(X)
    assert 'dW = ' in tied.source and 'accumulated' in tied.source
    W.grad = None
    tied(X)
    got = W.grad
    W.grad = None
    tied.fn(X).backward()
    np.testing.assert_allclose(got, W.grad, rtol=1e-12)


def test_frozen_parameters_get_no_gradient_and_unfreezing_records_again():
    model, X, y = _mlp_setup()
    first = model.linears[0]
    first.weight.requires_grad = False

    @ag.compile
    def loss_fn(X, y):
        return F.cross_entropy(model(ag.Tensor(X)), y)

    loss_fn(X, y)
    loss_fn(X, y)
    assert first.weight.grad is None and 'dp0_weight' not in loss_fn.source
    assert 'X.T @' not in loss_fn.source  # nothing computed that no gradient needs
    assert model.linears[1].weight.grad is not None
    first.weight.requires_grad = True
    model.zero_grad()
    loss_fn(X, y)
    assert loss_fn.recordings == 2 and first.weight.grad is not None and 'dp0_weight' in loss_fn.source


def test_float32_stays_float32():
    model, X, y = _mlp_setup(dtype=np.float32)

    @ag.compile
    def loss_fn(X, y):
        return F.cross_entropy(model(ag.Tensor(X)), y)

    loss_fn(X, y)
    model.zero_grad()
    loss = loss_fn(X, y)
    assert loss.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    value, grads = ag.backward_code(F.cross_entropy(model(ag.Tensor(X)), y)).run()
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    want = _eager_grads(model, loss_fn.fn, X, y)
    loss_fn(X, y)
    for p, g in zip(model.parameters(), want):
        np.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-7)


def test_losses_of_nn_functional_compile():
    """mse, binary cross-entropy with logits (targets passed in), linear, a relu network."""
    model, X, y = _mlp_setup(activation='relu')
    target = F.one_hot(y, 3).data
    fns = [lambda X, t: F.mse_loss(model(ag.Tensor(X)), t),
           lambda X, t: F.binary_cross_entropy_with_logits(model(ag.Tensor(X)), ag.Tensor(t)),
           lambda X, t: 0.5 * F.mse_loss(ag.sigmoid(model(ag.Tensor(X))), t, reduction='sum')]
    for fn in fns:
        compiled = ag.compile(fn, check=True)  # check: the eager function beside it at every call
        compiled(X, target)
        compiled(X, target)
        assert compiled.recordings == 1


def test_no_grad_inside_the_function_is_recomputed_each_call():
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((3, 2)), requires_grad=True, name='W')
    X = rng.standard_normal((4, 3))

    @ag.compile
    def fn(X):
        with ag.no_grad():
            scale = (W * W).sum()  # a constant for the gradient, but it changes with W
        return (ag.Tensor(X) @ W).sum() * scale + (W.detach() * W).sum()

    fn(X)
    W.data *= 1.5  # as an optimizer step would
    W.grad = None
    loss = fn(X)
    got = W.grad
    W.grad = None
    eager = fn.fn(X)
    eager.backward()
    assert loss.item() == pytest.approx(eager.item(), rel=1e-13)
    np.testing.assert_allclose(got, W.grad, rtol=1e-12)
    assert fn.recordings == 1


def test_check_finds_python_control_flow_frozen_at_recording():
    W = ag.Tensor(np.ones(3), requires_grad=True, name='W')

    @ag.compile(check=True)
    def fn():
        return (W * W).sum() if W.data.sum() > 0 else (W * 3.0).sum()

    fn()
    fn()
    W.data[:] = -1.0
    with pytest.raises(ag.CompileError, match=r"compile\(check=True\): the compiled function disagrees with "
                                              r"the eager one: loss differs by 12 \(largest value 9\)"):
        fn()


def test_values_made_outside_the_ops_from_the_arguments_are_refused():
    W = ag.Tensor(np.ones((3, 2)), requires_grad=True, name='W')

    @ag.compile
    def fn(X, labels):
        return ((ag.Tensor(X) @ W) * F.one_hot(labels, 2)).sum()

    X = np.ones((4, 3))
    fn(X, np.array([0, 1, 1, 0]))
    with pytest.raises(ag.CompileError, match=r"the value c \(shape \(4, 2\)\) is computed from the arguments"):
        fn(X, np.array([1, 1, 1, 0]))


def test_what_cannot_be_compiled_says_which():
    W = ag.Tensor(np.ones(3), requires_grad=True, name='W')
    handle = W.register_hook(lambda g: g * 2)
    fn = ag.compile(lambda: (W * W).sum())
    with pytest.raises(ag.CompileError, match=r"compile: a tensor of shape \(3,\) \('W'\) has a hook \(register_hook\)"):
        fn()
    handle.remove()
    W._hooks = None

    def keeps():
        h = W * 2
        h.retain_grad()
        return h.sum()

    with pytest.raises(ag.CompileError, match=r"calls retain_grad\(\)"):
        ag.compile(keeps)()
    with ag.detect_anomaly():
        with pytest.raises(ag.CompileError, match=r"cannot record inside detect_anomaly\(\)"):
            ag.compile(lambda: (W * W).sum())()
    with pytest.raises(TypeError, match="the function must return the loss as a Tensor, got float"):
        ag.compile(lambda: 1.0)()
    # a hook added after compiling sends the call back to recording, which refuses it
    fn = ag.compile(lambda: (W * W).sum())
    fn()
    W.register_hook(lambda g: g)
    with pytest.raises(ag.CompileError, match="has a hook"):
        fn()
    W._hooks = None


def test_has_aux_returns_the_scores_too():
    model, X, y = _mlp_setup()

    @ag.compile(has_aux=True)
    def fn(X, y):
        scores = model(ag.Tensor(X))
        return F.cross_entropy(scores, y), scores

    for _ in range(2):
        loss, scores = fn(X, y)
    np.testing.assert_allclose(scores.data, model(ag.Tensor(X)).data, rtol=1e-15)
    assert not scores.requires_grad and fn.recordings == 1
    with pytest.raises(TypeError, match=r"compile\(has_aux=True\): the function must return \(loss, aux\)"):
        ag.compile(lambda: F.cross_entropy(model(ag.Tensor(X)), y), has_aux=True)()


# -- the CLI: --compile, backprop.py -------------------------------------------------------------------
def test_cli_backprop_py_runs_alone_and_prints_the_tables_gradients(tmp_path, capsys):
    """backprop.py in --out runs with NumPy alone (a fresh interpreter, in another folder) and
    prints the loss of the gradient check's line and the gradients autograd_lite computes for
    the inputs it was written with, to 1e-12; --compile trains to the same numbers as the
    eager run."""
    import ast
    import re
    import subprocess
    import sys
    pytest.importorskip('sklearn')
    from autograd_lite.demo import cli
    out = tmp_path / 'run'
    assert cli.main(['iris', '--epochs', '3', '--compile', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r'gradient +code shape  autograd shape', text) and 'generated code = autograd_lite' in text
    assert 'recorded 1 time' in text
    table_loss = float(re.search(r'([0-9.]+) by the generated code', text).group(1))
    compiled_metrics = (out / 'metrics.json').read_text()
    result = subprocess.run([sys.executable, '-I', str(out / 'backprop.py')], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    printed = {}
    for line in result.stdout.splitlines():
        name, rest = line.split(' ', 1)
        printed[name] = float(rest) if name == 'loss' else np.array(ast.literal_eval(rest.split(') ', 1)[1]))
    assert round(printed['loss'], 6) == table_loss
    # the engine on the same inputs: X, then each layer's weight and bias, then the labels
    with np.load(out / 'backprop_data.npz') as saved:
        inputs = dict(saved)
    names = list(inputs)
    params = {n: ag.Tensor(inputs[n], requires_grad=True) for n in names[1:-1]}
    h = ag.Tensor(inputs[names[0]])
    layers = [names[1:-1][k:k + 2] for k in range(0, len(names) - 2, 2)]
    for k, (w, b) in enumerate(layers):
        h = h @ params[w] + params[b]
        h = ag.sigmoid(h) if k < len(layers) - 1 else h
    loss = F.cross_entropy(h, inputs[names[-1]])
    loss.backward()
    assert printed['loss'] == pytest.approx(loss.item(), abs=1e-12)
    assert sorted(printed) == sorted(['loss'] + names[1:-1])
    for name, p in params.items():
        np.testing.assert_allclose(printed[name], p.grad, rtol=0, atol=1e-12)
    # the eager run trains to the same loss curve
    eager = tmp_path / 'eager'
    assert cli.main(['iris', '--epochs', '3', '--out', str(eager)]) == 0
    capsys.readouterr()
    assert (eager / 'loss.csv').read_text() == (out / 'loss.csv').read_text()
    assert '"code_vs_autograd"' in compiled_metrics


def test_the_docs_page_shows_what_backward_code_prints():
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / 'docs' / 'codegen.md').read_text(encoding='utf-8')
    shown = page.split('<!-- generated: seed network -->\n```python\n', 1)[1].split('```\n<!-- end generated -->')[0]
    example = page.split('```python\n', 1)[1].split('```', 1)[0].replace('print(ag.backward_code(J))', '')
    namespace = {}
    exec(example, namespace)
    assert str(ag.backward_code(namespace['J'])) == shown


def test_a_compiled_method_and_the_digits_command_with_a_sigmoid_output(tmp_path, capsys):
    class Net(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(4, 3, seed=0)

        @ag.compile
        def loss(self, X, y):
            return F.cross_entropy(self.layer(ag.Tensor(X)), y)

    net = Net()
    X, y = np.random.default_rng(0).standard_normal((6, 4)), np.arange(6) % 3
    net.loss(X, y)
    net.zero_grad()
    net.loss(X, y)
    got = net.layer.weight.grad
    net.zero_grad()
    F.cross_entropy(net.layer(ag.Tensor(X)), y).backward()
    np.testing.assert_allclose(got, net.layer.weight.grad, rtol=1e-12)
    assert Net.loss.recordings == 1
    pytest.importorskip('sklearn')
    from autograd_lite.demo import cli
    args = ['digits', '--hidden', '16', '--epochs', '1', '--output', 'sigmoid', '--out']
    assert cli.main(args + [str(tmp_path / 'compiled'), '--compile']) == 0
    text = capsys.readouterr().out
    assert 'recorded 2 times: one per batch size' in text  # 1437 rows: batches of 64 and a last of 29
    assert cli.main(args + [str(tmp_path / 'eager')]) == 0
    capsys.readouterr()
    assert (tmp_path / 'compiled' / 'loss.csv').read_text() == (tmp_path / 'eager' / 'loss.csv').read_text()


def test_a_loss_of_shape_1_1_and_mixed_dtypes():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name='x')
    w = ag.Tensor(np.linspace(-1, 1, 3).astype(np.float32), requires_grad=True, name='w')
    for fn in (lambda: (x * x).sum(keepdims=True),
               lambda: ((x * w.astype(np.float64)).sum() * 0.5 + (w * np.float32(3.0)).sum()).astype(np.float32)):
        loss = fn()
        code = ag.backward_code(loss)
        value, grads = code.run()
        want = _engine_grads(loss, [x, w])
        _assert_close(value, loss.data, 'loss')
        for t in (x, w):
            if want[t] is not None:
                _assert_close(grads[t.name], want[t], t.name)
        compiled = ag.compile(fn)
        compiled()
        x.grad = w.grad = None
        compiled()
        for t in (x, w):
            if want[t] is not None:
                _assert_close(t.grad, want[t], t.name)


def test_strict_broadcasting_still_finds_the_bug_in_a_compiled_function():
    w = ag.Tensor(np.ones(4), requires_grad=True, name='w')
    compiled = ag.compile(lambda y: ((w * 2.0)[:, None] - ag.Tensor(y)).sum())  # (4, 1) - (4,): (4, 4)
    compiled(np.ones(4))
    compiled(np.ones(4))
    with ag.strict_broadcasting():
        with pytest.raises(ag.ShapeError, match="sub"):
            compiled(np.ones(4))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min', 'logsumexp'])
def test_a_reduction_as_the_loss(reduce):
    """The loss's own gradient is the number 1: reductions spread it without an array."""
    x = ag.Tensor(np.random.default_rng(0).uniform(-1, 1, (3, 4)), requires_grad=True, name='x')
    for axis in (None, (0, 1)):
        loss = getattr(ops, reduce)(x, axis=axis)
        for fast in (False, True):
            value, grads = ag.backward_code(loss, fast=fast).run()
            _assert_close(grads['x'], _engine_grads(loss, [x])[x], f'{reduce} {axis} {fast}')


def test_numpy_functions_on_tensors_compile():
    """np.sin(t), np.dot(X, W), np.prod(t) record primitives (autograd_lite.numpy_api): their
    code is generated like any other op's."""
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True, name='W')
    X = rng.standard_normal((5, 4))

    @ag.compile
    def fn(X):
        return np.sum(np.sin(np.dot(ag.Tensor(X), W)) ** 2) + np.prod(np.cos(W))

    fn(X)
    W.grad = None
    loss = fn(X)
    got = W.grad.copy()
    W.grad = None
    eager = fn.fn(X)
    eager.backward()
    assert loss.item() == pytest.approx(eager.item(), rel=1e-13)
    np.testing.assert_allclose(got, W.grad, rtol=1e-12, atol=1e-15)
    assert 'np.sin(' in fn.source and 'np.multiply.reduce(' in fn.source and fn.recordings == 1
