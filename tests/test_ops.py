"""Every differentiable op: forward against NumPy, gradient against central differences.

Each gradient test is a vector-Jacobian product check: ``out.backward(G)`` with a random
upstream gradient G of the output's shape must give, in each leaf's ``.grad``, the
derivative of ``sum(G * f(x))`` measured by :func:`autograd_lite.numerical_grad`
(float64 central differences). Shapes and data are drawn by hypothesis (see strategies.py);
the data avoids the kinks of abs, relu, clip and max, whose tie rules have their own tests.
"""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import autograd_lite as ag
from strategies import (NAMED_PAIRS, axes, broadcastable_pair, matmul_pair, random_array, seeds,
                        shapes)


def check_vjp(f, *arrays_, seed=0, reference=None):
    """Check f's forward against ``reference`` (NumPy, optional) and its VJP against
    central differences, for every argument (each becomes a leaf that requires grad)."""
    leaves = [ag.Tensor(a, requires_grad=True) for a in arrays_]
    out = f(*leaves)
    assert isinstance(out, ag.Tensor) and out.requires_grad
    if reference is not None:
        expected = reference(*arrays_)
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    G = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(G)
    numeric = ag.numerical_grad(f, leaves, grad_output=G)
    for i, (x, n) in enumerate(zip(leaves, numeric)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad, n, rtol=1e-5, atol=1e-7, err_msg=f"input {i}")


def _sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


def _logsumexp_ref(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


POSITIVE = dict(low=0.2, high=3.0)
# name: (f, NumPy reference, keyword arguments for the data)
UNARY = {
    'neg': (lambda x: -x, np.negative, {}),
    'exp': (ag.exp, np.exp, {}),
    'log': (ag.log, np.log, POSITIVE),
    'sqrt': (ag.sqrt, np.sqrt, POSITIVE),
    'abs': (ag.abs, np.abs, dict(avoid=(0.0,))),
    'tanh': (ag.tanh, np.tanh, {}),
    'sigmoid': (ag.sigmoid, _sigmoid_ref, {}),
    'relu': (ag.relu, lambda x: np.maximum(x, 0), dict(avoid=(0.0,))),
    'clip': (lambda x: ag.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), dict(avoid=(-0.5, 0.7))),
    'clip min only': (lambda x: ag.clip(x, min=-0.5), lambda x: np.maximum(x, -0.5), dict(avoid=(-0.5,))),
    'clip max only': (lambda x: x.clip(max=0.7), lambda x: np.minimum(x, 0.7), dict(avoid=(0.7,))),
    'x ** 3': (lambda x: x ** 3, lambda x: x ** 3, {}),
    'x ** 0.5': (lambda x: x ** 0.5, np.sqrt, POSITIVE),
    'x ** -1.5': (lambda x: ag.pow(x, -1.5), lambda x: x ** -1.5, POSITIVE),
    '2 ** x': (lambda x: 2.0 ** x, lambda x: 2.0 ** x, {}),
    'maximum(x, 0.3)': (lambda x: ag.maximum(x, 0.3), lambda x: np.maximum(x, 0.3), dict(avoid=(0.3,))),
    'where(x > 0, x, -2x)': (lambda x: ag.where(x > 0, x, -2 * x), lambda x: np.where(x > 0, x, -2 * x),
                             dict(avoid=(0.0,))),
}


@pytest.mark.parametrize('name', UNARY)
@given(shape=shapes(), seed=seeds())
def test_unary_op_gradient(name, shape, seed):
    f, reference, data = UNARY[name]
    check_vjp(f, random_array(seed, shape, **data), seed=seed, reference=reference)


# name: (f, NumPy reference, data keywords for x, data keywords for y)
BINARY = {
    'add': (operator.add, np.add, {}, {}),
    'sub': (operator.sub, np.subtract, {}, {}),
    'mul': (operator.mul, np.multiply, {}, {}),
    'div': (operator.truediv, np.true_divide, {}, dict(avoid=(0.0,), margin=0.5)),
    'pow': (operator.pow, np.power, POSITIVE, {}),
    'ag.pow': (ag.pow, np.power, POSITIVE, {}),
    'maximum': (ag.maximum, np.maximum, {}, {}),
    'minimum': (ag.minimum, np.minimum, {}, {}),
}


