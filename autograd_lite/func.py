"""Function transforms, with torch.func's names: differentiate a function, not a recorded tensor.

``grad(f)`` is a new function that returns the gradient of ``f``; ``vjp``, ``jvp``,
``jacrev``, ``jacfwd``, ``hessian`` and ``hvp`` likewise. ``f`` takes and returns arrays,
Python numbers or Tensors, or tuples, lists and dicts of them (:mod:`autograd_lite.pytree`),
and is written with autograd_lite's ops, Tensor methods or NumPy's own functions.

>>> import numpy as np
>>> from autograd_lite import func
>>> f = lambda x: (x ** 3).sum()
>>> func.grad(f)(np.array([1.0, 2.0]))            # 3 x**2
array([ 3., 12.])
>>> func.hessian(f)(np.array([1.0, 2.0]))         # diag(6 x)
array([[ 6.,  0.],
       [ 0., 12.]])

How: each call runs ``f`` on fresh inputs, records its graph, and walks it backward with the
core of :func:`autograd_lite.grad` (``engine.gradients``). A fresh input is a new leaf for a
plain value, or a new node (the op ``input``) on top of a Tensor that already requires grad,
so that the gradient counts only the paths through this call's inputs, never those through
values ``f`` closes over, while staying connected to the outer graph. Inside another
transform's function, and when an argument is a Tensor that requires grad, the backward
passes use ``create_graph=True``, so the result is itself differentiable: that is what makes
``grad(grad(f))`` and ``hessian`` of a function that calls ``grad`` work.

Results are plain ndarrays (NumPy scalars for shape ()) when the differentiated arguments
were plain and no outer transform is running, else Tensors. Forward mode (``jvp``,
``jacfwd``) is the transpose of reverse mode: ``J v`` is the gradient in ``u`` of
``<J^T u, v>``, where ``J^T u`` is a VJP recorded with ``create_graph=True`` (see
docs/func.md for what it costs).
"""
import functools
import threading

import numpy as np

from . import engine, ops
from .engine import Primitive
from .pytree import describe, leaf_paths, rebuild, tree_flatten
from .tensor import Tensor, new_leaf

__all__ = ['grad', 'value_and_grad', 'vjp', 'jvp', 'jacrev', 'jacfwd', 'jacobian', 'hessian', 'hvp']

# A new node on an input that is already in a graph: the gradient in it counts this call's
# uses only, and flows on to the outer graph through this identity.
_input = Primitive('input', lambda x: x, (lambda g, ans, x: g,), broadcasts=False)


class _Depth(threading.local):
    """How many transformed functions are running in this thread (inside one, every
    transform keeps its result differentiable for the outer one)."""
    value = 0


_depth = _Depth()


# -- checking what the user gave ----------------------------------------------------------
def _check_func(name, func):
    if not callable(func):
        raise TypeError(f"{name}: expected a function to transform, got {type(func).__name__}; "
                        f"pass the function itself ({name}(f)(x)), not its value ({name}(f(x)))")


def _check_argnums(name, argnums):
    """``argnums`` as given, once it is an int or a non-empty tuple of distinct ints."""
    ok = isinstance(argnums, int) and not isinstance(argnums, bool)
    if isinstance(argnums, tuple) and argnums:
        ok = all(isinstance(a, int) and not isinstance(a, bool) for a in argnums)
    if not ok:
        raise TypeError(f"{name}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r} ({type(argnums).__name__})")
    return argnums


