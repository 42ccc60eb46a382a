"""Hypothesis strategies for tests: shapes, broadcasting pairs, axes and float64 data.

Reusable by every test module (``from strategies import shapes, broadcastable_pair, arrays``;
pytest puts ``tests/`` on ``sys.path``). Values come from a NumPy generator seeded by
hypothesis rather than from hypothesis' float strategy: gradients are checked by
central differences, which need smooth points, and hypothesis likes to draw exact
zeros and ties, which are exactly the non-differentiable points of abs, relu, max
and clip. The tie rules are tested separately, with ties on purpose.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# The broadcasting pairs issue 2 names, always tried first (each against each other).
NAMED_SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1)]


def _broadcasts(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


NAMED_PAIRS = [(a, b) for a in NAMED_SHAPES for b in NAMED_SHAPES if _broadcasts(a, b)]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes, e.g. (), (4,), (2, 1, 3). Small sides keep finite differences cheap."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_pair(max_dims=3, max_side=4):
    """Two shapes that broadcast together, as a tuple (shape_a, shape_b): the named pairs
    ((), (4,), (3, 4), (1, 4), (3, 1) against each other) or random ones."""
    drawn = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims, max_side=max_side)
    return st.one_of(st.sampled_from(NAMED_PAIRS), drawn.map(lambda b: b.input_shapes))


def matmul_pair(max_batch_dims=2, max_side=4):
    """Operand shapes for matmul with NumPy's full semantics: 1-D on either side,
    2-D, batched, and batch dimensions that broadcast (e.g. (2, 1, 3, 4) @ (5, 4, 2))."""
    drawn = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch_dims,
                                              max_side=max_side)
    return drawn.map(lambda b: b.input_shapes)


def axes(ndim, allow_none=True):
    """A reduction's ``axis`` for an ndim-dimensional input: None, an int (maybe negative)
    or a tuple of distinct axes (maybe negative, in any order)."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                       .flatmap(lambda axs: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axs])))
    return st.one_of(options)


def seeds():
    return st.integers(0, 2 ** 32 - 1)


def _away_from(x, avoid, margin):
    """Move entries within ``margin`` of any point in ``avoid`` by 2 * margin (repeatedly)."""
    for _ in range(len(avoid) + 1):
        close = np.zeros(x.shape, dtype=bool)
        for p in avoid:
            close |= np.abs(x - p) < margin
        if not close.any():
            break
        x = np.where(close, x + 2 * margin, x)
    return x


def random_array(seed, shape, low=-2.0, high=2.0, avoid=(), margin=0.05, dtype=np.float64):
    """Uniform values in [low, high) from ``seed``, kept ``margin`` away from the points in
    ``avoid`` (kinks such as 0 for abs and relu, the bounds of clip)."""
    x = np.random.default_rng(seed).uniform(low, high, size=shape)
    return np.asarray(_away_from(x, avoid, margin), dtype=dtype)


def arrays(shape, low=-2.0, high=2.0, avoid=(), margin=0.05, dtype=np.float64):
    """A strategy for float arrays of ``shape`` (see :func:`random_array`)."""
    return seeds().map(lambda s: random_array(s, shape, low, high, avoid, margin, dtype))
