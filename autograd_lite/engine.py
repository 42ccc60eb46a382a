"""The core: grad mode, the op call, the node, ``unbroadcast``, and the backward pass.

* :class:`Primitive` is an op: a NumPy forward and one gradient rule per input. Calling it
  on Tensors runs the forward on their arrays and, when an input requires grad, records a
  node: the output Tensor remembers the op, its inputs and the arrays the forward saw.
* :func:`backward` and :func:`grad` walk the recorded graph from the output to the leaves
  in a topological order, without recursion, calling one vector-Jacobian product (a rule)
  per input that requires grad.

A gradient rule has the signature ``rule(g, ans, *inputs, **static)``: the gradient of the
output ``g``, the output ``ans``, the op's inputs and its static arguments; it returns the
gradient for one input. It is written with operations that work on ndarrays and on Tensors
alike, so the same rule runs on plain arrays (fast, no graph) or on Tensors when
``create_graph=True`` asks for a differentiable gradient (higher-order derivatives).
"""
import functools
import heapq
import threading

import numpy as np

from . import errors, refcount
from .tensor import Tensor, _next_stamp

_new, _ndarray = object.__new__, np.ndarray


# -- grad mode --------------------------------------------------------------------------
class _GradMode(threading.local):
    """This thread's grad mode (class attributes: every new thread starts with gradients on)."""
    enabled = True
    # The modules whose forward is running (outermost first), kept by nn.Module.__call__;
    # recorded on each node so that graph drawings can group ops by module.
    scope = None
    # What an op reads, once: False when recording is off, else the scope to record (one
    # thread-local read per op instead of two). Every change goes through set().
    recording = None

    def set(self, enabled, scope):
        self.enabled, self.scope = enabled, scope
        self.recording = scope if enabled else False

    def enter_scope(self, module):
        """Note that ``module``'s forward runs (inside the current scope); returns the scope
        to give back to :meth:`leave_scope`. (It writes the fields as set() would: one call
        fewer per module call.)"""
        outer = self.scope
        scope = self.scope = (module,) if outer is None else outer + (module,)
        if self.recording is not False:
            self.recording = scope
        return outer

    def leave_scope(self, outer):
        self.scope = outer  # (as set() would, one call fewer)
        if self.recording is not False:
            self.recording = outer


_mode = _GradMode()


def is_grad_enabled():
    """Whether ops record a graph in this thread."""
    return _mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off in this thread.

    Nestable; the previous state comes back on exit, exceptions included."""

    def __init__(self, mode):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: mode must be True or False, got {type(mode).__name__} {mode!r}")
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


_GENERATOR = 0x20  # CO_GENERATOR: what inspect.isgeneratorfunction tests (inspect costs 13 ms to import)


def run_inside(make_context, fn):
    """``fn`` decorated so that each call runs inside a new ``make_context()``: a new context
    per call, so that threads and recursive calls never share one instance's saved state.
    A generator function's body runs inside the context at each step, as torch.no_grad does."""
    if getattr(getattr(fn, '__code__', None), 'co_flags', 0) & _GENERATOR:
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            steps = fn(*args, **kwargs)
            sent = None
            while True:
                try:
                    with make_context():
                        value = steps.send(sent)
                except StopIteration as stop:
                    return stop.value
                sent = yield value
        return generator

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


# -- observing ops ------------------------------------------------------------------------
# The debug modes (detect_anomaly, strict_broadcasting) watch every op while one is on in
# some thread. With none on, this is None, and each op pays one global test.
_observer = None


def set_op_observer(fn):
    """Call ``fn(op, inputs, input_arrays, static, result)`` after every op, in every thread
    (``inputs``: the Tensors and constants it was given; ``static``: its static arguments, a
    dict or None); None stops it. Returns the observer it replaces."""
    global _observer
    previous, _observer = _observer, fn
    return previous


# -- the op call ----------------------------------------------------------------------------
# Constants that pass into a forward as they are: numbers, and ndarrays of a numeric dtype
# (a complex or object array is refused: it would make a float loss complex, and backward
# would drop the imaginary part).
_NUMBERS = frozenset({float, int, bool, np.float64, np.float32, np.int64, np.bool_})
_NUMERIC = frozenset('fiub')


class _Required:
    def __repr__(self):
        return 'REQUIRED'


REQUIRED = _Required()  # a static argument without a default