def _positions(name, argnums, count):
    """The argument positions ``argnums`` names in a call with ``count`` positional arguments."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    for a in nums:
        if not -count <= a < count:
            given = (f"{count} positional argument{'s' if count != 1 else ''}, so argnums must be "
                     f"in 0..{count - 1} (or -{count}..-1)") if count else \
                "no positional arguments; pass the values to differentiate by position"
            raise ValueError(f"{name}: argnums={a} is out of range: the function was called with {given}")
    positions = [a % count for a in nums]
    if len(set(positions)) != len(positions):
        raise ValueError(f"{name}: argnums={argnums!r} names the same argument twice")
    return positions


def _what(value):
    """A short description of a returned value, for messages."""
    if isinstance(value, Tensor):
        return f"a Tensor of shape {value.shape}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def _split_aux(name, out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{name}: has_aux=True needs the function to return a pair (output, aux), "
                        f"but it returned {_what(out)}")
    return out[0], out[1]


def _check_scalar(name, out):
    """``out`` must be a scalar: a Tensor or array of shape (), or a number."""
    if out.__class__ is Tensor and out.data.shape == ():
        return
    if isinstance(out, (Tensor, np.ndarray, np.generic)):
        if out.shape == () and out.dtype.kind in 'fiub':
            return
        if out.shape != ():
            raise ValueError(f"{name}: the function must return a scalar, but it returned {_what(out)}; "
                             "reduce it first (e.g. .sum() or .mean()), or use jacrev or vjp for a "
                             "non-scalar output")
    elif isinstance(out, (float, int)) and not isinstance(out, bool):
        return
    hint = "; if it returns (output, aux), pass has_aux=True" if isinstance(out, (tuple, list)) else ""
    raise TypeError(f"{name}: the function must return a scalar, but it returned {_what(out)}{hint}")


def _output_leaves(name, out):
    """The leaves of a function's output (Tensors, arrays, numbers) and its structure."""
    leaves, treedef = tree_flatten(out)
    for leaf, path in zip(leaves, leaf_paths(treedef)):
        if not isinstance(leaf, Tensor) and np.asarray(leaf).dtype.kind not in 'fiub':
            raise TypeError(f"{name}: the function's output{path or ''} is {_what(leaf)}, not a Tensor, "
                            "array or number")
    return leaves, treedef


def _matching(name, what, given, like, like_name):
    """The leaves of ``given`` (tangents, cotangents), checked to have the structure of ``like``
    and each leaf the shape of the corresponding leaf of ``like``; plain ones as arrays of its dtype."""
    g_leaves, g_def = tree_flatten(given)
    l_leaves, l_def = tree_flatten(like)
    if g_def != l_def:
        raise ValueError(f"{name}: {what} must have the structure of {like_name}: {like_name} is "
                         f"{describe(like)} but {what} is {describe(given)}")
    result = []
    for g, l, path in zip(g_leaves, l_leaves, leaf_paths(l_def)):
        if not isinstance(g, Tensor):
            if np.asarray(g).dtype.kind not in 'fiub':
                raise TypeError(f"{name}: {what}{path} is {_what(g)}, not an array or a number")
        if np.shape(g) != np.shape(l):
            raise ValueError(f"{name}: {what}{path} has shape {np.shape(g)} but {like_name}{path} has "
                             f"shape {np.shape(l)}; they must be equal")
        if not isinstance(g, Tensor):
            g = np.asarray(g, dtype=l.dtype if hasattr(l, 'dtype') and l.dtype.kind == 'f' else np.float64)
        result.append(g)
    return result


def _as_tuple(name, what, value):
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}: {what} must be a tuple of the function's arguments, got {_what(value)}; "
                        f"for one argument x write (x,)")
    return tuple(value)


