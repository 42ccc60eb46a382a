"""NumPy's own functions on Tensors: ``np.exp(t)``, ``np.dot(X, w)``, ``np.sum(t, axis=0)`` record.

NumPy hands every call that has a Tensor among its arguments to the Tensor (NEP 13 and 18):

* a ufunc (``np.exp``, ``np.add``, and the operators of an ndarray on the left, ``X @ w``,
  ``X + b``) calls ``Tensor.__array_ufunc__``;
* any other public function (``np.dot``, ``np.sum``, ``np.reshape``) calls
  ``Tensor.__array_function__``.

Both look the function up in a table and call the primitive of :mod:`autograd_lite.ops`, so
the result is a Tensor with a graph when an input requires grad. A function without a
gradient (``np.argmax``, ``np.isnan``) runs on the plain arrays and returns a constant. Any
other function raises a TypeError naming it, and a Tensor that requires grad refuses to become
an ndarray (``__array__``), which is what ``X.dot(w)`` with an ndarray ``X`` and
``np.asarray(w)`` do: the graph is never lost silently. The method spellings (``t.exp()``,
``x * 2``) call the primitives directly and never come here.

Like :mod:`autograd_lite.operators`, this module attaches its methods to Tensor when the
package is imported, which keeps :mod:`autograd_lite.tensor` at the bottom of the imports.
"""
import ast
import builtins
import os

import numpy as np

from . import ops, source
from .engine import _apply
from .operators import torch_axis
from .tensor import Tensor, _value

_NoValue = np._NoValue  # NumPy's "not given" default, as its functions pass it on
_NUMPY = os.path.dirname(np.__file__) + os.sep  # NumPy's own Python code is not the user's line


# -- ufuncs ---------------------------------------------------------------------------------
# The ufuncs that are primitives, called as ufunc(*inputs) with no keyword.
UFUNCS = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.negative: ops.neg, np.positive: ops.positive, np.power: ops.pow, np.matmul: ops.matmul,
    np.float_power: ops.float_power, np.square: ops.square, np.sqrt: ops.sqrt, np.cbrt: ops.cbrt,
    np.reciprocal: ops.reciprocal, np.remainder: ops.remainder, np.fmod: ops.fmod,
    np.exp: ops.exp, np.exp2: ops.exp2, np.expm1: ops.expm1,
    np.log: ops.log, np.log2: ops.log2, np.log10: ops.log10, np.log1p: ops.log1p,
    np.logaddexp: ops.logaddexp, np.logaddexp2: ops.logaddexp2,
    np.sin: ops.sin, np.cos: ops.cos, np.tan: ops.tan,
    np.arcsin: ops.arcsin, np.arccos: ops.arccos, np.arctan: ops.arctan, np.arctan2: ops.arctan2,
    np.sinh: ops.sinh, np.cosh: ops.cosh, np.tanh: ops.tanh,
    np.arcsinh: ops.arcsinh, np.arccosh: ops.arccosh, np.arctanh: ops.arctanh,
    np.absolute: ops.abs, np.fabs: ops.abs, np.hypot: ops.hypot,
    np.maximum: ops.maximum, np.minimum: ops.minimum, np.fmax: ops.fmax, np.fmin: ops.fmin,
}
# ufunc.reduce and ufunc.accumulate as the reductions they are (np.add.reduce(t, axis=0))
_REDUCE = {np.add: ops.sum, np.multiply: ops.prod, np.maximum: ops.max, np.minimum: ops.min}
_ACCUMULATE = {np.add: ops.cumsum}


def _ufunc_name(ufunc):
    return f"np.{ufunc.__name__}"


class _UfuncMethods:
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = UFUNCS.get(ufunc)
        if op is not None and not kwargs and method == '__call__':  # the common case, kept short
            if len(inputs) == 1:
                # [speed] np.exp(t): the input is this Tensor, so run the op as its short call
                # (engine._Unary) would, without that call's frame: 1.42 -> 1.29 us on 8 elements
                return _apply(op, inputs, (self.data,), None, self._requires_grad)
            return op(*inputs)
        return _ufunc_other(ufunc, method, inputs, kwargs)


