"""A speed trick, kept apart: may the engine keep an array as ``.grad`` without copying it?

A leaf's first gradient is stored as its ``.grad``. Most gradient rules return a new array
that nothing else holds, and keeping it saves a copy per parameter per step (2.5-6 % of a
step on the small networks W1 and W2, measured once; see docs/engine.md). But a rule may also return an
array that lives on (the upstream gradient itself for ``add``, a view, a saved array), and
a later ``+=`` into ``.grad``, or the user's own in-place edit, would then change it. So
the engine keeps the array only when CPython's reference count says that no one else can
see it. Anywhere this cannot be known exactly, the answer is False, and the engine copies:
slower, never wrong.
"""
import sys

_getrefcount = getattr(sys, 'getrefcount', None)


def _references(obj):
    """sys.getrefcount(obj) seen from inside a call shaped like :func:`held_only_by`."""
    return _getrefcount(obj)


def _passed_on(obj, holders):  # the engine's shape: a variable, then a call's parameter
    return held_only_by(obj, holders)


def _calibrate():
    """How many references ``held_only_by`` itself adds (its parameter and getrefcount's
    argument: 2 on CPython 3.11-3.13), or None where counting is not exact. CPython 3.10 also
    counts the caller's argument slot during a call, so there a variable passed on is seen
    twice; the self-test below then fails and the trick stays off."""
    if _getrefcount is None or sys.implementation.name != 'cpython' or not (3, 10) <= sys.version_info[:2] <= (3, 13):
        return None  # other interpreters, and versions where the count was not tested
    global _OWN
    probe = object()  # held by this one variable only
    _OWN = _references(probe) - 1
    alone = _passed_on(probe, 2)  # this variable and _passed_on's parameter
    second = probe  # noqa: F841  (now a third holder, which must be seen)
    shared = _passed_on(probe, 2)
    return _OWN if alone and not shared else None


def held_only_by(obj, holders):
    """True when ``obj`` is referenced by no more than ``holders`` variables of the calling
    frames and by nothing else (no list, dict, attribute or other variable). False when unsure."""
    return _OWN is not None and _getrefcount(obj) - _OWN <= holders


_OWN = None
_OWN = _calibrate()
