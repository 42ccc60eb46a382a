"""compare_gradients: each hand-derivation mistake gets its own verdict, and only when it holds."""
import json

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.compare import GradientReport

rng = np.random.default_rng(0)


def iris_like_gradients(n=130):
    """The seed's 4-8-1 network: real hand-derived pieces (delta3, a1, ...) and autograd's gradients."""
    X = rng.normal(size=(n, 4))
    y = (rng.random((n, 1)) < 0.5).astype(float)
    W1 = ag.Tensor(rng.normal(size=(4, 8)), requires_grad=True)
    W2 = ag.Tensor(rng.normal(size=(8, 1)), requires_grad=True)
    b2 = ag.Tensor(np.zeros(1), requires_grad=True)
    y_hat = ag.sigmoid(ag.sigmoid(X @ W1) @ W2 + b2)
    (0.5 * ((y_hat - y) ** 2).sum()).backward()
    a1 = 1 / (1 + np.exp(-(X @ W1.data)))
    yh = y_hat.data
    delta3 = (yh - y) * yh * (1 - yh)                       # (N, 1)
    delta2 = delta3 @ W2.data.T * a1 * (1 - a1)             # (N, 8)
    hand = {'W1': X.T @ delta2, 'W2': a1.T @ delta3, 'b2': delta3.sum(axis=0)}
    auto = {'W1': W1.grad, 'W2': W2.grad, 'b2': b2.grad}
    return hand, auto, dict(X=X, a1=a1, delta3=delta3, delta2=delta2)


def test_a_correct_derivation_is_ok_on_every_row():
    hand, auto, _ = iris_like_gradients()
    report = ag.compare_gradients(hand, auto)
    assert isinstance(report, GradientReport)
    assert report.ok and bool(report)
    assert report.verdicts == {'W1': 'ok', 'W2': 'ok', 'b2': 'ok'}
    assert report.max_abs_error < 1e-12
    assert report['W1'].hand_shape == (4, 8) and report['W1'].auto_shape == (4, 8)


def test_tensors_are_accepted_on_either_side():
    hand, auto, _ = iris_like_gradients()
    report = ag.compare_gradients({k: ag.Tensor(v) for k, v in hand.items()}, auto)
    assert report.ok


def test_flipped_sign_from_y_minus_y_hat():
    hand, auto, p = iris_like_gradients()
    hand['W2'] = p['a1'].T @ -p['delta3']        # delta3 = (y - y_hat) * ...
    report = ag.compare_gradients(hand, auto)
    row = report['W2']
    assert row.codes == ('sign',) and row.factor == -1.0
    assert not report.ok and report['W1'].ok
    assert 'sign is flipped' in row.diagnosis and '(y_hat - y)' in row.diagnosis
    assert row.max_rel_error == pytest.approx(2.0)


def test_transposed_gradient_names_the_shapes():
    hand, auto, p = iris_like_gradients()
    hand['W1'] = p['delta2'].T @ p['X']          # (8, 4): delta2.T @ X instead of X.T @ delta2
    row = ag.compare_gradients(hand, auto)['W1']
    assert row.codes == ('transposed',)
    assert row.hand_shape == (8, 4) and row.auto_shape == (4, 8)
    assert '(8, 4) where (4, 8) belongs' in row.diagnosis
    assert row.max_abs_error is None  # not comparable elementwise


def test_transpose_of_a_square_matrix_is_found_too():
    a = rng.normal(size=(3, 3))
    assert ag.compare_gradients({'W': a.T}, {'W': a}).verdicts == {'W': 'transposed'}


def test_factor_two_from_a_missing_half():
    hand, auto, _ = iris_like_gradients()
    hand['W2'] = 2 * hand['W2']
    row = ag.compare_gradients(hand, auto)['W2']
    assert row.codes == ('factor',) and row.factor == 2.0
    assert '1/2' in row.diagnosis and 'FACTOR 2' in str(ag.compare_gradients(hand, auto))


def test_factor_one_over_n_from_mean_where_the_loss_sums():
    hand, auto, _ = iris_like_gradients(n=130)
    hand['W1'] = hand['W1'] / 130
    report = ag.compare_gradients(hand, auto, batch_size=130)
    row = report['W1']
    assert row.codes == ('factor',) and row.factor == pytest.approx(1 / 130, rel=1e-15)
    assert '1/N with N = 130' in row.diagnosis and 'mean' in row.diagnosis
    assert 'FACTOR 1/130' in str(report)
    # the reverse (sum where the loss is a mean) is named as N
    row = ag.compare_gradients({'W': 130 * auto['W1']}, {'W': auto['W1']})['W']
    assert row.factor == 130.0 and 'N = 130' in row.diagnosis


