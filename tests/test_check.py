"""numerical_grad, gradcheck and gradgradcheck: they pass on correct rules and catch wrong ones."""
import re
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.tensor import _value

rng = np.random.default_rng(0)


def leaf(*shape, name=None, dtype=np.float64):
    return ag.Tensor(rng.normal(size=shape).astype(dtype), requires_grad=True, name=name)


# -- numerical_grad ---------------------------------------------------------------------------------
def test_numerical_grad_of_a_sum_of_squares_is_twice_x():
    x = leaf(3, 2)
    (gx,) = ag.numerical_grad(lambda x: (x * x).sum(), x)
    assert gx.shape == (3, 2) and gx.dtype == np.float64
    np.testing.assert_allclose(gx, 2 * x.data, atol=1e-8)


def test_numerical_grad_with_grad_output_is_a_vector_jacobian_product():
    x, w = leaf(4), ag.Tensor(rng.normal(size=(4, 3)))  # w is an array-like constant, still measured
    v = rng.normal(size=3)
    gx, gw = ag.numerical_grad(lambda x, w: ag.exp(x @ w), [x, w], grad_output=v)
    out = np.exp(x.data @ w.data)
    np.testing.assert_allclose(gx, w.data @ (out * v), rtol=1e-6)
    np.testing.assert_allclose(gw, np.outer(x.data, out * v), rtol=1e-6)


def test_numerical_grad_of_a_non_scalar_output_without_grad_output_differentiates_its_sum():
    x = leaf(5)
    (gx,) = ag.numerical_grad(lambda x: x * x, [x])
    np.testing.assert_allclose(gx, 2 * x.data, atol=1e-8)


def test_numerical_grad_gives_none_for_labels_and_leaves_inputs_untouched():
    x = leaf(2, 3)
    before = x.data.copy()
    labels = np.array([0, 2])
    gx, gl = ag.numerical_grad(lambda x, labels: x[np.arange(2), labels].sum(), (x, labels))
    assert gl is None
    np.testing.assert_allclose(gx, np.eye(3)[labels], atol=1e-8)
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_grad_output_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"grad_output has shape \(2,\) but fn's output has shape \(3,\)"):
        ag.numerical_grad(lambda x: x * 2, leaf(3), grad_output=np.ones(2))


