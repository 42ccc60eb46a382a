"""check_backprop: the seed's hand-written backward pass, link by link, each mistake named."""
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import autograd_lite as ag
from autograd_lite.backprop_check import BackpropReport


def sigmoid(z, deriv=False):
    """The seed's helper: the derivative when deriv=True."""
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s) if deriv else s


def seed_network(seed=0):
    """The seed's 4-8-1 sigmoid network on 130 iris rows, recorded by autograd_lite."""
    data = load_iris()
    X = StandardScaler().fit_transform(data.data[:-20])             # (130, 4)
    y = data.target[:-20].reshape(-1, 1).astype(float)              # (130, 1)
    rng = np.random.default_rng(seed)
    w1, w2 = rng.random((4, 8)), rng.random((8, 1))
    W1 = ag.Tensor(w1, requires_grad=True, name='W1')
    W2 = ag.Tensor(w2, requires_grad=True, name='W2')
    z1 = X @ W1
    a1 = ag.sigmoid(z1)
    z2 = a1 @ W2
    y_hat = ag.sigmoid(z2)
    for t, name in ((z1, 'z1'), (a1, 'a1'), (z2, 'z2'), (y_hat, 'y_hat')):
        t.name = name
    loss = 0.5 * ((y_hat - y) ** 2).sum()
    return dict(X=X, y=y, w1=w1, w2=w2, W1=W1, W2=W2, z1=z1, a1=a1, z2=z2, y_hat=y_hat, loss=loss)


def learner(net, mistake=None):
    """The learner's NumPy backprop: {'z2': delta3, 'W2': dJdW2, 'z1': delta2, 'W1': dJdW1}."""
    X, y, w1, w2 = net['X'], net['y'], net['w1'], net['w2']
    z1 = X @ w1
    a1 = sigmoid(z1, deriv=(mistake == 'hidden derivative in the forward'))
    z2 = a1 @ w2
    y_hat = sigmoid(z2, deriv=mistake in ('derivative in the forward', 'derivative through y_hat'))
    if mistake == 'flat target':
        y = y.reshape(-1)                                         # (130,)
    error = (y - y_hat) if mistake == 'y - y_hat' else (y_hat - y)
    if mistake == 'derivative through y_hat':                     # sigmoid' written through the wrong y_hat
        delta3 = error * y_hat * (1 - y_hat)
    else:
        delta3 = error * sigmoid(z2, deriv=True)                  # (130, 1)
    if mistake == 'factor':
        delta3 = -1.02 * delta3
    dJdW2 = a1.T @ delta3                                         # (8, 1)
    if mistake == 'flat target':                                  # delta3 is (130, 130): the next line fails
        return {'z2': delta3, 'W2': dJdW2}
    if mistake == 'forgotten derivative':
        delta2 = delta3 @ w2.T                                    # without * sigmoid'(z1)
    else:
        delta2 = delta3 @ w2.T * sigmoid(z1, deriv=True)          # (130, 8)
    dJdW1 = X.T @ delta2                                          # (4, 8)
    return {'z2': delta3, 'W2': dJdW2, 'z1': delta2, 'W1': dJdW1}


def test_a_right_backprop_is_ok_in_backward_order_and_leaves_no_grad():
    net = seed_network()
    hand = learner(net)
    # given in another order, with Tensors as keys: the report follows the graph
    report = ag.check_backprop(net['loss'], {net['W1']: hand['W1'], net['z1']: hand['z1'],
                                             net['W2']: hand['W2'], net['z2']: hand['z2']})
    assert isinstance(report, BackpropReport)
    assert list(report.verdicts) == ['z2', 'W2', 'z1', 'W1']
    assert report.verdicts == {'z2': 'ok', 'W2': 'ok', 'z1': 'ok', 'W1': 'ok'}
    assert report.ok and report.first_wrong is None and report.max_abs_error < 1e-12
    assert [t.grad for t in (net['W1'], net['W2'], net['z1'], net['z2'])] == [None] * 4
    lines = str(report).splitlines()
    assert lines[0].split()[:3] == ['link', 'hand', 'shape'] and len(lines) == 5
    # the graph is still whole: backward afterwards gives the gradients the report holds
    net['loss'].backward()
    np.testing.assert_allclose(net['W1'].grad, report.truth['W1'], rtol=1e-15)
    np.testing.assert_allclose(report.truth['z2'], hand['z2'], rtol=1e-12)