def test_an_arbitrary_constant_factor_is_still_a_factor():
    _, auto, _ = iris_like_gradients()
    row = ag.compare_gradients({'W1': 0.37 * auto['W1']}, auto, names=['W1'])['W1']
    assert row.codes == ('factor',) and row.factor == pytest.approx(0.37)
    assert 'constant factor 0.37' in row.diagnosis


def test_bias_gradient_not_summed_over_the_batch():
    hand, auto, p = iris_like_gradients()
    hand['b2'] = p['delta3']                     # (N, 1) where (1,) belongs
    row = ag.compare_gradients(hand, auto)['b2']
    assert row.codes == ('bias_not_summed',)
    assert row.hand_shape == (130, 1) and row.auto_shape == (1,)
    assert 'summed over the batch' in row.diagnosis
    # keepdims form: auto (1, k), and a mean over the batch on top (factor 1/N)
    g = rng.normal(size=(5, 3))
    row = ag.compare_gradients({'b': g}, {'b': 5 * g.mean(0, keepdims=True) * 5}, batch_size=5)['b']
    assert row.codes == ('bias_not_summed', 'factor') and row.factor == pytest.approx(0.2)


def test_shapes_that_differ_without_a_relation():
    report = ag.compare_gradients({'W': rng.normal(size=(2, 5))}, {'W': rng.normal(size=(4, 8))})
    row = report['W']
    assert row.codes == ('shape',)
    assert 'hand (2, 5), auto (4, 8)' in row.diagnosis
    assert 'SHAPE MISMATCH' in str(report)


def test_same_values_in_a_column_where_a_vector_belongs():
    g = rng.normal(size=8)
    row = ag.compare_gradients({'b': g.reshape(8, 1)}, {'b': g})['b']
    assert row.codes == ('reshaped',) and 'reshape' in row.diagnosis


def test_missing_and_extra_names():
    g = rng.normal(size=3)
    report = ag.compare_gradients({'b': g, 'c': g}, {'a': g, 'b': g})
    assert report.verdicts == {'a': 'missing', 'b': 'ok', 'c': 'extra'}
    assert [row.name for row in report] == ['a', 'b', 'c']
    assert ag.compare_gradients({'a': None}, {'a': g}).verdicts == {'a': 'missing'}


def test_names_choose_and_order_the_rows():
    g = rng.normal(size=3)
    report = ag.compare_gradients({'a': g, 'b': g}, {'a': g, 'b': g}, names=['b', 'a'])
    assert [row.name for row in report] == ['b', 'a'] and len(report) == 2


def test_wrong_values_point_at_the_worst_element():
    a = rng.normal(size=(3, 4))
    h = a.copy()
    h[1, 2] += 0.5
    h[0, 0] += 0.01
    row = ag.compare_gradients({'W': h}, {'W': a})['W']
    assert row.codes == ('wrong',)
    assert 'worst at index (1, 2)' in row.diagnosis and '2 of 12 elements' in row.diagnosis
    assert row.max_abs_error == pytest.approx(0.5)
    # an all-zero hand gradient is wrong, not a "factor 0"
    assert ag.compare_gradients({'W': 0 * a}, {'W': a})['W'].codes == ('wrong',)


def test_relations_are_exact_to_tolerance():
    """A near-miss of each relation is 'wrong', not a diagnosis that is only roughly true."""
    a = rng.normal(size=(4, 3))
    noise = 1e-3 * rng.normal(size=a.shape)
    for h in (-a + noise, 2 * a + noise, a / 7 + noise / 7 * 3):
        assert ag.compare_gradients({'W': h}, {'W': a})['W'].codes == ('wrong',)
    assert ag.compare_gradients({'W': (a + noise).T}, {'W': a})['W'].codes == ('shape',)
    # ...and within tolerance it is found
    assert ag.compare_gradients({'W': -a * (1 + 1e-9)}, {'W': a})['W'].codes == ('sign',)
    # the tolerance is the caller's
    assert ag.compare_gradients({'W': a + noise}, {'W': a}, atol=1e-2)['W'].ok


def test_a_transposed_and_sign_flipped_gradient_reports_both():
    a = rng.normal(size=(4, 8))
    row = ag.compare_gradients({'W': -a.T}, {'W': a})['W']
    assert row.codes == ('transposed', 'sign') and row.verdict == 'transposed+sign'


