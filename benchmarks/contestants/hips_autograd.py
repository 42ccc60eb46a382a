"""HIPS autograd: a loss function of the parameter list, differentiated by ``grad``,
and the update done on the plain arrays."""
import autograd
import autograd.numpy as anp
from autograd.scipy.special import logsumexp

from workloads import LR, mlp_scores, run_chain

NAME = 'HIPS autograd'

_ACT = {
    'sigmoid': lambda z: 1.0 / (1.0 + anp.exp(-z)),
    'tanh': anp.tanh,
    'relu': lambda z: anp.maximum(z, 0.0),
}


def version():
    from importlib.metadata import version as dist_version
    return dist_version('autograd')


def mlp(w, X, Y, params):
    params = [p.copy() for p in params]
    act = _ACT[w.activation]
    rows = anp.arange(X.shape[0])

    def loss(ps):
        h = mlp_scores(w, X, ps, anp.dot, act)
        if w.loss == 'cross_entropy':
            logp = h - logsumexp(h, axis=1, keepdims=True)
            return -anp.mean(logp[rows, Y])
        if w.loss == 'half_mse':
            return 0.5 * anp.mean((_ACT['sigmoid'](h) - Y) ** 2)
        return anp.mean((h - Y) ** 2)

    loss_grad = autograd.grad(loss)
    last = []

    def step():
        grads = loss_grad(params)
        for p, g in zip(params, grads):
            p -= LR * g
        last[:] = grads

    return step, lambda: list(last)


def chain(w, x0):
    grad = autograd.grad(lambda x: anp.sum(run_chain(x, w.n_ops, anp.tanh)))
    return lambda: grad(x0)