def test_the_order_comes_from_the_graph_for_names_and_unnamed_tensors():
    net = seed_network()
    hand = learner(net)
    net['z1'].name = None
    report = ag.check_backprop(net['loss'], {'W1': hand['W1'], net['z1']: hand['z1'],
                                             'y_hat': net['y_hat'].data - net['y'],
                                             'W2': hand['W2'], 'z2': hand['z2']})
    assert list(report.verdicts) == ['y_hat', 'z2', 'W2', '<matmul (130, 8)>', 'W1']
    assert report.ok


def test_the_derivative_used_as_the_output_is_named():
    """y_hat = sigmoid(z2, deriv=True): the output delta is wrong, and why."""
    net = seed_network()
    for mistake in ('derivative in the forward', 'derivative through y_hat'):
        report = ag.check_backprop(net['loss'], learner(net, mistake))
        assert report.verdicts == {'z2': 'wrong', 'W2': 'wrong', 'z1': 'wrong', 'W1': 'wrong'}
        assert report.first_wrong == 'z2'
        text = report['z2'].diagnosis
        assert text.startswith("this is backprop of a forward pass that computed y_hat = sigmoid(z2) as "
                               "sigmoid'(z2): the prediction then lies in (0, 0.25] (here from ")
        assert text.endswith("the range of sigmoid's derivative, so the derivative was used where the sigmoid "
                             "belongs. Compute y_hat = sigmoid(z2) in the forward pass; y_hat * (1 - y_hat) "
                             "belongs only in the delta")
        assert 'sign' not in str(report).lower()
        for name in ('W2', 'z1', 'W1'):
            assert report[name].diagnosis == 'follows from the same mistake as z2 (WRONG)'
        assert ("first wrong link: z2; the links after it are computed from it and inherit its error "
                "(W2, z1, W1 follow from it exactly): fix z2 first") in str(report)
    # with the weights' gradients only, the same mistake is found at the first of them
    hand = learner(net, 'derivative in the forward')
    report = ag.check_backprop(net['loss'], {'W1': hand['W1'], 'W2': hand['W2']})
    assert report.first_wrong == 'W2' and 'the prediction then lies in (0, 0.25]' in report['W2'].diagnosis
    assert report['W1'].diagnosis == 'follows from the same mistake as W2 (WRONG)'


def test_the_derivative_in_a_hidden_layer_is_named_as_the_activation():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'hidden derivative in the forward'))
    assert report.first_wrong == 'z2'
    assert report['z2'].diagnosis.startswith("this is backprop of a forward pass that computed a1 = sigmoid(z1) "
                                             "as sigmoid'(z1): the activation then lies in (0, 0.25]")


def test_a_delta_that_forgets_the_activation_derivative():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'forgotten derivative'))
    assert report.verdicts == {'z2': 'ok', 'W2': 'ok', 'z1': 'wrong', 'W1': 'wrong'}
    assert report.first_wrong == 'z1'
    assert report['z1'].diagnosis == ("this is the gradient at a1, not at z1: the factor sigmoid'(z1) = "
                                      "a1 * (1 - a1) is missing (the gradient at z1 is the gradient at a1 "
                                      "times a1 * (1 - a1))")
    assert report['W1'].diagnosis == 'follows from the same mistake as z1 (WRONG)'
    assert "first wrong link: z1; the links after it are computed from it and inherit its error " \
           "(W1 follows from it exactly): fix z1 first" in str(report)


def test_y_minus_y_hat_flips_the_first_link_and_every_later_one():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'y - y_hat'))
    assert report.verdicts == {'z2': 'sign', 'W2': 'sign', 'z1': 'sign', 'W1': 'sign'}
    assert report.first_wrong == 'z2'
    assert report['z2'].factor == -1.0 and 'use (y_hat - y)' in report['z2'].diagnosis
    assert report['W1'].diagnosis == ('inherits the error of z2: it is what backprop gives from your z2 '
                                      '(SIGN FLIPPED)')


