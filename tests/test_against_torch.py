"""The same ops against PyTorch (float64): values, vector-Jacobian products and second order.

For each op, with inputs x_i and random upstream G and directions U_i, three things must
match torch: the output, the first-order VJPs ``g_i = d<f(x), G>/dx_i``, and the
second-order ``d(sum_i <g_i, U_i>)/dx_j``, which runs every gradient rule on Tensors
(``ag.grad(..., create_graph=True)``). Skipped as a whole when torch is not importable.
"""
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_lite as ag
from strategies import axes, broadcastable_pair, matmul_pair, random_array, seeds, shapes

torch = pytest.importorskip("torch")

# Each case runs two engines and two orders of derivatives: fewer examples than test_ops.
few = settings(max_examples=15)


def as_torch(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _numpy(g, shape):
    if g is None:
        return np.zeros(shape)
    return g.detach().numpy(force=True) if isinstance(g, torch.Tensor) else np.asarray(g.data)


def _grads(engine, out, inputs, **kw):
    """ag.grad or torch.autograd.grad, None for inputs the output does not depend on."""
    if engine is ag:
        if not out.requires_grad:  # a linear op's gradient does not depend on its input
            return [None] * len(inputs)
        return ag.grad(out, inputs, allow_unused=True, **kw)
    if not out.requires_grad:
        return [None] * len(inputs)
    return torch.autograd.grad(out, inputs, allow_unused=True, **kw)


def compare_with_torch(ag_f, torch_f, *arrays_, seed=0):
    """Output, VJPs and second-order VJPs of ag_f and torch_f at ``arrays_``."""
    rng = np.random.default_rng(seed)
    xs = [ag.Tensor(a, requires_grad=True) for a in arrays_]
    ts = [as_torch(a) for a in arrays_]
    out, tout = ag_f(*xs), torch_f(*ts)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)

    G = rng.normal(size=out.shape)
    firsts = _grads(ag, out, xs, grad_outputs=G, create_graph=True)
    tfirsts = _grads(torch, tout, ts, grad_outputs=torch.tensor(G), create_graph=True)
    for i, (g, tg) in enumerate(zip(firsts, tfirsts)):
        np.testing.assert_allclose(_numpy(g, xs[i].shape), _numpy(tg, xs[i].shape), rtol=1e-9, atol=1e-12,
                                   err_msg=f"first order, input {i}")

    U = [rng.normal(size=x.shape) for x in xs]
    h = sum(((g * u).sum() for g, u in zip(firsts, U) if g is not None), ag.Tensor(0.0))
    th = sum(((tg * torch.tensor(u)).sum() for tg, u in zip(tfirsts, U) if tg is not None),
             torch.tensor(0.0, dtype=torch.float64))
    for i, (s, ts_) in enumerate(zip(_grads(ag, h, xs), _grads(torch, th, ts))):
        np.testing.assert_allclose(_numpy(s, xs[i].shape), _numpy(ts_, xs[i].shape), rtol=1e-8, atol=1e-10,
                                   err_msg=f"second order, input {i}")


POSITIVE = dict(low=0.2, high=3.0)
UNARY = {
    'neg': (operator.neg, operator.neg, {}),
    'exp': (ag.exp, torch.exp, {}),
    'log': (ag.log, torch.log, POSITIVE),
    'sqrt': (ag.sqrt, torch.sqrt, POSITIVE),
    'abs': (ag.abs, torch.abs, dict(avoid=(0.0,))),
    'tanh': (ag.tanh, torch.tanh, {}),
    'sigmoid': (ag.sigmoid, torch.sigmoid, {}),
    'relu': (ag.relu, torch.relu, dict(avoid=(0.0,))),
    'clip': (lambda x: ag.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), dict(avoid=(-0.5, 0.7))),
    'x ** 3': (lambda x: x ** 3, lambda x: x ** 3, {}),
    'x ** -1.5': (lambda x: x ** -1.5, lambda x: x ** -1.5, POSITIVE),
    '2 ** x': (lambda x: 2.0 ** x, lambda x: 2.0 ** x, {}),
    'astype float32 and back': (lambda x: x.astype(np.float32).astype(np.float64) * x,
                                lambda x: x.float().double() * x, {}),
}


@pytest.mark.parametrize('name', UNARY)
@few
@given(shape=shapes(), seed=seeds())
def test_unary_ops_match_torch(name, shape, seed):
    f, tf, data = UNARY[name]
    x = random_array(seed, shape, **data)
    if name.startswith('astype'):
        x = x.astype(np.float32).astype(np.float64)  # exactly representable: the cast is exact
    compare_with_torch(f, tf, x, seed=seed)