@pytest.mark.parametrize('name', BINARY)
@given(pair=broadcastable_pair(), seed=seeds())
def test_binary_op_gradient_with_broadcasting(name, pair, seed):
    f, reference, data_x, data_y = BINARY[name]
    x = random_array(seed, pair[0], **data_x)
    y = random_array(seed + 1, pair[1], **data_y)
    check_vjp(f, x, y, seed=seed, reference=reference)


@pytest.mark.parametrize('pair', NAMED_PAIRS, ids=str)
def test_named_broadcasting_pairs_sum_gradients_back_to_each_shape(pair):
    # d/dx sum(G * (x * y)) = unbroadcast(G * y) to x's shape: checked by hand for the named pairs.
    x, y = random_array(1, pair[0]), random_array(2, pair[1])
    tx, ty = ag.Tensor(x, requires_grad=True), ag.Tensor(y, requires_grad=True)
    out = tx * ty
    G = random_array(3, out.shape)
    out.backward(G)
    full_x, full_y = np.broadcast_to(x, out.shape), np.broadcast_to(y, out.shape)

    def back_to(g, shape):  # sum the broadcast axes of g, written out differently from unbroadcast
        while g.ndim > len(shape):
            g = g.sum(axis=0)
        return np.sum(g, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)

    np.testing.assert_allclose(tx.grad, back_to(G * full_y, x.shape), rtol=1e-12)
    np.testing.assert_allclose(ty.grad, back_to(G * full_x, y.shape), rtol=1e-12)


@pytest.mark.parametrize('op', [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
                                operator.matmul], ids=lambda op: op.__name__)
@given(seed=seeds())
def test_ndarray_on_the_left_gives_a_tensor_and_its_gradient(op, seed):
    a = random_array(seed, (3, 3), **POSITIVE)  # positive: a valid base for **
    b = random_array(seed + 1, (3, 3), avoid=(0.0,), margin=0.5)
    result = op(a, ag.Tensor(b))
    assert type(result) is ag.Tensor and result.dtype == np.float64
    np.testing.assert_allclose(result.data, op(a, b))
    check_vjp(lambda t: op(a, t), b, seed=seed)


@given(shapes_=st.sampled_from([0, 1, 2]).flatmap(lambda i: st.permutations(
    [(3, 4), (1, 4), (3, 1)])), seed=seeds())
def test_where_gradient_with_a_broadcast_condition(shapes_, seed):
    cond_shape, x_shape, y_shape = shapes_
    cond = random_array(seed, cond_shape) > 0
    x, y = random_array(seed + 1, x_shape), random_array(seed + 2, y_shape)
    check_vjp(lambda x, y: ag.where(cond, x, y), x, y, seed=seed,
              reference=lambda x, y: np.where(cond, x, y))


@given(pair=matmul_pair(), seed=seeds())
def test_matmul_gradient_1d_2d_batched_and_broadcast_batches(pair, seed):
    a, b = random_array(seed, pair[0]), random_array(seed + 1, pair[1])
    check_vjp(operator.matmul, a, b, seed=seed, reference=np.matmul)
    check_vjp(ag.matmul, a, b, seed=seed)


@pytest.mark.parametrize('a_shape, b_shape', [((4,), (4,)), ((4,), (4, 3)), ((2, 4), (4,)), ((2, 3), (3, 5)),
                                              ((6, 2, 3), (6, 3, 5)), ((2, 1, 2, 3), (4, 3, 2)),
                                              ((3,), (2, 3, 4)), ((2, 5, 3), (3,))], ids=str)
def test_matmul_gradient_named_cases(a_shape, b_shape):
    check_vjp(operator.matmul, random_array(0, a_shape), random_array(1, b_shape), reference=np.matmul)


# -- reductions -------------------------------------------------------------------------------------------
REDUCTIONS = {
    'sum': (ag.sum, np.sum),
    'mean': (ag.mean, np.mean),
    'max': (ag.max, np.max),
    'min': (ag.min, np.min),
    'logsumexp': (ag.logsumexp, _logsumexp_ref),
}


