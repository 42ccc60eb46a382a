"""autograd_lite: a small, readable reverse-mode automatic differentiation engine on NumPy."""
__version__ = "0.1.0"

from .tensor import Tensor
from . import operators  # noqa: F401  (attaches Tensor's operators and methods)
from . import numpy_api  # noqa: F401  (attaches __array_ufunc__, __array_function__, __array__)
from .engine import (backward, grad, no_grad, enable_grad, set_grad_enabled, is_grad_enabled, Primitive,
                     guard_saved_arrays)
from .errors import ShapeError
from .check import numerical_grad, gradcheck, gradgradcheck, GradcheckError, PrecisionWarning
from .compare import compare_gradients
from .backprop_check import check_backprop
from .debug import detect_anomaly, strict_broadcasting, AnomalyError
from .ops import (
    exp, log, sqrt, abs, tanh, sigmoid, relu, maximum, minimum, clip, where, pow,
    sum, mean, max, min, logsumexp, matmul, reshape, transpose, swapaxes, squeeze, expand_dims,
    broadcast_to, concatenate, stack, softmax, log_softmax,
)
from . import nn, optim, func
from .serialization import save, load, LoadError
from .factories import zeros, ones, randn, rand, arange, manual_seed
from .viz import to_dot, render_graph, graph_listing


def tensor(data, requires_grad=False, dtype=None, name=None):
    """Same as ``Tensor(...)``, PyTorch's spelling."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


__all__ = [
    'Tensor', 'tensor', 'backward', 'grad', 'no_grad', 'enable_grad', 'set_grad_enabled',
    'is_grad_enabled', 'Primitive', 'ShapeError', 'guard_saved_arrays',
    'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'maximum', 'minimum', 'clip', 'where',
    'pow', 'sum', 'mean', 'max', 'min', 'logsumexp', 'matmul', 'reshape', 'transpose', 'swapaxes',
    'squeeze', 'expand_dims', 'broadcast_to', 'concatenate', 'stack', 'softmax', 'log_softmax',
    'numerical_grad', 'gradcheck', 'gradgradcheck', 'GradcheckError', 'PrecisionWarning',
    'compare_gradients', 'check_backprop',
    'nn', 'optim', 'func', 'save', 'load', 'LoadError',
    'zeros', 'ones', 'randn', 'rand', 'arange', 'manual_seed',
    'to_dot', 'render_graph', 'graph_listing',
    'backward_code', 'compile', 'CompileError',
    'detect_anomaly', 'strict_broadcasting', 'AnomalyError',
]


def __getattr__(name):
    # The code generator is a large module that most programs never use: it is imported on
    # the first use of its names (import time: about 40 ms of the package's 260 ms).
    if name in ('backward_code', 'compile', 'CompileError', 'codegen'):
        import importlib
        codegen = importlib.import_module(__name__ + '.codegen')
        value = globals()[name] = codegen if name == 'codegen' else getattr(codegen, name)
        return value
    raise AttributeError(f"module 'autograd_lite' has no attribute {name!r}")
