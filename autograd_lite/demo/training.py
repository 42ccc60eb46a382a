"""Training a classifier MLP on a scikit-learn data set: the pieces the CLI and the examples share.

* :func:`load_split`: iris or digits, a stratified shuffled split, standardised with the
  training rows' mean and standard deviation.
* :class:`Classifier`: the command's network, an MLP whose layers have names
  (``layer1, act1, layer2``), so its parameters are ``layer1.weight``, ``layer1.bias``, ...
  in the gradient table, the graph, the listing and weights.npz alike.
* :func:`loss_fn`: the loss for an output layer: 'softmax' is cross-entropy on the scores,
  'sigmoid' is binary cross-entropy per class (one-vs-rest) on the scores.
* :func:`train`: epochs of (mini)batch steps, stopped by :class:`DivergedError` when the
  loss or the weights stop being finite numbers; :func:`accuracy` and :func:`predict`.
* :func:`one_blas_thread`: run the small matrix products here on one thread.

Needs scikit-learn (``pip install "autograd_lite[examples]"``).
"""
import contextlib
import math
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..engine import no_grad
from ..tensor import Tensor

F = nn.functional

# name -> (scikit-learn loader, test rows: a count or a fraction)
DATASETS = {'iris': ('load_iris', 30), 'digits': ('load_digits', 0.2)}
OPTIMIZERS = {'sgd': optim.SGD, 'adam': optim.Adam}


@dataclass
class Split:
    """Standardised features (float64) and integer labels of a train/test split."""
    X_train: np.ndarray  # (N_train, D)
    y_train: np.ndarray  # (N_train,)
    X_test: np.ndarray   # (N_test, D)
    y_test: np.ndarray   # (N_test,)
    class_names: list

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return len(self.class_names)


