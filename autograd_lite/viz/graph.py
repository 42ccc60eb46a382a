"""The graph behind some output tensors, walked once, with what each node is.

:class:`GraphView` is the model that both the Graphviz export and the text listing draw
from: the tensors in creation order (a topological order, and the source of the stable
ids ``%0, %1, ...``), each one's kind, its display name, and the module scope it sits in.
The walk is iterative, so graphs of any depth work.
"""
import warnings

from ..tensor import Tensor
from .text import one_line

INPUT, PARAMETER, OP, OUTPUT, RELEASED = 'input', 'parameter', 'op', 'output', 'released'


class GraphReleasedWarning(UserWarning):
    """The graph was (partly) released by a backward pass, so it cannot be drawn whole."""


def walk(roots):
    """Every Tensor reachable from ``roots`` through op inputs, in creation order.

    Iterative (an explicit stack), so a 100,000-op chain is no problem. Creation order
    is topological (inputs before outputs) and does not depend on memory addresses.
    """
    seen = set()
    stack = []
    for r in roots:
        if r not in seen:
            seen.add(r)
            stack.append(r)
    while stack:
        inputs = stack.pop()._inputs
        if inputs:
            for x in inputs:
                if isinstance(x, Tensor) and x not in seen:
                    seen.add(x)
                    stack.append(x)
    return sorted(seen, key=_creation)


def _creation(t):
    return t._created


class GraphView:
    """The tensors behind ``roots`` and what is known about them.

    ``names``: None, a dict ``{name: Tensor}`` (e.g. ``{'x': x, 'W1': W1}``) or
    ``{Tensor: name}``, or a Module whose ``named_parameters()`` and ``named_modules()``
    name parameters and clusters. Without it, the outermost modules whose forward
    recorded an op (``t._scope``) name their own parameters and submodules.
    """

    def __init__(self, roots, names=None, caller='to_dot'):
        for r in roots:
            if not isinstance(r, Tensor):
                raise TypeError(f"{caller}: expected Tensors to draw the graph of, got {type(r).__name__}")
        if not roots:
            raise TypeError(f"{caller}: give at least one Tensor (e.g. the loss)")
        self.roots = tuple(roots)
        self.nodes = walk(self.roots)
        self.ids = {t: i for i, t in enumerate(self.nodes)}
        self.outputs = set(self.roots)  # by identity: `in roots` would compare arrays
        self._names = {}        # Tensor -> name given by the user
        self._param_names = {}  # Tensor -> (name in named_parameters(), owning module)
        self._paths = {}        # id(module) -> path in named_modules()
        self._modules = {}      # id(module) -> module (keeps the lookups honest)
        self._prefix = {}       # id(module) -> the scope tuple that ends with it
        self._read_names(names)
        released = [t for t in self.nodes if t._op is not None and t._inputs is None]
        if released:
            warnings.warn(
                f"{caller}: backward() already released the graph behind '{released[-1]._op.name}', "
                "so only part of it can be shown. Draw the graph before backward, or call "
                "backward(retain_graph=True) to keep it (leaf gradients are shown from .grad; "
                "call retain_grad() on intermediates to see theirs).",
                GraphReleasedWarning, stacklevel=3)

    # -- names and modules ---------------------------------------------------------------
    def _read_names(self, names):
        tops = []
        if names is not None and hasattr(names, 'named_parameters'):
            tops.append(names)
        elif isinstance(names, dict):
            for k, v in names.items():
                tensor, name = (v, k) if isinstance(k, str) else (k, v)
                self._names[tensor] = str(name)
        elif names is not None:
            raise TypeError(f"names: expected a Module or a dict of names and Tensors, got {type(names).__name__}")
        for t in self.nodes:
            scope = t._scope
            if scope:
                for i, m in enumerate(scope):
                    self._prefix.setdefault(id(m), scope[:i + 1])
                tops.append(scope[0])
        for top in tops:
            if id(top) in self._modules or not hasattr(top, 'named_modules'):
                continue
            by_path = {}
            for path, m in top.named_modules():
                self._modules.setdefault(id(m), m)
                self._paths.setdefault(id(m), path)
                by_path[path] = m
            for pname, p in top.named_parameters():
                owner = by_path.get(pname.rpartition('.')[0], top)
                self._param_names.setdefault(p, (pname, owner))

    def name(self, t):
        """The name shown for t, or None: a dict ``names=`` entry, else the parameter's
        dotted name in its model (``0.weight``), else ``Tensor(name=...)``; on one line."""
        name = self._names.get(t)
        if name is None:
            owned = self._param_names.get(t)
            name = owned[0] if owned is not None else t.name
        return None if name is None else one_line(str(name))

    def module_label(self, m):
        """``Linear fc1``: the class name and the path in named_modules() (when known)."""
        path = self._paths.get(id(m))
        cls = one_line(type(m).__name__)
        return f"{cls} {one_line(path)}" if path else cls

    def module_path(self, m):
        return self._paths.get(id(m))

    # -- what a node is -------------------------------------------------------------------
    def kind(self, t):
        if t._op is not None and t._inputs is None:
            return RELEASED
        if t in self.outputs:
            return OUTPUT
        if t._op is None:
            return PARAMETER if t._requires_grad else INPUT
        return OP

    def scope(self, t):
        """The modules t sits in, outermost first: its op's scope, or for a parameter the
        scope of the module that owns it (inputs and unowned leaves: top level)."""
        if t._op is not None:
            return t._scope or ()
        owned = self._param_names.get(t)
        if owned is not None and t._requires_grad:
            return self._prefix.get(id(owned[1]), ())
        return ()