# -- one call of a transformed function ------------------------------------------------
class _Call:
    """The arguments of one call, with fresh inputs in place of the differentiated leaves.

    ``inputs``: the fresh inputs (Tensors that require grad), in flattening order;
    ``create_graph``: whether backward passes must record (an outer transform runs, or an
    argument is a Tensor that requires grad); ``plain``: whether results are ndarrays."""
    __slots__ = ('name', 'single', 'inputs', 'groups', 'args', 'create_graph', 'plain', 'held', 'made')

    def __init__(self, name, args, argnums, outlives=False):
        """``outlives``: the graph is used after the call returns (vjp's vjp_fn)."""
        self.name = name
        count = len(args)
        if argnums.__class__ is int and 0 <= argnums < count:  # [speed] the usual case
            self.single, positions = True, (argnums,)
        else:
            self.single, positions = isinstance(argnums, int), _positions(name, argnums, count)
        depth = _depth.value
        args = list(args)
        inputs, groups = [], []  # groups: (treedef, number of leaves) per argument
        tensors = create_graph = False
        for p in positions:
            leaves, treedef = tree_flatten(args[p])
            start = len(inputs)
            for i, leaf in enumerate(leaves):
                if leaf.__class__ is np.ndarray and leaf.dtype.kind == 'f':  # [speed] the usual case
                    x = new_leaf(leaf)
                else:
                    if isinstance(leaf, Tensor):
                        tensors = True
                        create_graph = create_graph or leaf._requires_grad
                    x = self._fresh(leaf, p, treedef, i)
                inputs.append(x)
            groups.append((treedef, len(leaves)))
            args[p] = inputs[start] if treedef is None else rebuild(treedef, inputs[start:])
        self.inputs, self.groups, self.args = inputs, groups, args
        if not (create_graph or depth):  # a Tensor in an argument not differentiated may need a graph too
            for p, arg in enumerate(args):
                if arg.__class__ is not np.ndarray and isinstance(arg, (Tensor, tuple, list, dict)) \
                        and p not in positions and any(isinstance(leaf, Tensor) and leaf._requires_grad
                                                       for leaf in tree_flatten(arg)[0]):
                    create_graph = True
        self.create_graph = create_graph or depth > 0
        self.plain = not tensors and depth == 0
        # [speed] Nothing recorded on fresh leaves outlives the call (no outer graph, no vjp_fn):
        # their arrays are held read-only for the whole call, rather than by each node that saves
        # them (see engine.hold_for_call). The caller calls release() when done.
        self.held = () if outlives or self.create_graph else \
            inputs if not tensors else [x for x in inputs if x._op is None]  # (not the input nodes on Tensors)
        self.made = engine.hold_for_call(self.held) if self.held else None

    def release(self):
        """Give back the arrays held read-only for the call."""
        if self.made is not None:
            engine.release_after_call(self.held, self.made)
            self.made = None

    def _fresh(self, leaf, p, treedef, i):
        """A new input for ``leaf`` (the i-th of argument p): a leaf of its own, or an ``input``
        node on a Tensor that is in a graph already."""
        if isinstance(leaf, Tensor):
            data = leaf.data
        elif isinstance(leaf, (np.ndarray, np.generic, float, int)):
            data = np.asarray(leaf)
        else:
            raise TypeError(f"{self.name}: cannot differentiate with respect to {_where(p, treedef, i)}, "
                            f"{_what(leaf)}: pass arrays, numbers or Tensors (or tuples, lists and dicts "
                            "of them), or leave it out of argnums")
        if data.dtype.kind != 'f':
            shown = f"the int {leaf!r}" if isinstance(leaf, (int, np.integer)) and not isinstance(leaf, Tensor) \
                else f"{'a Tensor' if isinstance(leaf, Tensor) else 'an array'} of dtype {data.dtype}"
            raise TypeError(f"{self.name}: cannot differentiate with respect to {_where(p, treedef, i)}, {shown}: "
                            "gradients need floating-point values; pass it as floats "
                            "(e.g. np.asarray(x, dtype=np.float64)) or leave it out of argnums")
        if isinstance(leaf, Tensor) and leaf._requires_grad:
            with engine.enable_grad():
                return _input(leaf)
        return new_leaf(data)

    def run(self, func, kwargs):
        """Call ``func`` on the fresh inputs (see :func:`_run`)."""
        return _run(func, self.args, kwargs)

    # -- results ---------------------------------------------------------------------
    def export(self, tree, plain=None, keep_graph=None):
        """An output (value, aux) as the caller gets it: its Tensors as ndarrays in plain mode,
        else cut from the graph unless it must stay differentiable; other leaves unchanged."""
        return _export(tree, self.plain if plain is None else plain,
                       self.create_graph if keep_graph is None else keep_graph)

    def gradients(self, values, plain=None, keep_graph=None):
        """One result per fresh input (Tensors or arrays) in the structure of the differentiated
        arguments: a tree for an int argnums, a tuple of trees for a tuple."""
        plain = self.plain if plain is None else plain
        keep = self.create_graph if keep_graph is None else keep_graph
        if plain:  # [speed] the usual case: arrays already (one call fewer per array)
            values = [(v if v.ndim else v[()]) if v.__class__ is np.ndarray else _plain(v) for v in values]
        else:
            values = [_leaf_out(v, plain, keep, True) for v in values]
        trees, start = [], 0
        for treedef, count in self.groups:
            trees.append(values[start] if treedef is None else rebuild(treedef, values[start:start + count]))
            start += count
        return trees[0] if self.single else tuple(trees)


def _run(func, args, kwargs):
    """``func(*args, **kwargs)``, recording (an outer ``no_grad`` does not apply, as in
    torch.func), counted as a running transformed function."""
    _depth.value += 1
    try:
        if engine.is_grad_enabled():
            return func(*args, **kwargs)
        with engine.enable_grad():
            return func(*args, **kwargs)
    finally:
        _depth.value -= 1