def _ufunc_other(ufunc, method, inputs, kwargs):
    """A ufunc call with keywords, a ufunc method (``np.add.reduce``), or a ufunc without a
    gradient (comparisons, ``np.sign``): a constant."""
    name = _ufunc_name(ufunc) + ('' if method == '__call__' else f'.{method}')
    out = kwargs.pop('out', None)
    if out is not None:
        raise _out_error(name, ufunc, inputs, out)
    if method == '__call__' and ufunc in UFUNCS:
        unsupported = ', '.join(f'{k}=' for k in kwargs)
        raise TypeError(f"{name}: {unsupported} cannot be differentiated here; call {name}(...) "
                        "without it (for another dtype, convert the result with .astype)")
    if method == 'reduce' and ufunc in _REDUCE and not set(kwargs) - {'axis', 'keepdims'}:
        return _REDUCE[ufunc](inputs[0], kwargs.get('axis', 0), kwargs.get('keepdims', False))
    if method == 'accumulate' and ufunc in _ACCUMULATE and not set(kwargs) - {'axis'}:
        return _ACCUMULATE[ufunc](inputs[0], axis=kwargs.get('axis', 0))
    if method == 'outer' and ufunc in UFUNCS and ufunc.nin == 2 and not kwargs:
        a, b = inputs
        return UFUNCS[ufunc](ops.reshape(a, np.shape(_value(a)) + (1,) * _ndim(b)), b)
    if not _requires_grad(inputs) or (method == '__call__' and ufunc in CONSTANT_UFUNCS):
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)
    raise unsupported_error(name)


_SYMBOLS = {np.add: '+', np.subtract: '-', np.multiply: '*', np.divide: '/', np.power: '**',
            np.matmul: '@', np.remainder: '%'}


def _out_error(name, ufunc, inputs, out):
    """out= (or X += t with X an ndarray, which NumPy runs as np.add(X, t, out=X))."""
    symbol = _SYMBOLS.get(ufunc)
    if symbol and len(inputs) == 2 and out[0] is inputs[0] and isinstance(out[0], np.ndarray):
        where = source.user_location()
        return TypeError(
            f"x {symbol}= t with x an ndarray and t a Tensor would write the result into the ndarray "
            f"x, cutting it from the graph; write x = x {symbol} t (a Tensor) instead"
            + (f"\n  at {where}" if where is not None else ''))
    return TypeError(
        f"{name}: out= cannot be used with Tensors: a Tensor's value is never written in place "
        f"(the graph needs the old one) and writing into an ndarray would drop the result from "
        f"the graph; assign the result instead, e.g. y = {name}(...)")


# -- other functions ----------------------------------------------------------------------------
FUNCTIONS = {}  # NumPy function -> its differentiable implementation on Tensors


def implements(*funcs):
    """Register the decorated function as the Tensor version of NumPy's ``funcs``."""
    def register(fn):
        for f in funcs:
            FUNCTIONS[f] = fn
        return fn
    return register


class _FunctionMethods:
    def __array_function__(self, func, types, args, kwargs):
        fn = FUNCTIONS.get(func)
        if fn is not None:
            return fn(*args, **kwargs)
        return _function_other(func, types, args, kwargs)


def _function_other(func, types, args, kwargs):
    """A NumPy function that is not a primitive: a constant when nothing requires grad or the
    function has no gradient, else the clear error."""
    for t in types:
        if not issubclass(t, (Tensor, np.ndarray)):
            return NotImplemented  # another library's array: let it have a go
    if func in CONSTANT_FUNCTIONS or not _requires_grad(args, kwargs):
        return func(*_plain(args), **_plain(kwargs))
    raise unsupported_error(_function_name(func))


def _function_name(func):
    module = getattr(func, '__module__', None) or 'numpy'
    return module.replace('numpy', 'np', 1) + '.' + func.__name__


# What to write instead of a few functions learners reach for, with the ops that record.
SUGGESTIONS = {
    'np.diff': "x[1:] - x[:-1] (along axis 0; slices record)",
    'np.cumprod': "np.exp(np.cumsum(np.log(x))) for positive x",
    'np.nansum': "np.sum(np.where(np.isnan(x.data), 0.0, x))",
    'np.nanmean': "np.sum(np.where(mask, 0.0, x)) / (~mask).sum() with mask = np.isnan(x.data)",
    'np.median': "np.sort(x) and index the middle element(s) (sort records)",
    'np.ptp': "np.max(x) - np.min(x)",
}


