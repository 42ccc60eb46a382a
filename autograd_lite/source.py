"""Finding the user's line: the first frame outside autograd_lite, and the operands of the
expression that ran an op there, as written (``a1``, ``delta3.T``).

A leaf module: :mod:`autograd_lite.errors` uses it to put the user's file, line and operand
names into a message, and :mod:`autograd_lite.debug` to record where anomaly mode saw each
op made.
"""
import ast
import itertools
import linecache
import os
import sys
from typing import NamedTuple

_PACKAGE = os.path.dirname(__file__) + os.sep  # as the package's own code objects spell their files


def user_frame(also_skip=()):
    """The innermost frame whose code is not in autograd_lite (the user's line), or None;
    ``also_skip``: more folders to look past (NumPy's, when NumPy's Python code called us).

    Walks ``f_back`` from the caller: cheap enough to run for every op in anomaly mode."""
    skip = (_PACKAGE, *also_skip)
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
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


def running_expression(frame):
    """The exact text of the expression running in ``frame`` (``X.dot(w1)``), or None when
    Python does not record its span or the source is unavailable."""
    found = _running_source(frame)
    return found[0] if found is not None and found[1] else None


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
