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
    Case('ndarray + Tensor', lambda y: np.linspace(0.0, 1.0, 4) + y, st.just(((3, 4),)), torch=lambda y: y + torch.linspace(0, 1, 4, dtype=y.dtype)),
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
]
IDS = [c.name for c in CASES]


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
    # NumPy's dtype: float32 unless a float64 constant takes part (np.linspace(...) + y)
    assert out.dtype == expected.dtype and (case.name.startswith('ndarray') or out.dtype == np.float32)
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


def test_out_is_refused():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.exp: out= cannot be used with Tensors.*y = np.exp\(x\)"):
        np.exp(x, out=np.empty(2))
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