class Primitive:
    """A differentiable op: a NumPy forward and one gradient rule per input.

    ``Primitive(name, fwd, vjps, explain=None, broadcasts=True, static=None, saves=False,
    variadic=False)``:

    * ``fwd(*arrays, **static)`` computes the output from the inputs' arrays.
    * ``vjps[i](g, ans, *inputs, **static)`` returns the gradient for input i (or None,
      or ``vjps[i]`` is None: no gradient flows to it).
    * ``static``: the names of the static (non-differentiable) arguments, with defaults:
      ``{'axis': None, 'keepdims': False}``. They may be passed by position after the
      inputs, ``ag.sum(x, 0)``, or by name; use ``REQUIRED`` for one without a default.
    * ``explain(*arrays, **static)`` may turn a NumPy error in the forward into a message
      naming the op and shapes.
    * ``broadcasts``: the forward may broadcast inputs against each other, so the engine
      sums each gradient back to its input's shape (:func:`unbroadcast`). False only for
      ops whose rules always return their input's shape: the engine skips the test.
    * ``saves``: the forward returns ``(output, saved)``; ``saved`` stays on the node and
      reaches the rules as the keyword ``saved`` (PyTorch's ``ctx.save_for_backward``).
    * ``variadic``: the op takes a sequence of inputs, ``op([x, y, z], ...)``; its rules
      get them as one tuple, ``vjps[i](g, ans, inputs, **static)``.

    One declaration serves every arity: the constructor picks a shorter call for ops of
    one, two or three inputs without static arguments (:class:`_Unary`, :class:`_Binary`,
    :class:`_Ternary`) and of two inputs with static ones (:class:`_BinaryStatic`).
    """
    __slots__ = ('name', 'fwd', 'vjps', 'explain', 'broadcasts', 'static', 'saves', 'variadic', 'unusual')

    def __new__(cls, name, fwd, vjps, explain=None, broadcasts=True, static=None, saves=False,
                variadic=False):
        if cls is Primitive:  # (a subclass, debug._Watched, takes other arguments)
            _check_declaration(name, fwd, vjps, variadic)
        if cls is Primitive and not variadic:
            if not (static or saves):
                cls = {1: _Unary, 2: _Binary, 3: _Ternary}.get(len(vjps), Primitive)
            elif static and len(vjps) == 2 and 'axis' not in static:
                cls = _BinaryStatic
        return object.__new__(cls)

    def __init__(self, name, fwd, vjps, explain=None, broadcasts=True, static=None, saves=False,
                 variadic=False):
        if isinstance(vjps, (tuple, list)) and None in vjps:  # "no gradient flows": a rule saying so (one test fewer per edge)
            vjps = tuple(_no_gradient if rule is None else rule for rule in vjps)
        self.name, self.fwd, self.vjps, self.explain = name, fwd, vjps, explain
        self.broadcasts, self.saves, self.variadic = broadcasts, saves, variadic
        self.unusual = saves or variadic  # one test per node in the backward pass
        self.static = dict(static or {})

    def __repr__(self):
        return f"<primitive {self.name}>"

    def __copy__(self):  # an op is like a function: copies of a graph share it
        return self

    def __deepcopy__(self, memo):
        return self

    def __call__(self, *inputs, **static):
        if self.variadic:
            if not inputs:
                raise TypeError(f"{self.name}: missing the sequence of tensors to join")
            inputs, given = tuple(inputs[0]), inputs[1:]
            if not inputs:
                raise ValueError(f"{self.name}: needs at least one tensor, got none")
        else:
            n = len(self.vjps)
            inputs, given = inputs[:n], inputs[n:]
            if len(inputs) < n:
                raise TypeError(f"{self.name}: takes {n} input(s), got {len(inputs)}")
        names = self.static
        if not static and len(given) == len(names):  # all by position (Tensor's methods), or none
            static = dict(zip(names, given)) if names else None
            if names and static.get('axis').__class__ is list:  # axis=[0, 1]: a tuple, as NumPy takes it
                static['axis'] = tuple(static['axis'])
        else:
            static = self._bind_static(given, static)
        arrays, needs_grad, converted, leaf = [], False, False, False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                needs_grad = needs_grad or x._requires_grad
                leaf = leaf or x._op is None
            elif x.__class__ in _NUMBERS or (x.__class__ is np.ndarray and x.dtype.kind in _NUMERIC):
                arrays.append(x)
            else:  # a list, a NumPy scalar of another type, ...: make it a constant array
                arrays.append(_constant(x, self.name))
                converted = True
        if converted:
            inputs = tuple(x if isinstance(x, Tensor) else a for x, a in zip(inputs, arrays))
        return _apply(self, inputs, tuple(arrays), static or None, needs_grad, leaf)

    def _bind_static(self, given, named):
        """The static arguments by name: ``given`` by position, then ``named``, then defaults."""
        names = self.static
        if not named and len(given) == len(names):
            static = dict(zip(names, given))  # all given by position, as Tensor's methods do
        else:
            if len(given) > len(names):
                raise TypeError(f"{self.name}: takes {len(names)} static argument(s) "
                                f"({', '.join(names) or 'none'}) after its inputs, got {len(given)}")
            static = dict(zip(names, given))
            for key, value in named.items():
                if key not in names:
                    raise TypeError(f"{self.name}: unexpected argument {key!r}; "
                                    f"it takes {', '.join(names) or 'no static arguments'}")
                if key in static:
                    raise TypeError(f"{self.name}: got {key!r} twice, by position and by name")
                static[key] = value
            for key, default in names.items():
                if key not in static:
                    if default is REQUIRED:
                        raise TypeError(f"{self.name}: missing the argument {key!r}")
                    static[key] = default
        if isinstance(static.get('axis'), list):  # axis=[0, 1]: a tuple, as NumPy takes it
            static['axis'] = tuple(static['axis'])
        return static

    def on_any(self, *inputs, **static):
        """Apply to Tensors (differentiable) or, when no input is a Tensor, return the plain
        NumPy result. Gradient rules call this so that one rule serves both modes."""
        for x in (inputs[0] if self.variadic else inputs):
            if isinstance(x, Tensor):
                return self(*inputs, **static)
        if self.variadic:
            inputs = tuple(inputs[0])
        out = self.fwd(*inputs, **self._bind_static((), static)) if self.static else self.fwd(*inputs)
        return out[0] if self.saves else out


def _no_gradient(g, ans, *inputs, **static):
    """The rule of an input no gradient flows to (declared as None)."""
    return None


def _check_declaration(name, fwd, vjps, variadic):
    """Refuse a Primitive that could only fail later, at its first call or backward."""
    if not isinstance(name, str):
        raise TypeError(f"Primitive: name must be a str (the op's name in errors and graphs), "
                        f"got {type(name).__name__} {name!r}")
    if not callable(fwd):
        raise TypeError(f"Primitive {name!r}: fwd must be a function fwd(*arrays, **static), "
                        f"got {type(fwd).__name__} {fwd!r:.40}")
    if variadic:  # any object indexed by input number (ops.py's _PerInput)
        if not hasattr(vjps, '__getitem__'):
            raise TypeError(f"Primitive {name!r}: vjps must give a rule per input index, got {type(vjps).__name__}")
        return
    if not isinstance(vjps, (tuple, list)) or not all(v is None or callable(v) for v in vjps):
        hint = "; for one input write vjps=(rule,)" if callable(vjps) else ''
        raise TypeError(f"Primitive {name!r}: vjps must be a tuple with one gradient rule "
                        f"rule(g, ans, *inputs) (or None) per input, got {type(vjps).__name__} {vjps!r:.40}{hint}")


class _Unary(Primitive):
    """[speed] A primitive of one input and no static arguments (the elementwise functions).

    The same op; only the call is shorter, because the general argument handling costs more
    than the NumPy call itself on small arrays. A number or array goes the general way."""
    __slots__ = ()

    def __call__(self, x):
        if not isinstance(x, Tensor):
            return Primitive.__call__(self, x)
        a = x.data
        try:
            out = self.fwd(a)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, (a,), {}) from None
        return _result(self, out, (x,), (a,), None, x._requires_grad, x._op is None)


class _Binary(Primitive):
    """[speed] A primitive of two inputs and no static arguments (arithmetic, matmul): a
    shorter call, as for :class:`_Unary`. Tensors and plain numbers or arrays take it; anything
    else (lists, other NumPy scalars) goes through the general path, which converts it."""
    __slots__ = ()

    def __call__(self, x, y):
        if isinstance(x, Tensor):
            a, needs_grad, leaf = x.data, x._requires_grad, x._op is None
        elif x.__class__ in _NUMBERS or (x.__class__ is np.ndarray and x.dtype.kind in _NUMERIC):
            a, needs_grad, leaf = x, False, False
        else:
            return Primitive.__call__(self, x, y)
        if isinstance(y, Tensor):
            b = y.data
            needs_grad = needs_grad or y._requires_grad
            leaf = leaf or y._op is None
        elif y.__class__ in _NUMBERS or (y.__class__ is np.ndarray and y.dtype.kind in _NUMERIC):
            b = y
        else:
            return Primitive.__call__(self, x, y)
        try:
            out = self.fwd(a, b)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, (a, b), {}) from None
        return _result(self, out, (x, y), (a, b), None, needs_grad, leaf)