def _export(tree, plain, keep_graph):
    """An output (value, aux) as the caller gets it (see :meth:`_Call.export`)."""
    if isinstance(tree, Tensor):
        return _leaf_out(tree, plain, keep_graph, False)
    leaves, treedef = tree_flatten(tree)
    return rebuild(treedef, [_leaf_out(x, plain, keep_graph, False) for x in leaves])


def _where(p, treedef, i):
    """Where the i-th leaf of argument p sits, for messages: ``argument 0['W']``."""
    return f"argument {p}{leaf_paths(treedef)[i]}"


def _plain(x):
    """A result leaf as an ndarray, or a NumPy scalar for shape (), as NumPy's reductions give."""
    if isinstance(x, Tensor):
        x = x.data
    return x[()] if x.__class__ is np.ndarray and x.ndim == 0 else x


def _leaf_out(x, plain, keep_graph, result):
    """One leaf as returned: an ndarray (a NumPy scalar for shape ()) in plain mode, else a
    Tensor (``result``: a computed array becomes one), without graph unless ``keep_graph``."""
    if plain:
        return _plain(x)
    if isinstance(x, Tensor):
        return x.detach() if x._requires_grad and not keep_graph else x
    return Tensor._make(x) if result else x


def _backward(roots, cotangents, inputs, create_graph, retain_graph):
    """One backward pass: for each input, the sum over roots of ``<cotangent, d root / d input>``
    (a cotangent of None: ones, for a scalar root), zeros where no root depends on it."""
    if len(roots) == 1:  # [speed] the usual case: one output
        found = engine.gradients(roots, cotangents, inputs, retain_graph, create_graph) \
            if isinstance(roots[0], Tensor) and roots[0]._requires_grad else (None,) * len(inputs)
    else:
        pairs = [(r, c) for r, c in zip(roots, cotangents) if isinstance(r, Tensor) and r._requires_grad]
        found = engine.gradients([r for r, _ in pairs], [c for _, c in pairs], inputs, retain_graph,
                                 create_graph) if pairs else (None,) * len(inputs)
    return [g if g is not None else _zeros(x.shape, x.dtype, create_graph) for g, x in zip(found, inputs)]


def _zeros(shape, dtype, as_tensor):
    z = np.zeros(shape, dtype=dtype if np.dtype(dtype).kind == 'f' else np.float64)
    return Tensor._make(z) if as_tensor else z


def _one_hot(shape, dtype, k):
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[k] = 1
    return e.reshape(shape)


def _assemble(parts, shape, as_tensor, axis):
    """Stack ``parts`` (one per element of a flattened axis) along ``axis`` (0 or -1) and give
    the result ``shape``: Jacobian rows (jacrev) or columns (jacfwd)."""
    if as_tensor:
        parts = [p if isinstance(p, Tensor) else Tensor._make(np.asarray(p)) for p in parts]
        return ops.reshape(ops.stack(parts, axis), shape)
    return np.stack([p.data if isinstance(p, Tensor) else p for p in parts], axis).reshape(shape)


def _shape_dtype(leaf):
    if isinstance(leaf, Tensor):
        return leaf.shape, leaf.dtype
    leaf = np.asarray(leaf)
    return leaf.shape, leaf.dtype if leaf.dtype.kind == 'f' else np.float64


# -- [speed] grad and value_and_grad of plain arrays -------------------------------------------
# The usual call, in one function and without a _Call: an int argnums naming an argument whose
# leaves are all float ndarrays (an array, or a dict, list or tuple of them), no outer
# transform, no other Tensor or container among the positional arguments. The same steps with
# the same helpers as the general path, in fewer interpreter steps: value_and_grad of the iris
# loss goes from 1.15x to 1.09x a loss.backward() step (docs/performance.md). Any other call
# takes the general path, before anything has run; tests/test_func.py runs each case both ways.
_NOT_USUAL = object()
_ndarray, _MAY_HOLD_TENSORS = np.ndarray, (Tensor, tuple, list, dict)


