"""Regression tests for the edges where gradients used to come out silently wrong."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autograd_lite as ag
from autograd_lite import nn
from autograd_lite.nn import functional as F

COPIES = {'deepcopy': copy.deepcopy, 'pickle': lambda m: pickle.loads(pickle.dumps(m)),
          'copy': copy.copy}


def _net(seed):
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    for p in net.parameters():
        p.data[...] = rng.normal(size=p.shape)
    return net


def _loss(net, X, y):
    # each parameter is used twice: in the scores and in the L2 term
    return F.cross_entropy(net(ag.Tensor(X)), y) + 0.1 * sum((p * p).sum() for p in net.parameters())


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.sampled_from(['deepcopy', 'pickle']), st.integers(0, 2**16), st.booleans())
def test_copied_and_unpickled_models_get_the_whole_gradient(how, seed, make_new_tensors_first):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    original = _net(seed)
    if make_new_tensors_first:  # tensors made before the copy: the copy must still be newest
        _ = [ag.Tensor(np.ones(2), requires_grad=True) for _ in range(3)]
    twin = COPIES[how](original)
    expected = ag.grad(_loss(original, X, y), list(original.parameters()))
    got = ag.grad(_loss(twin, X, y), list(twin.parameters()))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.data, e.data, rtol=1e-12, atol=1e-15)
    seen = []
    first = next(iter(twin.parameters()))
    first.register_hook(lambda g: seen.append(g.copy()))
    _loss(twin, X, y).backward()
    assert len(seen) == 1  # once, with the whole gradient
    np.testing.assert_allclose(seen[0], expected[0].data, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('how', sorted(COPIES))
def test_a_copied_tensor_is_newer_than_the_tensors_made_before_it(how):
    old = ag.Tensor([1.0, 2.0], requires_grad=True)
    later = ag.Tensor([3.0, 4.0], requires_grad=True)
    twin = COPIES[how](old)
    assert twin._created > later._created
    loss = (twin * later + twin * twin).sum()
    loss.backward()
    np.testing.assert_allclose(twin.grad, later.data + 2 * twin.data)


def test_a_deep_copied_graph_backpropagates_like_the_original():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    loss = (ag.tanh(x * x) * x).sum()
    twin = copy.deepcopy(loss)
    twin_x = twin._inputs[0]._inputs[1]
    assert twin._inputs[0]._op is loss._inputs[0]._op  # ops are shared, like functions
    twin.backward()
    loss.backward()
    np.testing.assert_allclose(twin_x.grad, x.grad, rtol=1e-15)


def test_a_model_and_its_deep_copy_in_one_graph():
    # the copy used to keep the original's numbers: ties in the walk's heap compared Tensors
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    net = _net(1)
    twin = copy.deepcopy(net)
    both = list(net.parameters()) + list(twin.parameters())
    got = ag.grad(_loss(net, X, y) + 2 * _loss(twin, X, y), both)
    alone = ag.grad(_loss(net, X, y), list(net.parameters()))
    for a, g_net, g_twin in zip(alone, got[:len(alone)], got[len(alone):]):
        np.testing.assert_allclose(g_net.data, a.data, rtol=1e-12)
        np.testing.assert_allclose(g_twin.data, 2 * a.data, rtol=1e-12)


_UNPICKLE_IN_A_NEW_PROCESS = """
import pickle, sys
import numpy as np
import autograd_lite as ag
sys.path.insert(0, sys.argv[2])
from test_reliability import _loss
net, X, y = pickle.loads(open(sys.argv[1], 'rb').read())
grads = ag.grad(_loss(net, X, y), list(net.parameters()))
seen = []
first = next(iter(net.parameters()))
first.register_hook(lambda g: seen.append(1))
_loss(net, X, y).backward()
np.save(sys.argv[1] + '.npy', np.concatenate([g.data.ravel() for g in grads] + [np.array([len(seen)])]))
"""


def test_a_model_unpickled_in_a_new_process_gets_the_whole_gradient(tmp_path):
    # in a new process the tensor counter starts again at 0, below the pickled numbers
    import os
    import subprocess
    import sys
    _ = [ag.Tensor([0.0]) for _ in range(5000)]  # a high creation number for the model
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    net = _net(2)
    path = tmp_path / 'model.pkl'
    path.write_bytes(pickle.dumps((net, X, y)))
    done = subprocess.run([sys.executable, '-c', _UNPICKLE_IN_A_NEW_PROCESS, str(path),
                           os.path.dirname(__file__)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = np.load(str(path) + '.npy')
    expected = np.concatenate([g.data.ravel() for g in ag.grad(_loss(net, X, y), list(net.parameters()))])
    np.testing.assert_allclose(result[:-1], expected, rtol=1e-12)
    assert result[-1] == 1  # the hook fired once