@pytest.mark.parametrize('name', REDUCTIONS)
@given(data=st.data(), shape=shapes(), keepdims=st.booleans(), seed=seeds())
def test_reduction_gradient_over_any_axes(name, data, shape, keepdims, seed):
    f, reference = REDUCTIONS[name]
    axis = data.draw(axes(len(shape)), label='axis')
    # Continuous random data has no ties, so max and min are differentiable here.
    check_vjp(lambda x: f(x, axis=axis, keepdims=keepdims), random_array(seed, shape), seed=seed,
              reference=lambda x: reference(x, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize('name', REDUCTIONS)
def test_reduction_methods_match_the_functions(name):
    x = ag.Tensor(random_array(0, (2, 3, 4)), requires_grad=True)
    method = getattr(x, name)(axis=[0, 2], keepdims=True)  # a list of axes is taken as a tuple
    function = REDUCTIONS[name][0](x, axis=(0, 2), keepdims=True)
    assert method.op_name == function.op_name == name
    np.testing.assert_array_equal(method.data, function.data)


@pytest.mark.parametrize('f', [ag.softmax, ag.log_softmax], ids=['softmax', 'log_softmax'])
@given(data=st.data(), shape=shapes(min_dims=1), seed=seeds())
def test_softmax_family_gradient(f, data, shape, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label='axis')
    x = random_array(seed, shape, low=-5, high=5)

    def reference(x):
        lse = _logsumexp_ref(x, axis=axis, keepdims=True)
        return np.exp(x - lse) if f is ag.softmax else x - lse
    check_vjp(lambda t: f(t, axis=axis), x, seed=seed, reference=reference)


def test_softmax_and_log_softmax_default_to_the_last_axis():
    x = ag.Tensor(random_array(0, (2, 3)))
    np.testing.assert_allclose(ag.softmax(x).data.sum(axis=-1), 1.0)
    np.testing.assert_allclose(x.log_softmax().data, np.log(x.softmax().data))


# -- shape ops ---------------------------------------------------------------------------------------------
@given(shape=shapes(), seed=seeds(), data=st.data())
def test_reshape_gradient(shape, seed, data):
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(size,), (-1,), shape[::-1], shape + (1,), (1, size), (size, -1)]))
    x = random_array(seed, shape)
    check_vjp(lambda t: t.reshape(target), x, seed=seed, reference=lambda x: x.reshape(target))
    check_vjp(lambda t: ag.reshape(t, target), x, seed=seed)
    check_vjp(lambda t: t.reshape(*target), x, seed=seed)  # PyTorch's spelling: reshape(2, 3)
    check_vjp(lambda t: t.flatten(), x, seed=seed, reference=lambda x: x.reshape(-1))


@given(shape=shapes(), seed=seeds(), data=st.data())
def test_transpose_gradient(shape, seed, data):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    negative = tuple(p - len(shape) for p in perm)
    x = random_array(seed, shape)
    check_vjp(lambda t: ag.transpose(t, perm), x, seed=seed, reference=lambda x: np.transpose(x, perm))
    check_vjp(lambda t: t.transpose(negative), x, seed=seed, reference=lambda x: np.transpose(x, perm))
    check_vjp(lambda t: t.transpose(*perm), x, seed=seed, reference=lambda x: np.transpose(x, perm))
    check_vjp(lambda t: t.T, x, seed=seed, reference=lambda x: x.T)
    check_vjp(lambda t: t.transpose(), x, seed=seed, reference=np.transpose)


@given(shape=shapes(min_dims=1), seed=seeds(), data=st.data())
def test_swapaxes_gradient(shape, seed, data):
    n = len(shape)
    a1, a2 = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    check_vjp(lambda t: t.swapaxes(a1, a2), random_array(seed, shape), seed=seed,
              reference=lambda x: np.swapaxes(x, a1, a2))


@given(shape=shapes(min_side=1, max_side=2), seed=seeds(), data=st.data())
def test_squeeze_and_expand_dims_gradient(shape, seed, data):
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = data.draw(st.one_of(st.none(), st.sampled_from(ones)) if ones else st.none())
    new = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x = random_array(seed, shape)
    check_vjp(lambda t: ag.squeeze(t, axis), x, seed=seed, reference=lambda x: np.squeeze(x, axis))
    check_vjp(lambda t: t.squeeze(), x, seed=seed, reference=np.squeeze)
    check_vjp(lambda t: ag.expand_dims(t, new), x, seed=seed, reference=lambda x: np.expand_dims(x, new))
    check_vjp(lambda t: t.expand_dims(new), x, seed=seed)


