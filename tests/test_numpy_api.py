"""NumPy's own functions on Tensors (issue 12): they record, with NumPy's values and dtypes.

Each case is written as NumPy code (``np.exp(x)``, ``np.dot(X, w)``) and run three ways: on
plain arrays (NumPy's values), on Tensors (the values must match, and the result must be a
Tensor with a graph), and against central differences (first order; second order where the
function is twice differentiable) and PyTorch in float64 where torch has the function.
"""
from typing import Callable, NamedTuple, Optional

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_lite as ag
from strategies import broadcastable_pair, random_array, seeds, shapes

torch = None
try:
    import torch
except ImportError:  # the PyTorch cross-checks are skipped
    pass

few = settings(max_examples=6, derandomize=True, deadline=None)


class Case(NamedTuple):
    name: str
    fn: Callable                 # NumPy code: fn(*inputs), inputs arrays or Tensors
    shapes: object               # a strategy of a tuple of input shapes
    low: float = -2.0            # the inputs' values: uniform in [low, high), away from `avoid`
    high: float = 2.0
    avoid: tuple = ()
    torch: Optional[Callable] = None   # the same function in torch, on torch tensors
    twice: bool = True           # twice differentiable: check the second order too


one = shapes(max_dims=3).map(lambda s: (s,))
pair = broadcastable_pair()
matrices = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)).map(
    lambda d: ((d[0], d[1]), (d[1], d[2])))
nonempty = shapes(min_dims=1, max_dims=3).map(lambda s: (s,))
wide = shapes(min_dims=1, max_dims=3, min_side=2).map(lambda s: (s,))  # no zero variance
same = shapes(max_dims=3).map(lambda s: (s, s))
joinable = st.tuples(shapes(min_dims=1, max_dims=3), st.integers(1, 3)).map(lambda d: (d[0], (d[1],) + d[0][1:]))

