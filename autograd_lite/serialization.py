"""Saving and loading weights as NumPy ``.npz`` archives (no pickle, readable by ``np.load``).

>>> ag.save(net, 'iris.npz')                 # or ag.save(net.state_dict(), 'iris.npz')
>>> net.load_state_dict(ag.load('iris.npz'))

One ``.npy`` member per entry, named by the parameter's dotted name ('0.weight.npy').
The path is used exactly as given (NumPy's ``savez`` would append '.npz'), and the file
is written next to its destination and then renamed over it, so an interrupted save
never leaves half a file behind. ``load`` checks each member's header against the bytes
it holds before taking memory for it, never unpickles, and raises :class:`LoadError`
(naming the file and the problem) for anything that is not such an archive.
"""
import math
import os
import zipfile
import zlib

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


def _fspath(op, path):
    """``path`` as a str (or bytes), or a TypeError naming the op."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{op}: path must be a str or os.PathLike, got {type(path).__name__} {path!r}") from None


def save(obj, path):
    """Write a Module's ``state_dict()`` (or any dict name -> array or Tensor) to ``path``
    as an uncompressed ``.npz``. Returns the path."""
    arrays = _arrays(obj)
    path = _fspath('save', path)
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


class LoadError(ValueError):
    """:func:`load` was given a file that is not an ``.npz`` archive of numeric arrays
    (empty, truncated or corrupt, a member that is not a ``.npy`` array, pickled objects);
    the message names the file, the member and the problem."""


_ZIP_STARTS = (b'PK\x03\x04', b'PK\x05\x06')  # a zip's first member, or an empty zip
_NPY_START = b'\x93NUMPY'
_CHUNK = 1 << 22  # members are read in 4 MiB pieces straight into the array
# What zipfile, zlib and NumPy's header parser raise on damaged bytes.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError, OSError)


def load(path):
    """Read an ``.npz`` written by :func:`save` (or ``np.savez``): a dict name -> ndarray,
    in the order saved. Nothing is unpickled: object arrays are refused. A file that is
    not such an archive raises :class:`LoadError` (a missing file: FileNotFoundError)."""
    name = _fspath('load', path)
    with open(name, 'rb') as f:
        head = f.read(len(_NPY_START))
        if not head:
            raise LoadError(f"load: {name!r} is empty (0 bytes), not an .npz archive; was the save or the copy "
                            "interrupted?")
        if head == _NPY_START:
            raise LoadError(f"load: {name!r} holds a single array, not an .npz archive of named arrays "
                            "(read it with np.load)")
        if head[:4] not in _ZIP_STARTS:
            raise LoadError(f"load: cannot read {name!r} as an .npz archive of numeric arrays: it is not a zip "
                            f"file (it starts with {head!r})")
        disk_size = os.fstat(f.fileno()).st_size
        f.seek(0)
        try:
            archive = zipfile.ZipFile(f)
        except _DAMAGED as exc:
            raise LoadError(f"load: cannot read {name!r} as an .npz archive of numeric arrays: its zip structure "
                            f"is damaged or truncated ({exc})") from None
        with archive:
            announced = _announced_members(f, disk_size, archive.comment)
            if announced is not None and announced != len(archive.infolist()):
                raise LoadError(f"load: {name!r}: the zip end record announces {announced} arrays but its directory "
                                f"lists {len(archive.infolist())}; the archive is corrupt")
            arrays = {}
            for info in archive.infolist():
                key = info.filename[:-4]
                if not info.filename.endswith('.npy'):
                    raise LoadError(f"load: {name!r} has a member {info.filename!r} that is not a .npy array; "
                                    "load reads archives written by ag.save or np.savez, whose members are all .npy")
                if key in arrays:
                    raise LoadError(f"load: {name!r} holds the array {key!r} twice; the archive is corrupt")
                arrays[key] = _read_member(archive, info, f"load: {name!r}, array {key!r}", disk_size)
            return arrays


def _announced_members(f, disk_size, comment):
    """The member count in the zip's end record, which zipfile does not check: a damaged
    directory entry can swallow the entries after it. None where zip64 holds the count."""
    f.seek(disk_size - 22 - len(comment))
    end = f.read(22)
    count = int.from_bytes(end[10:12], 'little')
    return count if end[:4] == b'PK\x05\x06' and count != 0xFFFF else None


def _read_member(archive, info, where, disk_size):
    """One ``.npy`` member as an ndarray, its header checked against the bytes it holds
    before any memory is taken (a header can claim any shape)."""
    if info.compress_size > disk_size or (info.compress_type == zipfile.ZIP_STORED
                                          and info.compress_size != info.file_size):
        raise LoadError(f"{where}: the zip directory's sizes for it ({info.compress_size:,} bytes stored, "
                        f"{info.file_size:,} unpacked) do not fit the file ({disk_size:,} bytes); the file is "
                        "truncated or corrupt")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise LoadError(f"{where}: .npy format version {version[0]}.{version[1]} is not supported "
                                "(1.0 and 2.0 are, what np.save writes for numeric arrays)")
            if dtype.hasobject:
                raise LoadError(f"{where} holds Python objects (dtype {dtype}), which only pickle can read; load "
                                "never unpickles (a pickle can run any code): save numeric arrays")
            size = math.prod(shape) * dtype.itemsize
            held = info.file_size - member.tell()
            if size != held:
                raise LoadError(f"{where}: its header says shape {shape} {dtype} ({size:,} bytes) but the member "
                                f"holds {held:,} bytes of data; the file is truncated or corrupt")
            array = np.empty(shape, dtype=dtype, order='F' if fortran else 'C')
            raw = array.reshape(-1, order='A').view(np.uint8) if size else None  # the same memory, as bytes
            done = 0
            while done < size:
                n = member.readinto(raw[done:done + _CHUNK])
                if not n:
                    raise LoadError(f"{where}: the data ends after {done:,} of {size:,} bytes; the file is "
                                    "truncated or corrupt")
                done += n
            member.read(1)  # at the end: the zip's CRC check of the member runs here
    except LoadError:
        raise
    except _DAMAGED as exc:
        raise LoadError(f"{where}: the member is corrupt or unreadable ({exc})") from None
    return array


__all__ = ['save', 'load', 'LoadError']
