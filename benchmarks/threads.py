"""One thread for every library: BLAS, OpenMP and PyTorch's own pool.

Import this module before NumPy (the environment variables are read when a library
loads), and call :func:`limit` after the engines are imported (threadpoolctl then also
reaches the thread pools that they brought along).
"""
import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[_var] = '1'


def limit():
    """Set every loaded thread pool to one thread; return threadpoolctl's description of
    the pools (empty when threadpoolctl is not installed)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return []
    threadpool_limits(1)
    return threadpool_info()
