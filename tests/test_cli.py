"""The autograd-lite command end to end, its options, and the helpers it is built from
(demo/training.py: data, loss, loop; demo/hand_backprop.py: the three gradients)."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('sklearn')

import autograd_lite as ag  # noqa: E402
from autograd_lite.demo import cli, hand_backprop, training  # noqa: E402


def run_cli(argv, capsys):
    status = cli.main(argv)
    return status, capsys.readouterr().out


# -- the main job ------------------------------------------------------------------------------------
def test_iris_default_run_end_to_end(tmp_path, capsys):
    """The documented command (only --out differs): exit 0, the report, every file, accuracy >= 0.93."""
    out = tmp_path / 'iris-run'
    status, text = run_cli(['iris', '--out', str(out)], capsys)
    assert status == 0
    lines = text.splitlines()
    assert lines[0].startswith('autograd-lite iris: 120 training rows, 30 test rows')
    assert 'network 4-8-3: sigmoid hidden, softmax output' in text
    # both gradient tables: four parameters each, all ok
    rows = [line.split() for line in lines if line.split()[:1] in (['W1'], ['b1'], ['W2'], ['b2'])]
    assert len(rows) == 8 and all(r[-1] == 'ok' for r in rows)
    assert 'agree: hand-derived = autograd_lite' in text
    # progress (not a TTY: plain lines, ten or so) and the results
    progress = [line for line in lines if line.startswith('epoch')]
    assert progress[0].startswith('epoch   1/200') and progress[-1].startswith('epoch 200/200')
    assert 10 <= len(progress) <= 12 and '\r' not in text
    assert 'confusion matrix (rows: true class, columns: predicted class):' in text
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['test_accuracy'] >= 0.93
    assert f"test accuracy {metrics['test_accuracy']:.3f}" in text
    matrix = np.array(metrics['confusion_matrix'])
    assert matrix.shape == (3, 3) and matrix.sum() == 30 and (matrix.sum(axis=1) == 10).all()
    assert metrics['gradient_check']['hand_vs_autograd']['ok'] is True
    # the files
    assert (out / 'graph.txt').read_text().count('linear') >= 2
    picture = 'graph.svg' if ag.viz.display.dot_available() else 'graph.dot'
    assert (out / picture).stat().st_size > 0
    curve = (out / 'loss.csv').read_text().splitlines()
    assert curve[0] == 'epoch,loss,train_accuracy' and len(curve) == 201
    assert float(curve[-1].split(',')[1]) < float(curve[1].split(',')[1])
    pytest.importorskip('matplotlib')
    assert (out / 'loss.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_saved_weights_reload_and_reproduce_the_test_accuracy(tmp_path, capsys):
    out = tmp_path / 'run'
    run_cli(['iris', '--epochs', '40', '--seed', '3', '--out', str(out)], capsys)
    metrics = json.loads((out / 'metrics.json').read_text())
    model = ag.nn.MLP([4, 8, 3], activation='sigmoid', seed=99)   # other weights until loaded
    model.load_state_dict(ag.load(out / 'weights.npz'))
    data = training.load_split('iris', seed=3)
    assert training.accuracy(model, data.X_test, data.y_test) == metrics['test_accuracy']


def test_same_seed_same_run(tmp_path, capsys):
    for name in ('a', 'b'):
        run_cli(['iris', '--epochs', '20', '--optimizer', 'sgd', '--lr', '0.1', '--out', str(tmp_path / name)],
                capsys)
    assert (tmp_path / 'a' / 'loss.csv').read_text() == (tmp_path / 'b' / 'loss.csv').read_text()
    a, b = ag.load(tmp_path / 'a' / 'weights.npz'), ag.load(tmp_path / 'b' / 'weights.npz')
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('activation,output', [('tanh', 'sigmoid'), ('relu', 'softmax')])
def test_other_architectures_run_and_check(tmp_path, capsys, activation, output):
    status, text = run_cli(['iris', '--hidden', '6', '5', '--activation', activation, '--output', output,
                            '--epochs', '5', '--batch-size', '32', '--out', str(tmp_path)], capsys)
    assert status == 0
    assert f'network 4-6-5-3: {activation} hidden, {output} output' in text and 'batches of 32' in text
    assert '32 training rows' in text and 'W3' in text


def test_digits_runs(tmp_path, capsys):
    status, text = run_cli(['digits', '--hidden', '16', '--epochs', '1', '--out', str(tmp_path)], capsys)
    assert status == 0
    assert 'autograd-lite digits: 1437 training rows, 360 test rows' in text
    assert 'W1[64 of 1024]' in text  # finite differences on a sample of the large weights
    assert np.array(json.loads((tmp_path / 'metrics.json').read_text())['confusion_matrix']).shape == (10, 10)


def test_without_matplotlib_the_csv_and_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib.backends.backend_agg', None)  # import fails
    status, text = run_cli(['iris', '--epochs', '3', '--out', str(tmp_path)], capsys)
    assert status == 0
    assert not (tmp_path / 'loss.png').exists() and (tmp_path / 'loss.csv').exists()
    notes = [line for line in text.splitlines() if 'matplotlib is not installed' in line]
    assert len(notes) == 1 and 'loss.csv' in notes[0]


def test_without_graphviz_the_dot_file_and_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    status, text = run_cli(['iris', '--epochs', '3', '--out', str(tmp_path)], capsys)
    assert status == 0
    assert (tmp_path / 'graph.dot').read_text().startswith('digraph')
    assert (tmp_path / 'graph_layers.dot').exists() and not (tmp_path / 'graph.svg').exists()
    assert sum("dot program was not found" in line for line in text.splitlines()) == 1


def test_a_failed_gradient_check_is_reported_and_exits_1(tmp_path, capsys, monkeypatch):
    right = hand_backprop.hand_gradients

    def flipped(*args, **kwargs):
        loss, grads = right(*args, **kwargs)
        return loss, {**grads, 'W2': -grads['W2']}

    monkeypatch.setattr(hand_backprop, 'hand_gradients', flipped)
    status, text = run_cli(['iris', '--epochs', '2', '--out', str(tmp_path)], capsys)
    assert status == 1
    assert 'SIGN FLIPPED' in text and 'DISAGREE' in text


# -- options ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('argv,fragment', [
    (['iris', '--hidden', '0'], 'argument --hidden: must be at least 1'),
    (['iris', '--lr', '-1'], 'argument --lr: must be a positive finite number'),
    (['iris', '--lr', 'nan'], 'argument --lr: must be a positive finite number'),
    (['iris', '--optimizer', 'rmsprop'], "argument --optimizer: invalid choice: 'rmsprop'"),
    (['iris', '--activation', 'gelu'], "argument --activation: invalid choice: 'gelu'"),
    (['iris', '--epochs', 'ten'], 'argument --epochs: expected a positive whole number'),
    (['iris', '--batch-size', '-5'], 'argument --batch-size: must be at least 1'),
    (['mnist'], "invalid choice: 'mnist'"),
    ([], 'the following arguments are required'),
])
def test_bad_options_exit_2_with_usage(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: autograd-lite') and fragment in err


def test_subcommand_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['iris', '--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ('--hidden', '--activation', '--output', '--epochs', '--lr', '--optimizer', '--batch-size',
                   '--seed', '--out', 'graph.svg', 'loss.png', 'weights.npz', 'metrics.json'):
        assert option in text
    assert '(default: 200)' in text and '(default: iris-run)' in text


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, '-m', 'autograd_lite', '--help'], capture_output=True, text=True,
                            env={**os.environ, 'COLUMNS': '100'}, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith('usage: autograd-lite') and 'iris' in result.stdout and 'digits' in result.stdout


# -- the progress line --------------------------------------------------------------------------------
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_rewrites_one_line_on_a_terminal_and_prints_lines_otherwise():
    epochs = [training.Epoch(k, 1.0 / k, 0.5) for k in range(1, 31)]
    tty, pipe = FakeTerminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = cli.Progress(30, stream)
        for e in epochs:
            progress(e)
    assert tty.getvalue().count('\r') == 30 and tty.getvalue().endswith('train accuracy 0.500\n')
    assert tty.getvalue().count('\n') == 1
    lines = pipe.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ['1/30'] + [f'{k}/30' for k in range(3, 31, 3)]
    assert lines[-1] == 'epoch 30/30  loss 0.0333  train accuracy 0.500'


# -- the helpers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('activation', ['sigmoid', 'tanh', 'relu'])
@pytest.mark.parametrize('output', ['softmax', 'sigmoid'])
def test_hand_gradients_equal_the_engine_and_finite_differences(activation, output):
    data = training.load_split('iris', seed=1)
    X, y = data.X_train[:40], data.y_train[:40]
    model = ag.nn.MLP([4, 5, 4, 3], activation=activation, seed=2)
    hand_loss, hand = hand_backprop.hand_gradients(model, X, y, output)
    auto_loss, auto = hand_backprop.engine_gradients(model, X, y, output)
    assert list(hand) == ['W1', 'b1', 'W2', 'b2', 'W3', 'b3']
    assert hand_loss == pytest.approx(auto_loss, abs=1e-14)
    for name in hand:
        np.testing.assert_allclose(hand[name], auto[name], rtol=1e-10, atol=1e-14)
    numeric = hand_backprop.numerical_gradients(model, X, y, output)
    for name, (index, values) in numeric.items():
        assert index is None
        np.testing.assert_allclose(values, auto[name], rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in model.parameters())  # left clean


def test_hand_gradients_without_bias_and_sampled_finite_differences():
    data = training.load_split('iris')
    model = ag.nn.MLP([4, 8, 3], bias=False, seed=0)
    saved = [p.data.copy() for p in model.parameters()]
    _, auto = hand_backprop.engine_gradients(model, data.X_train, data.y_train)
    assert list(hand_backprop.hand_gradients(model, data.X_train, data.y_train)[1]) == ['W1', 'W2']
    numeric = hand_backprop.numerical_gradients(model, data.X_train, data.y_train, max_entries=10, seed=4)
    for name, (index, values) in numeric.items():
        assert index.shape == (10,) and len(set(index)) == 10
        np.testing.assert_allclose(values, auto[name].reshape(-1)[index], rtol=1e-5, atol=1e-8)
    assert all(np.array_equal(p.data, s) for p, s in zip(model.parameters(), saved))  # restored


def test_load_split_is_stratified_standardised_and_seeded():
    a, b = training.load_split('iris', seed=5), training.load_split('iris', seed=5)
    assert np.array_equal(a.X_test, b.X_test)
    assert np.bincount(a.y_test).tolist() == [10, 10, 10]
    np.testing.assert_allclose(a.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a.X_train.std(axis=0), 1, atol=1e-12)
    assert not np.array_equal(a.X_test, training.load_split('iris', seed=6).X_test)
    with pytest.raises(ValueError, match="unknown data set 'wine'"):
        training.load_split('wine')


def test_loss_fn_and_make_optimizer_reject_unknown_names():
    scores = ag.Tensor(np.zeros((2, 3)))
    assert training.loss_fn(scores, np.array([0, 1])).item() == pytest.approx(np.log(3))
    assert training.loss_fn(scores, np.array([0, 1]), 'sigmoid').item() == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="output must be 'softmax' or 'sigmoid'"):
        training.loss_fn(scores, np.array([0, 1]), 'linear')
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        training.make_optimizer('lbfgs', [], 0.1)