def test_a_factor_near_minus_one_is_a_factor_and_is_inherited():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'factor'))
    assert report.verdicts == {'z2': 'factor', 'W2': 'factor', 'z1': 'factor', 'W1': 'factor'}
    assert report['z2'].factor == pytest.approx(-1.02)
    assert 'sign is flipped' not in report['z2'].diagnosis and '(y - y_hat)' not in report['z2'].diagnosis
    assert 'FACTOR -1.02' in str(report) and 'SIGN' not in str(report)
    assert report['W2'].diagnosis.startswith('inherits the error of z2')


def test_a_flat_target_against_a_column_says_reshape():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'flat target'))
    assert report.verdicts == {'z2': 'shape', 'W2': 'shape'} and report.first_wrong == 'z2'
    assert report['z2'].hand_shape == (130, 130) and report['W2'].hand_shape == (8, 130)
    assert ("first wrong link: z2; the links after it are computed from it and inherit its error "
            "(W2 wrong too): fix z2 first") in str(report)
    for name in ('z2', 'W2'):
        assert ("a flat (130,) vector (the target y) broadcast against a (130, 1) column (y_hat) makes "
                "y_hat - y a (130, 130) matrix") in report[name].diagnosis
        assert 'y = y.reshape(-1, 1)' in report[name].diagnosis


def test_a_wrong_weight_gradient_is_not_passed_on():
    net = seed_network()
    hand = learner(net)
    hand['W2'] = hand['W2'].T                                     # (1, 8)
    report = ag.check_backprop(net['loss'], hand)
    assert report.verdicts == {'z2': 'ok', 'W2': 'transposed', 'z1': 'ok', 'W1': 'ok'}
    assert report.first_wrong == 'W2'
    assert str(report).splitlines()[5] == ('first wrong link: W2 (a leaf: its gradient is not passed on, so '
                                           'the links after it are checked on their own)')


def test_unexplained_errors_stay_plainly_wrong():
    net = seed_network()
    hand = learner(net)
    noise = 1e-3 * np.random.default_rng(1).normal(size=(130, 8))
    hand['z1'] = hand['z1'] + noise
    hand['W1'] = net['X'].T @ hand['z1']                          # computed from the wrong z1
    report = ag.check_backprop(net['loss'], hand)
    assert report.first_wrong == 'z1' and report['z1'].diagnosis.startswith('values differ')
    assert report['W1'].diagnosis == 'inherits the error of z1: it is what backprop gives from your z1 (WRONG)'
    hand['W1'] = hand['W1'] + 1e-3                                # and a slip of its own on top
    report = ag.check_backprop(net['loss'], hand)
    assert report['W1'].diagnosis.startswith('values differ')
    assert ("first wrong link: z1; the links after it are computed from it and inherit its error; "
            "W1 is wrong beyond that: fix z1 first") in str(report)


def test_a_link_given_as_none_is_missing():
    net = seed_network()
    hand = learner(net)
    hand['z2'] = None
    report = ag.check_backprop(net['loss'], hand)
    assert report.verdicts == {'z2': 'missing', 'W2': 'ok', 'z1': 'ok', 'W1': 'ok'}
    assert report['z2'].diagnosis == 'hand is None, autograd has a gradient'
    assert report.first_wrong == 'z2'


def test_true_gradients_at_intermediates_match_pytorch():
    torch = pytest.importorskip('torch')
    net = seed_network(seed=3)
    X, y = torch.tensor(net['X']), torch.tensor(net['y'])
    W1 = torch.tensor(net['w1'], requires_grad=True)
    W2 = torch.tensor(net['w2'], requires_grad=True)
    z1 = X @ W1
    a1 = torch.sigmoid(z1)
    z2 = a1 @ W2
    y_hat = torch.sigmoid(z2)
    for t in (z1, a1, z2, y_hat):
        t.retain_grad()
    (0.5 * ((y_hat - y) ** 2).sum()).backward()
    theirs = {'y_hat': y_hat.grad, 'z2': z2.grad, 'W2': W2.grad, 'a1': a1.grad, 'z1': z1.grad, 'W1': W1.grad}
    theirs = {k: v.numpy() for k, v in theirs.items()}
    report = ag.check_backprop(net['loss'], theirs, atol=0, rtol=1e-12)
    assert report.ok and list(report.verdicts) == ['y_hat', 'z2', 'W2', 'a1', 'z1', 'W1']
    for name, g in theirs.items():
        np.testing.assert_allclose(report.truth[name], g, rtol=1e-12, atol=0)


