"""The autograd-lite command end to end, its options, and the helpers it is built from
(demo/training.py: data, loss, loop; demo/hand_backprop.py: the three gradients)."""
import errno
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('sklearn')

import autograd_lite as ag  # noqa: E402
from autograd_lite import serialization  # noqa: E402
from autograd_lite.demo import cli, hand_backprop, run_folder, training  # noqa: E402


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
    # the three gradient tables (hand, finite differences, generated code): four parameters each, all ok
    names = ['layer1.weight', 'layer1.bias', 'layer2.weight', 'layer2.bias']
    rows = [line.split() for line in lines if line.split()[:1] in [[n] for n in names]]
    assert len(rows) == 12 and all(r[-1] == 'ok' for r in rows)
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


def test_one_set_of_names_in_the_table_the_listing_the_graphs_and_the_weights(tmp_path, capsys, monkeypatch):
    """Every output of a run names the parameters and layers alike (a 3-layer network, so that
    the numbering shows): layer1.weight ... layer3.bias, in Linear layer1 ... layer3."""
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))  # no Graphviz: the graphs are DOT text to read
    out = tmp_path / 'run'
    status, text = run_cli(['iris', '--hidden', '6', '5', '--epochs', '2', '--out', str(out)], capsys)
    assert status == 0
    expected = [f'layer{k}.{p}' for k in (1, 2, 3) for p in ('weight', 'bias')]
    # the gradient tables (hand, numeric, generated code), metrics.json, weights.npz
    tables = [line.split()[0] for line in text.splitlines() if line.startswith('layer')]
    assert tables == expected * 3
    metrics = json.loads((out / 'metrics.json').read_text())['gradient_check']
    for report in metrics.values():
        assert [row['name'] for row in report['rows']] == expected
    assert list(ag.load(out / 'weights.npz')) == expected
    # the listing: its parameter lines, and the layers its ops ran in
    listing = (out / 'graph.txt').read_text()
    assert re.findall(r'^%\d+ (\S+) = parameter', listing, re.M) == expected
    layer_names = ['Linear layer1', 'Sigmoid act1', 'Linear layer2', 'Sigmoid act2', 'Linear layer3']
    assert re.findall(r'# in (Linear \w+|Sigmoid \w+)', listing)[6:] == layer_names
    # graph.dot: the parameters' nodes, the clusters, and the formulas of the linear ops
    dot = (out / 'graph.dot').read_text()
    params = re.findall(r'label="([^"\\]+)\\n\(\d+(?:, \d+)?,?\) float64\\ngrad[^"]*" color="#b45309"', dot)
    assert params == expected
    assert sorted(re.findall(r'label="((?:Linear|Sigmoid) \w+)"', dot)) == sorted(layer_names)  # the clusters
    assert re.findall(r'linear: (\S+ @ \S+ \+ \S+)\\n', dot) == [
        'X @ layer1.weight + layer1.bias', 'sigmoid @ layer2.weight + layer2.bias',
        'sigmoid @ layer3.weight + layer3.bias']
    # graph_layers.dot: one node per layer, listing its parameters by the same names
    layers = (out / 'graph_layers.dot').read_text()
    assert re.findall(r'\\n(layer\d\.\w+) \(', layers) == expected
    assert re.findall(r'label="((?:Linear|Sigmoid) \w+)\\n', layers) == layer_names


def test_the_classifier_is_nn_mlp_with_named_layers():
    named, plain = training.Classifier([4, 6, 5, 3], 'tanh', seed=4), ag.nn.MLP([4, 6, 5, 3], 'tanh', seed=4)
    assert [n for n, _ in named.named_modules()] == ['', 'layer1', 'act1', 'layer2', 'act2', 'layer3']
    assert [type(m).__name__ for _, m in named.named_modules()][1:] == [type(m).__name__ for m in plain]
    assert all(np.array_equal(a.data, b.data) for a, b in zip(named.parameters(), plain.parameters()))
    x = ag.Tensor(np.random.default_rng(0).normal(size=(7, 4)))
    np.testing.assert_array_equal(named(x).data, plain(x).data)
    assert named.linears == [named.layer1, named.layer2, named.layer3] and named.activation == 'tanh'


