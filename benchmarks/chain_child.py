"""W5 for one contestant, alone in this process: ``python chain_child.py MODULE [N_OPS]``.

Prints one JSON line: the seconds of each run (fwd + bwd + freeing the graph), the
extra peak memory and the gradient. Memory is the growth of the process's peak
resident set over the first run, measured after imports and a small warm-up chain: it
counts everything the engine allocates, NumPy's buffers, Python objects and any native
allocator alike (tracemalloc would miss PyTorch's). On Linux the peak is VmHWM from
/proc/self/status, reset to the current size before the run; ``ru_maxrss`` is not used
there because a child process inherits its parent's peak (the benchmark's parent has
every engine loaded, so the child's peak would hide the run's).
"""
import gc
import json
import resource
import sys
import time

import threads  # noqa: F401  (one BLAS/OpenMP thread, before NumPy loads)
from contestants import load
from workloads import W5, Chain

RUNS = 3


def _status_mib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024.0  # kB
    raise OSError(field)


def reset_peak():
    """Start peak measurement from now; return the current resident size in MiB."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current resident size
        return _status_mib('VmRSS')
    except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS), peak so far
        scale = 1024.0 * 1024.0 if sys.platform == 'darwin' else 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def peak_mib():
    try:
        return _status_mib('VmHWM')
    except OSError:
        scale = 1024.0 * 1024.0 if sys.platform == 'darwin' else 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main(module_name, n_ops=W5.n_ops):
    contestant = load(module_name)
    threads.limit()
    w = Chain(W5.key, W5.title, n_ops, W5.width, W5.goal, W5.goal_mib)
    x0 = w.data()
    contestant.chain(Chain('warm-up', '', 300, w.width, 0.0), x0)()
    gc.collect()
    before = reset_peak()
    seconds = []
    for _ in range(RUNS):
        run = contestant.chain(w, x0)
        start = time.perf_counter()
        grad = run()
        del run
        seconds.append(time.perf_counter() - start)
        if len(seconds) == 1:
            extra = peak_mib() - before
    print(json.dumps({'seconds': seconds, 'extra_mib': extra, 'grad': [float(v) for v in grad]}))


if __name__ == '__main__':
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