def test_table_and_machine_readable_fields():
    hand, auto, _ = iris_like_gradients()
    hand['W2'] = -hand['W2']
    report = ag.compare_gradients(hand, auto, labels=('hand-derived', 'autograd'))
    lines = str(report).splitlines()
    assert lines[0].split() == ['gradient', 'hand-derived', 'shape', 'autograd', 'shape', 'max', 'abs', 'err',
                                'max', 'rel', 'err', 'verdict']
    assert lines[1].split()[0] == 'W1' and lines[1].split()[-1] == 'ok'
    assert lines[2].endswith('SIGN FLIPPED')
    assert lines[-1].startswith('W2: hand-derived == -autograd')
    data = json.loads(json.dumps(report.as_dict()))
    assert data['ok'] is False
    assert [r['verdict'] for r in data['rows']] == ['ok', 'sign', 'ok']
    assert data['rows'][0]['hand_shape'] == [4, 8]


# -- issue 14 item 20 ---------------------------------------------------------------------------------
def test_a_row_where_a_vector_belongs_is_a_reshape_not_an_unsummed_bias():
    g = rng.normal(size=8)
    row = ag.compare_gradients({'b': g.reshape(1, 8)}, {'b': g})['b']
    assert row.codes == ('reshaped',)
    assert 'same values, but shape (1, 8) where (8,) belongs: reshape it' in row.diagnosis
    # a real batch (N > 1) is still the unsummed bias
    assert ag.compare_gradients({'b': np.stack([g, 2 * g])}, {'b': 3 * g})['b'].codes == ('bias_not_summed',)


def test_a_name_neither_side_has_is_absent_not_missing():
    g = rng.normal(size=3)
    row = ag.compare_gradients({'a': g}, {'a': g}, names=['a', 'W9'])['W9']
    assert row.codes == ('absent',)
    assert row.diagnosis == "neither hand nor auto has a gradient named 'W9': check the name"
    assert 'has one' not in row.diagnosis
    assert ag.compare_gradients({}, {'a': g})['a'].diagnosis == "no hand gradient named 'a', but auto has one"
    assert ag.compare_gradients({'c': g}, {})['c'].diagnosis == "hand has a gradient named 'c', auto has none"


def test_a_parameter_in_place_of_its_gradient_asks_for_grad():
    W1 = ag.nn.Parameter(rng.normal(size=(4, 8)))
    W1.name = 'W1'
    with pytest.raises(TypeError, match=r"compare_gradients: auto\['W1'\] is a Tensor that requires grad "
                                        r"\(a parameter, shape \(4, 8\)\), not a gradient: did you mean "
                                        r"W1.grad\? \(its .grad is None: call loss.backward\(\) first\)"):
        ag.compare_gradients({'W1': np.zeros((4, 8))}, {'W1': W1})
    W2 = ag.Tensor(rng.normal(size=(8, 1)), requires_grad=True)
    (W2 * 2).sum().backward()
    with pytest.raises(TypeError, match=r"hand\['W2'\] is a Tensor .* did you mean W\.grad\? "
                                        r"\(its .grad has shape \(8, 1\)\)"):
        ag.compare_gradients({'W2': W2}, {'W2': W2.grad})
    # a gradient that is a Tensor (ag.grad returns them) is compared
    (g,) = ag.grad((W2 * 2).sum(), [W2])
    assert ag.compare_gradients({'W2': g}, {'W2': W2.grad}).ok


def test_a_none_gradient_says_backward_was_not_called():
    W = ag.Tensor(rng.normal(size=(4, 8)), requires_grad=True)
    report = ag.compare_gradients({'W': np.zeros((4, 8))}, {'W': W.grad})
    row = report['W']
    assert row.codes == ('none',) and row.hand_shape == (4, 8) and row.auto_shape is None
    assert row.diagnosis.startswith("auto is None: no gradient was computed for it. Call loss.backward() "
                                    "before reading .grad")
    assert 'NONE' in str(report)


def test_lists_in_place_of_mappings_are_refused_clearly():
    g = [rng.normal(size=(4, 8)), rng.normal(size=(8, 1))]
    with pytest.raises(TypeError, match=r"compare_gradients: hand must be a mapping name -> gradient, e\.g\. "
                                        r"\{'W1': dJdW1, 'W2': dJdW2\}, got list; for a list use "
                                        r"dict\(zip\(\['W1', 'W2'\], grads\)\)"):
        ag.compare_gradients(g, {'W1': g[0], 'W2': g[1]})
    with pytest.raises(TypeError, match=r"auto must be a mapping .* got ndarray"):
        ag.compare_gradients({'W1': g[0]}, g[0])
    with pytest.raises(TypeError, match=r"compare_gradients: hand\['W1'\] is str 'dJdW1', not a gradient"):
        ag.compare_gradients({'W1': 'dJdW1'}, {'W1': g[0]})