class _BinaryStatic(Primitive):
    """[speed] A primitive of two inputs with static arguments (the losses: ``mse_loss``,
    ``cross_entropy``): a shorter call when the static arguments come by position, as the losses
    pass them, the first input is a Tensor and the second a Tensor or a numeric array (the
    target); anything else goes through the general path."""
    __slots__ = ()

    def __call__(self, x, y, *given, **named):
        if named or len(given) != len(self.static) or not isinstance(x, Tensor):
            return Primitive.__call__(self, x, y, *given, **named)
        if isinstance(y, Tensor):
            b, needs_grad, leaf = y.data, x._requires_grad or y._requires_grad, x._op is None or y._op is None
        elif y.__class__ is np.ndarray and y.dtype.kind in _NUMERIC:
            b, needs_grad, leaf = y, x._requires_grad, x._op is None
        else:
            return Primitive.__call__(self, x, y, *given, **named)
        return _apply(self, (x, y), (x.data, b), dict(zip(self.static, given)), needs_grad, leaf)


class _Ternary(Primitive):
    """[speed] A primitive of three inputs and no static arguments (``linear``): a shorter call
    when all three are Tensors (an MLP layer's x, W and b), the general path otherwise."""
    __slots__ = ()

    def __call__(self, x, y, z):
        if not (isinstance(x, Tensor) and isinstance(y, Tensor) and isinstance(z, Tensor)):
            return Primitive.__call__(self, x, y, z)
        arrays = (x.data, y.data, z.data)
        try:
            out = self.fwd(*arrays)
        except (ValueError, IndexError, TypeError) as exc:
            raise errors.op_error(self, exc, arrays, {}) from None
        return _result(self, out, (x, y, z), arrays, None, x._requires_grad or y._requires_grad or z._requires_grad,
                       x._op is None or y._op is None or z._op is None)


def _apply(op, inputs, arrays, static, needs_grad, saves_leaf):
    """Run ``op``'s forward on ``arrays`` and return its result (see :func:`_result`)."""
    try:
        out = op.fwd(*arrays, **static) if static else op.fwd(*arrays)
    except (ValueError, IndexError, TypeError) as exc:
        raise errors.op_error(op, exc, arrays, static or {}) from None
    if not op.saves:
        return _result(op, out, inputs, arrays, static, needs_grad, saves_leaf)
    out, saved = out
    t = _result(op, out, inputs, arrays, static, needs_grad, saves_leaf)
    if t._op is not None:
        t._saved = saved
    return t


def _result(op, out, inputs, arrays, static, needs_grad, saves_leaf):
    """The Tensor holding ``op``'s result ``out``: a node of the graph when an input needs grad
    and recording is on, else a tensor outside any graph. ``saves_leaf``: an input is a leaf.

    [speed] It sets the Tensor's slots itself, as tensor.from_op does, rather than calling it:
    one call fewer per op is 2.0 % of W4's instructions. tests/test_layering.py checks that
    every way of making a tensor sets every slot."""
    t = _new(Tensor)
    t.data = out if out.__class__ is _ndarray else np.asarray(out)
    t._created = _next_stamp()
    t._hooks = t._guarded = None
    t._guards = t._version = 0
    if needs_grad and (scope := _mode.recording) is not False:
        t._op, t._inputs, t._input_arrays, t._static, t._scope = op, inputs, arrays, static, scope
        t._requires_grad = True
        if saves_leaf and _guard_on:
            _guard(t, inputs)  # the node saved a leaf's array: see "the guard" below
    else:
        t._op = t._inputs = t._input_arrays = t._static = t._scope = None
        t._requires_grad = False
    if _observer is not None:  # a debug mode is on in some thread
        _observer(op, inputs, arrays, static, t)
    return t


# -- the guard on saved arrays ------------------------------------------------------------
# A node saves its inputs' arrays for its rules. Changing a leaf's array in place between the
# forward and the backward (an optimizer step first, x.data[...] = ..., x.data -= ...) would
# silently change the gradient. So the leaf arrays a node saved are read-only until its
# backward (or its end, unbackpropagated): a write raises NumPy's "assignment destination is
# read-only" / "output array is read-only" at the line that writes. The optimizers write through
# writing(), which counts the change in the leaf's _version; the backward pass then names the
# tensor and the op before any wrong number reaches .grad. Only nodes that save a leaf pay
# for this (W4's chain: one node in 6000).
_guard_on = True


