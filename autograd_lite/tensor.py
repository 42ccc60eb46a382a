"""Tensor: an ndarray plus what the engine needs to differentiate through it.

A Tensor made by an op is a node of the graph: it remembers the op, its inputs and the
plain arrays the op saw (``_op``, ``_inputs``, ``_input_arrays``, ``_static``). Those
references point from an output to its inputs only, never back, so a graph is freed by
reference counting as soon as nobody holds its output.

This module is the bottom of the package: it imports nothing of it. The operators and the
differentiable methods (``x + y``, ``x @ W``, ``x.sum()``, ``x.backward()``) call the ops and
the engine, which sit above it, so :mod:`autograd_lite.operators` attaches them to the class.
"""
import itertools

import numpy as np

# A creation number per tensor: it orders graph drawings and listings (%0, %1, ...). The
# backward pass does not depend on it.
_next_stamp = itertools.count().__next__
_new, _ndarray = object.__new__, np.ndarray

_ALLOWED_KINDS = 'fiub'  # float, signed int, unsigned int, bool


def _to_array(data, dtype):
    """Validate user data and return an ndarray (lists and Python numbers -> float64)."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        # np.matrix (scipy.sparse's .todense()) and other subclasses become plain arrays:
        # in a matrix, * is a matrix product, which would change every gradient rule
        arr = data if data.__class__ is np.ndarray else np.asarray(data)
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    elif isinstance(data, (bool, int, float, list, tuple)):
        try:
            arr = np.array(data, dtype=dtype or np.float64)
        except (ValueError, TypeError):
            raise TypeError(
                f"Tensor: cannot make a tensor from {type(data).__name__} {_short(data)}: "
                "give a number, a rectangular nested list of numbers, or an ndarray "
                "(nested lists must not be ragged)") from None
    else:
        raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} {_short(data)}; "
                        "give a number, a nested list of numbers, an ndarray or a Tensor")
    if arr.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"Tensor: data of dtype {arr.dtype} is not numeric; "
                        "give floating-point data (or integers/bools for labels and masks)")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
        if arr.dtype.kind not in _ALLOWED_KINDS:  # the check again: dtype=complex, object, 'U5'
            raise TypeError(f"Tensor: dtype {arr.dtype} is not numeric; give a floating-point dtype "
                            "(or an integer/bool one for labels and masks)")
    return arr


def _short(obj):
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + '...'


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)   # shape (1, 2)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([[2., 4.]])
    """
    # Set on every tensor: by __init__, by from_op, and by engine._result (every op result).
    # _op: the Primitive that made it (None for a leaf); _inputs: its inputs (Tensors or
    # constants); _input_arrays: the plain arrays its forward saw; _static: its static
    # arguments (a dict, or None); _scope: the nn.Modules whose forward was running;
    # _created: the creation number; _hooks: the hooks (None, or a list); _guarded: on a node
    # that holds leaf arrays read-only, its engine._Hold (else None); _guards: how many
    # unreleased nodes hold this leaf's array read-only; _version: the in-place changes made
    # through engine.writing (the optimizers' steps). (Slots, not class defaults: the first
    # write of a default makes an instance dict, one per fresh input of a transformed function.)
    __slots__ = ('data', '_requires_grad', '_op', '_inputs', '_input_arrays', '_static', '_scope',
                 '_created', '_hooks', '_guarded', '_guards', '_version', '__dict__', '__weakref__')
    # Set on few tensors (leaves, named or hooked ones), so stored only when set: an op result
    # reads these class defaults and costs fewer writes, which is much of an op's cost on
    # small arrays.
    grad = None
    name = None
    _retain = False
    _saved = None  # what a forward saved for its rules (ops declared with saves=True)
    # ndarray @ Tensor, ndarray + Tensor, ...: make NumPy defer to our reflected operators
    # instead of building an object array of Tensors. autograd_lite.numpy_api replaces it
    # (and adds __array_function__ and __array__) so that NumPy's functions record.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _to_array(data, dtype)
        if name is not None:
            self.name = name
        self._requires_grad = False
        self._op = self._inputs = self._input_arrays = self._static = self._scope = None
        self._hooks = self._guarded = None
        self._guards = self._version = 0
        self._created = _next_stamp()
        if requires_grad:
            self.requires_grad = True

    def __setstate__(self, state):
        """Restore a copied or unpickled tensor with a new creation number, as a new tensor
        gets: copy.deepcopy and pickle restore a tensor's inputs before the tensor itself,
        so the numbers keep outputs newer than their inputs (the backward pass's order)."""
        attributes, slots = state if isinstance(state, tuple) else (state, None)
        for key, value in {**(attributes or {}), **(slots or {})}.items():
            setattr(self, key, value)
        self._guarded = None  # a copy's arrays are its own, not held read-only
        self._guards = 0
        self._created = _next_stamp()

    @classmethod
    def _make(cls, data):
        """A tensor outside any graph around an array an op produced: no validation."""
        return from_op(data, None, None, None, None, None)

    # -- what it is -------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be True or False, got {type(flag).__name__} {_short(flag)}")
        flag = bool(flag)
        if flag and self.data.dtype.kind != 'f':
            raise TypeError(f"Tensor: requires_grad=True needs floating-point data, got {self.data.dtype}; "
                            "convert it first, e.g. Tensor(x, dtype=np.float64)")
        if not flag and self._op is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; use .detach()")
        self._requires_grad = flag

    def requires_grad_(self, flag=True):
        """Set requires_grad in place and return self (PyTorch's spelling)."""
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        """True for tensors the user made (not the result of a recorded op)."""
        return self._op is None

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def op_name(self):
        """Name of the op that made this tensor, or None for a leaf."""
        return None if self._op is None else self._op.name

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data)

    # -- gradients ----------------------------------------------------------------
    def retain_grad(self):
        """Keep this intermediate's gradient in ``.grad`` after backward."""
        if not self._requires_grad:  # PyTorch refuses too: no gradient would ever be kept
            raise RuntimeError("retain_grad: this tensor does not require grad, so no gradient reaches it; "
                               "make it from tensors with requires_grad=True, outside no_grad()")
        self._retain = True
        if self._hooks is None:  # the backward pass looks closer at tensors with a hook list
            self._hooks = []
        return self

    def zero_grad(self):
        """Forget the accumulated gradient (``.grad`` becomes None)."""
        self.grad = None

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return
        value replaces the gradient. Returns a handle whose ``remove()`` undoes it."""
        if not callable(fn):
            raise TypeError(f"register_hook: fn must be a function fn(grad) -> None or a new gradient, "
                            f"got {type(fn).__name__} {_short(fn)}")
        if not self._requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no gradient will reach it")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self, fn)

    # -- Python protocol -----------------------------------------------------------
    __hash__ = object.__hash__  # by identity, although == compares elementwise

    def __repr__(self):
        body = np.array2string(self.data, separator=', ', prefix='Tensor(')
        extras = []
        if self.data.dtype != np.float64:
            extras.append(f"dtype={self.data.dtype}")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        if self._requires_grad:
            extras.append("requires_grad=True")
        if self._op is not None:
            extras.append(f"op={self._op.name}")
        return f"Tensor({body}{''.join(', ' + e for e in extras)})"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __format__(self, spec):
        """``f"{loss:.4f}"``: a one-element tensor formats as its number."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(f"format: a tensor of shape {self.shape} has no single number to format "
                            f"with {spec!r}; format one element (t[0].item()) or use np.array2string(t.data)")
        return format(self.data.item(), spec)

    def __round__(self, ndigits=None):
        """``round(t, 2)``: a number for a one-element tensor (as round on a float), else a
        tensor without graph (rounding has no useful gradient)."""
        if self.data.size == 1:
            return round(self.data.item(), ndigits)
        return Tensor._make(np.round(self.data, ndigits or 0))

    def __index__(self):
        return self.data.__index__()