CASES = [
    # ufuncs
    Case('add', lambda x, y: np.add(x, y), pair, torch=lambda x, y: x + y),
    Case('subtract', lambda x, y: np.subtract(x, y), pair, torch=lambda x, y: x - y),
    Case('multiply', lambda x, y: np.multiply(x, y), pair, torch=lambda x, y: x * y),
    Case('divide', lambda x, y: np.divide(x, y), pair, 0.5, 2.0, torch=lambda x, y: x / y),
    Case('true_divide', lambda x, y: np.true_divide(x, y), pair, 0.5, 2.0),
    Case('negative', lambda x: np.negative(x), one, torch=lambda x: -x),
    Case('power', lambda x, y: np.power(x, y), pair, 0.5, 2.0, torch=lambda x, y: x ** y),
    Case('exp', lambda x: np.exp(x), one, torch=lambda x: x.exp()),
    Case('log', lambda x: np.log(x), one, 0.5, 3.0, torch=lambda x: x.log()),
    Case('sqrt', lambda x: np.sqrt(x), one, 0.5, 3.0, torch=lambda x: x.sqrt()),
    Case('tanh', lambda x: np.tanh(x), one, torch=lambda x: x.tanh()),
    Case('abs', lambda x: np.abs(x), one, avoid=(0,), torch=lambda x: x.abs()),
    Case('maximum', lambda x, y: np.maximum(x, y), pair, twice=False, torch=lambda x, y: torch.maximum(x, y)),
    Case('minimum', lambda x, y: np.minimum(x, y), pair, twice=False, torch=lambda x, y: torch.minimum(x, y)),
    Case('sigmoid with np.exp', lambda x: 1 / (1 + np.exp(-x)), one, torch=lambda x: x.sigmoid()),
    # an ndarray on the left: NumPy calls the ufunc, which comes to the Tensor
    Case('ndarray + Tensor', lambda y: np.linspace(0.0, 1.0, 4) + y, st.just(((3, 4),)),
         torch=lambda y: y + torch.linspace(0, 1, 4, dtype=y.dtype)),
    Case('ndarray @ Tensor', lambda w: np.linspace(0.0, 1.0, 12).reshape(3, 4) @ w, st.just(((4, 2),)),
         torch=lambda w: torch.linspace(0, 1, 12, dtype=w.dtype).reshape(3, 4) @ w),
    # functions
    Case('dot', lambda a, b: np.dot(a, b), matrices, torch=lambda a, b: a @ b),
    Case('matmul', lambda a, b: np.matmul(a, b), matrices, torch=lambda a, b: a @ b),
    Case('sum', lambda x: np.sum(x), one, torch=lambda x: x.sum()),
    Case('sum axis=0', lambda x: np.sum(x, axis=0), nonempty, torch=lambda x: x.sum(0)),
    Case('sum keepdims', lambda x: np.sum(x, axis=-1, keepdims=True), nonempty,
         torch=lambda x: x.sum(-1, keepdim=True)),
    Case('mean', lambda x: np.mean(x), one, torch=lambda x: x.mean()),
    Case('mean axis=0', lambda x: np.mean(x, axis=0), nonempty, torch=lambda x: x.mean(0)),
    Case('max', lambda x: np.max(x), one, twice=False, torch=lambda x: x.max()),
    Case('amax axis=0', lambda x: np.amax(x, axis=0), nonempty, twice=False, torch=lambda x: x.amax(0)),
    Case('where', lambda x, y: np.where(np.broadcast_to(np.arange(3) % 2 == 0, (3,)), x, y),
         st.just(((3,), (2, 3))), torch=lambda x, y: torch.where(torch.tensor([True, False, True]), x, y)),
    Case('clip', lambda x: np.clip(x, -1.0, 1.0), one, avoid=(-1.0, 1.0), twice=False,
         torch=lambda x: x.clip(-1.0, 1.0)),
    Case('reshape', lambda x: np.reshape(x, (-1,)), one, torch=lambda x: x.reshape(-1)),
    Case('transpose', lambda x: np.transpose(x), one, torch=lambda x: x.permute(tuple(reversed(range(x.ndim))))),
    Case('.T', lambda x: x.T, one),
    # the other ufuncs
    Case('positive', lambda x: np.positive(x), one, torch=lambda x: +x),
    Case('float_power', lambda x, y: np.float_power(x, y), pair, 0.5, 2.0, torch=lambda x, y: torch.float_power(x, y)),
    Case('square', lambda x: np.square(x), one, torch=lambda x: x.square()),
    Case('cbrt', lambda x: np.cbrt(x), one, 0.5, 2.0, torch=lambda x: x ** (1 / 3)),
    Case('reciprocal', lambda x: np.reciprocal(x), one, 0.5, 2.0, torch=lambda x: x.reciprocal()),
    Case('remainder', lambda x, y: np.remainder(x, y), pair, 0.5, 2.0, twice=False,
         torch=lambda x, y: torch.remainder(x, y)),
    Case('fmod', lambda x, y: np.fmod(x, y), pair, 0.5, 2.0, twice=False, torch=lambda x, y: torch.fmod(x, y)),
    Case('exp2', lambda x: np.exp2(x), one, torch=lambda x: x.exp2()),
    Case('expm1', lambda x: np.expm1(x), one, torch=lambda x: x.expm1()),
    Case('log2', lambda x: np.log2(x), one, 0.5, 3.0, torch=lambda x: x.log2()),
    Case('log10', lambda x: np.log10(x), one, 0.5, 3.0, torch=lambda x: x.log10()),
    Case('log1p', lambda x: np.log1p(x), one, -0.5, 2.0, torch=lambda x: x.log1p()),
    Case('logaddexp', lambda x, y: np.logaddexp(x, y), pair, torch=lambda x, y: torch.logaddexp(x, y)),
    Case('logaddexp2', lambda x, y: np.logaddexp2(x, y), pair, torch=lambda x, y: torch.logaddexp2(x, y)),
    Case('sin', lambda x: np.sin(x), one, torch=lambda x: x.sin()),
    Case('cos', lambda x: np.cos(x), one, torch=lambda x: x.cos()),
    Case('tan', lambda x: np.tan(x), one, -1.2, 1.2, torch=lambda x: x.tan()),
    Case('arcsin', lambda x: np.arcsin(x), one, -0.9, 0.9, torch=lambda x: x.arcsin()),
    Case('arccos', lambda x: np.arccos(x), one, -0.9, 0.9, torch=lambda x: x.arccos()),
    Case('arctan', lambda x: np.arctan(x), one, torch=lambda x: x.arctan()),
    Case('arctan2', lambda y, x: np.arctan2(y, x), pair, 0.3, 2.0, torch=lambda y, x: torch.arctan2(y, x)),
    Case('sinh', lambda x: np.sinh(x), one, torch=lambda x: x.sinh()),
    Case('cosh', lambda x: np.cosh(x), one, torch=lambda x: x.cosh()),
    Case('arcsinh', lambda x: np.arcsinh(x), one, torch=lambda x: x.arcsinh()),
    Case('arccosh', lambda x: np.arccosh(x), one, 1.2, 3.0, torch=lambda x: x.arccosh()),
    Case('arctanh', lambda x: np.arctanh(x), one, -0.9, 0.9, torch=lambda x: x.arctanh()),
    Case('absolute', lambda x: np.absolute(x), one, avoid=(0,), torch=lambda x: x.abs()),
    Case('fabs', lambda x: np.fabs(x), one, avoid=(0,), torch=lambda x: x.abs()),
    Case('hypot', lambda x, y: np.hypot(x, y), pair, 0.3, 2.0, torch=lambda x, y: torch.hypot(x, y)),
    Case('fmax', lambda x, y: np.fmax(x, y), pair, twice=False, torch=lambda x, y: torch.fmax(x, y)),
    Case('fmin', lambda x, y: np.fmin(x, y), pair, twice=False, torch=lambda x, y: torch.fmin(x, y)),
    Case('add.reduce', lambda x: np.add.reduce(x, axis=0), nonempty, torch=lambda x: x.sum(0)),
    Case('add.accumulate', lambda x: np.add.accumulate(x), nonempty, torch=lambda x: x.cumsum(0)),
    Case('multiply.outer', lambda x, y: np.multiply.outer(x, y), st.just(((3,), (2, 2))),
         torch=lambda x, y: x.reshape(3, 1, 1) * y),
    # the other functions
    Case('vdot', lambda a, b: np.vdot(a, b), st.just(((2, 3), (3, 2))),
         torch=lambda a, b: torch.dot(a.reshape(-1), b.reshape(-1))),
    Case('inner', lambda a, b: np.inner(a, b), st.just(((2, 3), (4, 3))), torch=lambda a, b: torch.inner(a, b)),
    Case('outer', lambda a, b: np.outer(a, b), st.just(((3,), (2, 2))),
         torch=lambda a, b: torch.outer(a, b.reshape(-1))),
    Case('tensordot', lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])), st.just(((3, 2, 4), (2, 5, 3))),
         torch=lambda a, b: torch.tensordot(a, b, dims=([1, 0], [0, 2]))),
    Case('tensordot axes=1', lambda a, b: np.tensordot(a, b, 1), matrices, torch=lambda a, b: a @ b),
    Case('dot 3-D', lambda a, b: np.dot(a, b), st.just(((2, 3), (4, 3, 2))),
         torch=lambda a, b: torch.einsum('ij,kjl->ikl', a, b)),
    Case('einsum', lambda a, b: np.einsum('ij,jk->ik', a, b), matrices, torch=lambda a, b: a @ b),
    Case('einsum implicit, summed alone', lambda a, b: np.einsum('ijk,jl', a, b), st.just(((2, 3, 2), (3, 4))),
         torch=lambda a, b: torch.einsum('ijk,jl->ikl', a, b)),
    Case('einsum broadcast back', lambda a, b: np.einsum('ij,k->k', a, b), st.just(((2, 3), (4,))),
         torch=lambda a, b: torch.einsum('ij,k->k', a, b)),
    Case('prod', lambda x: np.prod(x), one, torch=lambda x: x.prod()),
    Case('prod axis', lambda x: np.prod(x, axis=-1, keepdims=True), nonempty,
         torch=lambda x: x.prod(-1, keepdim=True)),
    Case('var', lambda x: np.var(x), one, torch=lambda x: x.var(correction=0) if x.numel() > 1 else 0 * x.sum()),
    Case('var axis ddof', lambda x: np.var(x, axis=0, ddof=1), st.just(((3, 2),)),
         torch=lambda x: x.var(0, correction=1)),
    Case('std', lambda x: np.std(x, axis=-1), st.just(((2, 4),)), torch=lambda x: x.std(-1, correction=0)),
    Case('cumsum', lambda x: np.cumsum(x), one, torch=lambda x: x.reshape(-1).cumsum(0)),
    Case('cumsum axis', lambda x: np.cumsum(x, axis=-1), nonempty, torch=lambda x: x.cumsum(-1)),
    Case('average weights', lambda x: np.average(x, axis=0, weights=np.arange(1.0, 7.0).reshape(3, 2)),
         st.just(((3, 2),))),
    Case('average 1-D weights', lambda x: np.average(x, axis=1, weights=np.arange(1.0, 3.0)), st.just(((3, 2),))),
    Case('trace', lambda x: np.trace(x), st.just(((3, 4),)), torch=lambda x: x.trace()),
    Case('trace offset', lambda x: np.trace(x, offset=1, axis1=1, axis2=2), st.just(((2, 3, 4),)),
         torch=lambda x: x.diagonal(1, 1, 2).sum(-1)),
    Case('diag of a vector', lambda v: np.diag(v, k=-1), st.just(((3,),)), torch=lambda v: torch.diag(v, -1)),
    Case('diag of a matrix', lambda m: np.diag(m, 1), st.just(((3, 4),)), torch=lambda m: torch.diag(m, 1)),
    Case('diagonal', lambda x: np.diagonal(x, 0, 0, 2), st.just(((3, 2, 4),)),
         torch=lambda x: x.diagonal(0, 0, 2)),
    Case('ravel', lambda x: np.ravel(x), one, torch=lambda x: x.reshape(-1)),
    Case('swapaxes', lambda x: np.swapaxes(x, 0, -1), nonempty, torch=lambda x: x.transpose(0, -1)),
    Case('moveaxis', lambda x: np.moveaxis(x, [0, 1], [-1, 0]), st.just(((2, 3, 4),)),
         torch=lambda x: torch.movedim(x, (0, 1), (-1, 0))),
    Case('squeeze', lambda x: np.squeeze(x, axis=1), st.just(((3, 1, 2),)), torch=lambda x: x.squeeze(1)),
    Case('expand_dims', lambda x: np.expand_dims(x, (0, 2)), st.just(((3, 2),)),
         torch=lambda x: x.unsqueeze(0).unsqueeze(2)),
    Case('broadcast_to', lambda x: np.broadcast_to(x, (2, 3, 4)), st.just(((3, 1),)),
         torch=lambda x: x.broadcast_to((2, 3, 4))),
    Case('concatenate', lambda x, y: np.concatenate([x, y], axis=1), st.just(((2, 3), (2, 1))),
         torch=lambda x, y: torch.cat([x, y], 1)),
    Case('stack', lambda x, y: np.stack((x, y), axis=-1), st.just(((2, 3), (2, 3))),
         torch=lambda x, y: torch.stack([x, y], -1)),
    Case('hstack', lambda x, y: np.hstack([x, y]), st.just(((3,), (2,))), torch=lambda x, y: torch.hstack([x, y])),
    Case('vstack', lambda x, y: np.vstack([x, y]), st.just(((3,), (2, 3))), torch=lambda x, y: torch.vstack([x, y])),
    Case('split', lambda x: np.split(x, 2, axis=1)[1] * np.split(x, [1], axis=1)[0], st.just(((2, 4),)),
         torch=lambda x: torch.split(x, 2, 1)[1] * x[:, :1]),
    Case('flip', lambda x: np.flip(x, 0), nonempty, torch=lambda x: x.flip(0)),
    Case('tile', lambda x: np.tile(x, (2, 1, 3)), st.just(((3, 2),)), torch=lambda x: x.tile((2, 1, 3))),
    Case('repeat', lambda x: np.repeat(x, [1, 3], axis=0), st.just(((2, 3),)),
         torch=lambda x: x.repeat_interleave(torch.tensor([1, 3]), 0)),
    Case('repeat flat', lambda x: np.repeat(x, 2), one, torch=lambda x: x.reshape(-1).repeat_interleave(2)),
    Case('pad', lambda x: np.pad(x, ((1, 0), (2, 1))), st.just(((2, 3),)),
         torch=lambda x: torch.nn.functional.pad(x, (2, 1, 1, 0))),
    Case('pad reflect', lambda x: np.pad(x, 2, mode='reflect'), st.just(((4, 3),)),
         torch=lambda x: torch.nn.functional.pad(x[None, None], (2, 2, 2, 2), mode='reflect')[0, 0]),
    Case('linalg.norm', lambda x: np.linalg.norm(x), one, 0.2, 2.0, torch=lambda x: torch.linalg.norm(x.reshape(-1))),
    Case('linalg.norm ord=1 axis', lambda x: np.linalg.norm(x, ord=1, axis=-1), st.just(((3, 4),)), 0.2, 2.0,
         torch=lambda x: torch.linalg.vector_norm(x, 1, -1)),
    Case('linalg.norm ord=3', lambda x: np.linalg.norm(x, 3, axis=0), st.just(((3, 4),)), 0.2, 2.0,
         torch=lambda x: torch.linalg.vector_norm(x, 3, 0)),
    Case('linalg.norm matrix ord=inf', lambda x: np.linalg.norm(x, np.inf), st.just(((3, 4),)), 0.2, 2.0,
         twice=False, torch=lambda x: torch.linalg.matrix_norm(x, float('inf'))),
    Case('linalg.norm fro', lambda x: np.linalg.norm(x, 'fro', axis=(0, 1), keepdims=True), st.just(((3, 4),)),
         torch=lambda x: torch.linalg.matrix_norm(x, 'fro', keepdim=True)),
    Case('sort', lambda x: np.sort(x, axis=0), nonempty, twice=False, torch=lambda x: x.sort(0).values),
    Case('take', lambda x: np.take(x, [2, 0, 2]), st.just(((2, 3),)), torch=lambda x: x.reshape(-1)[[2, 0, 2]]),
    Case('triu', lambda x: np.triu(x, 1), st.just(((3, 4),)), torch=lambda x: x.triu(1)),
    Case('atleast_2d', lambda x: np.atleast_2d(x), st.just(((3,),)), torch=lambda x: torch.atleast_2d(x)),
    Case('copy', lambda x: np.copy(x), one, torch=lambda x: x.clone()),
    # more over drawn shapes (the axis follows the drawn number of dimensions)
    Case('var drawn', lambda x: np.var(x, axis=-1), nonempty, torch=lambda x: x.var(-1, correction=0)),
    Case('std drawn', lambda x: np.std(x, axis=0), wide, torch=lambda x: x.std(0, correction=0)),
    Case('prod drawn', lambda x: np.prod(x, axis=0), nonempty, torch=lambda x: x.prod(0)),
    Case('cumsum drawn', lambda x: np.cumsum(x, axis=0), nonempty, torch=lambda x: x.cumsum(0)),
    Case('flip drawn', lambda x: np.flip(x, axis=-1), nonempty, torch=lambda x: x.flip(-1)),
    Case('moveaxis drawn', lambda x: np.moveaxis(x, 0, -1), nonempty, torch=lambda x: torch.movedim(x, 0, -1)),
    Case('tile drawn', lambda x: np.tile(x, (2, 1)), one, torch=lambda x: x.tile((2, 1))),
    Case('concatenate drawn', lambda x, y: np.concatenate((x, y)), joinable, torch=lambda x, y: torch.cat([x, y])),
    Case('stack drawn', lambda x, y: np.stack([x, y], axis=-1), same, torch=lambda x, y: torch.stack([x, y], -1)),
    Case('tensordot drawn', lambda a, b: np.tensordot(a, b, axes=0), pair, torch=lambda a, b: torch.tensordot(a, b, 0)),
    Case('einsum drawn', lambda a, b: np.einsum('ij,jk->ki', a, b), matrices,
         torch=lambda a, b: torch.einsum('ij,jk->ki', a, b)),
    Case('trace drawn', lambda x: np.trace(x), matrices.map(lambda ab: ab[:1]), torch=lambda x: x.trace()),
    Case('linalg.norm drawn', lambda x: np.linalg.norm(x, axis=-1), nonempty, 0.2, 2.0,
         torch=lambda x: torch.linalg.vector_norm(x, dim=-1)),
]
IDS = [c.name for c in CASES]
FLOAT64_BY_NUMPY = {'ndarray + Tensor', 'ndarray @ Tensor', 'float_power', 'average weights', 'average 1-D weights'}


