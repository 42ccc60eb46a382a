"""nn.functional: every loss against its formula, finite differences and PyTorch; the
shape and label checks that catch the usual mistakes before NumPy broadcasts them away."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.nn import functional as F

TIGHT = dict(atol=1e-8, rtol=1e-6)
REDUCTIONS = ['mean', 'sum', 'none']


def _rng(seed=0):
    return np.random.default_rng(seed)


def _scores(n=6, c=4, seed=0, scale=2.0):
    return ag.Tensor(_rng(seed).normal(scale=scale, size=(n, c)), requires_grad=True)


def _log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _reduced(losses, reduction):
    return {'mean': losses.mean(), 'sum': losses.sum(), 'none': losses}[reduction]


# -- linear --------------------------------------------------------------------------------------
LINEAR_SHAPES = [((4,), (4, 3)), ((5, 4), (4, 3)), ((2, 5, 4), (4, 3)), ((1, 1), (1, 1))]


@pytest.mark.parametrize('x_shape, w_shape', LINEAR_SHAPES)
def test_linear_is_matmul_plus_bias_bit_for_bit_with_the_same_gradients(x_shape, w_shape):
    rng = _rng(1)
    x, w, b = (ag.Tensor(rng.normal(size=s), requires_grad=True) for s in (x_shape, w_shape, w_shape[1:]))
    fused = F.linear(x, w, b)
    assert fused.op_name == 'linear' and fused.shape == x_shape[:-1] + w_shape[1:]
    upstream = rng.normal(size=fused.shape)
    fused.backward(upstream)
    grads = [t.grad for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    two_ops = x @ w + b
    two_ops.backward(upstream)
    np.testing.assert_array_equal(fused.data, two_ops.data)
    for g, t in zip(grads, (x, w, b)):
        if len(x_shape) <= 2:
            np.testing.assert_array_equal(g, t.grad)
        else:  # the weight's gradient sums over the batch in another order: equal to rounding
            np.testing.assert_allclose(g, t.grad, rtol=1e-14, atol=1e-15)
    assert ag.gradcheck(F.linear, [x, w, b], **TIGHT)
    assert ag.gradgradcheck(lambda x, w, b: F.linear(x, w, b) ** 2, [x, w, b], **TIGHT)


def test_linear_without_bias_is_a_matmul_and_promotes_dtypes_as_numpy():
    x = ag.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = ag.Tensor(np.ones((3, 4)), requires_grad=True)
    assert F.linear(x, w).op_name == 'matmul'
    b32 = ag.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    out = F.linear(x, w, b32)  # float32 @ float64 + float32: float64, as x @ w + b gives
    assert out.dtype == np.float64 and out.dtype == (x @ w + b32).dtype
    column_bias = ag.Tensor(np.ones((2, 1)), requires_grad=True)  # broadcasts over the columns
    out = F.linear(x, w, column_bias)
    out.sum().backward()
    np.testing.assert_array_equal(column_bias.grad, [[4.0], [4.0]])


def test_linear_takes_arrays_and_lists_as_constants():
    # all three Tensors take the short call; anything else the general path, which converts it
    w = ag.Tensor(_rng(3).normal(size=(3, 2)), requires_grad=True)
    x = _rng(4).normal(size=(4, 3))
    out = F.linear(x, w, [0.5, -0.5])
    np.testing.assert_array_equal(out.data, x @ w.data + np.array([0.5, -0.5]))
    assert out.op_name == 'linear' and isinstance(out._inputs[2], np.ndarray)
    out.sum().backward()
    np.testing.assert_allclose(w.grad, x.T @ np.ones((4, 2)))


def test_linear_matches_pytorch_with_the_weight_transposed():
    torch = pytest.importorskip('torch')
    rng = _rng(2)
    x0, w0, b0 = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    x, w, b = (ag.Tensor(a, requires_grad=True) for a in (x0, w0, b0))
    (F.linear(x, w, b) ** 2).sum().backward()
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x0, w0.T.copy(), b0))
    (torch.nn.functional.linear(xt, wt, bt) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, wt.grad.numpy().T, rtol=1e-12)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize('x_shape, w_shape, b_shape, message', [
    ((5, 3), (4, 3), (3,), r"^linear: input of shape \(5, 3\) does not fit weight of shape \(4, 3\): the input's "
                           r"last dimension must be in_features = 4; a weight of shape \(3, 4\) would fit: is it transposed"),
    ((5, 2), (4, 3), (3,), r"^linear: input of shape \(5, 2\) does not fit weight of shape \(4, 3\): the input's "
                           r"last dimension must be in_features = 4\n"),
    ((5, 4), (4,), (3,), r"^linear: weight must be 2-D, \(in_features, out_features\), got shape \(4,\)"),
    ((5, 4), (4, 3), (4,), r"^linear: bias of shape \(4,\) does not broadcast to the output's shape \(5, 3\); "
                           r"give it shape \(3,\)"),
])
def test_linear_says_which_operand_does_not_fit(x_shape, w_shape, b_shape, message):
    x, w, b = (ag.Tensor(np.ones(s)) for s in (x_shape, w_shape, b_shape))
    with pytest.raises(ag.ShapeError, match=message):
        F.linear(x, w, b)


# -- cross-entropy ------------------------------------------------------------------------------
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_cross_entropy_with_labels_matches_the_formula_and_finite_differences(reduction):
    x = _scores()
    y = np.array([0, 3, 1, 1, 2, 0])
    expected = -_log_softmax(x.data)[np.arange(6), y]
    np.testing.assert_allclose(F.cross_entropy(x, y, reduction).data, _reduced(expected, reduction), rtol=1e-13)
    assert ag.gradcheck(lambda x: F.cross_entropy(x, y, reduction), [x], **TIGHT)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = _scores()
    y = np.array([0, 3, 1, 1, 2, 0])
    F.cross_entropy(x, y).backward()
    p = np.exp(_log_softmax(x.data))
    np.testing.assert_allclose(x.grad, (p - np.eye(4)[y]) / 6, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('c', [1, 2, 3, 5, 9])
@pytest.mark.parametrize('order', ['C', 'F'])
@pytest.mark.parametrize('label_dtype', [np.int64, np.uint8, np.uint64])
def test_cross_entropy_any_class_count_layout_and_label_dtype(c, order, label_dtype):
    # Few classes take per-column reductions and C-ordered scores a flat gather/scatter;
    # unsigned labels must still index (uint64 + int64 would be float64 in NumPy).
    data = np.asarray(_rng(c).normal(scale=3.0, size=(7, c)), order=order)
    y = _rng(c + 1).integers(0, c, 7).astype(label_dtype)
    x = ag.Tensor(data, requires_grad=True)
    F.cross_entropy(x, y, 'sum').backward()
    logp = _log_softmax(data)
    rows = np.arange(7)
    np.testing.assert_allclose(F.cross_entropy(x, y, 'none').data, -logp[rows, y], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(x.grad, np.exp(logp) - np.eye(c)[y], rtol=1e-12, atol=1e-15)


def test_cross_entropy_gradient_is_right_whichever_forward_ran_last():
    # The backward reuses the softmax of the latest forward when it is its own; any other
    # order (interleaved forwards, a second backward) must recompute it.
    x1, x2 = _scores(seed=1), _scores(seed=2)
    y = np.array([0, 3, 1, 1, 2, 0])
    expected = {}
    for x in (x1, x2):
        F.cross_entropy(x, y, 'sum').backward()
        expected[x] = x.grad
        x.grad = None
    first, second = F.cross_entropy(x1, y, 'sum'), F.cross_entropy(x2, y, 'sum')
    first.backward(retain_graph=True)
    second.backward()
    first.backward()  # a second pass through the same graph
    np.testing.assert_allclose(x1.grad, 2 * expected[x1], rtol=1e-14)
    np.testing.assert_allclose(x2.grad, expected[x2], rtol=1e-14)


def test_cross_entropy_saves_its_softmax_on_its_node_only_while_it_is_needed():
    x, y = _scores(seed=3), np.array([0, 1, 2, 3, 0, 1])
    with ag.no_grad():
        assert F.cross_entropy(x, y)._op is None  # no node: nothing kept
    loss = F.cross_entropy(x, y)
    assert loss.op_name == 'cross_entropy'
    e, total = loss._saved
    np.testing.assert_allclose(e / total[:, None], ag.softmax(x, axis=1).data, rtol=1e-15)
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()  # the saved arrays were not changed by the first backward
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)
    assert loss._saved is None  # released with the graph


def test_cross_entropy_second_derivative():
    x = _scores(n=3, c=3)
    y = np.array([2, 0, 1])
    assert ag.gradgradcheck(lambda x: F.cross_entropy(x, y), [x], **TIGHT)


def test_cross_entropy_is_stable_for_huge_scores():
    x = ag.Tensor(np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 0.0]]), requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 1]))
    loss.backward()
    assert np.isfinite(loss.data) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(loss.data, 500.0)  # (1000 + 0) / 2
    np.testing.assert_allclose(x.grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize('kind', ['one_hot', 'probabilities'])
def test_cross_entropy_with_target_distributions(kind):
    x = _scores()
    y = np.array([0, 3, 1, 1, 2, 0])
    if kind == 'one_hot':
        t = np.eye(4)[y]
        np.testing.assert_allclose(F.cross_entropy(x, t).data, F.cross_entropy(x, y).data, rtol=1e-13)
    else:
        t = ag.Tensor(np.exp(_log_softmax(_rng(5).normal(size=(6, 4)))), requires_grad=True)
        expected = -(_log_softmax(x.data) * t.data).sum(axis=1).mean()
        np.testing.assert_allclose(F.cross_entropy(x, t).data, expected, rtol=1e-13)
        # differentiable in the target as well as the scores
        assert ag.gradcheck(lambda x, t: F.cross_entropy(x, t, 'sum'), [x, t], **TIGHT)


def test_cross_entropy_integer_one_hot_targets_are_accepted():
    x = _scores(n=3, c=3)
    onehot = np.eye(3, dtype=int)[[2, 0, 1]]
    np.testing.assert_allclose(F.cross_entropy(x, onehot).data, F.cross_entropy(x, np.array([2, 0, 1])).data)


def test_cross_entropy_accepts_labels_as_tensor_or_list():
    x = _scores(n=3, c=3)
    ref = F.cross_entropy(x, np.array([2, 0, 1])).data
    np.testing.assert_allclose(F.cross_entropy(x, ag.Tensor(np.array([2, 0, 1]))).data, ref)
    np.testing.assert_allclose(F.cross_entropy(x, [2, 0, 1]).data, ref)


def test_cross_entropy_labels_column_vector_is_a_shape_error():
    x = _scores(n=130, c=3)
    with pytest.raises(ag.ShapeError, match=r"input has shape \(130, 3\) but labels have shape \(130, 1\).*"
                                            r"labels.reshape\(-1\)"):
        F.cross_entropy(x, np.zeros((130, 1), dtype=int))
    with pytest.raises(ValueError, match=r"integer labels must have shape \(130,\)"):
        F.cross_entropy(x, np.zeros(20, dtype=int))


def test_cross_entropy_label_errors():
    x = _scores(n=4, c=3)
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 3\) for 3 classes, "
                                         r"got values from 1 to 3 \(labels counted from 1\? subtract 1\)"):
        F.cross_entropy(x, np.array([1, 2, 3, 3]))
    with pytest.raises(ValueError, match=r"got values from -1 to 2"):
        F.cross_entropy(x, np.array([-1, 0, 1, 2]))
    with pytest.raises(TypeError, match=r"class labels must be integers, got float64 labels of shape \(4,\); "
                                        r"use labels.astype\(int\)"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="dtype bool"):
        F.cross_entropy(x, np.array([True, False, True, False]))
    with pytest.raises(ag.ShapeError, match=r"scores of shape \(N, C\), got shape \(3,\).*reshape\(1, -1\)"):
        F.cross_entropy(ag.Tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match=r"reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), reduction='avg')


def test_cross_entropy_warns_when_given_probabilities():
    x = _scores(n=2, c=3)
    with pytest.warns(UserWarning, match="output of softmax.*raw scores"):
        F.cross_entropy(ag.softmax(x, axis=1), np.array([0, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        F.cross_entropy(x, np.array([0, 1]))


def test_nll_loss_of_log_softmax_is_cross_entropy():
    x = _scores()
    y = np.array([0, 3, 1, 1, 2, 0])
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(F.nll_loss(ag.log_softmax(x, axis=1), y, reduction).data,
                                   F.cross_entropy(x, y, reduction).data, rtol=1e-13)
    assert ag.gradcheck(lambda x: F.nll_loss(x, y), [x], **TIGHT)


# -- binary cross-entropy ---------------------------------------------------------------------------
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_binary_cross_entropy_formula_and_gradients(reduction):
    p = ag.Tensor(_rng(1).uniform(0.05, 0.95, size=(5, 2)), requires_grad=True)
    y = ag.Tensor(_rng(2).uniform(0, 1, size=(5, 2)), requires_grad=True)
    expected = -(y.data * np.log(p.data) + (1 - y.data) * np.log(1 - p.data))
    np.testing.assert_allclose(F.binary_cross_entropy(p, y, reduction).data, _reduced(expected, reduction),
                               rtol=1e-13)
    assert ag.gradcheck(lambda p, y: F.binary_cross_entropy(p, y, reduction), [p, y], **TIGHT)


def test_binary_cross_entropy_clips_exact_zeros_and_ones():
    p = ag.Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction='none')
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(loss.data, [-np.log(eps), -np.log(eps), np.log(2)], rtol=1e-12)


def test_binary_cross_entropy_rejects_values_outside_0_1():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got values from -0.5 to 2.*with_logits"):
        F.binary_cross_entropy(ag.Tensor(np.array([-0.5, 2.0])), np.array([0.0, 1.0]))


@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_bce_with_logits_equals_bce_of_sigmoid_and_checks_gradients(reduction):
    x = ag.Tensor(_rng(3).normal(scale=3, size=(4, 3)), requires_grad=True)
    y = ag.Tensor(_rng(4).uniform(0, 1, size=(4, 3)), requires_grad=True)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction).data,
                               F.binary_cross_entropy(ag.sigmoid(x.detach()), y.detach(), reduction).data,
                               rtol=1e-12)
    assert ag.gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction), [x, y], **TIGHT)


def test_bce_with_logits_is_exact_for_huge_scores_and_has_a_second_derivative():
    x = ag.Tensor(np.array([800.0, -800.0, 40.0, -40.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction='none')
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 40.0 + np.log1p(np.exp(-40.0)), 40.0 + np.log1p(np.exp(-40.0))],
                               rtol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -1.0], atol=1e-15)
    small = ag.Tensor(_rng(5).normal(size=4), requires_grad=True)
    assert ag.gradgradcheck(lambda x: F.binary_cross_entropy_with_logits(x, y), [small], **TIGHT)


def test_bce_with_logits_warns_when_given_a_sigmoid_output():
    x = ag.Tensor(np.zeros(3), requires_grad=True)
    with pytest.warns(UserWarning, match="output of sigmoid"):
        F.binary_cross_entropy_with_logits(ag.sigmoid(x), np.ones(3))


# -- squared error --------------------------------------------------------------------------------
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_mse_loss_formula_and_gradients(reduction):
    x = ag.Tensor(_rng(6).normal(size=(5, 2)), requires_grad=True)
    y = ag.Tensor(_rng(7).normal(size=(5, 2)), requires_grad=True)
    np.testing.assert_allclose(F.mse_loss(x, y, reduction).data, _reduced((x.data - y.data) ** 2, reduction),
                               rtol=1e-13)
    assert ag.gradcheck(lambda x, y: F.mse_loss(x, y, reduction), [x, y], **TIGHT)
    assert ag.gradgradcheck(lambda x, y: F.mse_loss(x, y, reduction), [x, y], **TIGHT)


def test_half_sum_of_squares_convention():
    x = ag.Tensor(_rng(8).normal(size=(4, 1)), requires_grad=True)
    y = _rng(9).normal(size=(4, 1))
    (0.5 * F.mse_loss(x, y, 'sum')).backward()
    np.testing.assert_allclose(x.grad, x.data - y, rtol=1e-13)


# -- the shape trap ----------------------------------------------------------------------------------
@pytest.mark.parametrize('loss', [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_column_against_flat_target_is_a_shape_error_naming_both_shapes(loss):
    pred = ag.Tensor(np.full((130, 1), 0.5), requires_grad=True)
    target = np.ones(130)
    with pytest.raises(ag.ShapeError, match=(rf"{loss.__name__}: input has shape \(130, 1\) but target has shape "
                                             r"\(130,\); they must be equal\. NumPy would broadcast them to "
                                             r"\(130, 130\).*Reshape one to match the other, e\.g\. "
                                             r"target\.reshape\(130, 1\)")):
        loss(pred, target)
    with pytest.raises(ValueError, match=r"input has shape \(130, 1\) but target has shape \(20, 1\); "
                                         r"they must be equal$"):
        loss(pred, np.ones((20, 1)))


def test_shape_error_is_raised_before_any_graph_is_built():
    pred = ag.Tensor(np.zeros((3, 1)), requires_grad=True)
    with pytest.raises(ValueError):
        F.mse_loss(pred, np.zeros(3))
    assert pred.grad is None


# -- one_hot ----------------------------------------------------------------------------------------
def test_one_hot():
    np.testing.assert_array_equal(F.one_hot(np.array([0, 2, 1]), 3).data, np.eye(3)[[0, 2, 1]])
    assert F.one_hot(np.array([[1], [3]])).shape == (2, 1, 4)  # num_classes = max + 1
    assert F.one_hot([1, 0], 2, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\) for 3 classes, got values from 0 to 5"):
        F.one_hot(np.array([0, 5]), 3)
    with pytest.raises(TypeError, match="class labels must be integers"):
        F.one_hot(np.array([0.5]), 3)


# -- against PyTorch --------------------------------------------------------------------------------
@pytest.mark.parametrize('reduction', REDUCTIONS)
def test_losses_match_pytorch(reduction):
    torch = pytest.importorskip('torch')
    tf = torch.nn.functional
    rng = _rng(11)
    x_np, labels = rng.normal(scale=3, size=(7, 5)), rng.integers(0, 5, size=7)
    probs_t = np.exp(_log_softmax(rng.normal(size=(7, 5))))
    p_np, y_np = rng.uniform(0.01, 0.99, size=(7, 2)), rng.uniform(0, 1, size=(7, 2))
    cases = [
        (F.cross_entropy, tf.cross_entropy, x_np, labels),
        (F.cross_entropy, tf.cross_entropy, x_np, probs_t),
        (F.nll_loss, tf.nll_loss, _log_softmax(x_np), labels),
        (F.binary_cross_entropy, tf.binary_cross_entropy, p_np, y_np),
        (F.binary_cross_entropy_with_logits, tf.binary_cross_entropy_with_logits, x_np[:, :2] , y_np),
        (F.mse_loss, tf.mse_loss, x_np[:, :2], y_np),
    ]
    for ours, theirs, inp, target in cases:
        x = ag.Tensor(inp, requires_grad=True)
        xt = torch.tensor(inp, requires_grad=True)
        out, out_t = ours(x, target, reduction), theirs(xt, torch.tensor(target), reduction=reduction)
        upstream = rng.normal(size=out.shape)
        out.backward(upstream)
        out_t.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, err_msg=ours.__name__)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=ours.__name__)