# -- gradcheck passes on the engine's rules ----------------------------------------------------------
CORRECT = {
    'tanh of an affine map': (lambda x, w, b: ag.tanh(x @ w + b), [(5, 3), (3, 4), (4,)]),
    'sigmoid, broadcast mul': (lambda x, y: ag.sigmoid(x) * y, [(4, 1), (1, 3)]),
    'softmax rows': (lambda x: ag.softmax(x, axis=1), [(3, 5)]),
    'log_softmax': (lambda x: ag.log_softmax(x, axis=0), [(4, 2)]),
    'logsumexp': (lambda x: ag.logsumexp(x, axis=1), [(3, 4)]),
    'div and pow': (lambda x, y: (x / (y * y + 1)) ** 2, [(3,), (3,)]),
    'batched matmul': (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    'matrix-vector': (lambda a, v: a @ v, [(3, 4), (4,)]),
    'mean over an axis': (lambda x: x.mean(axis=0, keepdims=True) * x, [(3, 2)]),
    'indexing and concatenate': (lambda x, y: ag.concatenate([x[1:], y], axis=0), [(3, 2), (2, 2)]),
}


@pytest.mark.parametrize('case', sorted(CORRECT))
def test_gradcheck_passes_on_correct_rules(case):
    fn, shapes = CORRECT[case]
    assert ag.gradcheck(fn, [leaf(*s) for s in shapes]) is True


def test_gradcheck_checks_only_inputs_that_require_grad():
    x = ag.Tensor(rng.normal(size=(4, 3)))  # data: not checked, but passed to fn
    w = leaf(3, 2)
    assert ag.gradcheck(lambda x, w: ag.relu(x @ w + 0.1), [x, w])


def test_gradcheck_does_not_touch_the_users_tensors():
    w = leaf(2, 2)
    before = w.data.copy()
    ag.gradcheck(lambda w: (w * w).sum(), w)
    np.testing.assert_array_equal(w.data, before)
    assert w.grad is None


def test_gradcheck_refuses_when_nothing_requires_grad():
    with pytest.raises(ValueError, match="no input is a Tensor with requires_grad=True"):
        ag.gradcheck(lambda x: x * 2, ag.Tensor([1.0, 2.0]))


# -- gradcheck catches wrong rules -------------------------------------------------------------------
def _square_with_wrong_element(index, factor):
    """A test-only op x**2 whose rule is right except at one element, scaled by ``factor``."""
    def rule(g, ans, x):
        scale = np.ones(np.shape(_value(x)))
        scale[index] = factor
        return g * 2 * x * scale
    return ag.Primitive('bad_square', np.square, (rule,))


def test_gradcheck_names_the_input_the_worst_element_both_values_and_the_error():
    bad = _square_with_wrong_element((1, 2), 3.0)
    x, w = leaf(2, 2, name='x'), leaf(2, 3, name='W')
    with pytest.raises(ag.GradcheckError) as info:
        ag.gradcheck(lambda x, w: (x @ bad(w)).sum(), [x, w])
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    # the true gradient of sum(x @ w**2) with respect to w is 2 w * column sums of x
    true = 2 * w.data[1, 2] * x.data[:, 1].sum()
    assert "input 1 ('W', shape (2, 3), float64): 1 of 6 elements differ" in message
    assert "worst at index (1, 2)" in message
    engine = float(re.search(r"engine (\S+),", message).group(1))
    numeric = float(re.search(r"central differences (\S+),", message).group(1))
    assert engine == pytest.approx(3 * true, rel=1e-6)
    assert numeric == pytest.approx(true, rel=1e-6)
    assert f"error {abs(2 * true):.3g}" in message
    assert "input 0" not in message  # x's gradient is right and is not reported


def test_gradcheck_uses_a_random_upstream_gradient_for_non_scalar_outputs():
    # A rule that is right only for an all-ones upstream gradient: it ignores g.
    bad = ag.Primitive('ignores_g', lambda x: 3 * x, (lambda g, ans, x: 3 * np.ones(np.shape(g)),))
    x = leaf(4, name='x')
    assert ag.gradcheck(lambda x: bad(x).sum(), x)  # scalar output: upstream 1, the bug is invisible
    assert ag.gradcheck(lambda x: bad(x), x, raise_exception=False) is False


def test_gradcheck_catches_a_hook_that_scales_the_gradient():
    def fn(x):
        h = ag.tanh(x)
        h.register_hook(lambda g: g * 1.01)  # a 1% error: above rtol=1e-3
        return h * 2
    assert ag.gradcheck(fn, leaf(3, name='h'), raise_exception=False) is False
    with pytest.raises(ag.GradcheckError, match=r"input 0 \('h', shape \(3,\), float64\): 3 of 3"):
        ag.gradcheck(fn, leaf(3, name='h'))


def test_float32_inputs_warn_and_are_checked_in_float64():
    x = leaf(3, dtype=np.float32)
    with pytest.warns(ag.PrecisionWarning, match=r"input 0 \(shape \(3,\), float32\).*need float64") as rec:
        assert ag.gradcheck(lambda x: ag.exp(x) * x, x)
    assert issubclass(rec[0].category, UserWarning)
    assert rec[0].filename == __file__  # points at the caller, not at check.py
    assert x.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ag.gradcheck(lambda x: ag.exp(x) * x, leaf(3))  # float64: no warning


# -- second order ----------------------------------------------------------------------------------
@pytest.mark.parametrize('case', ['tanh of an affine map', 'sigmoid, broadcast mul', 'softmax rows',
                                  'logsumexp', 'div and pow', 'batched matmul'])
def test_gradgradcheck_passes_on_correct_rules(case):
    fn, shapes = CORRECT[case]
    assert ag.gradgradcheck(fn, [leaf(*s) for s in shapes]) is True


def test_gradgradcheck_catches_a_rule_that_is_right_only_at_first_order():
    # The rule reads x's plain array, so on Tensors (create_graph=True) it treats x as a
    # constant: first derivatives are right, second derivatives miss the 2 g term.
    square = ag.Primitive('square', np.square, (lambda g, ans, x: g * 2 * _value(x),))
    x = leaf(3, name='x')
    assert ag.gradcheck(lambda x: square(x) * x, x)
    with pytest.raises(ag.GradcheckError, match=r"gradgradcheck.*\n  input 0 \('x', shape \(3,\), float64\)"):
        ag.gradgradcheck(lambda x: square(x) * x, x)
    assert ag.gradgradcheck(lambda x: square(x) * x, x, raise_exception=False) is False


def test_numerical_grad_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    x, w = leaf(4, 3), leaf(3, 2)
    v = rng.normal(size=(4, 2))
    gx, gw = ag.numerical_grad(lambda x, w: ag.log_softmax(ag.tanh(x @ w), axis=1), [x, w], grad_output=v)
    tx = torch.tensor(x.data, requires_grad=True)
    tw = torch.tensor(w.data, requires_grad=True)
    torch.log_softmax(torch.tanh(tx @ tw), dim=1).backward(torch.tensor(v))
    np.testing.assert_allclose(gx, tx.grad.numpy(), atol=1e-7)
    np.testing.assert_allclose(gw, tw.grad.numpy(), atol=1e-7)
