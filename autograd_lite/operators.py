"""Tensor's operators and differentiable methods: ``x + y``, ``x @ W``, ``x.sum()``, ``x.backward()``.

They call the ops and the engine, which sit above :mod:`autograd_lite.tensor`, so they are
written here, in the body of a class as they would be in Tensor's, and attached to Tensor
once, when the package is imported (HIPS autograd attaches its ArrayBox's the same way).
This keeps the imports a DAG: tensor <- engine <- ops <- operators.
"""
import numpy as np

from . import engine, ops
from .tensor import Tensor, _value


class _Methods:
    """Written as Tensor's own methods; :func:`_attach` copies them onto Tensor."""

    # -- arithmetic (reflected forms take numbers, lists and ndarrays on the left) --------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __neg__(self):
        return ops.neg(self)

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
        dtype = np.dtype(dtype)
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

    def sum(self, axis=None, keepdims=False):
        return ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return ops.min(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis=-1):
        return ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return ops.log_softmax(self, axis)

    def reshape(self, *shape):
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def flatten(self):
        return ops.reshape(self, -1)

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

    def squeeze(self, axis=None):
        return ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)


def _attach():
    for name, member in vars(_Methods).items():
        if name not in ('__module__', '__qualname__', '__doc__', '__dict__', '__weakref__'):
            if hasattr(member, '__qualname__'):
                member.__qualname__ = f'Tensor.{name}'
            setattr(Tensor, name, member)
    Tensor.__hash__ = object.__hash__  # by identity, although == compares elementwise


_attach()