def unsupported_error(name):
    """The TypeError for NumPy's function ``name`` given a Tensor that requires grad."""
    instead = SUGGESTIONS.get(name)
    what = (f"Write {instead}" if instead else
            "Write it with the supported NumPy functions (docs/numpy.md lists them)")
    return TypeError(f"{name} is not supported on Tensors that require grad (it has no gradient rule "
                     f"here). {what}, or call it on t.detach() if its result is meant to be a constant")


# -- what has no gradient: constants by design -----------------------------------------------------
CONSTANT_UFUNCS = frozenset({
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.sign,
    np.floor, np.ceil, np.trunc, np.rint, np.floor_divide,
})
CONSTANT_FUNCTIONS = frozenset({
    np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero, np.shape, np.ndim, np.size,
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.round, np.around,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.argwhere, np.flatnonzero,
    np.any, np.all, np.searchsorted, np.result_type, np.iscomplexobj, np.isrealobj, np.isscalar,
})


# -- the functions ------------------------------------------------------------------------------
def _refuse(name, **given):
    """A TypeError for the options that were given but cannot be differentiated here."""
    used = [k for k, v in given.items() if v is not None and v is not _NoValue]
    if used:
        listed = ', '.join(f'{k}=' for k in used)
        raise TypeError(f"{name}: {listed} is not supported on Tensors; call it without "
                        f"{'it' if len(used) == 1 else 'them'}"
                        + (" and assign the result (out= would write in place)" if 'out' in used else ''))


def _ndim(x):
    # x.ndim, not np.ndim(x): np.ndim is itself a dispatched NumPy function, and costs more
    return x.ndim if isinstance(x, (Tensor, np.ndarray)) else np.ndim(x)


@implements(np.dot)
def dot(a, b, out=None):
    if out is not None:
        _refuse('np.dot', out=out)
    nb = _ndim(b)
    if 1 <= nb <= 2 and _ndim(a) >= 1:  # vectors and matrices: dot is matmul
        return ops.matmul(a, b)
    if nb == 0 or _ndim(a) == 0:
        return ops.mul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))


@implements(np.matmul)
def matmul(a, b, out=None, **kwargs):
    _refuse('np.matmul', out=out, **kwargs)
    return ops.matmul(a, b)


@implements(np.sum)
def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=_NoValue):
    if not (dtype is None and out is None and initial is _NoValue and where is _NoValue):
        _refuse('np.sum', dtype=dtype, out=out, initial=initial, where=where)
    return ops.sum(a, axis, keepdims)


@implements(np.mean)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_NoValue):
    if not (dtype is None and out is None and where is _NoValue):
        _refuse('np.mean', dtype=dtype, out=out, where=where)
    return ops.mean(a, axis, keepdims)


@implements(np.max, np.amax)
def max(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=_NoValue):
    _refuse('np.max', out=out, initial=initial, where=where)
    return ops.max(a, axis, keepdims)


@implements(np.min, np.amin)
def min(a, axis=None, out=None, keepdims=False, initial=_NoValue, where=_NoValue):
    _refuse('np.min', out=out, initial=initial, where=where)
    return ops.min(a, axis, keepdims)


@implements(np.where)
def where(condition, x=_NoValue, y=_NoValue):
    if x is _NoValue and y is _NoValue:  # np.where(cond): the indices, a constant
        return np.where(_value(condition))
    if x is _NoValue or y is _NoValue:
        raise TypeError("np.where: give both x and y, or neither")
    return ops.where(_value(condition), x, y)


@implements(np.clip)
def clip(a, a_min=_NoValue, a_max=_NoValue, out=None, *, min=_NoValue, max=_NoValue, **kwargs):
    _refuse('np.clip', out=out, **kwargs)
    lo = None if a_min is _NoValue else a_min
    hi = None if a_max is _NoValue else a_max
    lo = lo if min is _NoValue else min
    hi = hi if max is _NoValue else max
    return ops.clip(a, lo, hi)