class _HookHandle:
    """Returned by register_hook; ``remove()`` takes the hook off again."""
    __slots__ = ('_tensor', '_fn')

    def __init__(self, tensor, fn):
        self._tensor, self._fn = tensor, fn

    def remove(self):
        hooks = self._tensor._hooks
        if hooks and self._fn in hooks:
            hooks.remove(self._fn)


def _value(x):
    """The plain array behind a Tensor; anything else unchanged."""
    return x.data if isinstance(x, Tensor) else x



def from_op(data, op, inputs, input_arrays, static, scope):
    """The Tensor holding an op's result ``data``: a node of the graph when ``op`` is given,
    else a tensor outside any graph. No validation: an op produced the array.

    It writes each slot once and calls nothing it can avoid. (engine._result, which makes
    every op's result, writes the same slots itself, for speed.)"""
    t = _new(Tensor)
    t.data = data if data.__class__ is _ndarray else np.asarray(data)
    t._op, t._inputs, t._input_arrays, t._static, t._scope = op, inputs, input_arrays, static, scope
    t._requires_grad = op is not None
    t._hooks = t._guarded = None
    t._guards = t._version = 0
    t._created = _next_stamp()
    return t


def new_leaf(data):
    """A leaf that requires grad around the float ndarray ``data`` (not a copy): a function
    transform's fresh input. No validation: the caller checked the array.

    [speed] It writes the slots itself, as from_op does (tests/test_layering.py checks that every
    way of making a tensor sets every slot): value_and_grad of the iris loss makes four per call,
    in 4,678 bytecodes instead of 4,778 with from_op and a second store (benchmarks/bytecodes.py)."""
    t = _new(Tensor)
    t.data = data
    t._op = t._inputs = t._input_arrays = t._static = t._scope = t._hooks = t._guarded = None
    t._requires_grad = True
    t._guards = t._version = 0
    t._created = _next_stamp()
    return t