def _inputs(case, data, dtype=np.float64):
    shapes_, seed = data.draw(case.shapes), data.draw(seeds())
    return [random_array(seed + i, s, case.low, case.high, case.avoid, dtype=dtype) for i, s in enumerate(shapes_)]


@pytest.mark.parametrize('case', CASES, ids=IDS)
@few
@given(data=st.data())
def test_values_are_numpys_and_the_result_records(case, data):
    arrays = _inputs(case, data)
    expected = case.fn(*arrays)
    tensors = [ag.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*tensors)
    assert isinstance(out, ag.Tensor) and out.requires_grad and out.op_name is not None
    assert out.dtype == np.asarray(expected).dtype and out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize('case', CASES, ids=IDS)
@few
@given(data=st.data())
def test_gradients_against_central_differences(case, data):
    tensors = [ag.Tensor(a, requires_grad=True) for a in _inputs(case, data)]
    assert ag.gradcheck(case.fn, tensors, atol=1e-6, rtol=1e-5)
    if case.twice:
        assert ag.gradgradcheck(case.fn, tensors, atol=1e-5, rtol=1e-4)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize('case', [c for c in CASES if c.torch is not None], ids=[c.name for c in CASES if c.torch])
@few
@given(data=st.data())
def test_gradients_against_pytorch_first_and_second_order(case, data):
    arrays = _inputs(case, data)
    tensors = [ag.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, tout = case.fn(*tensors), case.torch(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    rng = np.random.default_rng(0)
    upstream = rng.standard_normal(out.shape)
    grads = ag.grad(out, tensors, grad_outputs=upstream, create_graph=case.twice)
    tgrads = torch.autograd.grad(tout, theirs, torch.tensor(upstream), create_graph=case.twice)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    if case.twice:  # d<grads, U>/d inputs: the rules run on Tensors
        directions = [rng.standard_normal(a.shape) for a in arrays]
        objective = sum((g * u).sum() for g, u in zip(grads, directions))
        tobjective = sum((g * torch.tensor(u)).sum() for g, u in zip(tgrads, directions))
        # a gradient that does not depend on the inputs (add's) is a constant: no second order
        second = (ag.grad(objective, tensors, allow_unused=True) if objective.requires_grad
                  else [None] * len(arrays))
        tsecond = (torch.autograd.grad(tobjective, theirs, allow_unused=True) if tobjective.requires_grad
                   else [None] * len(arrays))
        for g, tg, a in zip(second, tsecond, arrays):
            g = np.zeros(a.shape) if g is None else g.data
            tg = np.zeros(a.shape) if tg is None else tg.numpy(force=True)
            np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_float32_stays_float32(case):
    arrays = [random_array(i, s, case.low, case.high, case.avoid, dtype=np.float32)
              for i, s in enumerate(_first_shapes(case))]
    expected = np.asarray(case.fn(*arrays))
    tensors = [ag.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*tensors)
    # NumPy's dtype: float32, unless a float64 constant takes part (np.linspace(...) + y) or the
    # function computes in float64 by definition (np.float_power)
    assert out.dtype == expected.dtype
    assert out.dtype == np.float32 or case.name in FLOAT64_BY_NUMPY
    out.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in tensors)


def _first_shapes(case):
    """A fixed, non-trivial choice of the case's input shapes."""
    found = []

    @settings(max_examples=1, derandomize=True, database=None)
    @given(case.shapes)
    def draw(s):
        found.append(s)
    draw()
    return found[0]


# -- the seed's code ------------------------------------------------------------------------------
def test_the_seeds_vectorised_network_records_with_only_the_weights_wrapped():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((130, 4)), rng.integers(0, 2, (130, 1)).astype(float)
    w1 = ag.Tensor(rng.random((4, 8)), requires_grad=True)
    w2 = ag.Tensor(rng.random((8, 1)), requires_grad=True)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    a1 = sigmoid(np.dot(X, w1))
    y_hat = sigmoid(np.dot(a1, w2))
    J = 0.5 * np.sum((y_hat - y) ** 2)
    J.backward()
    s1, s2 = sigmoid(X @ w1.data), sigmoid(sigmoid(X @ w1.data) @ w2.data)
    delta3 = (s2 - y) * s2 * (1 - s2)
    np.testing.assert_allclose(w2.grad, s1.T @ delta3, rtol=1e-12)
    np.testing.assert_allclose(w1.grad, X.T @ (delta3 @ w2.data.T * s1 * (1 - s1)), rtol=1e-12)


# -- nothing silently dropped -----------------------------------------------------------------------
def test_ndarray_dot_of_a_tensor_that_requires_grad_names_the_line_and_the_spelling_that_records():
    X = np.ones((5, 4))
    w1 = ag.Tensor(np.ones((4, 3)), requires_grad=True, name='w1')
    with pytest.raises(TypeError, match=r"(?s)NumPy tried to convert the Tensor 'w1' of shape \(4, 3\), "
                       r"which requires grad.*at .*test_numpy_api.py:\d+ in .*: z = X.dot\(w1\).*"
                       r"write np.dot\(X, w1\) or X @ w1, which record"):
        z = X.dot(w1)  # noqa: F841
    assert np.dot(X, w1).requires_grad and (X @ w1).requires_grad


def test_asarray_of_a_tensor_that_requires_grad_raises_and_names_detach():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"(?s)requires grad.*np.asarray\(w\).*use t.detach\(\).numpy\(\)"):
        np.asarray(w)
    assert np.asarray(w.detach()) is w.data and w.numpy() is w.data  # the explicit spellings
    assert np.asarray(ag.Tensor([1.0, 2.0])).tolist() == [1.0, 2.0]  # no grad: nothing to lose