@implements(np.reshape)
def reshape(a, shape=None, order='C', *, newshape=None, copy=None):
    if order != 'C':
        raise TypeError(f"np.reshape: order={order!r} is not supported on Tensors; only order='C'")
    return ops.reshape(a, newshape if shape is None else shape)


@implements(np.transpose)
def transpose(a, axes=None):
    return ops.transpose(a, axes)


@implements(np.tensordot)
def tensordot(a, b, axes=2):
    """NumPy's algorithm: the contracted axes of a last, of b first, then one matmul."""
    sa, sb = np.shape(_value(a)), np.shape(_value(b))
    if isinstance(axes, (int, np.integer)):
        axes_a, axes_b = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    axes_a = [x % len(sa) for x in axes_a]
    axes_b = [x % len(sb) for x in axes_b]
    if len(axes_a) != len(axes_b) or any(sa[i] != sb[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"np.tensordot: shapes {sa} and {sb} do not match along the axes "
                         f"{axes_a} and {axes_b}")
    free_a = [i for i in range(len(sa)) if i not in axes_a]
    free_b = [j for j in range(len(sb)) if j not in axes_b]
    k = int(np.prod([sa[i] for i in axes_a]))
    a2 = ops.reshape(ops.transpose(a, free_a + axes_a), (-1, k))
    b2 = ops.reshape(ops.transpose(b, axes_b + free_b), (k, -1))
    return ops.reshape(ops.matmul(a2, b2), tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


@implements(np.inner)
def inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return ops.mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@implements(np.outer)
def outer(a, b, out=None):
    _refuse('np.outer', out=out)
    return ops.mul(ops.reshape(a, (-1, 1)), ops.reshape(b, (1, -1)))


@implements(np.vdot)
def vdot(a, b):
    return ops.matmul(ops.reshape(a, -1), ops.reshape(b, -1))


@implements(np.einsum)
def einsum(*operands, out=None, optimize=False, **kwargs):
    _refuse('np.einsum', out=out, **kwargs)
    subscripts, *tensors = operands
    if not isinstance(subscripts, str):
        raise TypeError("np.einsum on Tensors takes the subscripts as a string first: "
                        "np.einsum('ij,jk->ik', a, b)")
    subscripts = subscripts.replace(' ', '')
    if '...' in subscripts:
        raise TypeError("np.einsum: '...' is not supported on Tensors; write every axis's letter")
    if '->' not in subscripts:  # the implicit form: the output is the letters used once, sorted
        letters = subscripts.replace(',', '')
        subscripts += '->' + ''.join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for term in subscripts.split('->')[0].split(','):
        if len(set(term)) != len(term):
            raise TypeError(f"np.einsum: the index repeated in {term!r} (a diagonal) is not supported on "
                            "Tensors; use np.diagonal or np.trace first")
    return ops.einsum(tensors, subscripts=subscripts)


# -- reductions -----------------------------------------------------------------------------------------
@implements(np.prod)
def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue, where=_NoValue):
    _refuse('np.prod', dtype=dtype, out=out, initial=initial, where=where)
    return ops.prod(a, _axis_arg(axis), keepdims)


def _axis_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _count(x, axis):
    shape = np.shape(_value(x))
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    return int(np.prod([shape[i] for i in axes]))


@implements(np.var)
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NoValue, mean=_NoValue,
        correction=_NoValue):
    _refuse('np.var', dtype=dtype, out=out, where=where, mean=mean)
    if correction is not _NoValue:
        ddof = correction
    axis = _axis_arg(axis)
    d = ops.sub(a, ops.mean(a, axis, True))
    return ops.div(ops.sum(ops.mul(d, d), axis, keepdims), _count(a, axis) - ddof)


@implements(np.std)
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NoValue, mean=_NoValue,
        correction=_NoValue):
    return ops.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


@implements(np.cumsum)
def cumsum(a, axis=None, dtype=None, out=None):
    _refuse('np.cumsum', dtype=dtype, out=out)
    if axis is None:
        return ops.cumsum(ops.reshape(a, -1), axis=0)
    return ops.cumsum(a, axis=axis)