def load_split(name, seed=0, test_size=None):
    """Load data set ``name`` ('iris' or 'digits'), split it shuffled and stratified
    (every class in the test set in its share; iris: 30 test rows, digits: 20%), and
    standardise with the training rows' statistics (the test rows stay unseen)."""
    import sklearn.datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name not in DATASETS:
        raise ValueError(f"load_split: unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    loader, default_test = DATASETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=default_test if test_size is None else test_size,
        stratify=bunch.target, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    names = [str(c) for c in getattr(bunch, 'target_names', np.unique(bunch.target))]
    return Split(scaler.transform(X_train), y_train, scaler.transform(X_test), y_test, names)


class Classifier(nn.Module):
    """An MLP ``sizes[0] -> ... -> sizes[-1]`` (raw scores out) with named layers.

    The k-th Linear layer is ``layerk`` and the activation after it ``actk``: for
    ``[4, 8, 3]``, ``layer1, act1, layer2``, whose parameters are ``layer1.weight`` (4, 8),
    ``layer1.bias`` (8,), ``layer2.weight`` (8, 3), ``layer2.bias`` (3,). The k is the k of a
    hand derivation's ``W1, b1, W2, b2``, and the same name appears wherever a parameter
    does (nn.MLP's are numbered by position in the Sequential instead, ``0.weight``,
    ``2.weight``: the activations count too). Same weights as
    ``nn.MLP(sizes, activation, bias=bias, seed=seed)``.

    >>> [name for name, _ in Classifier([4, 8, 3]).named_parameters()]
    ['layer1.weight', 'layer1.bias', 'layer2.weight', 'layer2.bias']
    """

    def __init__(self, sizes, activation='sigmoid', bias=True, seed=0):
        mlp = nn.MLP(sizes, activation=activation, bias=bias, seed=seed)
        self.sizes, self.activation = mlp.sizes, mlp.activation
        names, k = [], 0
        for layer in mlp:
            k += isinstance(layer, nn.Linear)
            name = f"{'layer' if isinstance(layer, nn.Linear) else 'act'}{k}"
            setattr(self, name, layer)  # attributes in order: named_parameters() follows it
            names.append(name)
        self._order = tuple(names)

    def forward(self, x):
        for name in self._order:
            x = getattr(self, name)(x)
        return x

    @property
    def linears(self):
        """The Linear layers, first to last (``layer1, layer2, ...``)."""
        return [getattr(self, name) for name in self._order if name.startswith('layer')]


def one_blas_thread():
    """A context manager in which BLAS (behind ``@``) uses one thread.

    The products here are small ((64, 64) @ (64, 128)): starting threads for them costs
    more than it saves, and many times more on a busy machine (digits training measured
    0.2 s on one thread, 3-11 s with the default threads on 2 shared cores). Uses
    threadpoolctl, which scikit-learn installs; without it, changes nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api='blas')


def loss_fn(scores, labels, output='softmax'):
    """Mean loss of raw scores (N, C) at integer labels (N,).

    'softmax': cross-entropy; 'sigmoid': binary cross-entropy of each class's score
    against the one-hot target, averaged over all N*C entries. Both apply the output
    activation themselves, stably, so the network ends with raw scores."""
    if output == 'softmax':
        return F.cross_entropy(scores, labels)
    if output == 'sigmoid':
        return F.binary_cross_entropy_with_logits(scores, F.one_hot(labels, scores.shape[1]))
    raise ValueError(f"loss_fn: output must be 'softmax' or 'sigmoid', got {output!r}")


def make_optimizer(name, params, lr):
    """'sgd' (momentum 0.9) or 'adam' over ``params`` with learning rate ``lr``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"make_optimizer: unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if name == 'sgd':
        return optim.SGD(params, lr=lr, momentum=0.9)
    return optim.Adam(params, lr=lr)


def predict(model, X):
    """Class indices (N,): the largest score per row (for softmax and sigmoid outputs alike)."""
    with no_grad():
        return np.argmax(model(Tensor(X)).data, axis=1)


def accuracy(model, X, y):
    return float(np.mean(predict(model, X) == y))


@dataclass
class Epoch:
    """One line of the training history."""
    epoch: int
    loss: float            # mean training loss over the epoch's batches
    train_accuracy: float  # on the batches as they were seen (before each step)


class DivergedError(FloatingPointError):
    """Training stopped because the loss (or, after an epoch's last step, a weight) is not a
    finite number: the steps overshoot, most often because the learning rate is too large.

    ``epoch`` and ``step`` (both from 1) say where; ``loss`` is the loss value there, or
    None when the loss was finite and the weights were not."""

    def __init__(self, epoch, step, loss=None):
        self.epoch, self.step, self.loss = epoch, step, loss
        what = (f"the loss is {loss}" if loss is not None
                else "the weights are not all finite numbers")
        super().__init__(f"train: the loss diverged: {what} at epoch {epoch}, step {step}; "
                         "lower the learning rate")


def compiled_step(model, output='softmax'):
    """The loss and the scores of one step, compiled (:func:`autograd_lite.compile`):
    ``step(X, labels, targets) -> (loss, scores)``, the gradients accumulated into the
    model's ``.grad``. ``targets`` are the one-hot rows for a sigmoid output (None for
    softmax): made outside the step and passed in, since compile freezes values made with
    plain NumPy inside it."""
    from ..codegen import compile

    @compile(has_aux=True)
    def step(X, labels, targets):
        scores = model(Tensor(X))
        if output == 'softmax':
            return F.cross_entropy(scores, labels), scores
        return F.binary_cross_entropy_with_logits(scores, Tensor(targets)), scores
    return step


def train(model, X, y, optimizer, epochs, output='softmax', batch_size=None, seed=0, callback=None,
          compiled=None):
    """Train ``model`` on (X (N, D), y (N,)) for ``epochs`` passes; returns a list of :class:`Epoch`.

    Each epoch visits the rows in a fresh order from ``np.random.default_rng(seed)``, in
    batches of ``batch_size`` (None: the whole set, one step per epoch). ``callback(Epoch)``
    runs after each epoch (progress lines). ``compiled``: a :func:`compiled_step` for this
    model and output, which then runs each step's forward and backward as generated code
    (same numbers). Raises :class:`DivergedError` at the first step
    whose loss is inf or nan (before that step changes the weights), or after an epoch that
    left a weight inf or nan: training on from there only produces nan."""
    rng = np.random.default_rng(seed)
    n = len(X)
    size = n if batch_size is None else min(int(batch_size), n)
    history = []
    if compiled is not None and output != 'softmax':  # one-hot rows for the sigmoid outputs' targets
        with no_grad():
            eye = np.eye(model(Tensor(X[:1])).shape[1])
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total_loss = correct = 0.0
        for step, start in enumerate(range(0, n, size), start=1):
            rows = order[start:start + size]
            if compiled is not None:  # the loss, its gradients and the scores in one call
                optimizer.zero_grad()
                targets = None if output == 'softmax' else eye[y[rows]]
                loss, scores = compiled(X[rows], y[rows], targets)
            else:
                scores = model(Tensor(X[rows]))
                loss = loss_fn(scores, y[rows], output)
            value = loss.item()
            if not math.isfinite(value):
                raise DivergedError(epoch, step, value)
            if compiled is None:
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
            total_loss += value * len(rows)
            correct += float(np.sum(np.argmax(scores.data, axis=1) == y[rows]))
        # A step can overflow the weights with a finite loss; the next loss would be nan, but
        # after the last step there is no next one.
        if not all(np.isfinite(p.data).all() for p in model.parameters()):
            raise DivergedError(epoch, step)
        history.append(Epoch(epoch, total_loss / n, correct / n))
        if callback is not None:
            callback(history[-1])
    return history
