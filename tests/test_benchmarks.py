"""The benchmark suite computes what it claims: on tiny versions of every workload, each
installed engine's gradients agree with NumPy by hand, and NumPy by hand agrees with
central finite differences. No timing is asserted here."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks')
sys.path.insert(0, BENCH)
_environ = dict(os.environ)

import contestants  # noqa: E402
import run  # noqa: E402
import verify  # noqa: E402
import workloads as wl  # noqa: E402
from contestants import numpy_hand  # noqa: E402

# benchmarks/threads.py pins OMP/OPENBLAS/MKL to one thread for the processes it starts: not
# for the rest of this test session.
os.environ.clear()
os.environ.update(_environ)

TINY = {key: wl.small(w) for key, w in wl.ALL.items()}


def _contestant(name):
    try:
        return contestants.load(name)
    except ImportError as exc:
        pytest.skip(f"{name} is not installed: {exc}")


@pytest.mark.parametrize('key', ['W1', 'W1b', 'W2', 'W3'])
def test_hand_written_backprop_matches_finite_differences(key):
    w = TINY[key]
    X, Y, params = w.data(seed=3)
    _, grads = numpy_hand._step(w, X, Y, params)
    eps = 1e-6
    for p, g in zip(params, grads):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + eps
            up = numpy_hand.loss(w, X, Y, params)
            p[i] = saved - eps
            down = numpy_hand.loss(w, X, Y, params)
            p[i] = saved
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-9)


def test_hand_written_chain_matches_finite_differences():
    w = TINY['W4']
    x0 = w.data(seed=1)
    f = lambda x: wl.run_chain(x, w.n_ops, np.tanh).sum()  # noqa: E731
    numeric = np.array([(f(x0 + e) - f(x0 - e)) / 2e-6 for e in np.eye(w.width) * 1e-6])
    np.testing.assert_allclose(numpy_hand.chain(w, x0)(), numeric, rtol=1e-6)


@pytest.mark.parametrize('name', contestants.MODULES[1:])
@pytest.mark.parametrize('key', ['W1', 'W1b', 'W2', 'W3'])
def test_engine_gradients_agree_with_hand_written_backprop(name, key):
    assert verify.mlp_mismatch(_contestant(name), TINY[key], seed=2) is None


@pytest.mark.parametrize('name', contestants.MODULES[1:])
def test_engine_chain_gradient_agrees_with_hand_written_backprop(name):
    assert verify.chain_mismatch(_contestant(name), TINY['W4'], seed=2) is None


def test_training_step_updates_the_weights_by_sgd():
    w = TINY['W1']
    X, Y, params = w.data()
    step, grads = _contestant('ag_lite').mlp(w, X, Y, params)
    step()
    step()  # the second step starts from the updated weights: its gradients differ
    _, first = numpy_hand._step(w, X, Y, params)
    moved = [p - wl.LR * g for p, g in zip(params, first)]
    _, second = numpy_hand._step(w, X, Y, moved)
    assert verify.mismatch(grads(), second) is None
    assert verify.mismatch(grads(), first) is not None


def test_mismatch_reports_a_wrong_gradient():
    right = [np.array([[1.0, -2.0]]), np.array([0.5])]
    assert verify.mismatch(right, right) is None
    assert 'off by 4' in verify.mismatch([-right[0], right[1]], right)
    assert 'shape (2, 1)' in verify.mismatch([right[0].T, right[1]], right)
    assert 'off by nan' in verify.mismatch([right[0] * np.nan, right[1]], right)


def test_chain_child_prints_time_memory_and_gradient():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, 'chain_child.py'), 'ag_lite', '30'],
                          capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out['seconds']) == 3 and out['extra_mib'] >= 0
    w = wl.Chain('W5', '', 30, wl.W5.width, 0.0)
    assert verify.mismatch([np.array(out['grad'])], [numpy_hand.chain(w, w.data())()]) is None


def test_run_writes_json_with_every_contestant_checked(tmp_path, capsys, monkeypatch):
    # describe the thread pools without limiting them: the rest of the test session keeps its own
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = list
    monkeypatch.setattr(run.threads, 'limit', threadpool_info)
    out = tmp_path / 'bench.json'
    run.main(['--quick', '--only', 'W1b', '--engines', 'numpy_hand,ag_lite', '--json', str(out)])
    result = json.loads(out.read_text())['workloads']['W1b']
    assert set(result['results']) == {'NumPy by hand', 'autograd_lite'}
    assert all(e['status'] == 'ok' for e in result['results'].values())
    assert result['results']['NumPy by hand']['ratio'] == 1.0
    assert 'W1b' in capsys.readouterr().out


# -- the hot path's shortcuts keep the engine's invariants ------------------------------------
def _every_slot_set(t):
    import autograd_lite as ag
    names = [n for n in ag.Tensor.__slots__ if n not in ('__weakref__', '__dict__')]
    return [n for n in names if not hasattr(t, n)]


def test_op_results_have_every_slot_set_with_and_without_a_graph():
    import autograd_lite as ag
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    recorded = ag.tanh(x * 2.0)
    with ag.no_grad():
        plain = ag.tanh(x * 2.0)
    assert _every_slot_set(recorded) == [] and _every_slot_set(plain) == []
    assert recorded.requires_grad and recorded.op_name == 'tanh' and recorded._created > x._created
    assert not plain.requires_grad and plain._op is None and plain._inputs is None


def test_leaf_gradients_never_alias_each_other_or_what_a_hook_kept():
    # backward hands a rule's new array to a leaf without copying it only when nothing else holds it
    import autograd_lite as ag
    x, y = ag.Tensor([1.0, 2.0], requires_grad=True), ag.Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()  # add gives both leaves the same upstream array
    assert not np.shares_memory(x.grad, y.grad)
    x.grad *= 10.0
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])
    kept = []
    z = ag.Tensor([1.0, 2.0], requires_grad=True)
    z.register_hook(kept.append)
    (z * 3.0).sum().backward()
    assert not np.shares_memory(z.grad, kept[0])
    W = ag.Tensor(np.ones((3, 2)), requires_grad=True)
    (ag.Tensor(np.ones((4, 3))) @ W).sum().backward()
    W.grad += 1.0  # the leaf's gradient is its own, writeable array
    np.testing.assert_array_equal(W.grad, np.full((3, 2), 5.0))


def test_per_op_breakdown_runs_and_prints_each_part(capsys, monkeypatch):
    # the script behind docs/performance.md's cost-per-op figures; no timing is asserted
    import per_op
    monkeypatch.setattr(per_op.threads, 'limit', lambda: [])  # leave this session's thread pools alone
    per_op.main(['--quick'])
    out = capsys.readouterr().out
    for part in ('x * 1.0001 (autograd_lite)', 'np.tanh(a) (NumPy)', 'backward',
                 'NumPy by hand (forward and backward)', 'garbage collector on', 'garbage collector off',
                 'backward, rules replayed as copies', 'the copies alone'):
        assert part in out
    import gc
    assert gc.isenabled()  # the script turns the collector back on after timing without it


def test_a_rules_new_array_becomes_a_leafs_grad_without_a_copy():
    # the other side of the test above: where nothing else holds the array, no copy is made
    import autograd_lite as ag
    returned = []  # ids only: a reference kept here would (rightly) force a copy

    def rule(g, ans, x):
        out = g * 2.0
        returned.append(id(out))
        return out

    double = ag.Primitive('double', lambda x: x * 2.0, (rule,))
    plain, hooked = ag.Tensor([1.0, 2.0], requires_grad=True), ag.Tensor([1.0, 2.0], requires_grad=True)
    hooked.register_hook(lambda g: None)
    for leaf in (plain, hooked):  # a leaf taken directly, and one visited because of its hook
        double(leaf).sum().backward()
        assert id(leaf.grad) == returned[-1]
        np.testing.assert_array_equal(leaf.grad, [2.0, 2.0])


def test_numpy_dispatch_benchmark_compares_equal_work(tmp_path, capsys):
    import shutil

    import autograd_lite as ag
    import numpy_dispatch
    fns = numpy_dispatch.spellings(ag, 'now')
    for numpy_name, method_name in (('np.exp(t)', 't.exp()'), ('np.dot(X, W)', 'X @ W'), ('np.sum(t)', 't.sum()'),
                                    ('np.multiply(t, 2.0)', 't * 2.0'), ('np.tanh(t)', 'lib.tanh(t)')):
        ours, theirs = fns[f'{numpy_name} now'](), fns[f'{method_name} now']()
        assert ours.requires_grad and ours.op_name == theirs.op_name and np.array_equal(ours.data, theirs.data)
    # --before loads a copy of the package under another name, in the same process
    shutil.copytree(os.path.dirname(ag.__file__), tmp_path / 'autograd_lite_copy',
                    ignore=shutil.ignore_patterns('__pycache__'))
    numpy_dispatch.main(['--rounds', '2', '--before', str(tmp_path / 'autograd_lite_copy')])
    out = capsys.readouterr().out
    assert '| `np.exp(t)` / `t.exp()` |' in out and '| `X @ W` |' in out  # the ratio tables


def test_paired_timing_alternates_single_calls_and_ab_reports_its_ratio():
    import timing
    calls = []
    ta, tb = timing.paired(lambda: calls.append('a'), lambda: calls.append('b'), 3)
    assert calls == ['a', 'b'] * 3 and len(ta) == len(tb) == 3 and min(ta + tb) >= 0
    a10, b10, ratio, median_ratio = timing.paired_summary([1.0] * 10 + [9.0], [2.0] * 10 + [3.0])
    assert (a10, b10, ratio, median_ratio) == (1.0, 2.0, 2.0, 2.0)
    # in a process of its own: ab.py imports two copies of the package under other names
    repo = os.path.dirname(BENCH)
    done = subprocess.run([sys.executable, os.path.join(BENCH, 'ab.py'), '--base', repo, '--only', 'W1b',
                           '--paired', '20'], capture_output=True, text=True, check=True)
    assert '20 paired steps' in done.stdout and 'W1b: base' in done.stdout and '(median of pairs)' in done.stdout


def test_bytecodes_counts_one_step_per_function_the_same_on_every_run():
    import bytecodes
    import autograd_lite as ag
    repo = os.path.dirname(BENCH)

    def step():
        x = ag.Tensor(np.ones(3), requires_grad=True)
        (x * 2.0).sum().backward()
    first, second = bytecodes.count(step), bytecodes.count(step)
    assert first == second and first[('engine.py', '_run')] > 0 and sum(first.values()) > 100
    assert ('test_benchmarks.py', 'step') in first  # the step's own lines count too
    done = subprocess.run([sys.executable, os.path.join(BENCH, 'bytecodes.py'), repo, 'iris-value_and_grad'],
                          capture_output=True, text=True, check=True, env={**os.environ, 'GUARD': '0'})
    lines = done.stdout.splitlines()
    assert lines[-1].endswith('total (iris-value_and_grad, guard off)') and int(lines[-1].split()[0]) > 1000
    assert any(line.split()[1:] == ['func.py', '_value_and_grad_of_arrays'] for line in lines)