@implements(np.average)
def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    _refuse('np.average', returned=returned or None)
    axis = _axis_arg(axis)
    if weights is None:
        return ops.mean(a, axis, keepdims)
    if _ndim(weights) == 1 and _ndim(a) > 1 and isinstance(axis, (int, np.integer)):
        # 1-D weights along axis, as NumPy takes them: lined up with that axis
        weights = ops.reshape(weights, tuple(-1 if i == axis % _ndim(a) else 1 for i in range(_ndim(a))))
    elif np.shape(_value(weights)) != np.shape(_value(a)):
        raise TypeError("np.average on Tensors: give weights of a's shape, or 1-D along the one axis")
    return ops.div(ops.sum(ops.mul(a, weights), axis, keepdims), ops.sum(weights, axis, keepdims))


@implements(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    ndim = _ndim(x)
    axis = _axis_arg(axis)
    matrix = (axis is None and ndim == 2 and ord is not None) or (isinstance(axis, tuple) and len(axis) == 2)
    if not matrix:
        if ord is None or ord == 2 or (ord == 'fro' and axis is None):
            return ops.sqrt(ops.sum(ops.mul(x, x), axis, keepdims))
        if ord in (np.inf, -np.inf):
            return (ops.max if ord > 0 else ops.min)(ops.abs(x), axis, keepdims)
        if ord == 1:
            return ops.sum(ops.abs(x), axis, keepdims)
        if isinstance(ord, (int, float)) and ord > 0:
            return ops.pow(ops.sum(ops.pow(ops.abs(x), ord), axis, keepdims), 1.0 / ord)
    else:
        rows, cols = axis if axis is not None else (0, 1)
        if ord == 'fro':
            return ops.sqrt(ops.sum(ops.mul(x, x), axis, keepdims))
        if ord in (1, -1, np.inf, -np.inf):
            summed, kept = (rows, cols) if ord in (1, -1) else (cols, rows)
            sums = ops.sum(ops.abs(x), summed, True)
            out = (ops.max if ord > 0 else ops.min)(sums, kept, True)
            return out if keepdims else ops.squeeze(out, (rows, cols))
    raise TypeError(f"np.linalg.norm: ord={ord!r} is not supported on Tensors (it needs a singular value "
                    "decomposition); supported: vectors ord=None, 1, 2, inf, -inf, p > 0; "
                    "matrices 'fro', 1, -1, inf, -inf")


# -- shapes ---------------------------------------------------------------------------------------------
@implements(np.ravel)
def ravel(a, order='C'):
    if order not in ('C', 'K', 'A'):
        raise TypeError(f"np.ravel: order={order!r} is not supported on Tensors; only order='C'")
    return ops.reshape(a, -1)


@implements(np.swapaxes)
def swapaxes(a, axis1, axis2):
    return ops.swapaxes(a, axis1, axis2)


@implements(np.moveaxis)
def moveaxis(a, source, destination):
    ndim = _ndim(a)
    source = [s % ndim for s in np.atleast_1d(source).tolist()]
    destination = [d % ndim for d in np.atleast_1d(destination).tolist()]
    order = [i for i in range(ndim) if i not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return ops.transpose(a, order)


@implements(np.squeeze)
def squeeze(a, axis=None):
    return ops.squeeze(a, _axis_arg(axis))


@implements(np.expand_dims)
def expand_dims(a, axis):
    return ops.expand_dims(a, _axis_arg(axis))


@implements(np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    return ops.broadcast_to(array, (shape,) if isinstance(shape, (int, np.integer)) else shape)


def _atleast_nd(n):
    """np.atleast_1d, _2d, _3d: NumPy's shapes, (1, m) for 2-D and (1, m, 1) for 3-D."""
    def atleast(*arys):
        out = []
        for a in arys:
            shape = np.shape(_value(a))
            if len(shape) < n:
                shape = {0: (1,) * n, 1: (1, shape[0], 1)[:n] if n > 1 else shape,
                         2: shape + (1,)}[len(shape)]
                a = ops.reshape(a, shape)
            out.append(a)
        return out[0] if len(out) == 1 else out
    return atleast


for _n, _f in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
    FUNCTIONS[_f] = _atleast_nd(_n)


@implements(np.concatenate)
def concatenate(arrays, axis=0, out=None, *, dtype=None, casting='same_kind'):
    _refuse('np.concatenate', out=out, dtype=dtype)
    return ops.concatenate(list(arrays), axis)


@implements(np.stack)
def stack(arrays, axis=0, out=None, *, dtype=None, casting='same_kind'):
    _refuse('np.stack', out=out, dtype=dtype)
    return ops.stack(list(arrays), axis)


@implements(np.hstack)
def hstack(tup, *, dtype=None, casting='same_kind'):
    _refuse('np.hstack', dtype=dtype)
    arrays = [FUNCTIONS[np.atleast_1d](a) for a in tup]
    return ops.concatenate(arrays, 0 if _ndim(arrays[0]) == 1 else 1)


@implements(np.vstack)
def vstack(tup, *, dtype=None, casting='same_kind'):
    _refuse('np.vstack', dtype=dtype)
    return ops.concatenate([FUNCTIONS[np.atleast_2d](a) for a in tup], 0)


@implements(np.dstack)
def dstack(tup):
    return ops.concatenate([FUNCTIONS[np.atleast_3d](a) for a in tup], 2)


@implements(np.column_stack)
def column_stack(tup):
    return ops.concatenate([ops.reshape(a, (-1, 1)) if _ndim(a) < 2 else a for a in tup], 1)


def _split(ary, indices_or_sections, axis=0, split_strict=False):
    n = np.shape(_value(ary))[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        size, extra = divmod(n, sections)
        if extra and split_strict:
            raise ValueError(f"np.split: array split does not result in an equal division "
                             f"({n} along axis {axis} into {sections})")
        bounds = np.cumsum([0] + [size + 1] * extra + [size] * (sections - extra)).tolist()
    else:
        bounds = [0] + list(indices_or_sections) + [n]
    ndim = _ndim(ary)
    return [ops.getitem(ary, (slice(None),) * (axis % ndim) + (slice(start, stop),))
            for start, stop in zip(bounds[:-1], bounds[1:])]


FUNCTIONS[np.split] = lambda ary, indices_or_sections, axis=0: _split(ary, indices_or_sections, axis, True)
FUNCTIONS[np.array_split] = _split


@implements(np.flip)
def flip(m, axis=None):
    return ops.flip(m, axis=_axis_arg(axis))


@implements(np.fliplr)
def fliplr(m):
    return ops.flip(m, axis=1)


@implements(np.flipud)
def flipud(m):
    return ops.flip(m, axis=0)


@implements(np.tile)
def tile(A, reps):
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    shape = np.shape(_value(A))
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    spaced = ops.reshape(A, tuple(x for n in shape for x in (1, n)))
    big = ops.broadcast_to(spaced, tuple(x for r, n in zip(reps, shape) for x in (r, n)))
    return ops.reshape(big, tuple(r * n for r, n in zip(reps, shape)))


@implements(np.repeat)
def repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = ops.reshape(a, -1), 0
    n = np.shape(_value(a))[axis]
    index = np.repeat(np.arange(n), repeats)
    return ops.getitem(a, (slice(None),) * (axis % _ndim(a)) + (index,))


@implements(np.pad)
def pad(array, pad_width, mode='constant', **kwargs):
    ndim = _ndim(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (ndim, 2)).tolist()
    if mode == 'constant':
        _refuse('np.pad', **{k: v for k, v in kwargs.items() if k != 'constant_values'})
        value = kwargs.get('constant_values', 0)
        if _ndim(value) != 0:
            raise TypeError("np.pad on Tensors: give constant_values as one number")
        return ops.pad(array, pad_width=tuple(map(tuple, widths)), constant_values=value)
    # the other modes copy elements of the array: the same as indexing it, one axis at a time
    for axis, (before, after) in enumerate(widths):
        index = np.pad(np.arange(np.shape(_value(array))[axis]), (before, after), mode=mode, **kwargs)
        array = ops.getitem(array, (slice(None),) * axis + (index,))
    return array


@implements(np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    ndim = _ndim(a)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    rest = [i for i in range(ndim) if i not in (axis1, axis2)]
    moved = ops.transpose(a, rest + [axis1, axis2])
    rows, cols = np.shape(_value(a))[axis1], np.shape(_value(a))[axis2]
    n = builtins.max(0, builtins.min(rows + builtins.min(offset, 0), cols - builtins.max(offset, 0)))
    i = np.arange(n) + builtins.max(-offset, 0)
    return ops.getitem(moved, (Ellipsis, i, i + offset))


@implements(np.trace)
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _refuse('np.trace', dtype=dtype, out=out)
    return ops.sum(diagonal(a, offset, axis1, axis2), -1)


@implements(np.diag)
def diag(v, k=0):
    if _ndim(v) == 2:
        return diagonal(v, k)
    if _ndim(v) != 1:
        raise ValueError("np.diag: input must be 1-D or 2-D")
    n = np.shape(_value(v))[0]
    i = np.arange(n)
    size = n + abs(k)
    return ops.scatter(v, index=(i + builtins.max(-k, 0), i + builtins.max(k, 0)), shape=(size, size))


def _triangle_of(numpy_fn):
    def triangle(m, k=0):
        shape = np.shape(_value(m))
        return ops.mul(m, numpy_fn(np.ones(shape[-2:], dtype=bool), k))  # a constant mask
    return triangle


FUNCTIONS[np.triu], FUNCTIONS[np.tril] = _triangle_of(np.triu), _triangle_of(np.tril)


@implements(np.copy)
def copy(a, order='K', subok=False):
    return ops.positive(a)


@implements(np.sort)
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _refuse('np.sort', order=order)
    if axis is None:
        a, axis = ops.reshape(a, -1), 0
    return take_along_axis(a, np.argsort(_value(a), axis=axis, kind=kind, stable=stable), axis)


@implements(np.take_along_axis)
def take_along_axis(arr, indices, axis=-1):
    if axis is None:
        arr, axis = ops.reshape(arr, -1), 0
    ndim = _ndim(arr)
    axis %= ndim
    index = tuple(_value(indices) if i == axis else
                  np.arange(np.shape(_value(arr))[i]).reshape((-1,) + (1,) * (ndim - i - 1))
                  for i in range(ndim))
    return ops.getitem(arr, index)


@implements(np.take)
def take(a, indices, axis=None, out=None, mode='raise'):
    _refuse('np.take', out=out)
    if mode != 'raise':
        raise TypeError(f"np.take: mode={mode!r} is not supported on Tensors; only mode='raise'")
    if axis is None:
        a, axis = ops.reshape(a, -1), 0
    return ops.getitem(a, (slice(None),) * (axis % _ndim(a)) + (_value(indices),))


# -- a Tensor that requires grad does not become an ndarray ---------------------------------------
def _requires_grad(args, kwargs=None):
    """Whether a Tensor that requires grad is among ``args`` (and ``kwargs``), one level into
    lists and tuples (np.concatenate([a, b]))."""
    for x in (*args, *(kwargs or {}).values()):
        if isinstance(x, Tensor):
            if x._requires_grad:
                return True
        elif isinstance(x, (list, tuple)):
            if _requires_grad(x):
                return True
    return False


def _plain(args):
    """``args`` (a tuple, list or dict) with each Tensor replaced by its array, one level into
    lists and tuples."""
    if isinstance(args, dict):
        return {k: _plain_one(v) for k, v in args.items()}
    return tuple(_plain_one(x) for x in args)


def _plain_one(x):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_one(v) for v in x)
    return x


class _ArrayMethods:
    def __array__(self, dtype=None, copy=None):
        if self._requires_grad:
            raise conversion_error(self)
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)


def conversion_error(t):
    """The TypeError for NumPy turning ``t`` (which requires grad) into an ndarray."""
    frame = source.user_frame(also_skip=(_NUMPY,))
    where, text = None, None
    if frame is not None:
        where = source.Location.of(frame)
        text = source.running_expression(frame)
    del frame
    what = f"'{t.name}' " if t.name else ''
    message = (f"NumPy tried to convert the Tensor {what}of shape {t.shape}, which requires grad, to "
               "a plain ndarray: its result would be cut from the graph and get no gradient.")
    if where is not None:
        message += f"\n  at {where}"
    hint = _conversion_hint(text) or (
        "To record the op, call the NumPy function itself (np.dot(X, w), np.sum(w)) or an "
        "operator (X @ w), with the Tensor as an argument (a list of Tensors is converted too: "
        "np.stack it first)")
    return TypeError(f"{message}\n  {hint}; for the values as a constant, use {t.name or 't'}.detach().numpy().")


def _conversion_hint(text):
    """'write np.dot(X, w1) or X @ w1' for ``X.dot(w1)`` with X an ndarray."""
    if not text:
        return None
    try:
        node = ast.parse(text, mode='eval').body
    except SyntaxError:
        return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 1
            and not node.keywords and node.func.attr in ('dot', 'matmul')):
        left = ast.get_source_segment(text, node.func.value)
        right = ast.get_source_segment(text, node.args[0])
        return (f"{text} is the ndarray method, which converts its argument: write "
                f"np.dot({left}, {right}) or {_wrapped(left)} @ {_wrapped(right)}, which record")
    return None


def _wrapped(text):
    node = ast.parse(text, mode='eval').body
    return text if isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)) else f"({text})"


