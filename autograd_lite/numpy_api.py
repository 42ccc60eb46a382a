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

import numpy as np

from . import ops, source
from .tensor import Tensor, _value

_NoValue = np._NoValue  # NumPy's "not given" default, as its functions pass it on


# -- ufuncs ---------------------------------------------------------------------------------
# The ufuncs that are primitives, called as ufunc(*inputs) with no keyword.
UFUNCS = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.negative: ops.neg, np.power: ops.pow, np.matmul: ops.matmul,
    np.exp: ops.exp, np.log: ops.log, np.sqrt: ops.sqrt, np.tanh: ops.tanh, np.absolute: ops.abs,
    np.maximum: ops.maximum, np.minimum: ops.minimum,
}


def _ufunc_name(ufunc):
    return f"np.{ufunc.__name__}"


class _UfuncMethods:
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = UFUNCS.get(ufunc)
        if op is not None and method == '__call__' and not kwargs:
            return op(*inputs)  # the common case, kept short: it is the cost of np.exp(t)
        return _ufunc_other(ufunc, method, inputs, kwargs)


def _ufunc_other(ufunc, method, inputs, kwargs):
    """A ufunc call with keywords, a ufunc method (``np.add.reduce``), or a ufunc without a
    gradient (comparisons, ``np.sign``): a constant."""
    name = _ufunc_name(ufunc) + ('' if method == '__call__' else f'.{method}')
    out = kwargs.pop('out', None)
    if out is not None:
        raise _out_error(name, out)
    if method == '__call__':
        op = UFUNCS.get(ufunc)
        if op is not None:
            unsupported = ', '.join(f'{k}=' for k in kwargs)
            raise TypeError(f"{name}: the argument(s) {unsupported} cannot be differentiated here; "
                            f"call {name}(...) without them (for a dtype, convert the result with .astype)")
    if not _requires_grad(inputs) or (method == '__call__' and ufunc in CONSTANT_UFUNCS):
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)
    raise TypeError(f"{name} is not supported on Tensors that require grad: it has no gradient "
                    f"rule here. {_instead(ufunc)}")


def _out_error(name, out):
    return TypeError(
        f"{name}: out= cannot be used with Tensors: a Tensor's value is never written in place "
        f"(the graph needs the old one) and writing into an ndarray would drop the result from "
        f"the graph; assign the result instead, e.g. y = {name}(x)")


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
    raise TypeError(f"{_function_name(func)} is not supported on Tensors that require grad "
                    f"(it has no gradient rule here). {_instead(func)}")


def _function_name(func):
    module = getattr(func, '__module__', None) or 'numpy'
    return module.replace('numpy', 'np', 1) + '.' + func.__name__


def _instead(func):
    """What to write instead of an unsupported function."""
    return ("Write it with the supported NumPy functions (docs/numpy.md lists them), or call it "
            "on t.detach() if its result is meant to be a constant")


# -- what has no gradient: constants by design -----------------------------------------------------
CONSTANT_UFUNCS = frozenset({
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.sign,
    np.floor, np.ceil, np.trunc, np.rint, np.floor_divide,
})
CONSTANT_FUNCTIONS = frozenset({
    np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero, np.shape, np.ndim, np.size,
    np.allclose, np.isclose, np.array_equal, np.round, np.around, np.sort, np.unique,
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


def tensordot(a, b, axes=2):  # registered with the rest of the functions (milestone 2)
    raise NotImplementedError


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
    frame = source.user_frame()
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
        "operator (X @ w), with the Tensor as an argument")
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


# -- attaching ---------------------------------------------------------------------------------------
def _attach():
    for holder in (_UfuncMethods, _FunctionMethods, _ArrayMethods):
        for name, member in vars(holder).items():
            if not name.startswith('__') or name in ('__array_ufunc__', '__array_function__', '__array__'):
                if callable(member):
                    member.__qualname__ = f'Tensor.{name}'
                    setattr(Tensor, name, member)


_attach()
