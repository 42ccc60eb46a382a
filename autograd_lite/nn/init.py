"""Weight initialisers, drawn from a ``numpy.random.Generator`` (same seed, same weights).

Weights have shape ``(fan_in, fan_out)``, the layout of :class:`Linear` (``x @ W``).
Each initialiser keeps the variance of the signal roughly constant from layer to layer:

* Glorot (Xavier), for sigmoid and tanh: ``Var(W) = gain**2 * 2 / (fan_in + fan_out)``.
* He (Kaiming), for relu, which zeroes half its inputs: ``Var(W) = 2 / fan_in``.

``rng`` is a Generator, a seed (int) or None (fresh entropy), as ``np.random.default_rng`` takes.

>>> W = glorot_uniform((4, 8), rng=0)    # (4, 8), uniform in +-sqrt(6 / 12)
"""
import numpy as np


def _fans(shape, name):
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a weight shape (fan_in, fan_out), got {shape}")
    return shape


def glorot_uniform(shape, rng=None, gain=1.0, dtype=np.float64):
    """Uniform in ``[-a, a]`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape, 'glorot_uniform')
    limit = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.default_rng(rng).uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def glorot_normal(shape, rng=None, gain=1.0, dtype=np.float64):
    """Normal with mean 0 and ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape, 'glorot_normal')
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return np.random.default_rng(rng).normal(0.0, std, size=shape).astype(dtype, copy=False)


def he_uniform(shape, rng=None, dtype=np.float64):
    """Uniform in ``[-a, a]`` with ``a = sqrt(6 / fan_in)``."""
    fan_in, _ = _fans(shape, 'he_uniform')
    limit = np.sqrt(6.0 / fan_in)
    return np.random.default_rng(rng).uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def he_normal(shape, rng=None, dtype=np.float64):
    """Normal with mean 0 and ``std = sqrt(2 / fan_in)``."""
    fan_in, _ = _fans(shape, 'he_normal')
    std = np.sqrt(2.0 / fan_in)
    return np.random.default_rng(rng).normal(0.0, std, size=shape).astype(dtype, copy=False)


# PyTorch's names for the same initialisers.
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal

# The activation that follows a layer decides its initialiser.
_FOR_ACTIVATION = {None: glorot_uniform, 'linear': glorot_uniform, 'identity': glorot_uniform,
                   'sigmoid': glorot_uniform, 'tanh': glorot_uniform, 'softmax': glorot_uniform,
                   'log_softmax': glorot_uniform, 'relu': he_uniform}


def for_activation(activation):
    """The initialiser for a layer followed by ``activation``: He for 'relu', else Glorot."""
    try:
        return _FOR_ACTIVATION[activation]
    except (KeyError, TypeError):
        choices = ', '.join(repr(k) for k in _FOR_ACTIVATION)
        raise ValueError(f"unknown activation {activation!r} for initialisation; choose one of {choices}") from None
