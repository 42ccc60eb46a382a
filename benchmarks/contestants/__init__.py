"""The contestants: one module per engine, each with the same three names.

* ``NAME`` -- how the tables call it.
* ``version()`` -- the engine's version string; raises ImportError when it is not installed.
* ``mlp(workload, X, Y, params)`` -> ``(step, grads)``: ``step()`` runs one training step
  (forward, loss, backward, SGD update with ``workloads.LR``) the way a user of that engine
  writes it; ``grads()`` returns the gradients of the last step as ndarrays laid out like
  ``params`` (W of shape (in, out), b of shape (out,)). The engine gets its own copy of params.
* ``chain(workload, x0)`` -> ``run``: ``run()`` builds the op chain on a fresh input,
  backpropagates ``sum`` and returns d(sum)/d(x0) as an ndarray.

Engines are imported only when asked for, so a missing one costs nothing.
"""
import importlib

# Order of the columns; numpy_hand first: it is the floor and the reference.
MODULES = ('numpy_hand', 'ag_lite', 'ag_lite_compiled', 'pytorch', 'jax_jit', 'hips_autograd', 'mygrad_engine')


def load(module_name):
    """The contestant module, or raise ImportError when its engine is not installed."""
    module = importlib.import_module(f'{__name__}.{module_name}')
    module.version()
    return module
