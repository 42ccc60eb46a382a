"""ag.save / ag.load: .npz round trips, no pickle, and loading into modules."""
import io
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

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


def _zip(path, members):
    """An archive of raw members {filename: bytes}, as a broken writer might leave it."""
    with zipfile.ZipFile(path, 'w') as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def _npy_header(shape, descr='<f8'):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {'descr': descr, 'fortran_order': False, 'shape': shape})
    return out.getvalue()


def test_load_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError):
        ag.load(tmp_path / 'missing.npz')
    single = tmp_path / 'single.npy'
    np.save(single, np.ones(2))
    empty = tmp_path / 'empty.npz'
    empty.write_bytes(b'')
    junk = tmp_path / 'junk.npz'
    junk.write_bytes(b'not an archive')
    pickled = tmp_path / 'pickled.npz'
    np.savez(pickled, obj=np.array([{'a': 1}], dtype=object))
    text = _zip(tmp_path / 'text.npz', {'w.npy': _npy_header((1,)) + np.ones(1).tobytes(), 'notes.txt': b'hello'})
    huge = _zip(tmp_path / 'huge.npz', {'w.npy': _npy_header((10**12,)) + bytes(16)})
    short = _zip(tmp_path / 'short.npz', {'w.npy': _npy_header((3,)) + bytes(16)})
    good = tmp_path / 'good.npz'
    ag.save({'w': np.arange(100.0)}, good)
    corrupt, truncated = tmp_path / 'corrupt.npz', tmp_path / 'truncated.npz'
    data = bytearray(good.read_bytes())
    data[data.index(b'\x93NUMPY') + 300] ^= 0xFF  # one byte of the array's data
    corrupt.write_bytes(bytes(data))
    truncated.write_bytes(good.read_bytes()[:500])
    swallowed = tmp_path / 'swallowed.npz'  # the first directory entry's comment covers the second entry
    ag.save({'a': np.ones(2), 'b': np.zeros(2)}, swallowed)
    data = bytearray(swallowed.read_bytes())
    entry = data.index(b'PK\x01\x02')
    data[entry + 32:entry + 34] = (46 + len('b.npy')).to_bytes(2, 'little')
    swallowed.write_bytes(bytes(data))
    lying = tmp_path / 'lying.npz'  # the directory claims 10**9 unpacked bytes for a stored member
    ag.save({'w': np.arange(4.0)}, lying)
    data = bytearray(lying.read_bytes())
    entry = data.index(b'PK\x01\x02')
    data[entry + 24:entry + 28] = (10**9).to_bytes(4, 'little')
    lying.write_bytes(bytes(data))
    cases = [
        (single, r" holds a single array, not an .npz archive of named arrays \(read it with np.load\)"),
        (empty, r" is empty \(0 bytes\), not an .npz archive; was the save or the copy interrupted\?"),
        (junk, r" as an .npz archive of numeric arrays: it is not a zip file "
               r"\(it starts with b'not an'\)"),
        (pickled, r", array 'obj' holds Python objects \(dtype object\), which only pickle can read; "
                  r"load never unpickles"),
        (text, r" has a member 'notes.txt' that is not a .npy array; load reads archives written by "
               r"ag.save or np.savez"),
        (huge, r", array 'w': its header says shape \(1000000000000,\) float64 \(8,000,000,000,000 "
               r"bytes\) but the member holds 16 bytes of data; the file is truncated or corrupt"),
        (short, r", array 'w': its header says shape \(3,\) float64 \(24 bytes\) but the member holds "
                r"16 bytes"),
        (corrupt, r", array 'w': the member is corrupt or unreadable \(Bad CRC-32 for file 'w.npy'\)"),
        (swallowed, r": the zip end record announces 2 arrays but its directory lists 1; the archive is corrupt"),
        (lying, r", array 'w': the zip directory's sizes for it \(160 bytes stored, 1,000,000,000 unpacked\) do "
                r"not fit the file \(288 bytes\); the file is truncated or corrupt"),
        (truncated, r" as an .npz archive of numeric arrays: its zip structure is "
                    r"damaged or truncated"),
    ]
    for path, message in cases:
        with pytest.raises(ag.LoadError, match=r"^load: (cannot read )?" + re.escape(repr(os.fspath(path))) + message):
            ag.load(path)
    assert issubclass(ag.LoadError, ValueError)


def test_load_never_unpickles(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load called pickle")
    monkeypatch.setattr(pickle, 'load', refuse)
    monkeypatch.setattr(pickle, 'loads', refuse)
    path = tmp_path / 'objects.npz'
    np.savez(path, ok=np.ones(2), obj=np.array([None, 'x'], dtype=object))
    with pytest.raises(ag.LoadError, match="array 'obj' holds Python objects"):
        ag.load(path)


def test_what_np_savez_writes_loads_as_np_load_reads_it(tmp_path):
    arrays = {'f': np.asfortranarray(np.arange(12.0).reshape(3, 4)), 'big_endian': np.arange(5, dtype='>i4'),
              'empty': np.zeros((0, 3)), 'scalar': np.float32(2.5), 'mask': np.array([[True], [False]])}
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f'{save.__name__}.npz'
        save(path, **arrays)
        loaded = ag.load(path)
        assert list(loaded) == list(arrays)
        with np.load(path) as expected:
            for key, value in loaded.items():
                assert value.dtype == expected[key].dtype and value.shape == expected[key].shape
                np.testing.assert_array_equal(value, expected[key])
                assert value.flags.writeable
        assert loaded['f'].flags.f_contiguous


_GOOD = {'0.weight': np.arange(12.0).reshape(3, 4), '0.bias': np.array([1, -2], dtype=np.int32)}


@given(data=st.data())
def test_a_damaged_file_loads_exactly_or_raises_load_error(tmp_path_factory, data):
    """Cut anywhere, or with any byte changed: the original arrays or a LoadError, never
    another exception, never other values."""
    path = tmp_path_factory.mktemp('damaged') / 'w.npz'
    ag.save(_GOOD, path)
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label='truncate'):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), label='length')]
    else:
        at = data.draw(st.integers(0, len(raw) - 1), label='position')
        raw[at] ^= data.draw(st.integers(1, 255), label='xor')
    path.write_bytes(bytes(raw))
    try:
        loaded = ag.load(path)
    except ag.LoadError as exc:
        assert str(exc).startswith('load: ') and repr(os.fspath(path)) in str(exc)
        return
    assert list(loaded) == list(_GOOD)
    for key, value in _GOOD.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)


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
