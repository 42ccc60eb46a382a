"""The tracing machinery and the backward pass.

* :class:`Primitive` wraps a NumPy forward function and its gradient rules. Calling it
  on Tensors runs the forward on their arrays and, when an input requires grad,
  records a node (the output Tensor remembers op, inputs and the arrays it saw).
* :func:`backward` and :func:`grad` walk the recorded graph in reverse creation order
  (a topological order) without recursion, calling one vector-Jacobian product (VJP)
  per input that requires grad.

A gradient rule has the signature ``rule(g, ans, *inputs, **static_args)`` and returns
the gradient for one input. It is written with operations that work on ndarrays and on
Tensors alike, so the same rule runs on plain arrays (fast, no graph) or on Tensors when
``create_graph=True`` asks for a differentiable gradient (higher-order derivatives).
"""
import heapq
import sys
import threading

import numpy as np

from . import errors
from .tensor import Tensor, _next_seq


# -- grad mode --------------------------------------------------------------------------
class _GradMode(threading.local):
    """This thread's grad mode (class attributes: every new thread starts with gradients on)."""
    enabled = True
    # The modules whose forward is running (outermost first), set by nn.Module.__call__;
    # recorded on each node so that graph drawings can group ops by module.
    scope = None
    # What an op reads, once: False when recording is off, else the scope to record. One
    # thread-local read per op instead of two; set() keeps it in step with the two above.
    recording = None

    def set(self, enabled, scope):
        self.enabled, self.scope = enabled, scope
        self.recording = scope if enabled else False


_mode = _GradMode()


def is_grad_enabled():
    """Whether ops record a graph in this thread."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off in this thread.

    Nestable; the previous state comes back on exit, exceptions included."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._saved = []  # a stack, so one instance can be entered recursively

    def __enter__(self):
        self._saved.append(_mode.enabled)
        _mode.set(self._mode, _mode.scope)
        return self

    def __exit__(self, *exc):
        _mode.set(self._saved.pop(), _mode.scope)
        return False

    def __call__(self, fn):
        mode = self._mode
        return run_inside(lambda: set_grad_enabled(mode), fn)


def run_inside(make_context, fn):
    """``fn`` decorated so that each call runs inside a new ``make_context()``: a new context
    per call, so that threads and recursive calls never share one instance's saved state."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_context():
            return fn(*args, **kwargs)
    return wrapper