def _value_and_grad_of_arrays(name, func, args, kwargs, argnum, has_aux, with_value):
    """What the general path returns for this call, or _NOT_USUAL (then nothing has run)."""
    if not 0 <= argnum < len(args) or _depth.value:
        return _NOT_USUAL
    differentiated = args[argnum]
    for arg in args:
        if arg.__class__ is not _ndarray and isinstance(arg, _MAY_HOLD_TENSORS) and arg is not differentiated:
            return _NOT_USUAL
    leaves, treedef = tree_flatten(differentiated)
    inputs = [new_leaf(a) for a in leaves if a.__class__ is _ndarray and a.dtype.kind == 'f']
    if len(inputs) != len(leaves):
        return _NOT_USUAL
    args = list(args)
    args[argnum] = rebuild(treedef, inputs)
    made = engine.hold_for_call(inputs)
    try:
        out = _run(func, args, kwargs)
        if has_aux:
            out, aux = _split_aux(name, out, has_aux)
        _check_scalar(name, out)
        found = engine.gradients([out], [None], inputs) if isinstance(out, Tensor) and out._requires_grad \
            else (None,) * len(inputs)
    finally:
        if made is not None:
            engine.release_after_call(inputs, made)
    grads = [(g if g.ndim else g[()]) if g is not None else _plain(_zeros(x.shape, x.dtype, False))
             for g, x in zip(found, inputs)]
    grads = rebuild(treedef, grads)
    if not with_value:
        return (grads, _export(aux, True, False)) if has_aux else grads
    value = _plain(out)
    return ((value, _export(aux, True, False)) if has_aux else value), grads


# -- the transforms --------------------------------------------------------------------
def _value_and_grad(name, func, argnums, has_aux, with_value):
    _check_func(name, func)
    _check_argnums(name, argnums)
    usual = argnums.__class__ is int

    @functools.wraps(func)
    def transformed(*args, **kwargs):
        if usual:  # [speed] see _value_and_grad_of_arrays
            result = _value_and_grad_of_arrays(name, func, args, kwargs, argnums, has_aux, with_value)
            if result is not _NOT_USUAL:
                return result
        call = _Call(name, args, argnums)
        try:
            out, aux = _split_aux(name, call.run(func, kwargs), has_aux)
            _check_scalar(name, out)
            grads = call.gradients(_backward([out], [None], call.inputs, call.create_graph, call.create_graph))
        finally:
            call.release()
        if not with_value:
            return (grads, call.export(aux)) if has_aux else grads
        value = call.export(out)
        return ((value, call.export(aux)) if has_aux else value), grads
    return transformed


def grad(func, argnums=0, has_aux=False):
    """The gradient of a scalar-valued ``func`` with respect to its argument ``argnums``.

    ``grad(f)(x)`` has the structure, shapes and dtype of ``x`` (a tuple of those for a tuple
    ``argnums``). With ``has_aux=True``, ``func`` returns ``(value, aux)`` and the result is
    ``(gradient, aux)``. Keyword arguments pass through, undifferentiated.

    >>> import numpy as np
    >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    (array([3., 4.]), array([1., 2.]))
    """
    return _value_and_grad('grad', func, argnums, has_aux, with_value=False)


def value_and_grad(func, argnums=0, has_aux=False):
    """As :func:`grad`, returning ``(value, gradient)`` from one forward and one backward
    pass; with ``has_aux=True``, ``((value, aux), gradient)``.

    >>> import numpy as np
    >>> value_and_grad(lambda p: (p['w'] ** 2).sum())({'w': np.array([1.0, -2.0])})
    (np.float64(5.0), {'w': array([ 2., -4.])})
    """
    return _value_and_grad('value_and_grad', func, argnums, has_aux, with_value=True)


def vjp(func, *primals, has_aux=False):
    """``(output, vjp_fn)``: ``func(*primals)`` and a function of cotangents (the output's
    structure and shapes) returning one gradient per primal, ``sum <cotangent, d output / d primal>``.
    ``vjp_fn`` may be called many times. With ``has_aux=True``: ``(output, vjp_fn, aux)``.

    >>> import numpy as np
    >>> out, vjp_fn = vjp(lambda x: x * x, np.array([1.0, 3.0]))
    >>> vjp_fn(np.array([1.0, 10.0]))
    (array([ 2., 60.]),)
    """
    name = 'vjp'
    _check_func(name, func)
    if not primals:
        raise TypeError("vjp: give the primals after the function: vjp(f, x) or vjp(f, x, y)")
    call = _Call(name, primals, tuple(range(len(primals))), outlives=True)
    out, aux = _split_aux(name, call.run(func, {}), has_aux)
    leaves, _ = _output_leaves(name, out)

    def vjp_fn(cotangents):
        given = _matching(name, 'cotangents', cotangents, out, 'the output')
        create_graph = call.create_graph or _depth.value > 0 or any(
            isinstance(c, Tensor) and c._requires_grad for c in given)
        grads = _backward(leaves, given, call.inputs, create_graph, retain_graph=True)
        plain = call.plain and not any(isinstance(c, Tensor) for c in given)
        return call.gradients(grads, plain, create_graph)

    output = call.export(out)
    return (output, vjp_fn, call.export(aux)) if has_aux else (output, vjp_fn)


def _transposed_vjp(name, roots, inputs):
    """``(us, gs)``: a zero cotangent ``u`` per root (leaves) and ``gs[i] = J_i^T u``, recorded
    with create_graph=True, so that the gradient in ``u`` of ``<gs[i], v>`` is ``J_i v``."""
    us = []
    for r in roots:
        u = Tensor._make(np.zeros(r.shape, dtype=r.dtype))
        u._requires_grad = True
        us.append(u)
    return us, _backward(roots, us, inputs, create_graph=True, retain_graph=True)


def jvp(func, primals, tangents, has_aux=False):
    """``(output, jvp_out)``: ``func(*primals)`` and its derivative in the direction
    ``tangents`` (a tuple like ``primals``), ``J v``, in the output's structure. With
    ``has_aux=True``: ``(output, jvp_out, aux)``.

    Computed as the transpose of a VJP: about the cost of two backward passes, one of them
    recording (see docs/func.md for the figure).

    >>> import numpy as np
    >>> jvp(lambda x: x ** 2, (np.array([1.0, 3.0]),), (np.array([1.0, 0.0]),))
    (array([1., 9.]), array([2., 0.]))
    """
    name = 'jvp'
    _check_func(name, func)
    primals = _as_tuple(name, 'primals', primals)
    tangents = _matching(name, 'tangents', _as_tuple(name, 'tangents', tangents), primals, 'primals')
    # (a tangent that requires grad makes the result a graph that outlives the call)
    call = _Call(name, primals, tuple(range(len(primals))),
                 outlives=any(isinstance(t, Tensor) and t._requires_grad for t in tangents))
    try:
        out, aux = _split_aux(name, call.run(func, {}), has_aux)
        leaves, treedef = _output_leaves(name, out)
        create_graph = call.create_graph or any(isinstance(t, Tensor) and t._requires_grad for t in tangents)
        roots = [x for x in leaves if isinstance(x, Tensor) and x._requires_grad]
        us, gs = _transposed_vjp(name, roots, call.inputs)
        found = iter(_backward(gs, tangents, us, create_graph, create_graph))
        plain = call.plain and not any(isinstance(t, Tensor) for t in tangents)
        outs = [next(found) if isinstance(x, Tensor) and x._requires_grad
                else _zeros(*_shape_dtype(x), as_tensor=not plain) for x in leaves]
        result = (call.export(out, plain), call.export(rebuild(treedef, outs), plain, create_graph))
        return result + (call.export(aux, plain),) if has_aux else result
    finally:
        call.release()