BINARY = {
    'add': (operator.add, operator.add, {}, {}),
    'sub': (operator.sub, operator.sub, {}, {}),
    'mul': (operator.mul, operator.mul, {}, {}),
    'div': (operator.truediv, operator.truediv, {}, dict(avoid=(0.0,), margin=0.5)),
    'pow': (operator.pow, operator.pow, POSITIVE, {}),
    'maximum': (ag.maximum, torch.maximum, {}, {}),
    'minimum': (ag.minimum, torch.minimum, {}, {}),
    'where': (lambda x, y: ag.where(x > 0, x * y, y), lambda x, y: torch.where(x > 0, x * y, y),
              dict(avoid=(0.0,)), {}),
}


@pytest.mark.parametrize('name', BINARY)
@few
@given(pair=broadcastable_pair(), seed=seeds())
def test_binary_ops_with_broadcasting_match_torch(name, pair, seed):
    f, tf, data_x, data_y = BINARY[name]
    compare_with_torch(f, tf, random_array(seed, pair[0], **data_x), random_array(seed + 1, pair[1], **data_y),
                       seed=seed)


@few
@given(pair=matmul_pair(), seed=seeds())
def test_matmul_matches_torch(pair, seed):
    # matmul is bilinear: its second order is the cross terms between a and b.
    compare_with_torch(operator.matmul, torch.matmul, random_array(seed, pair[0]),
                       random_array(seed + 1, pair[1]), seed=seed)


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


REDUCTIONS = {
    'sum': (ag.sum, lambda x, axis, keepdims: torch.sum(x, dim=_dims(axis, x.ndim), keepdim=keepdims)),
    'mean': (ag.mean, lambda x, axis, keepdims: torch.mean(x, dim=_dims(axis, x.ndim), keepdim=keepdims)),
    'max': (ag.max, lambda x, axis, keepdims: torch.amax(x, dim=_dims(axis, x.ndim), keepdim=keepdims)),
    'min': (ag.min, lambda x, axis, keepdims: torch.amin(x, dim=_dims(axis, x.ndim), keepdim=keepdims)),
    'logsumexp': (ag.logsumexp,
                  lambda x, axis, keepdims: torch.logsumexp(x, dim=_dims(axis, x.ndim), keepdim=keepdims)),
}


@pytest.mark.parametrize('name', REDUCTIONS)
@few
@given(data=st.data(), shape=shapes(), keepdims=st.booleans(), seed=seeds())
def test_reductions_match_torch(name, data, shape, keepdims, seed):
    f, tf = REDUCTIONS[name]
    axis = data.draw(axes(len(shape)), label='axis')
    # Squared, so that the second order of the linear reductions is not trivially zero.
    compare_with_torch(lambda x: f(x, axis=axis, keepdims=keepdims) ** 2,
                       lambda x: tf(x, axis, keepdims) ** 2, random_array(seed, shape), seed=seed)


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
@few
@given(data=st.data(), shape=shapes(min_dims=1), seed=seeds())
def test_softmax_family_matches_torch(name, data, shape, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label='axis')
    compare_with_torch(lambda x: getattr(ag, name)(x, axis=axis), lambda x: getattr(torch, name)(x, dim=axis),
                       random_array(seed, shape, low=-5, high=5), seed=seed)


# Shape ops are linear; multiplying by the input makes their second order non-zero.
SHAPE_OPS = {
    'reshape': (lambda x: x.reshape(6, 2) * x.reshape(6, 2), lambda x: x.reshape(6, 2) * x.reshape(6, 2)),
    'transpose': (lambda x: ag.transpose(x, (2, 0, 1)) ** 2, lambda x: x.permute(2, 0, 1) ** 2),
    '.T': (lambda x: x.T * x.T, lambda x: x.permute(2, 1, 0) * x.permute(2, 1, 0)),
    'swapaxes': (lambda x: x.swapaxes(0, -1) ** 2, lambda x: x.swapaxes(0, -1) ** 2),
    'squeeze': (lambda x: x[:1].squeeze(0) ** 2, lambda x: x[:1].squeeze(0) ** 2),
    'expand_dims': (lambda x: ag.expand_dims(x, 1) ** 2, lambda x: x.unsqueeze(1) ** 2),
    'broadcast_to': (lambda x: ag.broadcast_to(x[:, :1], (4, 2, 2, 3)) ** 2,
                     lambda x: torch.broadcast_to(x[:, :1], (4, 2, 2, 3)) ** 2),
    'concatenate': (lambda x: ag.concatenate([x, x ** 2, x[:, :1]], axis=1),
                    lambda x: torch.cat([x, x ** 2, x[:, :1]], dim=1)),
    'stack': (lambda x: ag.stack([x, x ** 2], axis=-1), lambda x: torch.stack([x, x ** 2], dim=-1)),
}
_mask = random_array(7, (2, 2, 3)) > 0
INDEXING = {
    'slices': (lambda x: x[1:, :, ::2], lambda x: x[1:, :, ::2]),
    'int array with repeats': (lambda x: x[[0, 0, 1]], lambda x: x[[0, 0, 1]]),
    'paired int arrays': (lambda x: x[[0, 0, 1], :, [2, 2, 0]], lambda x: x[[0, 0, 1], :, [2, 2, 0]]),
    'boolean mask': (lambda x: x[_mask], lambda x: x[torch.from_numpy(_mask)]),
    'ellipsis and new axis': (lambda x: x[..., None, 1], lambda x: x[..., None, 1]),
}