class no_grad(set_grad_enabled):
    """``with ag.no_grad():`` or ``@ag.no_grad()``: record no graph (inference, updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


# -- primitives -------------------------------------------------------------------------
# autograd_lite.debug points this at its checker while a debugging mode is on in any thread,
# so that with every mode off each op pays one global test.
_trace = None
_new, _ndarray = object.__new__, np.ndarray
_PLAIN = frozenset({np.ndarray, float, int, bool, np.float64, np.float32, np.int64, np.bool_})


class Primitive:
    """A differentiable op: a NumPy forward and one gradient rule per input.

    ``vjps[i](g, ans, *inputs, **static)`` returns the gradient for input i, given the
    upstream gradient ``g`` (shape of the output) and the output ``ans``. ``explain``
    (optional) turns a NumPy error in the forward into a message naming the op and shapes.
    ``broadcasts``: the forward may broadcast inputs against each other, so the engine sums
    each gradient back to its input's shape (:func:`unbroadcast`). False only for ops whose
    rules always return their input's shape (elementwise functions of one input, matmul):
    then the engine skips the shape test.
    """
    __slots__ = ('name', 'fwd', 'vjps', 'explain', 'broadcasts')

    def __init__(self, name, fwd, vjps, explain=None, broadcasts=True):
        self.name, self.fwd, self.vjps, self.explain = name, fwd, vjps, explain
        self.broadcasts = broadcasts

    def __repr__(self):
        return f"<primitive {self.name}>"

    def __call__(self, *inputs, **static):
        vals = []
        needs_grad = converted = False
        for x in inputs:
            if isinstance(x, Tensor):
                vals.append(x.data)
                if x._rg:
                    needs_grad = True
            elif x.__class__ in _PLAIN:
                vals.append(x)
            else:  # a list, a NumPy scalar of another type, ...: make it a constant array
                vals.append(_constant(x, self.name))
                converted = True
        try:
            out = self.fwd(*vals, **static)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, vals, static) from None
        if converted:
            inputs = tuple(x if isinstance(x, Tensor) else v for x, v in zip(inputs, vals))
        return _result(self, out, inputs, tuple(vals), static or None, needs_grad)

    def on_any(self, *inputs, **static):
        """Apply to Tensors (differentiable) or, when no input is a Tensor, return the plain
        NumPy result. Gradient rules call this so that one rule serves both modes."""
        for x in inputs:
            if isinstance(x, Tensor):
                return self(*inputs, **static)
        return self.fwd(*inputs, **static)


class Unary(Primitive):
    """A primitive of one input and no static arguments (the elementwise functions).

    The same op as a :class:`Primitive`; only the call is shorter, because the general
    argument handling costs more than the NumPy call itself on small arrays."""
    __slots__ = ()

    def __call__(self, x):
        if not isinstance(x, Tensor):  # a number or array: the general path checks and converts it
            return Primitive.__call__(self, x)
        a = x.data
        try:
            out = self.fwd(a)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, [a], {}) from None
        return _result(self, out, (x,), (a,), None, x._rg)


class Binary(Primitive):
    """A primitive of two inputs and no static arguments (arithmetic, matmul): a shorter call,
    as for :class:`Unary`. Tensors and plain numbers or arrays take it; anything else (lists,
    other NumPy scalars) goes through the general path, which converts it."""
    __slots__ = ()

    def __call__(self, x, y):
        if isinstance(x, Tensor):
            a, needs_grad = x.data, x._rg
        elif x.__class__ in _PLAIN:
            a, needs_grad = x, False
        else:
            return Primitive.__call__(self, x, y)
        if isinstance(y, Tensor):
            b = y.data
            needs_grad = needs_grad or y._rg
        elif y.__class__ in _PLAIN:
            b = y
        else:
            return Primitive.__call__(self, x, y)
        try:
            out = self.fwd(a, b)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, [a, b], {}) from None
        return _result(self, out, (x, y), (a, b), None, needs_grad)



class Ternary(Primitive):
    """A primitive of three inputs and no static arguments (``linear``): a shorter call when
    all three are Tensors, the general path otherwise."""
    __slots__ = ()

    def __call__(self, x, y, z):
        if not (isinstance(x, Tensor) and isinstance(y, Tensor) and isinstance(z, Tensor)):
            return Primitive.__call__(self, x, y, z)
        a, b, c = x.data, y.data, z.data
        try:
            out = self.fwd(a, b, c)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, [a, b, c], {}) from None
        return _result(self, out, (x, y, z), (a, b, c), None, x._rg or y._rg or z._rg)

def _result(op, out, inputs, args, kw, needs_grad):
    """The Tensor holding an op's result ``out``; a node of the graph when an input needs grad
    and recording is on. (Made here, not by Tensor._make: this runs once per op, and the call
    saved is a fair part of an op's cost on small arrays. A new Tensor slot must be set here.)"""
    t = _new(Tensor)
    t.data = out if out.__class__ is _ndarray else np.asarray(out)
    t._seq = _next_seq()
    if needs_grad and (scope := _mode.recording) is not False:
        t._op, t._inputs, t._args, t._kw = op, inputs, args, kw
        t._rg = True
        t._scope = scope
    else:
        t._op = t._inputs = t._args = t._kw = t._scope = None
        t._rg = False
    if _trace is not None:  # detect_anomaly or strict_broadcasting is on in some thread
        _trace(op, args, t)
    return t


def _constant(x, op_name):
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{op_name}: expected a Tensor, number or array, got {type(x).__name__} {x!r}")
    arr = np.asarray(x)
    if arr.dtype.kind not in 'fiub':
        raise TypeError(f"{op_name}: expected numeric data, got {type(x).__name__} of dtype {arr.dtype}")
    if isinstance(x, (list, tuple)) and arr.dtype.kind != 'f':
        arr = arr.astype(np.float64)  # Python lists become float64, as in Tensor()
    return arr


def unbroadcast(g, shape):
    """Sum ``g`` back to ``shape``: the adjoint of NumPy broadcasting ``shape`` to g.shape.

    The one place broadcasting is undone. Works on ndarrays and Tensors.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:  # leading axes that broadcasting added (a bias added to every row: one axis)
        g = g.sum(axis=0 if extra == 1 else tuple(range(extra)))
        if g.shape == shape:
            return g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


# -- the backward pass -------------------------------------------------------------------
# The pass visits nodes in reverse creation order (``_seq``), a topological order: an op's
# output is always created after its inputs. A heap of the nodes that have received a
# gradient but not yet passed it on yields the newest first, so that the graph is walked
# once, without recursion and without a separate sort.
_heappush, _heappop = heapq.heappush, heapq.heappop


def _released(t):
    return RuntimeError(
        f"backward through the graph a second time: the arrays saved by '{t._op.name}' were "
        "released by the first backward. Pass retain_graph=True to the first backward "
        "(or ag.grad) if you need to backpropagate twice.")


def _root_grad(root, grad):
    """The gradient that starts a backward pass at ``root`` (ones for a scalar)."""
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}, so the gradient cannot be implied; "
                f"pass grad= an array of shape {root.shape} (e.g. ones to sum the output), "
                "or reduce the output to a scalar first (e.g. loss.sum() or loss.mean())")
        return np.array(1, dtype=root.data.dtype).reshape(root.data.shape)  # np.ones_like costs more
    g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.data.dtype)
    if g.shape != root.shape:
        raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {root.shape}; "
                         "they must be equal")
    return g


def _accumulate(t, g, create_graph):
    """Add the gradient g (an array, or a Tensor under create_graph) into t.grad.

    The first store is a copy, so that later in-place adds never write into an array of the
    graph, unless g is a new array that only the caller's one variable holds (most rules
    return such arrays): then it becomes .grad as it is."""
    if create_graph:
        g = g.data
    if t.grad is None:
        if (g.__class__ is _ndarray and g.base is None and _getrefcount(g) <= _SOLE
                and g.dtype == t.data.dtype and g.flags.writeable):
            t.grad = g
        else:
            t.grad = np.array(g, dtype=t.data.dtype)  # copy; 0-d results become arrays
    else:
        t.grad += g


def _references_in(t, g, create_graph):
    return _getrefcount(g)


def _sole_owner_references():
    """sys.getrefcount, inside a call like _accumulate's, of an array that only the calling
    frame's one local variable holds (CPython 3.11: 3)."""
    held = [np.empty(0)]
    g = held.pop()
    return _references_in(None, g, False)