def test_an_unsupported_function_names_itself():
    w = ag.Tensor(np.eye(2), requires_grad=True)
    with pytest.raises(TypeError, match=r"np.linalg.inv is not supported on Tensors that require grad"):
        np.linalg.inv(w)
    np.testing.assert_allclose(np.linalg.inv(w.detach()), np.eye(2))  # without grad: a plain result
    with pytest.raises(TypeError, match=r"np.diff is not supported on Tensors that require grad \(it has no "
                       r"gradient rule here\). Write x\[1:\] - x\[:-1\] \(along axis 0; slices record\)"):
        np.diff(w)
    # each suggestion records, as it says
    x = ag.Tensor([1.0, 4.0, np.nan, 2.0], requires_grad=True)
    assert np.isclose(np.sum(np.where(np.isnan(x.data), 0.0, x)).item(), np.nansum(x.data))
    assert np.allclose(np.exp(np.cumsum(np.log(x[:2]))).data, np.cumprod(x.data[:2]))
    assert (np.max(x[:2]) - np.min(x[:2])).requires_grad and (x[1:] - x[:-1]).requires_grad


def test_out_is_refused():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.exp: out= cannot be used with Tensors.*y = np.exp\(...\)"):
        np.exp(x, out=np.empty(2))
    X = np.zeros(2)
    with pytest.raises(TypeError, match=r"(?s)x \+= t with x an ndarray and t a Tensor would write the result "
                       r"into the ndarray x, cutting it from the graph; write x = x \+ t \(a Tensor\) instead"
                       r"\n  at .*test_numpy_api.py:\d+ in test_out_is_refused: X \+= x"):
        X += x
    with pytest.raises(TypeError, match=r"np.sum: out= is not supported on Tensors"):
        np.sum(x, out=np.empty(()))


