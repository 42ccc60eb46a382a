"""Layers: Linear, Sequential, MLP and the activation modules.

:class:`Linear` keeps its weight as ``(in_features, out_features)`` so that the layer
computes ``x @ W + b``, exactly as hand-derived NumPy code writes it (PyTorch stores the
transpose). Weights come from a seeded ``numpy.random.Generator``: same seed, same network.
"""
import numpy as np

from .. import ops
from . import functional, init
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight + bias``: (..., in_features) -> (..., out_features).

    ``weight`` is (in_features, out_features), Glorot-uniform, or He-uniform when
    ``nonlinearity='relu'`` (the activation that follows; it only chooses the
    initialisation, the layer applies none). ``bias`` is (out_features,), zeros.
    ``rng`` (a Generator) or ``seed`` make the weights reproducible.

    >>> layer = Linear(4, 8, seed=0)
    >>> layer(ag.Tensor(np.ones((130, 4)))).shape
    (130, 8)
    """

    def __init__(self, in_features, out_features, bias=True, nonlinearity=None, rng=None, seed=None,
                 dtype=np.float64):
        for label, n in (('in_features', in_features), ('out_features', out_features)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {label} must be a positive integer, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        fill = init.for_activation(nonlinearity)
        rng = np.random.default_rng(seed) if rng is None else rng
        self.weight = Parameter(fill((self.in_features, self.out_features), rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x):
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after the other; the children are named '0', '1', ...

    >>> net = Sequential(Linear(4, 8), Sigmoid(), Linear(8, 3))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *layers):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
        self._layers = tuple(layers)

    def _members(self):
        return [(str(i), layer) for i, layer in enumerate(self._layers)]

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def append(self, layer):
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(layer).__name__}")
        self._layers += (layer,)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)


# -- activations -------------------------------------------------------------------------------
class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x):
        return x


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``, elementwise."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class ReLU(Module):
    """``max(x, 0)``, elementwise."""

    def forward(self, x):
        return ops.relu(x)


class Softmax(Module):
    """Probabilities along ``axis`` (rows for (N, C) scores)."""

    def __init__(self, axis=-1):
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: axis must be an int, got {type(axis).__name__} {axis!r:.40}; "
                            "e.g. -1 for the classes of (N, C) scores")
        self.axis = int(axis)

    def forward(self, x):
        return ops.softmax(x, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-probabilities along ``axis``, stable for large scores."""

    def forward(self, x):
        return ops.log_softmax(x, axis=self.axis)


_HIDDEN = {'sigmoid': Sigmoid, 'tanh': Tanh, 'relu': ReLU}
_OUTPUT = {None: None, 'sigmoid': Sigmoid, 'softmax': Softmax, 'log_softmax': LogSoftmax}


def _choose(table, key, what):
    if not (key is None or isinstance(key, str)) or key not in table:
        raise ValueError(f"MLP: unknown {what} {key!r}; choose one of {', '.join(map(repr, table))}")
    return table[key]


class MLP(Sequential):
    """A fully connected network ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    A :class:`Sequential` of ``Linear, <activation>, Linear, <activation>, ..., Linear``
    and then the ``output`` activation when one is given (None leaves raw scores, which
    is what ``functional.cross_entropy`` wants). Weights are Glorot for sigmoid and tanh,
    He for relu, drawn in layer order from ``rng`` or ``np.random.default_rng(seed)``.
    ``bias=False`` builds the bias-free network of hand-derived examples.

    >>> net = MLP([4, 8, 3], activation='sigmoid', seed=0)   # (N, 4) -> (N, 3) scores
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> [layer.weight.shape for layer in net.linears]
    [(4, 8), (8, 3)]
    """

    def __init__(self, sizes, activation='sigmoid', output=None, bias=True, seed=0, rng=None,
                 dtype=np.float64):
        if isinstance(sizes, (str, bytes, dict)) or not hasattr(sizes, '__iter__'):
            raise TypeError(f"MLP: sizes must be a list of layer widths, e.g. [4, 8, 3], "
                            f"got {type(sizes).__name__} {sizes!r:.40}")
        sizes = tuple(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        for n in sizes:
            if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)) or n < 1:
                raise ValueError(f"MLP: sizes must be positive ints, e.g. [4, 8, 3], got {list(sizes)!r:.60}")
        hidden = _choose(_HIDDEN, activation, 'activation')
        last = _choose(_OUTPUT, output, 'output')
        rng = np.random.default_rng(seed) if rng is None else rng
        layers = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            is_last = k == len(sizes) - 2
            layers.append(Linear(n_in, n_out, bias=bias, nonlinearity=output if is_last else activation,
                                 rng=rng, dtype=dtype))
            if not is_last:
                layers.append(hidden())
        if last is not None:
            layers.append(last())
        super().__init__(*layers)
        self.sizes, self.activation, self.output = sizes, activation, output

    @property
    def linears(self):
        """The Linear layers, first to last: ``net.linears[0].weight`` is W1."""
        return [layer for layer in self._layers if isinstance(layer, Linear)]
