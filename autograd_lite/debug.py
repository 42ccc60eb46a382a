"""Finding the user's mistakes: anomaly mode and strict broadcasting.

* :class:`detect_anomaly`: each op records where it was created; a gradient rule that raises
  or returns NaN or inf raises :class:`AnomalyError` naming the op, its input shapes and that line.
* :class:`strict_broadcasting`: an elementwise op whose result is larger than each of its
  operands (``(130,)`` with ``(130, 1)`` gives ``(130, 130)``) raises ShapeError.

Both modes are thread-local and nestable. While either is on in any thread, this module's
:func:`_observe` is the engine's op observer (:func:`engine.set_op_observer`), which every
op calls once with its result; otherwise there is none, and the engine pays one global test
per op. The user's line is found by :mod:`autograd_lite.source`.
"""
import functools
import math
import threading

import numpy as np

from . import engine, errors
from .tensor import Tensor
from .source import Location, operand_texts, user_frame, user_location  # noqa: F401  (re-exported)


# -- the two modes -------------------------------------------------------------------------------------
class _State(threading.local):
    """Per thread: which modes are on, and the values to restore on leaving each block."""
    anomaly = False
    strict = False

    def __init__(self):
        self.saved = []


_state = _State()
_entered = 0  # open mode blocks in all threads; the engine observes ops while there are any
_lock = threading.Lock()


class _Mode:
    """A thread-local switch usable as ``with mode():`` (nestable; exceptions restore the
    previous state) and as a decorator ``@mode()``."""
    _flag = None

    def __init__(self, enabled=True):
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: enabled must be True or False, "
                            f"got {type(enabled).__name__} {enabled!r}")
        self.enabled = bool(enabled)

    def __enter__(self):
        global _entered
        _state.saved.append(getattr(_state, self._flag))
        setattr(_state, self._flag, self.enabled)
        with _lock:
            _entered += 1
            engine.set_op_observer(_observe)
        return self

    def __exit__(self, *exc):
        global _entered
        setattr(_state, self._flag, _state.saved.pop())
        with _lock:
            _entered -= 1
            if not _entered:
                engine.set_op_observer(None)  # back to one global test per op
        return False

    def __call__(self, fn):
        mode, enabled = type(self), self.enabled
        return engine.run_inside(lambda: mode(enabled), fn)


class detect_anomaly(_Mode):
    """Find the op whose gradient goes wrong, and the line of your code that created it.

    Inside ``with ag.detect_anomaly():`` every op records where it was created (file and
    line of the first frame outside autograd_lite). When a backward pass through such an op
    gets NaN or inf from its gradient rule, or the rule raises, :class:`AnomalyError` names
    the op, its input shapes and that line. Thread-local, nestable; ``detect_anomaly(False)``
    turns it off inside. Costs a frame walk per op and a finiteness test per gradient.
    """
    _flag = 'anomaly'


class strict_broadcasting(_Mode):
    """Raise ShapeError when an elementwise op broadcasts to a result larger than each operand.

    ``(130,) - (130, 1)`` silently gives ``(130, 130)``: the classic bug of a flat vector
    meeting a column. Broadcasting a scalar, a size-1 axis or a missing leading axis up to
    the other operand's shape (``(3, 4) + (4,)``, ``(3, 4) * (1, 4)``) stays allowed. An
    intended outer broadcast (``(3, 1) * (1, 4)``) must be made explicit, e.g. with
    ``ag.broadcast_to`` on one operand first. Thread-local, nestable, a decorator too.
    """
    _flag = 'strict'


# The ops whose operands are broadcast against each other elementwise.
_ELEMENTWISE = frozenset({'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'where'})


def _observe(prim, inputs, vals, static, out):
    """Called by every op with its plain inputs and its result Tensor while some thread has
    a mode on."""
    state = _state
    if state.strict and prim.name in _ELEMENTWISE:
        _check_broadcast(prim.name, vals, out.shape)
    elif state.strict and prim.name == 'linear':  # x @ W + b: the bias meets the product
        x, weight, bias = (np.shape(v) for v in vals)
        _check_broadcast('linear (its bias add)', [np.empty(x[:-1] + weight[1:]), vals[2]], out.shape)
    elif state.strict and prim.name == 'clip':  # array bounds broadcast against x
        _check_broadcast(prim.name, [v for v in vals if np.ndim(v)], out.shape)
    if state.anomaly and out._op is not None:
        out._op = _Watched(out._op, user_location(), tuple(np.shape(v) for v in vals))


def _check_broadcast(name, vals, shape):
    shapes = [np.shape(v) for v in vals]
    size = math.prod(shape)
    if size and all(size > math.prod(s) for s in shapes):
        raise errors.ShapeError(errors.at_user_line(
            errors.strict_broadcast_message(name, shapes, shape), name, shapes))


# -- anomaly mode: rules that check what they return ----------------------------------------------------
class AnomalyError(RuntimeError):
    """A gradient rule raised or produced NaN/inf under :class:`detect_anomaly`."""


class _Watched(engine.Primitive):
    """The op of a node recorded under detect_anomaly: the same name and forward, with
    gradient rules that check their results, and the place the node was created."""
    __slots__ = ('origin', 'where', 'shapes')

    def __init__(self, op, where, shapes):
        origin = op.origin if isinstance(op, _Watched) else op
        super().__init__(origin.name, origin.fwd, _CheckedRules(self), origin.explain, origin.broadcasts,
                         origin.static, origin.saves, origin.variadic)
        self.origin, self.where, self.shapes = origin, where, shapes

    def report(self, problem, i):
        where = f"\n  the op was created at {self.where}" if self.where else ''
        shapes = ', '.join(str(s) for s in self.shapes)
        return (f"detect_anomaly: the gradient rule of '{self.name}' (input shapes {shapes}) "
                f"for input {i} {problem}{where}")


class _CheckedRules:
    """``rules[i]`` is the op's rule i, checked: exceptions and non-finite results become AnomalyError."""
    __slots__ = ('op',)

    def __init__(self, op):
        self.op = op

    def __getitem__(self, i):
        return functools.partial(_checked_rule, self.op, i)


def _checked_rule(op, i, g, ans, *args, **static):
    try:
        gx = op.origin.vjps[i](g, ans, *args, **static)
    except Exception as exc:
        raise AnomalyError(op.report(f"raised {type(exc).__name__}: {exc}", i)) from exc
    if gx is None:
        return gx
    values = np.asarray(gx.data if isinstance(gx, Tensor) else gx)
    bad = ~np.isfinite(values)
    if bad.any():
        kinds = ' and '.join(k for k, hit in (('NaN', np.isnan(values).any()),
                                               ('inf', np.isinf(values).any())) if hit)
        notes = [f"returned {kinds} ({int(bad.sum())} of {values.size} elements)"]
        if not np.isfinite(_plain(g)).all():
            notes.append("but its upstream gradient already had NaN/inf (passed to backward, or from a hook)")
        if not np.isfinite(_plain(ans)).all():
            notes.append("and its forward output already had NaN/inf: look at its inputs")
        notes.append("(log, division or sqrt at 0, or exp overflow, are the usual causes)")
        raise AnomalyError(op.report(' '.join(notes), i))
    return gx


def _plain(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def created_at(tensor):
    """The :class:`Location` where ``tensor``'s op was recorded under detect_anomaly, else None."""
    op = tensor._op
    return op.where if isinstance(op, _Watched) else None