# Elsewhere than CPython (no sys.getrefcount): always copy.
_getrefcount = getattr(sys, 'getrefcount', None)
_SOLE = _sole_owner_references() if _getrefcount is not None else -1


def _run(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Propagate gradients from roots. Accumulates into leaves' .grad, or, when
    ``wanted`` (a set of tensors) is given, returns {tensor: gradient} for those only."""
    for r in roots:
        if not r._rg:
            raise RuntimeError("backward: the output does not require grad and has no graph; "
                               "did an input have requires_grad=True, and was this outside no_grad()?")
    grads, heap = {}, []
    for r, g in zip(roots, root_grads):
        if r in grads:
            grads[r] = grads[r] + g
        else:
            grads[r] = g
            _heappush(heap, (-r._seq, r))
    found = {}
    pop, get = grads.pop, grads.get
    saved_mode = _mode.enabled  # as set_grad_enabled(create_graph), without a context manager's cost
    _mode.set(create_graph, _mode.scope)
    # A node newer than every node in the heap waits beside it: a chain's next node (and a
    # single root) skips the heap.
    newest = heap.pop()[1] if len(heap) == 1 else None
    try:
        while True:
            if newest is not None:
                t, newest = newest, None
            elif heap:
                t = _heappop(heap)[1]
            else:
                break
            g = pop(t)
            op = t._op
            # Most nodes are op results with no hooks in a backward(): one test passes them on.
            # (retain_grad() gives a tensor a hook list, possibly empty, to land here too.)
            if op is None or t._hooks is not None or wanted is not None:
                if t._hooks:
                    for hook in tuple(t._hooks):
                        replaced = hook(g)
                        if replaced is not None:
                            g = replaced
                if wanted is not None:
                    if t in wanted:
                        found[t] = g
                elif op is None or t._retain:
                    _accumulate(t, g, create_graph)
                if op is None:
                    continue
            inputs = t._inputs
            if inputs is None:
                raise _released(t)
            if create_graph:  # run the rules on Tensors: the gradient becomes a graph
                args, ans = inputs, t
            else:
                args, ans = t._args, t.data
            vjps, kw, broadcasts = op.vjps, t._kw, op.broadcasts
            for i, x in enumerate(inputs):
                if isinstance(x, Tensor) and x._rg:
                    gx = vjps[i](g, ans, *args, **kw) if kw else vjps[i](g, ans, *args)
                    if gx is None:  # no dependence on this input
                        continue
                    if broadcasts and gx.shape != x.data.shape:
                        gx = unbroadcast(gx, x.data.shape)
                    if x._op is None and x._hooks is None and wanted is None:
                        # A leaf without hooks: its gradient goes straight into .grad (+= for a
                        # second use), without a visit of its own.
                        _accumulate(x, gx, create_graph)
                        continue
                    prev = get(x)
                    if prev is not None:
                        grads[x] = prev + gx
                        continue
                    grads[x] = gx
                    if newest is None:
                        if heap and heap[0][0] < -x._seq:  # the heap holds a newer node
                            _heappush(heap, (-x._seq, x))
                        else:
                            newest = x
                    elif x._seq > newest._seq:
                        _heappush(heap, (-newest._seq, newest))
                        newest = x
                    else:
                        _heappush(heap, (-x._seq, x))
            gx = prev = None  # no stale reference for _accumulate's check for a sole owner
            if not retain_graph:  # free what the op saved, now that its gradient is out
                t._inputs = t._args = None
    finally:
        _mode.set(saved_mode, _mode.scope)
    return found


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is the upstream gradient, required unless root has one element.
    The graph's saved arrays are released unless ``retain_graph=True``.
    """
    _run((root,), (_root_grad(root, grad),), retain_graph, False)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple of Tensors.

    Nothing is accumulated into ``.grad``. With ``create_graph=True`` the results are
    themselves differentiable (second derivatives, Hessian-vector products).
    ``retain_graph`` defaults to ``create_graph``.
    """
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for x in inputs:
        if not isinstance(x, Tensor) or not x._rg:
            raise ValueError("grad: every input must be a Tensor that requires grad")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]  # checks the shapes
    if create_graph:  # a Tensor grad_output stays in the graph (double-vjp: differentiate in it)
        root_grads = [given if isinstance(given, Tensor) else Tensor._make(g)
                      for given, g in zip(grad_outputs, root_grads)]
    found = _run(outputs, root_grads, retain_graph, create_graph, wanted=set(inputs))
    result = []
    for x in inputs:
        g = found.get(x)
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: one of the inputs was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
        elif not isinstance(g, Tensor):
            g = Tensor._make(np.array(g, dtype=x.data.dtype))
        result.append(g)
    return tuple(result)
