"""Saving and loading weights as NumPy ``.npz`` archives (no pickle, readable by ``np.load``).

>>> ag.save(net, 'iris.npz')                 # or ag.save(net.state_dict(), 'iris.npz')
>>> net.load_state_dict(ag.load('iris.npz'))

One ``.npy`` member per entry, named by the parameter's dotted name ('0.weight.npy').
The path is used exactly as given (NumPy's ``savez`` would append '.npz'), and the file
is written next to its destination and then renamed over it, so an interrupted save
never leaves half a file behind.
"""
import os
import zipfile

import numpy as np

from .tensor import Tensor


def _arrays(obj):
    """name -> ndarray from a Module (its state_dict) or a mapping of names to arrays/Tensors."""
    if hasattr(obj, 'state_dict') and callable(obj.state_dict):
        obj = obj.state_dict()
    if not hasattr(obj, 'items'):
        raise TypeError(f"save: expected a Module or a dict of names to arrays, got {type(obj).__name__}")
    out = {}
    for name, value in obj.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save: keys must be non-empty strings, got {name!r}")
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.dtype.kind not in 'fiub':
            raise TypeError(f"save: '{name}' has dtype {arr.dtype}; only numeric arrays are saved (no pickle)")
        out[name] = arr
    return out


def save(obj, path):
    """Write a Module's ``state_dict()`` (or any dict name -> array or Tensor) to ``path``
    as an uncompressed ``.npz``. Returns the path."""
    arrays = _arrays(obj)
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        # Written member by member rather than with np.savez(**arrays): a key such as
        # 'file' or 'allow_pickle' would collide with savez's own arguments.
        with open(tmp, 'wb') as f, zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as archive:
            for name, arr in arrays.items():
                with archive.open(name + '.npy', 'w', force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path):
    """Read an ``.npz`` written by :func:`save` (or ``np.savez``): a dict name -> ndarray,
    in the order saved. Pickled (object) arrays are refused."""
    name = os.fspath(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"load: cannot read {name!r} as an .npz archive of numeric arrays: {exc}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {name!r} holds a single array, not an .npz archive of named arrays")
    with loaded:
        try:
            return {key: loaded[key] for key in loaded.files}
        except ValueError as exc:  # e.g. an object array, which would need pickle
            raise ValueError(f"load: {name!r}: {exc}") from None


__all__ = ['save', 'load']