# -- the ndarray-method spellings: t.var(), t.prod(axis=0), t.cumsum() ------------------------------
class _NdarrayMethods:
    """ndarray's methods of the functions above, with NumPy's arguments; ``dim=`` and
    ``keepdim=`` are accepted as PyTorch spells them (``var`` and ``std`` with ``dim=`` then
    take PyTorch's default correction=1, the unbiased estimate; NumPy's ddof=0 otherwise)."""

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, *, dim=None, keepdim=False):
        return prod(self, torch_axis('prod', axis, dim), dtype, out, keepdims or keepdim)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, dim=None, keepdim=False,
            correction=None, unbiased=None):
        return var(self, torch_axis('var', axis, dim), dtype, out, _ddof(ddof, dim, correction, unbiased),
                   keepdims or keepdim)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, dim=None, keepdim=False,
            correction=None, unbiased=None):
        return std(self, torch_axis('std', axis, dim), dtype, out, _ddof(ddof, dim, correction, unbiased),
                   keepdims or keepdim)

    def cumsum(self, axis=None, dtype=None, out=None, *, dim=None):
        return cumsum(self, torch_axis('cumsum', axis, dim), dtype, out)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return trace(self, offset, axis1, axis2, dtype, out)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return diagonal(self, offset, axis1, axis2)

    def ravel(self, order='C'):
        return ravel(self, order)

    def repeat(self, repeats, axis=None):
        """NumPy's repeat (each element ``repeats`` times); PyTorch's t.repeat is np.tile."""
        return repeat(self, repeats, axis)

    def take(self, indices, axis=None, out=None, mode='raise'):
        return take(self, indices, axis, out, mode)

    def copy(self, order='C'):
        return ops.positive(self)

    def round(self, decimals=0, out=None):
        """Rounded values, a constant (rounding has no useful gradient)."""
        _refuse('round', out=out)
        return np.round(self.data, decimals)

    def argsort(self, axis=-1, kind=None, order=None):
        return np.argsort(self.data, axis, kind, order)

    def nonzero(self):
        return np.nonzero(self.data)

    def all(self, axis=None, out=None, keepdims=False):
        return np.all(self.data, axis, out, keepdims)

    def any(self, axis=None, out=None, keepdims=False):
        return np.any(self.data, axis, out, keepdims)


def _ddof(ddof, dim, correction, unbiased):
    if correction is not None:
        return correction
    if unbiased is not None:
        return int(bool(unbiased))
    return 1 if dim is not None else ddof  # dim=: PyTorch's default, the unbiased estimate


# -- attaching ---------------------------------------------------------------------------------------
def _attach():
    for name, member in vars(_NdarrayMethods).items():
        if not name.startswith('__'):
            member.__qualname__ = f'Tensor.{name}'
            setattr(Tensor, name, member)
    for holder in (_UfuncMethods, _FunctionMethods, _ArrayMethods):
        for name, member in vars(holder).items():
            if not name.startswith('__') or name in ('__array_ufunc__', '__array_function__', '__array__'):
                if callable(member):
                    member.__qualname__ = f'Tensor.{name}'
                    setattr(Tensor, name, member)


_attach()
