"""PyTorch's tensor factories, for the learner who types them: ``ag.zeros(2, 3)``, ``ag.randn(4, 8)``.

Each is the NumPy function of the same job, wrapped in a Tensor (float64 unless ``dtype``
says otherwise, as everywhere in autograd_lite). ``ag.randn`` and ``ag.rand`` draw from one
generator of this module, which ``ag.manual_seed(n)`` restarts, as ``torch.manual_seed`` does.
"""
import numpy as np

from .tensor import Tensor

_generator = np.random.default_rng()


def _size(name, size):
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise TypeError(f"ag.{name}: sizes are non-negative ints, e.g. ag.{name}(2, 3); got {size!r}")
    return tuple(int(n) for n in size)


def zeros(*size, dtype=None, requires_grad=False):
    """A tensor of zeros of shape ``size`` (``np.zeros``)."""
    return Tensor(np.zeros(_size('zeros', size), dtype=dtype or np.float64), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """A tensor of ones of shape ``size`` (``np.ones``)."""
    return Tensor(np.ones(_size('ones', size), dtype=dtype or np.float64), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal values of shape ``size``, from the generator ``manual_seed`` sets."""
    values = _generator.standard_normal(_size('randn', size))
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """Uniform values in [0, 1) of shape ``size``, from the generator ``manual_seed`` sets."""
    return Tensor(_generator.random(_size('rand', size)), dtype=dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """``np.arange(start, end, step)`` as a tensor: integers stay integers, as in PyTorch."""
    values = np.arange(start, step=step) if end is None else np.arange(start, end, step)
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


def manual_seed(seed):
    """Restart the generator of ``ag.randn`` and ``ag.rand``; returns it (a NumPy Generator)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator
