"""Module and Parameter: the base of every layer.

A :class:`Module` finds its parameters and sub-modules by looking at its attributes
(lists, tuples and dicts of them included), so a layer is written as plain Python::

    class TwoLayer(Module):
        def __init__(self):
            self.fc1 = Linear(4, 8)          # named 'fc1' in named_parameters()
            self.heads = [Linear(8, 3)]      # 'heads.0.weight', 'heads.0.bias'
        def forward(self, x):
            return self.heads[0](ag.sigmoid(self.fc1(x)))

Calling ``super().__init__()`` is allowed but not required. Only :class:`Parameter`
attributes are trained; a plain Tensor attribute is a constant (a warning says so when
it requires grad, the usual way a weight gets forgotten).
"""
import warnings
from typing import NamedTuple

import numpy as np

from .. import engine
from ..tensor import Tensor

_mode = engine._mode  # thread-local grad mode; its ``scope`` names the running modules


class Parameter(Tensor):
    """A Tensor that a :class:`Module` trains: ``requires_grad=True``, floating-point data.

    The data are shared, not copied (``Parameter(arr)`` updates ``arr`` in place when an
    optimiser steps). Assigned to a module attribute without a name, a Parameter takes
    the attribute's name (``self.W1 = Parameter(...)`` is named 'W1');
    :meth:`Module.name_parameters` gives full dotted names instead.

    >>> w = Parameter(np.zeros((4, 8)))      # shape (4, 8), requires_grad=True
    """
    __slots__ = ()

    def __init__(self, data, requires_grad=True, name=None, dtype=None):
        super().__init__(data, dtype=dtype, name=name)
        if self.data.dtype.kind != 'f':
            raise TypeError(f"Parameter: needs floating-point data, got dtype {self.data.dtype}; "
                            "convert it first, e.g. Parameter(x.astype(np.float64))")
        self._requires_grad = bool(requires_grad)

    def __repr__(self):
        return 'Parameter containing:\n' + super().__repr__()


