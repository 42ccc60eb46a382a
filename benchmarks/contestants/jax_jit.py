"""JAX on the CPU, float64: ``jax.jit`` of ``value_and_grad`` of the loss and the SGD update,
one compiled function per step, as JAX's tutorials write a training step."""
import os

os.environ.setdefault('XLA_FLAGS', '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from workloads import LR, mlp_scores, run_chain  # noqa: E402

jax.config.update('jax_enable_x64', True)
NAME = 'JAX jit'

_ACT = {'sigmoid': jax.nn.sigmoid, 'tanh': jnp.tanh, 'relu': jax.nn.relu}


def version():
    return jax.__version__


def mlp(w, X, Y, params):
    act = _ACT[w.activation]
    X, Y = jnp.asarray(X), jnp.asarray(Y)

    def loss(ps):
        h = mlp_scores(w, X, ps, jnp.matmul, act)
        if w.loss == 'cross_entropy':
            logp = jax.nn.log_softmax(h, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, Y[:, None], axis=1))
        if w.loss == 'half_mse':
            return 0.5 * jnp.mean((jax.nn.sigmoid(h) - Y) ** 2)
        return jnp.mean((h - Y) ** 2)

    @jax.jit
    def update(ps):
        value, grads = jax.value_and_grad(loss)(ps)
        return [p - LR * g for p, g in zip(ps, grads)], grads, value

    state = {'params': [jnp.asarray(p) for p in params], 'grads': None}

    def step():
        state['params'], state['grads'], _ = update(state['params'])
        jax.block_until_ready(state['params'])

    return step, lambda: [np.asarray(g) for g in state['grads']]


LONGEST_CHAIN = 10_000  # W5 is not run: XLA's compile time grows with the chain; W4's 2000 ops are measured instead


def chain(w, x0):
    if w.n_ops > LONGEST_CHAIN:
        raise NotImplementedError(f"{NAME}: not run on chains of more than {LONGEST_CHAIN} ops: XLA's compile time grows with the chain; W4's 2000 ops are measured instead")
    grad = jax.jit(jax.grad(lambda x: jnp.sum(run_chain(x, w.n_ops, jnp.tanh))))

    def run():
        return np.asarray(grad(jnp.asarray(x0)))

    return run