@pytest.mark.parametrize('name', [*SHAPE_OPS, *INDEXING])
@few
@given(seed=seeds())
def test_shape_ops_and_indexing_match_torch(name, seed):
    f, tf = SHAPE_OPS.get(name) or INDEXING[name]
    g, tg = (f, tf) if name in SHAPE_OPS else (lambda x: f(x) ** 2, lambda x: tf(x) ** 2)
    compare_with_torch(g, tg, random_array(seed, (2, 2, 3)), seed=seed)


# -- second order of compositions ------------------------------------------------------------------------------
def _mlp(lib):
    act = {'tanh': (ag.tanh, torch.tanh), 'sigmoid': (ag.sigmoid, torch.sigmoid)}
    pick = 0 if lib is ag else 1
    log_softmax = ag.log_softmax if lib is ag else (lambda z, axis: torch.log_softmax(z, dim=axis))

    def f(x, w1, w2):
        hidden = act['tanh'][pick](x @ w1)
        return (log_softmax(act['sigmoid'][pick](hidden @ w2), axis=-1) * np.float64(-1.0)).sum() / 5
    return f


COMPOSITIONS = {
    'tanh * sigmoid': (lambda x: (ag.tanh(x) * ag.sigmoid(x)).sum(),
                       lambda x: (torch.tanh(x) * torch.sigmoid(x)).sum(), [(3, 4)]),
    'exp * log': (lambda x: (ag.exp(x) * ag.log(x ** 2 + 1)).sum(),
                  lambda x: (torch.exp(x) * torch.log(x ** 2 + 1)).sum(), [(5,)]),
    'softmax of a matmul': (lambda x, w: (ag.softmax(x @ w, axis=1) ** 2).sum(),
                            lambda x, w: (torch.softmax(x @ w, dim=1) ** 2).sum(), [(4, 3), (3, 5)]),
    'logsumexp of sigmoid layers': (lambda x, w, v: ag.logsumexp(ag.sigmoid(x @ w) @ v),
                                    lambda x, w, v: torch.logsumexp(torch.sigmoid(x @ w) @ v, dim=(0, 1)),
                                    [(4, 3), (3, 5), (5, 2)]),
    'mlp with log_softmax': (_mlp(ag), _mlp(torch), [(5, 3), (3, 4), (4, 2)]),
}


@pytest.mark.parametrize('name', COMPOSITIONS)
def test_hessian_vector_products_match_torch(name):
    f, tf, input_shapes = COMPOSITIONS[name]
    rng = np.random.default_rng(len(name))
    arrays_ = [rng.normal(size=s) for s in input_shapes]
    vs = [rng.normal(size=s) for s in input_shapes]
    xs, ts = [ag.Tensor(a, requires_grad=True) for a in arrays_], [as_torch(a) for a in arrays_]

    grads = ag.grad(f(*xs), xs, create_graph=True)
    tgrads = torch.autograd.grad(tf(*ts), ts, create_graph=True)
    hv = ag.grad(sum((g * v).sum() for g, v in zip(grads, vs)), xs)
    thv = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vs)), ts)
    for i in range(len(xs)):
        np.testing.assert_allclose(grads[i].data, tgrads[i].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hv[i].data, thv[i].numpy(), rtol=1e-9, atol=1e-11, err_msg=f"H v, input {i}")


def test_full_hessian_of_a_small_function_matches_torch():
    x0 = np.array([0.3, -0.7, 1.1])
    f = lambda x: (ag.exp(x[0] * x[1]) + ag.tanh(x[2]) * x[0] ** 2) * ag.sigmoid(x).sum()  # noqa: E731
    tf = lambda x: (torch.exp(x[0] * x[1]) + torch.tanh(x[2]) * x[0] ** 2) * torch.sigmoid(x).sum()  # noqa: E731
    x = ag.Tensor(x0, requires_grad=True)
    (g,) = ag.grad(f(x), x, create_graph=True)
    rows = [ag.grad(g[i], x, retain_graph=True)[0].data for i in range(3)]
    expected = torch.autograd.functional.hessian(tf, torch.tensor(x0)).numpy()
    np.testing.assert_allclose(np.stack(rows), expected, rtol=1e-10)