def test_saved_weights_reload_and_reproduce_the_test_accuracy(tmp_path, capsys):
    out = tmp_path / 'run'
    run_cli(['iris', '--epochs', '40', '--seed', '3', '--out', str(out)], capsys)
    metrics = json.loads((out / 'metrics.json').read_text())
    model = training.Classifier([4, 8, 3], activation='sigmoid', seed=99)   # other weights until loaded
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
    assert '32 training rows' in text and 'layer3.weight' in text


def test_digits_runs(tmp_path, capsys):
    status, text = run_cli(['digits', '--hidden', '16', '--epochs', '1', '--out', str(tmp_path)], capsys)
    assert status == 0
    assert 'autograd-lite digits: 1437 training rows, 360 test rows' in text
    assert 'layer1.weight[64 of 1024]' in text  # finite differences on a sample of the large weights
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
        return loss, {**grads, 'layer2.weight': -grads['layer2.weight']}

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
    (['iris', '--batch-size', '0'], "argument --batch-size: must be at least 1, got 0; "
                                    "use 'full' for the whole training set in one batch"),
    (['iris', '--batch-size', 'all'], "argument --batch-size: expected a positive whole number, got 'all'; "
                                      "use 'full' for the whole training set in one batch"),
    (['iris', '--seed', '-1'], 'argument --seed: must be from 0 to 4294967295 (2**32 - 1), got -1'),
    (['iris', '--seed', str(2**32)], 'argument --seed: must be from 0 to 4294967295 (2**32 - 1), got 4294967296'),
    (['iris', '--seed', '1.5'], "argument --seed: expected a whole number from 0 to 4294967295, got '1.5'"),
    (['iris', '--out', ''], "argument --out: expected a folder name, got ''"),
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


def test_progress_ends_a_live_line_cut_short():
    tty, pipe = FakeTerminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = cli.Progress(30, stream)
        progress(training.Epoch(1, 1.0, 0.5))
        progress.end_line()
        progress.end_line()  # once
    assert tty.getvalue() == '\repoch  1/30  loss 1.0000  train accuracy 0.500\n'
    assert pipe.getvalue() == 'epoch  1/30  loss 1.0000  train accuracy 0.500\n'


# -- the helpers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('activation', ['sigmoid', 'tanh', 'relu'])
@pytest.mark.parametrize('output', ['softmax', 'sigmoid'])
def test_hand_gradients_equal_the_engine_and_finite_differences(activation, output):
    data = training.load_split('iris', seed=1)
    X, y = data.X_train[:40], data.y_train[:40]
    model = ag.nn.MLP([4, 5, 4, 3], activation=activation, seed=2)
    hand_loss, hand = hand_backprop.hand_gradients(model, X, y, output)
    auto_loss, auto = hand_backprop.engine_gradients(model, X, y, output)
    assert list(hand) == ['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']  # nn.MLP's names
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
    assert list(hand_backprop.hand_gradients(model, data.X_train, data.y_train)[1]) == ['0.weight', '2.weight']
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


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['--version'])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f'autograd-lite {ag.__version__}\n'


@pytest.mark.parametrize('argv,last_line', [
    (['iris', '--hiden', '16'],
     'autograd-lite iris: error: unrecognized arguments: --hiden 16 (did you mean --hidden?)'),
    (['digits', '--epochs', '2', '--optimiser', 'sgd'],
     'autograd-lite digits: error: unrecognized arguments: --optimiser sgd (did you mean --optimizer?)'),
    (['iris', '--batch_size=8'],
     'autograd-lite iris: error: unrecognized arguments: --batch_size=8 (did you mean --batch-size?)'),
    (['iris', '--colour', 'red'],
     'autograd-lite iris: error: unrecognized arguments: --colour red (see autograd-lite iris --help)'),
])
def test_a_misspelled_option_shows_the_subcommand_usage_and_the_closest_option(argv, last_line, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'usage: autograd-lite {argv[0]} [-h] [--hidden N [N ...]]')
    assert err.splitlines()[-1] == last_line