def _jacobian(name, func, argnums, has_aux, forward):
    _check_func(name, func)
    _check_argnums(name, argnums)

    @functools.wraps(func)
    def transformed(*args, **kwargs):
        call = _Call(name, args, argnums)
        try:
            out, aux = _split_aux(name, call.run(func, kwargs), has_aux)
            leaves, treedef = _output_leaves(name, out)
            cg, inputs = call.create_graph, call.inputs
            # per[k][i]: d(output leaf k) / d(input i), of shape leaf.shape + input.shape
            per = [[None] * len(inputs) for _ in leaves]
            live = [k for k, x in enumerate(leaves) if isinstance(x, Tensor) and x._requires_grad]
            if forward:  # a column per input element: the gradient in u of <J^T u, e_j>
                us, gs = _transposed_vjp(name, [leaves[k] for k in live], inputs)
                for i, x in enumerate(inputs):
                    cols = [_backward([gs[i]], [_one_hot(x.shape, x.dtype, j)], us, cg, True)
                            for j in range(x.size)]
                    for n, k in enumerate(live):
                        shape = leaves[k].shape
                        per[k][i] = _assemble([c[n] for c in cols], shape + x.shape, cg, -1) if x.size \
                            else _zeros(shape + x.shape, x.dtype, cg)
            else:  # a row per output element: the gradient of <output, e_j>
                for k in live:
                    leaf = leaves[k]
                    rows = [_backward([leaf], [_one_hot(leaf.shape, leaf.dtype, j)], inputs, cg, True)
                            for j in range(leaf.size)]
                    for i, x in enumerate(inputs):
                        per[k][i] = _assemble([r[i] for r in rows], leaf.shape + x.shape, cg, 0) if leaf.size \
                            else _zeros(leaf.shape + x.shape, x.dtype, cg)
            for k, leaf in enumerate(leaves):
                if k not in live:  # a constant output: zeros
                    per[k] = [_zeros(_shape_dtype(leaf)[0] + x.shape, x.dtype, cg) for x in inputs]
            jac = rebuild(treedef, [call.gradients(row) for row in per])
            return (jac, call.export(aux)) if has_aux else jac
        finally:
            call.release()
    return transformed


def jacrev(func, argnums=0, has_aux=False):
    """The Jacobian of ``func`` by reverse mode: one backward pass per output element.

    Each output leaf of shape ``out`` gives, per differentiated argument leaf of shape
    ``in``, an array of shape ``out + in`` (as torch.func and JAX): a tree of the output's
    structure whose leaves have the argument's structure (a tuple of those for a tuple
    ``argnums``). With ``has_aux=True``: ``(jacobian, aux)``.

    >>> import numpy as np
    >>> jacrev(lambda x: x[:2] * x[1:])(np.array([1.0, 2.0, 3.0]))
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """
    return _jacobian('jacrev', func, argnums, has_aux, forward=False)


def jacfwd(func, argnums=0, has_aux=False):
    """The Jacobian of ``func`` column by column, as forward mode computes it: one pass per
    input element (through the transposed VJP; see :func:`jvp`). The same result and shapes
    as :func:`jacrev`; cheaper when there are far fewer inputs than outputs.

    >>> import numpy as np
    >>> jacfwd(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    return _jacobian('jacfwd', func, argnums, has_aux, forward=True)


jacobian = jacrev


def hessian(func, argnums=0):
    """The Hessian of ``func``: the Jacobian of its gradient, shaped ``in + in`` for a scalar
    output (``out + in + in`` in general), a tree of trees for a tree argument.

    Computed as ``jacrev(jacrev(func))``: one recording backward pass for the gradient, then
    one backward pass through it per input element.

    >>> import numpy as np
    >>> hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 3.0]))
    array([[6., 2.],
           [2., 0.]])
    """
    return _jacobian('hessian', _jacobian('hessian', func, argnums, False, forward=False), argnums,
                     False, forward=False)


def hvp(func, primals, tangents):
    """``(value, hvp)``: ``func(*primals)`` (a scalar) and the Hessian times ``tangents``
    (a tuple like ``primals``), without forming the Hessian: the gradient of
    ``<grad f, v>``, two backward passes, the first recording.

    >>> import numpy as np
    >>> hvp(lambda x: (x ** 3).sum(), (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    (np.float64(9.0), (array([ 6., 12.]),))
    """
    name = 'hvp'
    _check_func(name, func)
    primals = _as_tuple(name, 'primals', primals)
    tangents = _matching(name, 'tangents', _as_tuple(name, 'tangents', tangents), primals, 'primals')
    # (a tangent that requires grad makes the result a graph that outlives the call)
    call = _Call(name, primals, tuple(range(len(primals))),
                 outlives=any(isinstance(t, Tensor) and t._requires_grad for t in tangents))
    try:
        out = call.run(func, {})
        _check_scalar(name, out)
        create_graph = call.create_graph or any(isinstance(t, Tensor) and t._requires_grad for t in tangents)
        gs = _backward([out], [None], call.inputs, create_graph=True, retain_graph=True)
        hv = _backward(gs, tangents, call.inputs, create_graph, retain_graph=create_graph)
        plain = call.plain and not any(isinstance(t, Tensor) for t in tangents)
        return call.export(out, plain), call.gradients(hv, plain, create_graph)
    finally:
        call.release()
