"""Where an op's time goes: the figures docs/performance.md quotes for the cost per op.

    python benchmarks/per_op.py [--quick]

1. One op on an 8-element array, autograd_lite against the NumPy call it makes.
2. W4's chain split into forward and backward, against NumPy by hand's forward and backward.
3. W5's forward (100,000 live nodes) with the cyclic garbage collector on and off.

Parts 2 and 3 alternate within this process (round by round), so that load from other
processes hits both sides of a comparison alike; their figures are the lower quartile (2) and
the median (3) over rounds. No timing is asserted anywhere: these are measurements.
"""
import argparse
import gc
import time
import timeit

import threads  # noqa: F401  (one BLAS thread, before NumPy loads)
import numpy as np

import autograd_lite as ag
from contestants import numpy_hand
from timing import interleaved
from workloads import W4, W5, Chain, run_chain


def quartile(times):
    return sorted(times)[len(times) // 4]


def op_costs(repeats):
    """Microseconds per call of single ops and of the NumPy calls inside them: the best of
    ``repeats`` tight loops on a warm array (timeit's way, the collector off), the least each
    can cost."""
    x = ag.Tensor(np.linspace(-1.0, 1.0, 8), requires_grad=True)
    a = x.data
    stmts = {
        'x * 1.0001 (autograd_lite)': lambda: x * 1.0001,
        'a * 1.0001 (NumPy)': lambda: a * 1.0001,
        'ag.tanh(x) (autograd_lite)': lambda: ag.tanh(x),
        'np.tanh(a) (NumPy)': lambda: np.tanh(a),
    }
    number = 20_000
    return {name: min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6
            for name, fn in stmts.items()}


def chain_split(rounds, n_ops=W4.n_ops):
    """W4 in microseconds per op: autograd_lite's forward, its backward (forward and backward
    less forward) and NumPy by hand's forward and backward together."""
    x0 = W4.data()
    hand = numpy_hand.chain(Chain(W4.key, W4.title, n_ops, W4.width, W4.goal), x0)

    def forward():
        x = ag.Tensor(x0, requires_grad=True)
        return run_chain(x, n_ops, ag.tanh).sum()

    times = interleaved({'forward': forward, 'forward+backward': lambda: forward().backward(),
                         'hand': hand}, rounds, sample_s=0.02, warmup_s=0.1)
    per_op = {name: quartile(t) / n_ops * 1e6 for name, t in times.items()}
    return {'forward': per_op['forward'],
            'backward': per_op['forward+backward'] - per_op['forward'],
            'NumPy by hand (forward and backward)': per_op['hand']}


def chain_gc(repeats, n_ops=W5.n_ops):
    """Seconds for W5's forward and backward, with the garbage collector on and off."""
    x0 = W5.data()
    seconds = {'on': [], 'off': []}
    try:
        for _ in range(repeats):
            for state in ('on', 'off'):
                gc.collect()
                (gc.enable if state == 'on' else gc.disable)()
                x = ag.Tensor(x0, requires_grad=True)
                start = time.perf_counter()
                y = run_chain(x, n_ops, ag.tanh).sum()
                built = time.perf_counter()
                y.backward()
                del y
                seconds[state].append((built - start, time.perf_counter() - built))
    finally:
        gc.enable()
    return {state: tuple(float(np.median([s[k] for s in runs])) for k in (0, 1))
            for state, runs in seconds.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a few rounds and short chains: a smoke test')
    args = parser.parse_args(argv)
    threads.limit()
    quick = args.quick
    print('one op on 8 elements (us per call)')
    for name, us in op_costs(2 if quick else 15).items():
        print(f'  {name:30s} {us:6.2f}')
    print('W4 chain (us per op)')
    for name, us in chain_split(3 if quick else 151, 30 if quick else W4.n_ops).items():
        print(f'  {name:38s} {us:5.2f}')
    print('W5 chain, 100,000 ops (seconds: forward, backward)' if not quick else 'W5 chain, short (seconds)')
    for state, (fwd, bwd) in chain_gc(1 if quick else 3, 300 if quick else W5.n_ops).items():
        print(f'  garbage collector {state:3s}  forward {fwd:.3f}  backward {bwd:.3f}')


if __name__ == '__main__':
    main()