class StateDictError(ValueError):
    """``load_state_dict`` found keys missing, unexpected or of the wrong shape.

    A ValueError; its ``missing``, ``unexpected`` and ``mismatched`` attributes list the
    names (``mismatched`` as ``(name, expected shape, given shape)``)."""

    def __init__(self, message, missing=(), unexpected=(), mismatched=()):
        super().__init__(message)
        self.missing, self.unexpected, self.mismatched = list(missing), list(unexpected), list(mismatched)


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` left out (PyTorch's field names)."""
    missing_keys: list
    unexpected_keys: list


def _contents(name, value):
    """The Parameters and Modules inside attribute ``value`` (a container is searched
    through, iteratively), as ``[(dotted name, object)]`` in insertion order."""
    found = []
    stack = [(name, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, (Parameter, Module)):
            found.append((path, v))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed([(f"{path}.{i}", x) for i, x in enumerate(v)]))
        elif isinstance(v, dict):
            stack.extend(reversed([(f"{path}.{k}", x) for k, x in v.items()]))
    return found


class Module:
    """Base class of layers and models: override ``forward``; call the module itself.

    Sub-modules and parameters are the attributes that are (or contain, in lists,
    tuples and dicts) :class:`Module` and :class:`Parameter` objects, in assignment order.
    """
    training = True  # a class default, so subclasses need not call super().__init__()

    def __init__(self):
        self.training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        # Record which modules are running, outermost first, so that each op made in
        # forward knows where it sits (graph drawings group ops by module).
        outer = _mode.enter_scope(self)
        try:
            return self.forward(*args, **kwargs)
        finally:
            _mode.leave_scope(outer)

    def __setattr__(self, name, value):
        if isinstance(value, (list, tuple, dict, Parameter)):
            for path, p in _contents(name, value):
                if isinstance(p, Parameter) and p.name is None:
                    p.name = path
        elif isinstance(value, Tensor) and value._requires_grad and value._op is None:
            warnings.warn(f"{type(self).__name__}.{name} is a Tensor that requires grad but not a Parameter, "
                          "so parameters() and optimisers will not see it; "
                          "wrap it: nn.Parameter(...)", stacklevel=2)
        object.__setattr__(self, name, value)

    # -- what it contains -------------------------------------------------------------------
    def _members(self):
        """This module's own sub-modules and parameters: ``[(name, object)]``."""
        found = []
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                found.append((name, value))
            elif isinstance(value, (list, tuple, dict)):
                found.extend(_contents(name, value))
        return found

    def _walk(self):
        """``(depth, path, local name, object)`` for self, every sub-module and every
        parameter, depth first in attribute (declaration) order; each object once, at
        its first path. Iterative, so a module that refers back to its parent ends."""
        seen = set()
        stack = [(0, '', '', self)]
        while stack:
            depth, path, local, obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield depth, path, local, obj
            if isinstance(obj, Module):
                stack.extend(reversed([(depth + 1, f"{path}.{n}" if path else n, n, x)
                                       for n, x in obj._members()]))

    def _paths(self, kind, prefix):
        for _, path, _, obj in self._walk():
            if isinstance(obj, kind):
                yield (f"{prefix}.{path}" if prefix and path else prefix or path), obj

    def named_modules(self, prefix=''):
        """``(dotted path, module)`` for self (path ``prefix``, '' by default) and every
        sub-module, depth first; a module reachable twice is listed once."""
        return self._paths(Module, prefix)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """``(name, module)`` for the direct sub-modules."""
        seen = set()
        for name, m in self._members():
            if isinstance(m, Module) and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix=''):
        """``(dotted name, Parameter)`` such as ``('layers.0.weight', W)``, in declaration
        order, depth first (a module's parameters where the module was assigned); a
        parameter reachable twice (shared, tied) is listed once, at its first name."""
        return self._paths(Parameter, prefix)

    def parameters(self):
        """The parameters in :meth:`named_parameters` order (an iterator, as in PyTorch)."""
        for _, p in self.named_parameters():
            yield p

    def name_parameters(self):
        """Set every parameter's ``.name`` to its full dotted name ('layers.0.weight'),
        so graph drawings and error messages show where it lives. Returns self.

        Parameters are otherwise named after the attribute they were assigned to
        ('weight'), which does not say which layer; call this on the outermost model."""
        for name, p in self.named_parameters():
            p.name = name
        return self

    def zero_grad(self):
        """Forget every parameter's gradient (``.grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def apply(self, fn):
        """Call ``fn(module)`` on self and every sub-module; returns self."""
        for m in list(self.modules()):
            fn(m)
        return self

    def train(self, mode=True):
        """Set ``training`` on self and every sub-module; returns self."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    # -- saving and loading -------------------------------------------------------------------
    def state_dict(self):
        """``{dotted name: copy of the parameter's array}`` in :meth:`named_parameters` order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` (name -> array or Tensor) into the parameters, in place.

        Everything is checked before anything is written: when a key is missing (strict),
        unexpected (strict), of the wrong shape or of a non-numeric type, a
        :class:`StateDictError` (a ValueError) lists every such key and the module is left
        unchanged. With ``strict=False`` missing and unexpected keys are allowed and
        returned as ``LoadResult(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state, 'items'):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got {type(state).__name__}")
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        mismatched, values = [], {}
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != p.data.shape or not np.can_cast(value.dtype, p.data.dtype, 'same_kind'):
                mismatched.append((name, p.data.shape, value.shape, value.dtype))
            else:
                values[name] = value
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("wrong shape or type for " + ', '.join(
                f"'{n}' (expected {want} {p.dtype}, got {got} {dt})"
                for (n, want, got, dt), p in ((m, params[m[0]]) for m in mismatched)))
        if problems:
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: " + '; '.join(problems)
                + "; nothing was loaded", missing if strict else (), unexpected if strict else (),
                [m[:3] for m in mismatched])
        for name, value in values.items():
            np.copyto(params[name].data, value, casting='same_kind')
        return LoadResult(missing, unexpected)

    # -- printing -------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside this module's parentheses, e.g. 'in_features=4, out_features=8'."""
        return ''

    def __repr__(self):
        # Nested like PyTorch's listing; built from the depth-first walk (no recursion):
        # a module with sub-modules opens a block, closed once the walk climbs back out.
        entries = [e for e in self._walk() if isinstance(e[3], Module)]
        lines = []
        for i, (depth, _, local, m) in enumerate(entries):
            following = entries[i + 1][0] if i + 1 < len(entries) else 0
            pad = '  ' * depth
            head = f"{pad}({local}): " if depth else ''
            extra = m.extra_repr()
            if following > depth:  # it has sub-modules
                lines.append(f"{head}{type(m).__name__}(")
                if extra:
                    lines.append(f"{pad}  {extra}")
            else:
                lines.append(f"{head}{type(m).__name__}({extra})")
            for d in range(depth - 1, following - 1, -1):
                lines.append('  ' * d + ')')
        return '\n'.join(lines)


__all__ = ['Module', 'Parameter', 'StateDictError', 'LoadResult']
