"""Finding the user's mistakes: where an op was called, anomaly mode, strict broadcasting.

* :func:`user_frame` and :func:`operand_texts` find the user's line (the first frame outside
  autograd_lite) and the operands of the expression that ran the op there, as written
  (``a1``, ``delta3.T``), so that errors can name them (see :mod:`autograd_lite.errors`).
* :class:`detect_anomaly`: each op records where it was created; a gradient rule that raises
  or returns NaN or inf raises :class:`AnomalyError` naming the op, its input shapes and that line.
* :class:`strict_broadcasting`: an elementwise op whose result is larger than each of its
  operands (``(130,)`` with ``(130, 1)`` gives ``(130, 130)``) raises ShapeError.

Both modes are thread-local and nestable. While either is on in any thread, ``engine._trace``
points at :func:`_trace`, which every op calls once with its result; otherwise it is None,
and the engine pays one global test per op.
"""
import ast
import functools
import itertools
import linecache
import math
import os
import sys
import threading
from typing import NamedTuple

import numpy as np

from . import engine, errors
from .tensor import Tensor

# -- the user's line ---------------------------------------------------------------------------------
_PACKAGE = os.path.dirname(__file__) + os.sep  # as the package's own code objects spell their files


def user_frame():
    """The innermost frame whose code is not in autograd_lite (the user's line), or None.

    Walks ``f_back`` from the caller: cheap enough to run for every op in anomaly mode."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return frame


class Location(NamedTuple):
    """A line of the user's code; ``str()`` gives ``file:line in function: source``."""
    filename: str
    lineno: int
    function: str

    @property
    def source(self):
        """The text of the line, stripped ('' when the file cannot be read)."""
        return linecache.getline(self.filename, self.lineno).strip()

    @classmethod
    def of(cls, frame):
        return cls(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)

    def __str__(self):
        name = self.filename
        if os.path.isabs(name) and name.startswith(os.getcwd() + os.sep):
            name = os.path.relpath(name)  # shorter, and still a path the user can open
        text = f"{name}:{self.lineno} in {self.function}"
        return f"{text}: {self.source}" if self.source else text


def user_location():
    """The :class:`Location` of the user's line, or None when called from no user code."""
    frame = user_frame()
    return None if frame is None else Location.of(frame)


# The expressions that call an op directly, by op name: a binary operator, or a call such as
# a.dot(b), a.matmul(b), ag.matmul(a, b), ag.maximum(a, b).
_OPERATORS = {'add': ast.Add, 'sub': ast.Sub, 'mul': ast.Mult, 'div': ast.Div, 'pow': ast.Pow,
              'matmul': ast.MatMult}
_CALLS = {'matmul': ('matmul', 'dot')}


def operand_texts(frame, op_name):
    """The operands of ``op_name`` as written in the expression running in ``frame``, e.g.
    ``('a1', 'delta3')`` for ``z = sigmoid(a1 @ delta3)``; None when the source is unavailable
    or the expression there is not that op (a call into a layer or a loss, say)."""
    source = _running_source(frame)
    if source is None:
        return None
    text, exact = source
    if exact:  # the span of one expression, perhaps over several lines: parenthesise it
        text = f"(\n{text}\n)"
    try:
        tree = ast.parse(text, mode='eval' if exact else 'exec')
    except SyntaxError:
        return None
    found = [ops for node in ([tree.body] if exact else ast.walk(tree))
             if (ops := _operands(node, op_name)) is not None]
    if len(found) != 1:  # without the exact span, only an unambiguous line names the operands
        return None
    return tuple(ast.get_source_segment(text, node) for node in found[0])


def _operands(node, op_name):
    """The operand nodes when ``node`` applies ``op_name`` directly, else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS.get(op_name, ())):
        return node.left, node.right
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
        if called in _CALLS.get(op_name, (op_name,)):
            if len(node.args) == 1 and isinstance(func, ast.Attribute):  # a.dot(b)
                return func.value, node.args[0]
            return tuple(node.args)  # ag.matmul(a, b)
    return None


def _running_source(frame):
    """(text, exact): the exact source of the instruction running in ``frame`` (Python >= 3.11
    records each instruction's span), or (its whole line, False)."""
    code = frame.f_code
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    positions = getattr(code, 'co_positions', None)
    span = None
    if positions is not None and frame.f_lasti >= 0:
        span = next(itertools.islice(positions(), frame.f_lasti // 2, None), None)
    if span is None or None in span:
        lineno = frame.f_lineno
        return (lines[lineno - 1].strip(), False) if 0 < lineno <= len(lines) else None
    first, last, start, end = span  # columns are UTF-8 byte offsets, as in ast
    chunk = [line.encode() for line in lines[first - 1:last]]
    if not chunk:  # the file changed since it was run
        return None
    if len(chunk) == 1:
        return chunk[0][start:end].decode(errors='replace'), True
    return b''.join([chunk[0][start:]] + chunk[1:-1] + [chunk[-1][:end]]).decode(errors='replace'), True


# -- the two modes -------------------------------------------------------------------------------------
class _State(threading.local):
    """Per thread: which modes are on, and the values to restore on leaving each block."""
    anomaly = False
    strict = False

    def __init__(self):
        self.saved = []


_state = _State()
_entered = 0  # open mode blocks in all threads; engine._trace is set while there are any
_lock = threading.Lock()


class _Mode:
    """A thread-local switch usable as ``with mode():`` (nestable; exceptions restore the
    previous state) and as a decorator ``@mode()``."""
    _flag = None

    def __init__(self, enabled=True):
        self.enabled = bool(enabled)

    def __enter__(self):
        global _entered
        _state.saved.append(getattr(_state, self._flag))
        setattr(_state, self._flag, self.enabled)
        with _lock:
            _entered += 1
            engine._trace = _trace
        return self

    def __exit__(self, *exc):
        global _entered
        setattr(_state, self._flag, _state.saved.pop())
        with _lock:
            _entered -= 1
            if not _entered:
                engine._trace = None  # back to one global test per op
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


def _trace(prim, vals, out):
    """Called by every op (``engine.Primitive.__call__``) with its plain inputs and its
    result Tensor while some thread has a mode on."""
    state = _state
    if state.strict and prim.name in _ELEMENTWISE:
        _check_broadcast(prim.name, vals, out.shape)
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
        super().__init__(origin.name, origin.fwd, _CheckedRules(self), origin.explain, origin.broadcasts)
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
