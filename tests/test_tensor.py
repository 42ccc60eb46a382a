"""Tensor: construction rules, attributes, the Python protocol and operators."""
import operator

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import Tensor


# -- construction ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('data, shape', [(3, ()), (2.5, ()), (True, ()), ([1, 2, 3], (3,)),
                                         ([[1, 2], [3, 4]], (2, 2)), ((1.0, 2), (2,)), ([], (0,))], ids=str)
def test_python_numbers_and_lists_become_float64(data, shape):
    t = Tensor(data)
    assert t.dtype == np.float64 and t.shape == shape
    np.testing.assert_array_equal(t.data, np.array(data, dtype=np.float64))


def test_float32_stays_float32_and_float64_arrays_are_shared():
    a32 = np.ones((2, 3), dtype=np.float32)
    assert Tensor(a32).dtype == np.float32
    assert Tensor(np.float32(1.5)).dtype == np.float32
    assert Tensor(a32, requires_grad=True).requires_grad
    a64 = np.zeros(3)
    assert Tensor(a64).data is a64  # no copy
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize('data', [np.array([1, 2, 3]), np.array([True, False]), np.arange(4, dtype=np.uint8),
                                  np.int64(3)], ids=str)
def test_integer_and_bool_data_are_allowed_without_gradients(data):
    t = Tensor(data)
    assert t.dtype == np.asarray(data).dtype and not t.requires_grad
    with pytest.raises(TypeError, match=f"requires_grad=True needs floating-point data, got {t.dtype}"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match='floating-point'):
        t.requires_grad = True


@pytest.mark.parametrize('data, named', [
    ('abc', "str 'abc'"),
    (b'abc', "bytes b'abc'"),
    (None, 'NoneType None'),
    (object(), 'object <object object'),
    ({'a': 1}, "dict {'a': 1}"),
    ([[1.0, 2.0], [3.0]], 'list [[1.0, 2.0], [3.0]]'),
    (['a', 'b'], "list ['a', 'b']"),
], ids=['str', 'bytes', 'None', 'object', 'dict', 'ragged', 'list of str'])
def test_non_numeric_data_is_a_type_error_naming_what_was_given(data, named):
    with pytest.raises(TypeError) as info:
        Tensor(data)
    assert str(info.value).startswith(f"Tensor: cannot make a tensor from {named}")


@pytest.mark.parametrize('array', [np.array(['a', 'b']), np.array([object()]), np.array([1 + 2j])],
                         ids=['unicode', 'object', 'complex'])
def test_non_numeric_arrays_are_a_type_error_naming_the_dtype(array):
    with pytest.raises(TypeError, match=f"data of dtype {array.dtype} is not numeric"):
        Tensor(array)


def test_a_tensor_from_a_tensor_is_a_new_leaf_sharing_data():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = Tensor(y)
    assert z.is_leaf and not z.requires_grad and z.data is y.data
    assert ag.tensor([1, 2], requires_grad=True, name='w').name == 'w'


# -- attributes ----------------------------------------------------------------------------------------
def test_attributes():
    a = np.arange(6.0).reshape(2, 3)
    t = Tensor(a, requires_grad=True)
    assert (t.shape, t.ndim, t.dtype, t.size, len(t)) == ((2, 3), 2, np.float64, 6, 2)
    assert t.numpy() is a and np.asarray(t.detach()) is a  # np.asarray(t) raises: see test_numpy_api
    assert np.asarray(t.detach(), dtype=np.float32).dtype == np.float32
    assert np.array(t.detach(), copy=True) is not a
    assert t.grad is None and t.is_leaf and t.requires_grad and t.op_name is None
    assert Tensor(4.0).item() == 4.0 and isinstance(Tensor(4.0).item(), float)
    assert float(Tensor(2.5)) == 2.5 and int(Tensor(3.0)) == 3
    assert t.tolist() == a.tolist()
    assert [r.tolist() for r in t] == a.tolist()  # iteration gives the rows
    with pytest.raises(TypeError, match='0-d'):
        len(Tensor(1.0))


def test_grad_is_none_until_backward_then_an_array_of_the_same_shape_and_dtype():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    assert x.grad is None
    (x * 3).sum().backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == (2, 2) and x.grad.dtype == np.float32
    s = Tensor(2.0, requires_grad=True)  # a 0-d leaf gets a 0-d array, not a NumPy scalar
    (s * s).backward()
    assert isinstance(s.grad, np.ndarray) and s.grad.shape == () and s.grad == 4.0


