"""ag.save / ag.load: .npz round trips, no pickle, and loading into modules."""
import os
import zipfile

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import nn


def test_module_round_trip(tmp_path):
    path = tmp_path / 'net.npz'
    trained = nn.MLP([4, 8, 3], seed=0)
    assert ag.save(trained, path) == os.fspath(path)
    state = ag.load(path)
    assert list(state) == ['0.weight', '0.bias', '2.weight', '2.bias']
    fresh = nn.MLP([4, 8, 3], seed=1)
    fresh.load_state_dict(state)
    x = ag.Tensor(np.random.default_rng(0).normal(size=(5, 4)))
    np.testing.assert_array_equal(fresh(x).data, trained(x).data)


def test_plain_numpy_can_read_it_without_pickle(tmp_path):
    path = tmp_path / 'weights.npz'
    ag.save({'W1': ag.Tensor(np.arange(6.0).reshape(2, 3)), 'b': np.array([1, 2], dtype=np.int32)}, path)
    with np.load(path, allow_pickle=False) as archive:
        assert archive.files == ['W1', 'b']
        np.testing.assert_array_equal(archive['W1'], np.arange(6.0).reshape(2, 3))
        assert archive['b'].dtype == np.int32


def test_path_is_used_as_given_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / 'weights.bin'
    ag.save({'x': np.ones(2)}, path)
    assert sorted(os.listdir(tmp_path)) == ['weights.bin']
    ag.save({'x': np.zeros(3)}, path)  # overwrite
    np.testing.assert_array_equal(ag.load(path)['x'], np.zeros(3))


def test_keys_that_clash_with_savez_arguments_are_fine(tmp_path):
    path = tmp_path / 'odd.npz'
    ag.save({'file': np.ones(1), 'allow_pickle': np.zeros(1), 'a.b/c': np.ones(2)}, path)
    assert list(ag.load(path)) == ['file', 'allow_pickle', 'a.b/c']


def test_save_rejects_what_it_cannot_write_and_leaves_no_file(tmp_path):
    path = tmp_path / 'x.npz'
    with pytest.raises(TypeError, match=r"save: 'names' has dtype <U1; only numeric arrays are saved \(no pickle\)"):
        ag.save({'ok': np.ones(1), 'names': np.array(['a'])}, path)
    with pytest.raises(TypeError, match=r"save: keys must be non-empty strings, got 3"):
        ag.save({3: np.ones(1)}, path)
    with pytest.raises(TypeError, match="save: expected a Module or a dict of names to arrays, got list"):
        ag.save([np.ones(1)], path)
    assert os.listdir(tmp_path) == []


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ag.load(tmp_path / 'missing.npz')
    single = tmp_path / 'single.npy'
    np.save(single, np.ones(2))
    with pytest.raises(ValueError, match="holds a single array, not an .npz archive"):
        ag.load(single)
    junk = tmp_path / 'junk.npz'
    junk.write_bytes(b'not an archive')
    with pytest.raises(ValueError, match=r"load: cannot read .*junk.npz' as an .npz archive"):
        ag.load(junk)
    pickled = tmp_path / 'pickled.npz'
    np.savez(pickled, obj=np.array([{'a': 1}], dtype=object))
    with pytest.raises(ValueError, match=r"load: .*pickled.npz'.*pickle"):
        ag.load(pickled)


def test_loading_a_mismatched_file_changes_nothing(tmp_path):
    path = tmp_path / 'wide.npz'
    ag.save(nn.MLP([4, 16, 3], seed=0), path)
    net = nn.MLP([4, 8, 3], seed=0)
    before = net.state_dict()
    with pytest.raises(nn.StateDictError, match=r"'0.weight' \(expected \(4, 8\) float64, got \(4, 16\) float64\)"):
        net.load_state_dict(ag.load(path))
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_saved_file_is_an_uncompressed_zip_of_npy_members(tmp_path):
    path = tmp_path / 'w.npz'
    ag.save(nn.Linear(2, 3), path)
    with zipfile.ZipFile(path) as archive:
        assert [i.filename for i in archive.infolist()] == ['weight.npy', 'bias.npy']
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