@pytest.mark.parametrize('c', [-1.02, -0.98, 1.02])
def test_a_constant_factor_near_minus_one_is_a_factor_not_a_sign_slip(c):
    _, auto, _ = iris_like_gradients()
    row = ag.compare_gradients({'W1': c * auto['W1']}, auto, names=['W1'], batch_size=130)['W1']
    assert row.codes == ('factor',) and row.factor == pytest.approx(c)
    assert f'a constant factor {c:.6g}' in row.diagnosis
    assert 'sign is flipped' not in row.diagnosis and '(y - y_hat)' not in row.diagnosis
    if c < 0:
        assert 'not -1: not a flipped sign alone' in row.diagnosis
    # a named constant times -1 is both: -2 is a flipped sign and a dropped 1/2
    row = ag.compare_gradients({'W1': -2 * auto['W1']}, auto, names=['W1'])['W1']
    assert row.factor == -2.0 and 'sign is flipped' in row.diagnosis and '1/2' in row.diagnosis


def test_a_batch_sized_axis_points_to_a_flat_target_against_a_column():
    """The seed's y (130,) against y_hat (130, 1): y_hat - y is (130, 130), so dJdW2 is (8, 130)."""
    hand, auto, p = iris_like_gradients()
    a1 = p['a1']
    yh = rng.random((130, 1))                                # a prediction column
    y_flat = (rng.random(130) < 0.5).astype(float)
    delta3 = (yh - y_flat) * yh * (1 - yh)                  # (130, 130), silently
    hand['W2'] = a1.T @ delta3                               # (8, 130) where (8, 1) belongs
    for batch_size in (None, 130):
        row = ag.compare_gradients(hand, auto, batch_size=batch_size)['W2']
        assert row.codes == ('shape',) and row.hand_shape == (8, 130)
        assert ("hand has shape (8, 130) where (8, 1) belongs: axis 1 has 130 entries where it has 1. "
                "130 is the batch: a flat (130,) vector (the target y) broadcast against a (130, 1) column "
                "(y_hat) makes y_hat - y a (130, 130) matrix") in row.diagnosis
        assert row.diagnosis.endswith("reshape the target to a column: y = y.reshape(-1, 1)")
    # another batch size: a plain shape mismatch
    row = ag.compare_gradients(hand, auto, batch_size=64)['W2']
    assert row.diagnosis.startswith('shapes differ: hand (8, 130), auto (8, 1)')


def test_the_square_matrix_of_a_flat_target_has_the_right_gradient_on_its_diagonal():
    y_hat = rng.random((130, 1))
    y_flat = rng.random(130)
    right = (y_hat - y_flat.reshape(-1, 1)) * y_hat * (1 - y_hat)
    wrong = (y_hat - y_flat) * y_hat * (1 - y_hat)           # (130, 130)
    row = ag.compare_gradients({'z2': wrong}, {'z2': right})['z2']
    assert row.codes == ('shape',)
    assert 'y = y.reshape(-1, 1) (the diagonal of hand is the right gradient)' in row.diagnosis


# -- issue 16 item 3: the table in Jupyter --------------------------------------------------------------
def test_the_report_shows_its_table_in_jupyter():
    hand, auto, _ = iris_like_gradients()
    hand['W2'] = -hand['W2']
    hand['b2'] = hand['b2'].reshape(1, 1)
    report = ag.compare_gradients(hand, auto)
    page = report._repr_html_()
    assert page.startswith('<table><tr><th>gradient</th><th>hand shape</th>')
    assert '<tr><td>W2</td><td>(8, 1)</td><td>(8, 1)</td>' in page and '<td>SIGN FLIPPED</td>' in page
    assert page.count('<tr>') == 4 and page.count('<li>') == 2
    assert '<li>W2: hand == -auto: the sign is flipped' in page
    assert '&lt;' not in str(report) and '(y_hat - y)' in page
    pytest.importorskip('IPython')
    from IPython.core.formatters import DisplayFormatter
    shown, _ = DisplayFormatter().format(report)
    assert shown['text/html'] == page
    assert ag.compare_gradients({'a': np.ones(2)}, {'a': np.ones(2)})._repr_html_().count('<li>') == 0