def test_functions_without_a_gradient_give_constants():
    x = ag.Tensor([3.0, -1.0, 2.0], requires_grad=True)
    assert np.argmax(x) == 0 and np.isnan(x).tolist() == [False] * 3
    assert (np.zeros(3) > x).tolist() == [False, True, False]
    assert np.sign(x).tolist() == [1.0, -1.0, 1.0] and isinstance(np.sign(x), np.ndarray)


def test_format_and_round_like_numbers():
    loss = ag.Tensor(0.123456, requires_grad=True)
    assert f"{loss:.4f}" == '0.1235' and round(loss, 2) == 0.12
    with pytest.raises(TypeError, match=r"a tensor of shape \(2,\) has no single number to format"):
        f"{ag.Tensor([1.0, 2.0]):.2f}"


# -- every public NumPy function: records, a constant by design, or the clear error ----------------
def _numpy_public_functions():
    """NumPy's public functions that NumPy hands to a Tensor argument: its ufuncs and the
    functions dispatched through __array_function__ (np, np.linalg, np.fft)."""
    found = {}
    for prefix, module in (('np', np), ('np.linalg', np.linalg), ('np.fft', np.fft)):
        for name in dir(module):
            f = getattr(module, name)
            if not name.startswith('_') and (isinstance(f, np.ufunc) or hasattr(f, '_implementation')):
                found.setdefault(f, f'{prefix}.{name}')
    return found


