"""Tensor's operators and differentiable methods: ``x + y``, ``x @ W``, ``x.sum()``, ``x.backward()``.

They call the ops and the engine, which sit above :mod:`autograd_lite.tensor`, so they are
written here, in the body of a class as they would be in Tensor's, and attached to Tensor
once, when the package is imported (HIPS autograd attaches its ArrayBox's the same way).
This keeps the imports a DAG: tensor <- engine <- ops <- operators.
"""
from typing import NamedTuple

import numpy as np

from . import engine, ops
from .tensor import Tensor, _value


# [speed] The operators call their op's call function, rather than the op object: calling an
# object runs its class's __call__ from C, in an interpreter frame of its own, and calling a
# function from Python code does not (W4's forward: 2.4 % fewer instructions). The ops are of
# these classes (tests/test_layering.py checks it).
_binary, _unary = engine._Binary.__call__, engine._Unary.__call__


class _Methods:
    """Written as Tensor's own methods; :func:`_attach` copies them onto Tensor."""

    # -- arithmetic (reflected forms take numbers, lists and ndarrays on the left) --------
    def __add__(self, other):
        return _binary(ops.add, self, other)

    def __radd__(self, other):
        return _binary(ops.add, other, self)

    def __sub__(self, other):
        return _binary(ops.sub, self, other)

    def __rsub__(self, other):
        return _binary(ops.sub, other, self)

    def __mul__(self, other):
        return _binary(ops.mul, self, other)

    def __rmul__(self, other):
        return _binary(ops.mul, other, self)

    def __truediv__(self, other):
        return _binary(ops.div, self, other)

    def __rtruediv__(self, other):
        return _binary(ops.div, other, self)

    def __matmul__(self, other):
        return _binary(ops.matmul, self, other)

    def __rmatmul__(self, other):
        return _binary(ops.matmul, other, self)

    def __pow__(self, other):
        return _binary(ops.pow, self, other)

    def __rpow__(self, other):
        return _binary(ops.pow, other, self)

    def __neg__(self):
        return _unary(ops.neg, self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        return ops.getitem(self, index)

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

    # -- gradients ------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see engine.backward)."""
        engine.backward(self, grad, retain_graph=retain_graph)

    # -- differentiable methods -------------------------------------------------------
    def astype(self, dtype):
        try:
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise TypeError(f"astype: dtype {dtype!r:.40} is not a NumPy dtype; give one such as np.float64, "
                            "np.float32, or an integer/bool dtype for labels and masks") from None
        if dtype.kind not in 'fiub':  # complex, object, strings: not data a gradient can flow through
            raise TypeError(f"astype: dtype {dtype} is not a real numeric dtype; give a floating-point dtype "
                            "such as np.float64 (or an integer/bool one for labels and masks)")
        if dtype.kind != 'f':  # integer/bool results cannot carry a gradient: no graph (as torch's .long())
            return Tensor._make(self.data.astype(dtype))
        return ops.astype(self, dtype)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def clip(self, min=None, max=None):
        return ops.clip(self, min, max)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def matmul(self, other):
        return ops.matmul(self, other)

    dot = matmul  # NumPy's spelling, as in the hand-written backprop ``a1.dot(delta3)``

    # dim= and keepdim= are PyTorch's spellings of axis= and keepdims= (keyword-only, so that
    # the NumPy spellings cost nothing more)
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        if dim is not None or keepdim:
            axis, keepdims = torch_axis('sum', axis, dim), keepdims or keepdim
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        if dim is not None or keepdim:
            axis, keepdims = torch_axis('mean', axis, dim), keepdims or keepdim
        return ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        if dim is not None:  # PyTorch's t.max(dim=1): the values and where they are
            return _extreme_with_indices(self, ops.max, np.argmax, dim, keepdims or keepdim)
        return ops.max(self, axis, keepdims or keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        if dim is not None:
            return _extreme_with_indices(self, ops.min, np.argmin, dim, keepdims or keepdim)
        return ops.min(self, axis, keepdims or keepdim)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        if dim is not None or keepdim:
            axis, keepdims = torch_axis('logsumexp', axis, dim), keepdims or keepdim
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis=-1, *, dim=None):
        return ops.softmax(self, axis if dim is None else dim)

    def log_softmax(self, axis=-1, *, dim=None):
        return ops.log_softmax(self, axis if dim is None else dim)

    # Without a gradient: the indices, as NumPy gives them (a constant).
    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return np.argmax(self.data, torch_axis('argmax', axis, dim), keepdims=keepdims or keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return np.argmin(self.data, torch_axis('argmin', axis, dim), keepdims=keepdims or keepdim)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if start_dim == 0 and end_dim in (-1, self.data.ndim - 1):
            return ops.reshape(self, -1)
        shape = self.data.shape
        start, end = start_dim % len(shape), end_dim % len(shape)  # PyTorch's: axes start..end in one
        return ops.reshape(self, shape[:start] + (-1,) + shape[end + 1:])

    def view(self, *shape):
        """PyTorch's spelling of reshape (the data are shared only where NumPy can share them)."""
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def unsqueeze(self, dim):
        return ops.expand_dims(self, dim)

    def clone(self):
        """A copy that stays in the graph (PyTorch's clone; detach() cuts it)."""
        return ops.positive(self)

    def t(self):
        """PyTorch's transpose of a matrix (or a vector, unchanged)."""
        if self.data.ndim > 2:
            raise ValueError(f"t(): expects a tensor of at most 2 dimensions, got shape {self.shape}; "
                             "use .transpose(axes) or .swapaxes(a, b)")
        return ops.transpose(self)

    def transpose(self, *axes):
        # t.transpose(), t.transpose((1, 0)) and t.transpose(1, 0) as NumPy; t.transpose(0) for 1-D
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return ops.transpose(self, axes or None)

    @property
    def T(self):
        return ops.transpose(self)

    def swapaxes(self, axis1, axis2):
        return ops.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None, *, dim=None):
        return ops.squeeze(self, axis if dim is None else dim)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)


def torch_axis(name, axis, dim):
    """The axis of a method given NumPy's ``axis=`` or PyTorch's ``dim=`` (not both)."""
    if dim is None:
        return axis
    if axis is not None:
        raise TypeError(f"{name}: give axis= (NumPy's spelling) or dim= (PyTorch's), not both")
    return tuple(dim) if isinstance(dim, list) else dim


class MaxMin(NamedTuple):
    """What ``t.max(dim=...)`` and ``t.min(dim=...)`` return, as in PyTorch."""
    values: Tensor
    indices: np.ndarray


def _extreme_with_indices(t, op, arg, dim, keepdim):
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op.name}(dim=...): give one axis, as an int (for several, use axis=)")
    return MaxMin(op(t, dim, keepdim), arg(t.data, dim, keepdims=keepdim))


def _attach():
    for name, member in vars(_Methods).items():
        if name not in ('__module__', '__qualname__', '__doc__', '__dict__', '__weakref__'):
            if hasattr(member, '__qualname__'):
                member.__qualname__ = f'Tensor.{name}'
            setattr(Tensor, name, member)
    Tensor.__hash__ = object.__hash__  # by identity, although == compares elementwise


_attach()