class _Hold:
    """What one node holds read-only: ``held``, a list of (leaf, array, version). The node is
    its only owner, so the arrays are given back the moment the node lets go of it: when its
    backward releases what it saved, or when the node itself ends unbackpropagated (reference
    counting runs ``__del__`` then). No registry, no weak reference, no cycle."""
    __slots__ = ('held',)

    def __del__(self):
        for x, a, _ in self.held:
            n = x._guards - 1
            x._guards = n
            if not n:
                a.setflags(True)  # (write=True: by position, half the cost of the keyword)

    def __reduce__(self):  # a copied or unpickled node holds nothing read-only
        return type(None), ()

    def __deepcopy__(self, memo):
        return None


def guard_saved_arrays(enabled=True):
    """Turn the read-only guard on saved leaf arrays on or off (on by default) for nodes made
    from now on, in every thread; returns the previous setting. Off, in-place writes are
    not caught (the optimizers' steps still are, by the version count)."""
    global _guard_on
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"guard_saved_arrays: enabled must be True or False, got {type(enabled).__name__} {enabled!r}")
    previous, _guard_on = _guard_on, bool(enabled)
    return previous


def _guard(t, inputs):
    held = []
    for x in inputs:
        if isinstance(x, Tensor) and x._op is None:
            n = x._guards
            if n:
                if n < 0:  # held read-only by a function transform for its whole call
                    continue
                x._guards = n + 1  # already held read-only by another node
                a = x.data
            elif (a := x.data).flags.writeable:
                a.setflags(False)  # (write=False)
                x._guards = 1
            else:  # read-only already (a view of a constant, say): nothing to give back
                continue
            held.append((x, a, x._version))
    if held:
        hold = t._guarded = _new(_Hold)
        hold.held = held


# [speed] A function transform (func.py) runs the forward and the backward passes on its fresh
# leaves within one call, so it holds their arrays read-only for the whole call instead, and the
# nodes hold nothing (_guards = -1 says so): one read-only switch per argument array and call
# instead of a _Hold per node (value_and_grad of the iris loss: see docs/performance.md). A
# counted change (writing(), an optimizer's step) of such a leaf is refused where it is made.
def hold_for_call(leaves):
    """Make the arrays of the fresh ``leaves`` read-only until :func:`release_after_call`.
    Returns what to give back (None with the guard off: then nothing is held)."""
    if not _guard_on:
        return None
    made = []
    for x in leaves:
        a = x.data
        if a.flags.writeable:  # (a read-only one, or the same array seen twice, stays as it is)
            a.setflags(False)  # (write=False)
            made.append(a)
        x._guards = -1
    return made


def release_after_call(leaves, made):
    """Give back what :func:`hold_for_call` made read-only."""
    for a in made:
        a.setflags(True)  # (write=True)
    for x in leaves:
        x._guards = 0


def _argument_of_a_call_error(t):
    where = f" of shape {t.shape}" if t.ndim else ''
    return RuntimeError(
        f"writing: the tensor{where} is an argument that a running function transform (grad, "
        "value_and_grad, jvp, ...) differentiates, so changing it in place (an optimizer's step, "
        "writing()) would make its gradient wrong; inside a transformed function the arguments are "
        "read-only: compute a new value instead (x = x - lr * g)")


def _check_guarded(t, guarded):
    """Before a node's rules run: no leaf array it saved was changed since (through writing())."""
    for x, a, version in guarded.held:
        if x._version != version:
            name = f"'{x.name}'" if x.name else f"of shape {x.shape}"
            raise RuntimeError(
                f"backward: the tensor {name} was modified in place after '{t._op.name}' saved it "
                "for its gradient, so the gradient would be wrong. Call backward() before changing "
                "it (e.g. before optimizer.step()), or compute the forward again after the change")


def subtract_in_place(p, s):
    """``p.data -= s``, counted: the optimizers' step. A graph that saved ``p`` and is
    backpropagated later raises instead of giving a wrong gradient."""
    if p._guards:
        with writing(p) as data:
            data -= s
    else:
        p._version += 1
        p.data -= s


class writing:
    """``with writing(p):`` changes ``p.data`` in place although a graph saved it: the change
    is counted, so that backward through that graph raises instead of giving a wrong gradient."""
    __slots__ = ('tensor',)

    def __init__(self, tensor):
        self.tensor = tensor

    def __enter__(self):
        t = self.tensor
        if t._guards:
            if t._guards < 0:  # its array is a function transform's argument, in use for the whole call
                raise _argument_of_a_call_error(t)
            t.data.setflags(True)  # (write=True)
        t._version += 1
        return t.data

    def __exit__(self, *exc):
        t = self.tensor
        if t._guards:
            t.data.setflags(False)  # (write=False)
        return False