# Argument patterns tried in turn until one is accepted (a function's own signature may refuse
# the first ones: np.tensordot(t) lacks b).
_PATTERNS = [lambda t: (t,), lambda t: (t, t), lambda t: (t, 1), lambda t: ([t, t],), lambda t: (t, 0, 1),
             lambda t: ('ij->i', t)]
_CLEAR = ('is not supported on Tensors', 'cannot be differentiated here')


def test_every_public_numpy_function_records_gives_a_constant_by_design_or_raises_the_clear_error():
    from autograd_lite import numpy_api
    by_design = numpy_api.CONSTANT_FUNCTIONS | numpy_api.CONSTANT_UFUNCS | {np.where}  # np.where(t): indices
    silent, unclear, counts = [], [], {'records': 0, 'constant': 0, 'clear error': 0}
    for f, name in _numpy_public_functions().items():
        errors = []
        for pattern in _PATTERNS:
            t = ag.Tensor(np.linspace(0.5, 0.9, 9).reshape(3, 3), requires_grad=True)
            try:
                with np.errstate(all='ignore'):
                    out = f(*pattern(t))
            except Exception as exc:  # noqa: BLE001  (a refusal of these arguments: try the next)
                if any(text in str(exc) for text in _CLEAR):
                    assert isinstance(exc, TypeError) and f.__name__ in str(exc), (name, exc)
                    counts['clear error'] += 1
                    break
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            if all(isinstance(o, ag.Tensor) and o.requires_grad for o in outs):
                counts['records'] += 1
            elif f in by_design:
                counts['constant'] += 1
            else:
                silent.append(name)
            break
        else:  # no pattern fitted the function's signature: nothing ran, nothing was dropped
            unclear.append((name, errors[-1][:80]))
    assert not silent, f"returned a plain value silently: {silent}"
    # the few whose signatures none of the patterns fit (np.put(t, 1) needs values, ...)
    assert len(unclear) <= 20, unclear
    assert counts['records'] >= 90 and counts['clear error'] >= 150 and counts['constant'] >= 40, counts


