"""Tensor: an ndarray plus what the engine needs to differentiate through it.

A Tensor made by an op remembers the op, its inputs and the plain arrays the op saw
(``_op``, ``_inputs``, ``_args``). Those references point from an output to its inputs
only, never back, so a graph is freed by reference counting as soon as nobody holds
its output. Arithmetic and methods call the primitives in :mod:`autograd_lite.ops`.
"""
import itertools

import numpy as np

# Creation order is a topological order: an op's output is always created after its
# inputs. The backward pass sorts by it instead of walking the graph recursively.
_next_seq = itertools.count().__next__

_ALLOWED_KINDS = 'fiub'  # float, signed int, unsigned int, bool


def _to_array(data, dtype):
    """Validate user data and return an ndarray (lists and Python numbers -> float64)."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
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
    # Every op result sets these slots (in _make and in engine._result, which makes op
    # results itself: a new slot must be set in both).
    __slots__ = ('data', '_rg', '_op', '_inputs', '_args', '_kw', '_seq', '_scope',
                 '__dict__', '__weakref__')
    # Set on few tensors (leaves, named or hooked ones), so stored only when set: an op result
    # reads these class defaults and costs fewer writes, which is much of an op's cost on
    # small arrays.
    grad = None
    name = None
    _hooks = None
    _retain = False
    # ndarray @ Tensor, ndarray + Tensor, ...: make NumPy defer to our reflected
    # operators instead of building an object array of Tensors.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _to_array(data, dtype)
        if name is not None:
            self.name = name
        self._rg = False
        self._op = self._inputs = self._args = self._kw = self._scope = None
        self._seq = _next_seq()
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data, op=None, inputs=None, args=None, kw=None):
        """Fast constructor for op results: no validation (the op produced an array)."""
        t = object.__new__(cls)
        t.data = data if data.__class__ is np.ndarray else np.asarray(data)
        t._scope = None
        t._op, t._inputs, t._args, t._kw = op, inputs, args, kw
        t._rg = op is not None
        t._seq = _next_seq()
        return t

    # -- what it is -------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if flag and self.data.dtype.kind != 'f':
            raise TypeError(f"Tensor: requires_grad=True needs floating-point data, got {self.data.dtype}; "
                            "convert it first, e.g. Tensor(x, dtype=np.float64)")
        if not flag and self._op is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; use .detach()")
        self._rg = flag

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

    def astype(self, dtype):
        dtype = np.dtype(dtype)
        if dtype.kind != 'f':  # integer/bool results cannot carry a gradient: no graph (as torch's .long())
            return Tensor._make(self.data.astype(dtype))
        return _ops.astype(self, dtype=dtype)

    # -- gradients ----------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see engine.backward)."""
        _engine.backward(self, grad, retain_graph=retain_graph)

    def retain_grad(self):
        """Keep this intermediate's gradient in ``.grad`` after backward."""
        if not self._rg:  # PyTorch refuses too: no gradient would ever be kept
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
        if not self._rg:
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
        if self._rg:
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

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __index__(self):
        return self.data.__index__()

    # -- arithmetic (reflected forms take numbers, lists and ndarrays on the left) --------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons give plain boolean arrays: they are not differentiable.
    def __eq__(self, other):
        return self.data == _value(other)

    def __ne__(self, other):
        return self.data != _value(other)

    def __lt__(self, other):
        return self.data < _value(other)

    def __le__(self, other):
        return self.data <= _value(other)

    def __gt__(self, other):
        return self.data > _value(other)

    def __ge__(self, other):
        return self.data >= _value(other)

    # -- differentiable methods -------------------------------------------------------
    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def matmul(self, other):
        return _ops.matmul(self, other)

    dot = matmul  # NumPy's spelling, as in the hand-written backprop ``a1.dot(delta3)``

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis=-1):
        return _ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _ops.log_softmax(self, axis)

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def flatten(self):
        return _ops.reshape(self, -1)

    def transpose(self, *axes):
        # t.transpose(), t.transpose((1, 0)) and t.transpose(1, 0) as NumPy; t.transpose(0) for 1-D
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return _ops.transpose(self, axes or None)

    @property
    def T(self):
        return _ops.transpose(self)

    def swapaxes(self, axis1, axis2):
        return _ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)


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


# The modules below need Tensor defined; they are imported last to close the cycle.
from . import engine as _engine  # noqa: E402
from . import ops as _ops  # noqa: E402