def _constant(x, op_name):
    """A constant operand as an ndarray: lists become float64, subclasses (np.matrix) plain."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{op_name}: expected a Tensor, number or array, got {type(x).__name__} {x!r}")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise TypeError(f"{op_name}: cannot make an array from {type(x).__name__} {str(x)[:40]}: give a "
                        "number, an array, or a rectangular nested list of numbers (rows of one length)") from None
    if arr.dtype.kind not in _NUMERIC:
        raise TypeError(f"{op_name}: expected real numeric data, got {type(x).__name__} of dtype {arr.dtype}; "
                        "autograd_lite differentiates real-valued functions (convert it, e.g. x.real or "
                        "x.astype(np.float64))")
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
# A node may pass its gradient on only when every use of it has reported, for its gradient is
# the sum over its uses. Creation order guarantees that: an op's output is made after its
# inputs, so visiting the nodes that hold a gradient newest first (a heap keyed by the
# creation number) reaches each one after all its uses. The graph is walked once, with no
# recursion and no separate sort. (Every tensor takes its number when the object is made,
# copies and unpickled tensors included, so the order holds for them too.)
#
# Leaves without hooks are never visited: their gradients go straight into .grad, one
# contribution at a time, as PyTorch's do.
_heappush, _heappop = heapq.heappush, heapq.heappop


def _run(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Propagate gradients from roots. Accumulates into leaves' .grad, or, when ``wanted``
    (a set of tensors) is given, returns ``{tensor: gradient}`` for those only."""
    for r in roots:
        if not r._requires_grad:
            raise RuntimeError("backward: the output does not require grad and has no graph; "
                               "did an input have requires_grad=True, and was this outside no_grad()?")
    grads, heap = {}, []  # grads: each waiting node's gradient so far; heap: (-number, node)
    for r, g in zip(roots, root_grads):
        if r in grads:
            grads[r] = grads[r] + g
        else:
            grads[r] = g
            _heappush(heap, (-r._created, r))
    # [speed] The newest waiting node may sit beside the heap instead of in it: in a chain
    # each node's input is newer than everything waiting, so a chain costs no heap operation
    # (W4's backward: 2.00 -> 1.86 us per op when this was added).
    newest = _heappop(heap)[1] if len(heap) == 1 else None
    found, pop, get = {}, grads.pop, grads.get
    # The tensors ag.grad asks for that are op results (or None): the walk stops at them to
    # record their gradient; the leaves among ``wanted`` collect theirs as they arrive.
    inner = {x for x in wanted if x._op is not None} or None if wanted is not None else None
    saved_mode = _mode.enabled  # as set_grad_enabled(create_graph), without a context manager's cost
    _mode.set(create_graph, _mode.scope)
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
            if op is None or t._hooks is not None or (inner is not None and t in inner):
                g = _visit(t, g, wanted, found)
                if op is None:
                    continue
            inputs = t._inputs
            if inputs is None:
                raise _released_graph_error(t)
            guarded = t._guarded
            if guarded is not None:
                _check_guarded(t, guarded)
            if create_graph:  # the rules run on Tensors: the gradient is a graph of its own
                args, ans = inputs, t
            else:
                args, ans = t._input_arrays, t.data
            static = t._static
            if op.unusual:  # its rules get the inputs as one tuple (variadic), or saved values
                args, static = _rule_args(op, t, args, static)
            vjps, broadcasts, arity = op.vjps, op.broadcasts, len(args)
            for i, x in enumerate(inputs):
                if not (isinstance(x, Tensor) and x._requires_grad):
                    continue
                rule = vjps[i]
                if static:
                    gx = rule(g, ans, *args, **static)
                elif arity == 1:  # [speed] a call without * runs in this interpreter frame
                    gx = rule(g, ans, args[0])
                elif arity == 2:
                    gx = rule(g, ans, args[0], args[1])
                elif arity == 3:
                    gx = rule(g, ans, args[0], args[1], args[2])
                else:
                    gx = rule(g, ans, *args)
                if gx is None:  # no dependence on this input
                    continue
                if broadcasts and gx.shape != x.data.shape:  # [speed] broadcasts=False: trusted
                    if getattr(gx, 'shape', None) != t.data.shape:  # neither input's nor output's
                        raise _wrong_shape_error(gx, x, t, op, i)
                    gx = unbroadcast(gx, x.data.shape)
                if x._op is None and x._hooks is None:  # a plain leaf: no visit of its own
                    if wanted is None:
                        _accumulate(x, gx, create_graph, holders=2)  # straight into .grad
                    elif x in wanted:  # ag.grad: straight into its result (a leaf not asked for gets nothing)
                        found[x] = found[x] + gx if x in found else gx
                elif (earlier := get(x)) is not None:
                    grads[x] = earlier + gx
                else:  # x waits for its visit (newest first; see [speed] above)
                    grads[x] = gx
                    if newest is None:
                        if heap and heap[0][0] < -x._created:
                            _heappush(heap, (-x._created, x))
                        else:
                            newest = x
                    elif x._created > newest._created:
                        _heappush(heap, (-newest._created, newest))
                        newest = x
                    else:
                        _heappush(heap, (-x._created, x))
            gx = earlier = None  # held by grads now: a stale name here would make _accumulate copy it
            if not retain_graph:  # free what the op saved, now that its gradient is out
                t._inputs = t._input_arrays = None
                if op.unusual and op.saves:
                    del t._saved
                if guarded is not None:  # the last references to its hold: the arrays are given back
                    t._guarded = guarded = None
    finally:
        _mode.set(saved_mode, _mode.scope)
    return found