@given(pair=broadcastable_pair(), seed=seeds())
def test_broadcast_to_gradient(pair, seed):
    target = np.broadcast_shapes(*pair)
    x = random_array(seed, pair[0])
    check_vjp(lambda t: ag.broadcast_to(t, target), x, seed=seed,
              reference=lambda x: np.broadcast_to(x, target))
    check_vjp(lambda t: t.broadcast_to(list(target)), x, seed=seed)


@given(shape=shapes(min_dims=1), seed=seeds(), data=st.data())
def test_concatenate_gradient(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label='axis')
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label='sizes')
    parts = []
    for k, size in enumerate(sizes):
        part_shape = list(shape)
        part_shape[axis] = size
        parts.append(random_array(seed + k, tuple(part_shape)))
    check_vjp(lambda *ts: ag.concatenate(ts, axis=axis), *parts, seed=seed,
              reference=lambda *xs: np.concatenate(xs, axis=axis))


@given(shape=shapes(), seed=seeds(), data=st.data())
def test_stack_gradient(shape, seed, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label='axis')
    count = data.draw(st.integers(1, 3), label='count')
    parts = [random_array(seed + k, shape) for k in range(count)]
    check_vjp(lambda *ts: ag.stack(list(ts), axis=axis), *parts, seed=seed,
              reference=lambda *xs: np.stack(xs, axis=axis))