def test_bad_arguments_get_clear_errors():
    net = seed_network()
    hand = learner(net)
    loss = net['loss']
    with pytest.raises(KeyError, match=r"check_backprop: no tensor of the loss's graph named 'z3'; the names "
                                       r"there are \['W1', 'W2', 'a1', 'y_hat', 'z1', 'z2'\]"):
        ag.check_backprop(loss, {'z3': hand['z2']})
    copy = ag.Tensor(net['X']) @ net['W1']                        # recomputed: not the loss's z1
    copy.name = 'z1'
    with pytest.raises(ValueError, match=r"hand's key z1 is not in the graph of loss: pass the tensors the "
                                         r"loss was computed from"):
        ag.check_backprop(loss, {copy: hand['z1']})
    X = ag.Tensor(net['X'], name='X')
    other = (X @ net['W1']).sum()
    with pytest.raises(ValueError, match=r"'X' does not require grad, so the loss has no gradient for it"):
        ag.check_backprop(other, {X: net['X']})
    with pytest.raises(ValueError, match=r"check_backprop: loss has shape \(130, 1\); it must have one element"):
        ag.check_backprop(net['y_hat'], hand)
    with pytest.raises(TypeError, match=r"check_backprop: hand must be a mapping from Tensors of the graph"):
        ag.check_backprop(loss, list(hand.values()))
    with pytest.raises(TypeError, match=r"e\.g\. \{z2: delta3, W2: dJdW2\}; got an empty one"):
        ag.check_backprop(loss, {})
    with pytest.raises(TypeError, match=r"check_backprop: hand\['W1'\] is a Tensor that requires grad "
                                        r"\(a parameter, shape \(4, 8\)\), not a gradient: did you mean W1.grad\?"):
        ag.check_backprop(loss, {'W1': net['W1']})
    loss.backward()
    with pytest.raises(RuntimeError, match=r"check_backprop: backward\(\) already released the graph behind "
                                           r"'mul'; call check_backprop before loss.backward\(\)"):
        ag.check_backprop(loss, hand)


def test_the_report_shows_its_table_in_jupyter():
    net = seed_network()
    report = ag.check_backprop(net['loss'], learner(net, 'forgotten derivative'))
    page = report._repr_html_()
    assert page.startswith('<table><tr><th>link</th><th>hand shape</th><th>autograd shape</th>')
    assert page.count('<tr>') == 5
    assert '<li>first wrong link: z1; the links after it' in page
    assert "<li>z1: this is the gradient at a1, not at z1: the factor sigmoid&#x27;(z1)" in page
    assert report.as_dict()['first_wrong'] == 'z1'


def test_a_tanh_layer_without_its_derivative_is_named_with_tanh_s():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    w1, w2 = rng.normal(size=(3, 5)), rng.normal(size=(5, 1))
    W1, W2 = ag.Tensor(w1, requires_grad=True, name='W1'), ag.Tensor(w2, requires_grad=True, name='W2')
    h = X @ W1
    h.name = 'h'
    a = ag.tanh(h)
    a.name = 'a'
    loss = (((a @ W2) - y) ** 2).sum()
    delta = 2 * (np.tanh(X @ w1) @ w2 - y)                        # (20, 1) at the output
    report = ag.check_backprop(loss, {'W2': np.tanh(X @ w1).T @ delta, 'h': delta @ w2.T})
    assert report.verdicts == {'W2': 'ok', 'h': 'wrong'} and report.first_wrong == 'h'
    assert report['h'].diagnosis.startswith("this is the gradient at a, not at h: the factor tanh'(h) = "
                                            "1 - a**2 is missing")