def _rule_args(op, t, args, static):
    """The arguments of an unusual op's rules: its inputs as one tuple (variadic ops), and
    ``saved=`` what its forward saved (ops with saves=True)."""
    if op.variadic:
        args = (args,)
    if op.saves:
        static = dict(static or {}, saved=t._saved)
    return args, static


def _wrong_shape_error(gx, x, t, op, i):
    """A rule's result has neither its input's shape nor (to be summed back, undoing
    broadcasting) the output's."""
    shape = getattr(gx, 'shape', None)
    return ValueError(
        f"backward: the gradient rule of '{op.name}' for input {i} returned "
        + (f"shape {shape}" if shape is not None else f"a {type(gx).__name__}")
        + f", but that input has shape {x.data.shape} (and the output {t.data.shape}); "
        "a rule must return an array of its input's shape, or of the output's to be summed back")


def _visit(t, g, wanted, found):
    """What happens at a leaf, a hooked tensor or an input of ag.grad: hooks may replace
    the gradient; then it is returned (grad), or stored (leaves, retain_grad)."""
    if wanted is not None and t._op is None and t not in wanted:
        return g  # ag.grad does not ask for this leaf: nothing reaches it, as in PyTorch
    for hook in tuple(t._hooks or ()):
        replaced = hook(g)
        if replaced is not None:
            if getattr(replaced, 'shape', None) != t.data.shape:
                raise ValueError(
                    f"backward: the hook {getattr(hook, '__qualname__', hook)!r} on a tensor of shape "
                    f"{t.data.shape} returned "
                    + (f"shape {replaced.shape}" if hasattr(replaced, 'shape') else f"a {type(replaced).__name__}")
                    + "; a hook returns None or a gradient of the tensor's own shape (an array or Tensor)")
            if not isinstance(replaced, (np.ndarray, Tensor)):
                replaced = np.asarray(replaced, dtype=t.data.dtype)
            g = replaced
    if wanted is not None:
        if t in wanted:
            found[t] = g
    elif t._op is None or t._retain:
        # g is held by the walk's g, ours and _accumulate's (a hook that kept it adds one: a copy)
        _accumulate(t, g, isinstance(g, Tensor), holders=3)
    return g


def _accumulate(t, g, create_graph, holders):
    """Add the gradient ``g`` (an array, or a Tensor under create_graph) into ``t.grad``.

    The first store keeps ``g`` itself when nothing holds it but the ``holders`` variables
    of the calls that brought it here (see :mod:`autograd_lite.refcount`), else copies it,
    so that later in-place adds never write into an array that the graph or the user holds."""
    with _grad_lock:  # backward() in several threads into one leaf: no lost contribution
        if t.grad is not None:
            t.grad += g.data if create_graph else g
        elif not create_graph and _keepable(g, t.data.dtype, holders):
            t.grad = g
        else:  # a copy (under create_graph, of an array the gradient's graph holds); 0-d become arrays
            t.grad = np.array(g.data if create_graph else g, dtype=t.data.dtype)


_grad_lock = threading.Lock()