def test_ndarray_methods_that_convert_name_the_line():
    X, w = np.ones((2, 2)), ag.Tensor(np.ones(2), requires_grad=True, name='w')
    with pytest.raises(TypeError, match=r"(?s)Tensor 'w' of shape \(2,\), which requires grad.*: X\[0\] = w\n"):
        X[0] = w
    with pytest.raises(TypeError, match=r"(?s)requires grad.*np.array\(\[w, w\]\).*np.stack it first.*"
                       r"w.detach\(\).numpy\(\)"):
        np.array([w, w])
    with pytest.raises(TypeError, match=r"(?s)requires grad.*\n  at .*test_numpy_api.py:\d+ in .*: "
                       r"np.mean\(\[w, w\]\)\n"):
        # NumPy's own Python code converts it: the line named is still the user's
        np.mean([w, w])
    assert np.stack([w, w]).requires_grad  # the spelling that records


def test_the_clear_errors_of_supported_functions():
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"np.exp: dtype= cannot be differentiated here; call np.exp\(...\) "
                       r"without it \(for another dtype, convert the result with .astype\)"):
        np.exp(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np.exp: out= cannot be used with Tensors"):
        np.exp(np.ones(3), out=ag.Tensor(np.ones(3)))
    with pytest.raises(TypeError, match=r"np.add.at is not supported on Tensors that require grad"):
        np.add.at(x, [0], 1.0)
    with pytest.raises(TypeError, match=r"np.einsum: the index repeated in 'ii' \(a diagonal\) is not "
                       r"supported on Tensors; use np.diagonal or np.trace first"):
        np.einsum('ii->i', ag.Tensor(np.ones((2, 2)), requires_grad=True))
    with pytest.raises(TypeError, match=r"np.einsum: '...' is not supported on Tensors"):
        np.einsum('...j->j', x)
    with pytest.raises(TypeError, match=r"np.linalg.norm: ord='nuc' is not supported on Tensors \(it needs "
                       r"a singular value decomposition\)"):
        np.linalg.norm(x, 'nuc')
    with pytest.raises(TypeError, match=r"np.sum: dtype= is not supported on Tensors; call it without it"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np.reshape: order='F' is not supported on Tensors"):
        np.reshape(x, -1, order='F')
    with pytest.raises(ag.ShapeError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) are not aligned"):
        np.dot(x, x)


def test_without_grad_an_unsupported_function_gives_numpys_plain_result():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(np.diff(x), np.diff(x.data))
    np.testing.assert_array_equal(np.percentile(x, 50), 2.5)


def test_prod_at_zeros_is_exact():
    x = ag.Tensor([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]], requires_grad=True)
    np.prod(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])