def test_batch_size_full_and_the_accepted_seeds():
    parser = cli.build_parser()
    assert parser.parse_args(['digits', '--batch-size', 'full']).batch_size is None
    assert parser.parse_args(['digits']).batch_size == 64
    assert parser.parse_args(['iris', '--seed', str(2**32 - 1)]).seed == 2**32 - 1
    assert parser.parse_args(['iris', '--seed', '0']).seed == 0


def test_help_documents_the_exit_status_and_batch_size_full(capsys):
    for argv in (['--help'], ['iris', '--help']):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = ' '.join(capsys.readouterr().out.split())  # argparse wraps the lines
        assert ' '.join(cli.EXIT_STATUS.split()) in text
    assert "'full' (or any number above the training rows) for the whole training set in one step" in text
    assert 'seed of the split, the initial weights and the batch order, 0 to 4294967295' in text
    assert '1 a gradient check failed' in cli.EXIT_STATUS and '3 the run failed: the loss diverged' in cli.EXIT_STATUS


def test_the_plot_shows_the_loss_and_the_train_accuracy():
    pytest.importorskip('matplotlib')
    from matplotlib.figure import Figure
    history = [training.Epoch(k, 1.0 / k, 0.3 + 0.02 * k) for k in range(1, 11)]
    fig = Figure()
    loss_ax, accuracy_ax = cli._plot_curves(fig, history, 'autograd-lite iris')
    assert fig.axes == [loss_ax, accuracy_ax]
    assert (loss_ax.get_ylabel(), accuracy_ax.get_ylabel(), accuracy_ax.get_xlabel()) == \
        ('training loss', 'train accuracy', 'epoch')
    assert loss_ax.get_title() == 'autograd-lite iris'
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), [1.0 / k for k in range(1, 11)])
    np.testing.assert_array_equal(accuracy_ax.lines[0].get_ydata(), [0.3 + 0.02 * k for k in range(1, 11)])
    np.testing.assert_array_equal(accuracy_ax.lines[0].get_xdata(), range(1, 11))
    assert accuracy_ax.get_ylim() == (0, 1.02)


# -- checked before any work; all files or none --------------------------------------------------------
def snapshot(folder):
    """{relative path: bytes} of every file under ``folder``, hidden ones included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


def fail_with_usage(argv, capsys):
    """Run argv, expecting exit 2 with the subcommand's usage; returns (stdout, last stderr line)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f'usage: autograd-lite {argv[0]} [-h]')
    return captured.out, captured.err.splitlines()[-1]


def test_out_naming_a_file_fails_before_any_work(tmp_path, capsys):
    (tmp_path / 'run').write_text('mine')
    out, last = fail_with_usage(['iris', '--out', str(tmp_path / 'run')], capsys)
    assert last == (f"autograd-lite iris: error: argument --out: {tmp_path / 'run'} is a file, not a folder; "
                    "name a new folder or an existing one")
    assert out == ''  # not even the data set was loaded
    assert snapshot(tmp_path) == {'run': b'mine'}


def test_out_below_a_file_fails_before_any_work(tmp_path, capsys):
    (tmp_path / 'file').write_text('mine')
    _, last = fail_with_usage(['iris', '--out', str(tmp_path / 'file' / 'a' / 'run')], capsys)
    assert last == (f"autograd-lite iris: error: argument --out: cannot make the folder "
                    f"{tmp_path / 'file' / 'a' / 'run'}: {tmp_path / 'file'} is a file")