def test_detach_shares_data_and_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.is_leaf and d.op_name is None
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])  # no gradient flowed through d


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf():
    y = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match='detach'):
        y.requires_grad = False
    x = Tensor([1.0]).requires_grad_()
    assert x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad


def test_repr():
    w = Tensor([[1.0, 2.0]], requires_grad=True)
    out = w @ Tensor([[3.0], [4.0]])
    assert repr(out) == "Tensor([[11.]], requires_grad=True, op=matmul)"
    assert repr(w) == "Tensor([[1., 2.]], requires_grad=True)"
    assert repr(Tensor([1, 2])) == "Tensor([1., 2.])"
    assert repr(Tensor(np.array([1, 2]))) == "Tensor([1, 2], dtype=int64)"
    assert repr(Tensor(np.zeros(2, np.float32), name='b')) == "Tensor([0., 0.], dtype=float32, name='b')"
    multi = repr(Tensor(np.zeros((2, 2))))
    assert multi == "Tensor([[0., 0.],\n        [0., 0.]])"  # rows aligned under the first


def test_tensors_are_hashable_by_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    assert hash(a) != hash(b)
    seen = {a: 'a', b: 'b'}
    assert seen[a] == 'a' and seen[b] == 'b' and len({a, b, a}) == 2


# -- operators ----------------------------------------------------------------------------------------------
ARITHMETIC = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize('op', ARITHMETIC, ids=lambda op: op.__name__)
@pytest.mark.parametrize('other', [2, 2.5, np.float32(2.0), [1.0, 2.0, 3.0], np.array([1.0, 2.0, 3.0])],
                         ids=['int', 'float', 'np.float32', 'list', 'ndarray'])
def test_operators_with_numbers_lists_and_arrays_on_either_side(op, other):
    x = np.array([0.5, 1.5, 2.5])
    t = Tensor(x, requires_grad=True)
    for result, expected in [(op(t, other), op(x, np.asarray(other))), (op(other, t), op(np.asarray(other), x))]:
        assert type(result) is Tensor and result.requires_grad
        np.testing.assert_allclose(result.data, expected)


def test_matmul_with_an_ndarray_or_list_on_either_side():
    m = np.arange(6.0).reshape(2, 3)
    t = Tensor(np.ones((3, 2)), requires_grad=True)
    left, right = m @ t, t @ m
    assert type(left) is Tensor and type(right) is Tensor
    np.testing.assert_array_equal(left.data, m @ np.ones((3, 2)))
    np.testing.assert_array_equal(right.data, np.ones((3, 2)) @ m)
    np.testing.assert_array_equal((t @ [1.0, 1.0]).data, [2.0, 2.0, 2.0])


def test_unary_minus_plus_and_float32_arithmetic_keep_dtype():
    x = Tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    assert (-x).op_name == 'neg' and (+x) is x
    for y in (x * 2.0, 2 + x, x / 3, x ** 2, np.float32(1) - x):
        assert y.dtype == np.float32


@pytest.mark.parametrize('op', [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge],
                         ids=lambda op: op.__name__)
def test_comparisons_give_plain_boolean_arrays(op):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    other = np.array([2.0, 2.0, 2.0])
    for result, expected in [(op(x, 2.0), op(x.data, 2.0)), (op(x, Tensor(other)), op(x.data, other)),
                             (op(other, x), op(other, x.data))]:
        assert type(result) is np.ndarray and result.dtype == bool
        np.testing.assert_array_equal(result, expected)


METHODS = ['exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'softmax', 'log_softmax', 'sum', 'mean',
           'max', 'min', 'logsumexp', 'squeeze']


@pytest.mark.parametrize('name', METHODS)
def test_methods_are_the_functions(name):
    x = Tensor(np.random.default_rng(0).uniform(0.5, 2.0, size=(2, 3)), requires_grad=True)
    by_method, by_function = getattr(x, name)(), getattr(ag, name)(x)
    assert by_method.op_name == by_function.op_name
    np.testing.assert_array_equal(by_method.data, by_function.data)


def test_the_module_functions_accept_plain_data():
    # ag.exp(list) etc. treat non-Tensors as constants and still return a Tensor without a graph.
    out = ag.exp([0.0, 1.0])
    assert type(out) is Tensor and not out.requires_grad and out.op_name is None
    np.testing.assert_allclose(out.data, np.exp([0.0, 1.0]))
    with pytest.raises(TypeError, match="exp: expected a Tensor, number or array, got str"):
        ag.exp('1.0')