def _keepable(g, dtype, holders):
    """[speed] Whether the array ``g`` may become a gradient as it is, without a copy: a plain
    ndarray of ``dtype`` that owns its writeable memory and that nothing holds but the
    ``holders`` variables of the calls that brought it here (see :mod:`autograd_lite.refcount`)."""
    return (g.__class__ is np.ndarray and g.base is None and g.dtype == dtype and g.flags.writeable
            and refcount.held_only_by(g, holders + 1))  # + this call's own parameter


def _released_graph_error(t):
    return RuntimeError(
        f"backward through the graph a second time: the arrays saved by '{t._op.name}' were "
        "released by the first backward. Pass retain_graph=True to the first backward "
        "(or ag.grad) if you need to backpropagate twice.")


def _root_grad(root, grad, caller='backward'):
    """The gradient that starts a backward pass at ``root`` (ones for a scalar)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"{caller}: expected the output Tensor to differentiate, got {type(root).__name__}")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: the output has shape {root.shape}, so the gradient cannot be implied; "
                f"pass grad= an array of shape {root.shape} (e.g. ones to sum the output), "
                "or reduce the output to a scalar first (e.g. loss.sum() or loss.mean())")
        return np.array(1, dtype=root.data.dtype).reshape(root.data.shape)  # np.ones_like costs more
    try:
        g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.data.dtype)
    except (ValueError, TypeError):
        raise TypeError(f"{caller}: grad must be an array of the output's shape {root.shape} (numbers), "
                        f"got {type(grad).__name__} {str(grad)[:40]}") from None
    if g.shape != root.shape:
        raise ValueError(f"backward: grad has shape {g.shape} but the output has shape {root.shape}; "
                         "they must be equal")
    return g


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is the upstream gradient, required unless root has one element.
    The graph's saved arrays are released unless ``retain_graph=True``.
    """
    root_grad = _root_grad(root, grad)  # (checks root first)
    _run((root,), (root_grad,), retain_graph, False)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple of Tensors.

    Nothing is accumulated into ``.grad``. With ``create_graph=True`` the results are
    themselves differentiable (second derivatives, Hessian-vector products).
    ``retain_graph`` defaults to ``create_graph``.
    """
    for what, given in (('outputs', outputs), ('inputs', inputs)):
        if not isinstance(given, (Tensor, list, tuple)):
            raise TypeError(f"grad: {what} must be a Tensor or a list of Tensors, got {type(given).__name__}")
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for o in outputs:
        if not isinstance(o, Tensor):
            raise TypeError(f"grad: outputs must be Tensors, got {type(o).__name__}")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray, int, float, np.number)):
        grad_outputs = (grad_outputs,)
    elif not isinstance(grad_outputs, (list, tuple)):
        raise TypeError(f"grad: grad_outputs must be a Tensor, an array, a number, or a list of them "
                        f"(one per output), got {type(grad_outputs).__name__}")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for x in inputs:
        if not isinstance(x, Tensor) or not x._requires_grad:
            raise ValueError("grad: every input must be a Tensor that requires grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = []
    for x, g in zip(inputs, gradients(outputs, grad_outputs, inputs, retain_graph, create_graph)):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: one of the inputs was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
        elif not isinstance(g, Tensor):
            g = Tensor._make(g)
        result.append(g)
    return tuple(result)


def gradients(outputs, grad_outputs, inputs, retain_graph=False, create_graph=False):
    """The core of :func:`grad`, without its checks of the arguments' types: a list with the
    gradient of ``outputs`` (seeded with ``grad_outputs``, one per output, None for ones at a
    scalar output) for each input, an ndarray (a Tensor under ``create_graph``), or None where no
    output depends on it. Nothing goes into ``.grad``. The function transforms call it."""
    root_grads = [_root_grad(o, g, 'grad') for o, g in zip(outputs, grad_outputs)]  # checks the shapes
    if create_graph:  # a Tensor grad_output stays in the graph (double-vjp: differentiate in it)
        root_grads = [given if isinstance(given, Tensor) else Tensor._make(g)
                      for given, g in zip(grad_outputs, root_grads)]
    wanted = set(inputs)
    found = _run(outputs, root_grads, retain_graph, create_graph, wanted)
    result = []
    for x in inputs:
        g = found.pop(x, None)
        if g is not None and not create_graph and not _keepable(g, x.data.dtype, 1):
            g = np.array(g, dtype=x.data.dtype)  # a copy: the graph or the caller holds g
        result.append(g)
    if len(wanted) < len(inputs):  # an input given twice: its later mentions get the first's gradient
        first = {}
        result = [first.setdefault(x, g) for x, g in zip(inputs, result)]
    return result