def test_ufunc_reduce_axis_default_is_numpys():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert np.add.reduce(x).shape == (3,) and np.maximum.reduce(x, axis=1).tolist() == [2.0, 5.0]


# -- the method spellings ---------------------------------------------------------------------------
def test_ndarray_method_spellings_are_the_functions():
    a = np.random.default_rng(1).uniform(0.5, 2.0, (3, 4))
    t = ag.Tensor(a, requires_grad=True)
    for name, args in [('var', ()), ('std', (1,)), ('prod', (0,)), ('cumsum', (1,)), ('trace', ()),
                       ('diagonal', (1,)), ('ravel', ()), ('repeat', (2, 0)), ('take', ([0, 5],)), ('copy', ()),
                       ('dot', (a.T,))]:
        out = getattr(t, name)(*args)
        assert isinstance(out, ag.Tensor) and out.requires_grad, name
        np.testing.assert_allclose(out.data, getattr(a, name)(*args), rtol=1e-14, err_msg=name)
    assert t.argsort(0).tolist() == a.argsort(0).tolist() and t.round(1).tolist() == a.round(1).tolist()
    assert t.nonzero()[0].size == 12 and t.all() and t.any(axis=0).tolist() == [True] * 4


def test_pytorch_spellings():
    a = np.arange(6.0).reshape(2, 3)
    t = ag.Tensor(a, requires_grad=True)
    assert t.argmax() == 5 and t.argmin(dim=1).tolist() == [0, 0] and t.argmax(1, keepdim=True).shape == (2, 1)
    assert t.view(3, 2).shape == (3, 2) and t.view(-1).shape == (6,) and t.unsqueeze(1).shape == (2, 1, 3)
    assert t.t().shape == (3, 2) and t.clone().op_name == 'positive' and t.clone() is not t
    assert ag.Tensor(np.ones((2, 3, 4))).flatten(1).shape == (2, 12) and t.flatten().shape == (6,)
    assert t.sum(dim=0).tolist() == [3.0, 5.0, 7.0] and t.mean(dim=1, keepdim=True).shape == (2, 1)
    assert t.softmax(dim=0).shape == (2, 3) and ag.Tensor(np.ones((1, 3))).squeeze(dim=0).shape == (3,)
    values, indices = t.max(dim=1)  # PyTorch's (values, indices)
    assert values.requires_grad and values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2]
    assert t.min(dim=0).indices.tolist() == [0, 0, 0]
    # var/std with dim= take PyTorch's default correction=1; with axis=, NumPy's ddof=0
    np.testing.assert_allclose(t.var(dim=1).data, a.var(1, ddof=1))
    np.testing.assert_allclose(t.var(axis=1).data, a.var(1))
    np.testing.assert_allclose(t.std(dim=0, unbiased=False).data, a.std(0))
    with pytest.raises(TypeError, match=r"sum: give axis= \(NumPy's spelling\) or dim= \(PyTorch's\), not both"):
        t.sum(axis=0, dim=0)
    with pytest.raises(ValueError, match=r"t\(\): expects a tensor of at most 2 dimensions, got shape \(2, 3, 4\)"):
        ag.Tensor(np.ones((2, 3, 4))).t()


def test_pytorch_factories():
    ag.manual_seed(3)
    first = ag.randn(2, 3)
    ag.manual_seed(3)
    assert np.array_equal(ag.randn((2, 3)).data, first.data) and first.dtype == np.float64
    assert ag.zeros(2, 3).tolist() == [[0.0] * 3] * 2 and ag.ones((2,), requires_grad=True).requires_grad
    assert ag.arange(3).tolist() == [0, 1, 2] and ag.arange(0.0, 1.0, 0.5).tolist() == [0.0, 0.5]
    assert 0 <= ag.rand(4).data.min() and ag.rand(4).data.max() < 1
    with pytest.raises(TypeError, match=r"ag.zeros: sizes are non-negative ints, e.g. ag.zeros\(2, 3\); got \(2.5,\)"):
        ag.zeros(2.5)


def test_the_numpy_page_runs_as_written():
    import doctest
    import pathlib
    page = pathlib.Path(__file__).resolve().parent.parent / 'docs' / 'numpy.md'
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 15