def test_a_folder_in_the_way_of_an_output_file_fails_before_any_work(tmp_path, capsys):
    (tmp_path / 'metrics.json').mkdir()
    _, last = fail_with_usage(['iris', '--out', str(tmp_path)], capsys)
    assert last == (f"autograd-lite iris: error: argument --out: {tmp_path / 'metrics.json'} is a folder, "
                    "where the run writes a file; move it away")
    assert os.listdir(tmp_path) == ['metrics.json']


def test_out_in_a_place_without_permission_fails_before_any_work(tmp_path, capsys, monkeypatch):
    def refused(prefix, dir):
        raise PermissionError(13, 'Permission denied', str(dir))

    monkeypatch.setattr(run_folder.tempfile, 'mkdtemp', refused)
    out, last = fail_with_usage(['iris', '--out', str(tmp_path / 'new' / 'run')], capsys)
    assert last == f"autograd-lite iris: error: argument --out: cannot write into {tmp_path}: Permission denied"
    assert out == '' and snapshot(tmp_path) == {}


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() == 0, reason='root may write anywhere')
def test_out_in_a_read_only_folder_fails_before_any_work(tmp_path, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o500)
    try:
        _, last = fail_with_usage(['iris', '--out', str(locked / 'run')], capsys)
    finally:
        locked.chmod(0o700)
    assert last == f"autograd-lite iris: error: argument --out: cannot write into {locked}: Permission denied"


def failing_save(written):
    """A stand-in for ag.save that leaves half a file and fails, as a full disk does."""
    def save(obj, path):
        with open(path, 'wb') as f:
            f.write(b'PK\x03')
        written.append(path)
        raise OSError(errno.ENOSPC, 'No space left on device', str(path))
    return save


def test_a_failed_write_leaves_no_new_folder_and_nothing_half_written(tmp_path, capsys, monkeypatch):
    written = []
    monkeypatch.setattr(serialization, 'save', failing_save(written))
    out = tmp_path / 'runs' / 'iris-run'
    status = cli.main(['iris', '--epochs', '3', '--out', str(out)])
    assert status == 3
    captured = capsys.readouterr()
    assert 'test accuracy' in captured.out  # it failed at the end, after the graph and the loss curve
    assert captured.err == (f"autograd-lite iris: error: [Errno 28] No space left on device: '{written[0]}'; "
                            f"nothing was written into {out}\n")
    assert snapshot(tmp_path) == {} and not (tmp_path / 'runs').exists()


def test_a_failed_write_leaves_an_earlier_run_as_it_was(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'iris-run'
    assert cli.main(['iris', '--epochs', '3', '--out', str(out)]) == 0
    before = snapshot(tmp_path)
    monkeypatch.setattr(serialization, 'save', failing_save([]))
    assert cli.main(['iris', '--epochs', '5', '--seed', '1', '--out', str(out)]) == 3
    assert snapshot(tmp_path) == before  # no file replaced, no staging folder left
    assert sorted(before) == sorted(f'iris-run/{name}' for name in os.listdir(out))


def test_an_earlier_run_is_replaced_and_other_files_left_alone(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'iris-run'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    assert cli.main(['iris', '--epochs', '3', '--out', str(out)]) == 0
    picture = 'graph.svg' if ag.viz.display.dot_available() else 'graph.dot'
    assert (out / picture).exists()
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))  # no Graphviz: graph.dot instead of graph.svg
    monkeypatch.setitem(sys.modules, 'matplotlib.backends.backend_agg', None)  # and no loss.png
    assert cli.main(['iris', '--epochs', '4', '--out', str(out)]) == 0
    assert sorted(os.listdir(out)) == ['backprop.py', 'backprop_data.npz', 'graph.dot', 'graph.txt',
                                       'graph_layers.dot', 'loss.csv', 'metrics.json', 'notes.txt', 'weights.npz']
    assert (out / 'notes.txt').read_text() == 'mine'
    assert len((out / 'loss.csv').read_text().splitlines()) == 5
    assert json.loads((out / 'metrics.json').read_text())['options']['epochs'] == 4