def test_concatenate_and_stack_take_constants_beside_tensors():
    x = ag.Tensor(random_array(0, (2, 3)), requires_grad=True)
    out = ag.concatenate([x, np.ones((1, 3)), [[2.0, 2.0, 2.0]]], axis=0)
    assert out.shape == (4, 3)
    out.backward(np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(x.grad, np.arange(6.0).reshape(2, 3))
    s = ag.stack([np.zeros(3), x[0]], axis=1)
    assert s.shape == (3, 2) and s.requires_grad


# -- indexing ----------------------------------------------------------------------------------------------
_mask = random_array(7, (4, 5)) > 0
INDICES = {
    'int': 1,
    'negative int': -1,
    'slice': slice(1, 3),
    'reversed': slice(None, None, -1),
    'step in a later axis': (slice(None), slice(1, 5, 2)),
    'ellipsis': (Ellipsis, 0),
    'new axis': (None, 1),
    'int array with repeats': [0, 0, 2, 0],
    '2-D int array': np.array([[1, 1], [3, 0]]),
    'int array and slice': ([3, 3, 0], slice(1, None)),
    'int array in axis 1': (slice(None), [1, 1, 1, 4]),
    'paired int arrays': ([0, 0, 1], [2, 2, 2]),
    'full boolean mask': _mask,
    'boolean mask on axis 1': (slice(None), np.array([True, False, True, True, False])),
    'boolean list': [True, False, False, True],
    'int tensor': ag.Tensor(np.array([2, 2, 1])),
}


@pytest.mark.parametrize('name', INDICES)
@given(seed=seeds())
def test_getitem_gradient(name, seed):
    index = INDICES[name]
    plain = index.data if isinstance(index, ag.Tensor) else index
    check_vjp(lambda t: t[index], random_array(seed, (4, 5, 3)), seed=seed, reference=lambda x: x[plain])


def test_repeated_indices_accumulate():
    x = ag.Tensor(np.zeros(4), requires_grad=True)
    x[[0, 0, 0, 2]].backward(np.array([1.0, 10.0, 100.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [111.0, 0.0, 5.0, 0.0])


def test_astype_gradient_comes_back_in_the_input_dtype():
    x = ag.Tensor(random_array(0, (3,)), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.requires_grad and y.op_name == 'astype'
    G = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    y.backward(G)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, G)
    x32 = ag.Tensor(np.ones(2, np.float32), requires_grad=True)
    (x32.astype('float64') * 3).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_array_equal(x32.grad, [3.0, 3.0])


def test_astype_to_integers_leaves_the_graph():
    # Integer tensors cannot carry gradients (PyTorch's x.long() does the same).
    x = ag.Tensor([1.5, 2.5], requires_grad=True)
    labels = x.astype(np.int64)
    assert labels.dtype == np.int64 and not labels.requires_grad
    np.testing.assert_array_equal(labels.data, [1, 2])


# -- documented rules at the kinks --------------------------------------------------------------------------
def _grad_of(f, x, G=None):
    t = ag.Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = f(t)
    out.backward(None if G is None else np.asarray(G, dtype=np.float64))
    return t.grad


def test_max_and_min_ties_share_the_gradient_equally():
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    np.testing.assert_allclose(_grad_of(lambda t: t.max(axis=1), x, [6.0, 9.0]),
                               [[0, 3, 3], [3, 3, 3]])
    np.testing.assert_allclose(_grad_of(lambda t: t.max(axis=1, keepdims=True), x, [[6.0], [9.0]]),
                               [[0, 3, 3], [3, 3, 3]])
    np.testing.assert_allclose(_grad_of(lambda t: t.min(axis=0), x, [1.0, 2.0, 4.0]),
                               [[1, 0, 0], [0, 2, 4]])
    np.testing.assert_allclose(_grad_of(lambda t: t.max(), x), [[0, 0.5, 0.5], [0, 0, 0]])
    np.testing.assert_allclose(_grad_of(lambda t: ag.min(t, axis=(0, 1)), x), [[1, 0, 0], [0, 0, 0]])


def test_maximum_and_minimum_ties_give_half_to_each_input():
    x = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ag.Tensor([1.0, 5.0, 3.0], requires_grad=True)
    (ag.maximum(x, y) + 10 * ag.minimum(x, y)).backward(np.ones(3))
    np.testing.assert_allclose(x.grad, [5.5, 10.0, 5.5])
    np.testing.assert_allclose(y.grad, [5.5, 1.0, 5.5])


def test_relu_abs_and_clip_at_their_kinks():
    # relu'(0) = 0 and abs'(0) = 0 (the sign); clip passes the gradient at its bounds.
    np.testing.assert_array_equal(_grad_of(ag.relu, [-1.0, 0.0, 2.0], [1, 1, 1]), [0, 0, 1])
    np.testing.assert_array_equal(_grad_of(ag.abs, [-1.0, 0.0, 2.0], [1, 1, 1]), [-1, 0, 1])
    np.testing.assert_array_equal(_grad_of(lambda t: t.clip(-1, 1), [-2.0, -1.0, 1.0, 2.0], [1, 1, 1, 1]),
                                  [0, 1, 1, 0])


def test_pow_exponent_gradient_is_zero_where_the_base_is_not_positive():
    y = ag.Tensor([2.0, 2.0, 3.0], requires_grad=True)
    (ag.Tensor([0.0, -2.0, 2.0]) ** y).backward(np.ones(3))
    np.testing.assert_allclose(y.grad, [0.0, 0.0, 8 * np.log(2)])


# -- numerical stability ----------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_sigmoid_softmax_family_are_stable_at_plus_minus_1000(dtype):
    # Underflow to 0 (exp(-1000)) is the right answer; overflow, 0/0 and log(0) are not.
    with warnings.catch_warnings(), np.errstate(over='raise', divide='raise', invalid='raise'):
        warnings.simplefilter('error')
        x = ag.Tensor(np.array([[-1000.0, 0.0, 1000.0]], dtype=dtype), requires_grad=True)
        cases = {
            'sigmoid': (ag.sigmoid(x), [[0.0, 0.5, 1.0]]),
            'softmax': (ag.softmax(x, axis=1), [[0.0, 0.0, 1.0]]),
            'log_softmax': (x.log_softmax(axis=-1), [[-2000.0, -1000.0, 0.0]]),
            'logsumexp': (ag.logsumexp(x, axis=1), [1000.0]),
            'logsumexp of all': (x.logsumexp(), 1000.0),
        }
        for name, (out, expected) in cases.items():
            assert out.dtype == dtype, name
            np.testing.assert_allclose(out.data, expected, err_msg=name)
            out.backward(np.ones(out.shape, dtype=dtype))
            assert np.all(np.isfinite(x.grad)), name
            x.zero_grad()


# -- shape errors at the call -----------------------------------------------------------------------------
BROADCASTING_OPS = {
    'add': operator.add, 'sub': operator.sub, 'mul': operator.mul, 'div': operator.truediv,
    'pow': operator.pow, 'maximum': ag.maximum, 'minimum': ag.minimum,
}


@pytest.mark.parametrize('name', BROADCASTING_OPS)
def test_broadcasting_ops_name_the_op_and_both_shapes(name):
    x = ag.Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ag.ShapeError) as info:
        BROADCASTING_OPS[name](x, np.ones((2, 4)))
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.startswith(f"{name}: shapes (3, 4) and (2, 4) cannot be broadcast together")
    assert 'dimension -2 has sizes 2 and 3' in message


def test_where_with_three_clashing_shapes_explains_the_clash():
    x = ag.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ag.ShapeError, match=r"^where: shapes \(2,\) and \(3,\) and \(4,\) cannot be broadcast"):
        ag.where(np.ones(2, dtype=bool), x, np.ones(4))


def test_matmul_shape_error_message_is_exact():
    w = ag.Tensor(np.ones((4, 1)), requires_grad=True)
    with pytest.raises(ag.ShapeError) as info:
        w @ np.ones((8, 8))
    first_line = str(info.value).splitlines()[0]  # later lines point at the user's code
    assert first_line == "matmul: shapes (4, 1) and (8, 8) are not aligned: inner dimensions 1 and 8 differ"


@pytest.mark.parametrize('a, b, fragment', [
    ((3,), (4,), "shapes (3,) and (4,) are not aligned: inner dimensions 3 and 4 differ"),
    ((2, 3), (4,), "shapes (2, 3) and (4,) are not aligned: inner dimensions 3 and 4 differ"),
    ((2, 3, 4), (5, 4, 2), "shapes (2, 3, 4) and (5, 4, 2) have batch dimensions (2,) and (5,)"),
    ((), (3,), "shapes () and (3,): both operands must be at least 1-D"),
], ids=str)
def test_matmul_shape_errors(a, b, fragment):
    with pytest.raises(ag.ShapeError, match='^matmul: ' + __import__('re').escape(fragment)):
        ag.matmul(ag.Tensor(np.ones(a), requires_grad=True), np.ones(b))


@pytest.mark.parametrize('call, fragment', [
    (lambda x: x.reshape(5, 2), "reshape: cannot reshape a tensor of shape (3, 4) (12 elements) into shape (5, 2)"),
    (lambda x: x.broadcast_to((2, 4)), "broadcast_to: shapes (3, 4) and (2, 4) cannot be broadcast together"),
    (lambda x: ag.concatenate([x, np.ones((3, 5))], axis=0),
     "concatenate: shapes (3, 4) and (3, 5) cannot be joined along axis 0"),
    (lambda x: ag.stack([x, np.ones((4, 3))]), "stack: shapes (3, 4) and (4, 3) must all be equal"),
    (lambda x: x.sum(axis=2), "sum: axis 2 is out of bounds"),
], ids=['reshape', 'broadcast_to', 'concatenate', 'stack', 'sum'])
def test_shape_ops_name_the_op_and_shapes(call, fragment):
    x = ag.Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ag.ShapeError) as info:
        call(x)
    assert str(info.value).startswith(fragment)


def test_concatenate_with_axis_none_flattens_like_numpy():
    parts = [random_array(0, (2, 2)), random_array(1, (3,))]
    check_vjp(lambda a, b: ag.concatenate([a, b], axis=None), *parts,
              reference=lambda a, b: np.concatenate([a, b], axis=None))


@pytest.mark.parametrize('join', [ag.concatenate, ag.stack], ids=['concatenate', 'stack'])
def test_joining_nothing_says_so(join):
    name = 'concatenate' if join is ag.concatenate else 'stack'
    with pytest.raises(ValueError, match=f"^{name}: needs at least one tensor, got none"):
        join([])
    x = ag.Tensor(np.ones(2), requires_grad=True)
    assert join(t for t in [x, x]).shape == ((4,) if name == 'concatenate' else (2, 2))  # any iterable
