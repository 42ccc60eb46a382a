"""The examples run as documented and meet their goals (each is quick at its default settings)."""
import runpy
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('sklearn')

import autograd_lite as ag  # noqa: E402
from autograd_lite.demo import training  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'


def example(name):
    """The example's functions, without running its ``__main__`` block."""
    return runpy.run_path(str(EXAMPLES / f'{name}.py'), run_name=name)


def test_iris_seed_three_gradients_agree_to_1e_10(capsys):
    diffs = example('iris_seed')['main']([])
    assert set(diffs) == {'|J hand - J autograd|', 'max |hand - autograd|', 'max |numeric - autograd|',
                          'max |hand - numeric|'}
    assert max(diffs.values()) <= 1e-10
    text = capsys.readouterr().out
    assert 'all three agree to 1e-10 or better' in text
    assert text.count(' ok\n') == 4  # W1, W2 in both tables


def test_iris_seed_assertion_is_real(capsys):
    """With a wrong hand-derived rule the example's own check fails (it is not decorative)."""
    module = example('iris_seed')
    real = module['sigmoid']
    calls = []

    def sigmoid_with_a_slip(z):
        calls.append(1)
        return real(z) * (1.001 if len(calls) == 2 else 1.0)  # y_hat 0.1% off, autograd untouched

    module['main'].__globals__['sigmoid'] = sigmoid_with_a_slip
    with pytest.raises(AssertionError):
        module['main']([])


def test_iris_softmax_meets_its_goal_and_is_reproducible(capsys):
    main = example('iris_softmax')['main']
    first, second = main([]), main(['--seed', '0'])
    assert first >= 0.93 and first == second
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == lines[1] and lines[0].startswith('seed 0:')


def test_same_seed_same_weights_after_training():
    data = training.load_split('iris', seed=2)
    weights = []
    for _ in range(2):
        model = ag.nn.MLP([4, 8, 3], seed=2)
        training.train(model, data.X_train, data.y_train, ag.optim.Adam(model.parameters(), lr=0.02), 30, seed=2)
        weights.append([p.data.copy() for p in model.parameters()])
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_digits_mlp_meets_its_goal(capsys):
    accuracy = example('digits_mlp')['main']([])
    assert accuracy >= 0.95
    assert capsys.readouterr().out.count('\nepoch') == 14


def test_seed_mistakes_shows_each_diagnosis(capsys):
    example('seed_mistakes')['main']()  # asserts each claim itself
    text = capsys.readouterr().out
    for fragment in ('shapes (8, 1) and (3, 1) are not aligned', 'shapes (1, 4) and (8, 8) are not aligned',
                     'broadcast to (8, 8)', 'WRONG', 'input has shape (150, 1) but target has shape (150, 3)',
                     '[0, 0, 20]', '[10, 10, 10]', 'SIGN FLIPPED'):
        assert fragment in text
    assert text.count('\n== ') == 5


def test_seed_numpy_both_spellings_match_the_hand_derived_gradients_to_1e_12(capsys):
    worst = example('seed_numpy')['main']([])
    assert set(worst) == {'per sample (the question)', 'vectorised (the answer)'}
    assert max(worst.values()) <= 1e-12
    text = capsys.readouterr().out
    assert text.count(' ok\n') == 4 and text.count('SIGN FLIPPED') == 2  # the answer's (y - y_hat)


def test_seed_numpy_check_is_real():
    """A hand-derived rule with a slip fails the example's own check."""
    module = example('seed_numpy')
    real = module['per_sample_by_hand']
    module['main'].__globals__['per_sample_by_hand'] = lambda *a: (real(*a)[0] * 1.001, real(*a)[1])
    with pytest.raises(AssertionError):
        module['main']([])