@pytest.mark.parametrize('optimizer,what,epochs_done', [
    ('sgd', 'the loss became inf at epoch 2 of 200', 1),
    ('adam', 'the weights overflowed at epoch 1 of 200', 0),
])
def test_a_diverged_run_says_so_writes_nothing_and_exits_3(tmp_path, capsys, optimizer, what, epochs_done):
    out = tmp_path / 'run'
    status = cli.main(['iris', '--lr', '1e308', '--optimizer', optimizer, '--out', str(out)])
    assert status == 3
    captured = capsys.readouterr()
    assert captured.err == (f"autograd-lite iris: error: the loss diverged ({what}, step 1): {optimizer} with "
                            "--lr 1e+308 takes too large steps; try a lower --lr, e.g. --lr 0.02. "
                            f"Nothing was written into {out}.\n")  # and no RuntimeWarning before it
    progress = [line for line in captured.out.splitlines() if line.startswith('epoch')]
    assert progress == ['epoch   1/200  loss 1.0999  train accuracy 0.333'][:epochs_done]
    assert snapshot(tmp_path) == {}


def test_an_interrupted_run_writes_nothing_and_exits_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, 'train', interrupted)
    out = tmp_path / 'run'
    assert cli.main(['iris', '--out', str(out)]) == 130
    assert capsys.readouterr().err == f"\nautograd-lite iris: interrupted; nothing was written into {out}\n"
    assert snapshot(tmp_path) == {}


def test_out_of_memory_says_which_options_to_change_and_exits_3(tmp_path, capsys, monkeypatch):
    def too_big(*args, **kwargs):
        raise MemoryError('Unable to allocate 29.8 GiB for an array with shape (4, 1000000000)')

    monkeypatch.setattr(ag.nn, 'MLP', too_big)
    out = tmp_path / 'run'
    assert cli.main(['iris', '--hidden', '1000000000', '--out', str(out)]) == 3
    assert capsys.readouterr().err == ('autograd-lite iris: error: out of memory (Unable to allocate 29.8 GiB for '
                                       'an array with shape (4, 1000000000)); choose a smaller --hidden or '
                                       f'--batch-size; nothing was written into {out}\n')
    assert snapshot(tmp_path) == {}


def test_without_sklearn_exit_2_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'sklearn', None)  # import fails
    assert cli.main(['iris', '--out', str(tmp_path / 'run')]) == 2
    assert capsys.readouterr().err == ('autograd-lite iris: error: this command needs scikit-learn: '
                                       'pip install "autograd_lite[examples]"\n')
    assert snapshot(tmp_path) == {}


def test_train_stops_at_a_loss_or_weights_that_are_not_finite():
    data = training.load_split('iris')
    model = ag.nn.MLP([4, 8, 3], activation='relu', seed=0)
    seen = []
    with pytest.raises(training.DivergedError, match=r'^train: the loss diverged: the loss is nan at epoch 1, '
                                                     r'step 2; lower the learning rate$') as info, \
            np.errstate(all='ignore'):
        training.train(model, data.X_train, data.y_train, ag.optim.SGD(model.parameters(), lr=1e308), 3,
                       batch_size=40, callback=seen.append)
    assert (info.value.epoch, info.value.step, seen) == (1, 2, [])
    assert np.isnan(info.value.loss)
    # A finite loss whose step overflows the weights, in the last step of the run.
    model = ag.nn.MLP([4, 8, 3], activation='relu', seed=0)
    with pytest.raises(training.DivergedError, match=r'^train: the loss diverged: the weights are not all finite '
                                                     r'numbers at epoch 1, step 1; lower') as info, \
            np.errstate(all='ignore'):
        training.train(model, data.X_train * 1e3, data.y_train, ag.optim.SGD(model.parameters(), lr=1e308), 1)
    assert info.value.loss is None and isinstance(info.value, FloatingPointError)
