"""Where an op's time goes: the figures docs/performance.md quotes for the cost per op.

    python benchmarks/per_op.py [--quick]

1. One op on an 8-element array, autograd_lite against the NumPy call it makes; the sigmoid
   on W1's hidden layer with and without np.errstate; an empty module call.
2. W4's chain split into forward and backward, against NumPy by hand's forward and backward.
3. W5's forward (100,000 live nodes) with the cyclic garbage collector on and off.
4. W2's backward as it runs, and with every gradient rule replaced by a copy of its result:
   the difference is what the rules' NumPy work costs, the rest is the engine's own.

Parts 2 to 4 alternate within this process (round by round), so that load from other
processes hits both sides of a comparison alike; their figures are the lower quartile (2, 4) and
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
from workloads import W2, W4, W5, Chain, run_chain


def quartile(times):
    return sorted(times)[len(times) // 4]


def op_costs(repeats):
    """Microseconds per call of single ops and of the NumPy calls inside them: the best of
    ``repeats`` tight loops on a warm array (timeit's way, the collector off), the least each
    can cost."""
    x = ag.Tensor(np.linspace(-1.0, 1.0, 8), requires_grad=True)
    a = x.data
    h = ag.Tensor(np.random.default_rng(0).standard_normal((130, 8)), requires_grad=True)  # W1's hidden layer
    b = h.data

    def sigmoid_quiet(b):
        with np.errstate(over='ignore'):
            return 1.0 / (1.0 + np.exp(-b))

    class Empty(ag.nn.Module):
        def forward(self, x):
            return x

    empty = Empty()
    stmts = {
        'x * 1.0001 (autograd_lite)': lambda: x * 1.0001,
        'a * 1.0001 (NumPy)': lambda: a * 1.0001,
        'ag.tanh(x) (autograd_lite)': lambda: ag.tanh(x),
        'np.tanh(a) (NumPy)': lambda: np.tanh(a),
        'ag.sigmoid(h), 130x8': lambda: ag.sigmoid(h),
        '1/(1+exp(-b)) in np.errstate, 130x8': lambda: sigmoid_quiet(b),
        '1/(1+exp(-b)), 130x8 (NumPy)': lambda: 1.0 / (1.0 + np.exp(-b)),
        'an empty nn.Module call': lambda: empty(x),
    }
    number = 5_000
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
    """Seconds for W5's forward and backward with the garbage collector on and off, and the
    seconds the collector's full (generation 2) collections took during the forward."""
    x0 = W5.data()
    seconds = {'on': [], 'off': []}
    full = []
    started = []

    def clock_full_collections(phase, info):
        if info['generation'] == 2:
            if phase == 'start':
                started.append(time.perf_counter())
            else:
                full.append(time.perf_counter() - started.pop())

    try:
        for _ in range(repeats):
            for state in ('on', 'off'):
                gc.collect()
                (gc.enable if state == 'on' else gc.disable)()
                x = ag.Tensor(x0, requires_grad=True)
                full.clear()
                gc.callbacks.append(clock_full_collections)
                start = time.perf_counter()
                y = run_chain(x, n_ops, ag.tanh).sum()
                built = time.perf_counter()
                gc.callbacks.remove(clock_full_collections)
                y.backward()
                del y
                seconds[state].append((built - start, time.perf_counter() - built, len(full), sum(full)))
    finally:
        gc.enable()
    return {state: tuple(float(np.median([s[k] for s in runs])) for k in range(4))
            for state, runs in seconds.items()}


def backward_bookkeeping(rounds):
    """W2's backward in microseconds per step: as it runs; with every gradient rule replaced
    by a copy of the array it returned the first time (what is left is the engine itself,
    the two bias sums and the replaying); and those copies alone."""
    from autograd_lite.nn import functional as F
    X, Y, params = W2.data()
    layers = [ag.nn.Linear(n_in, n_out) for n_in, n_out in zip(W2.sizes[:-1], W2.sizes[1:])]
    leaves = [t for layer in layers for t in (layer.weight, layer.bias)]
    for t, value in zip(leaves, params):
        t.data[...] = value
    inputs = ag.Tensor(X)
    prims = [F._linear, ag.ops.relu, F._cross_entropy]  # every op in W2's graph
    rules = {p: p.vjps for p in prims}
    returned = {}

    class Replay:
        def __init__(self, prim):
            self.prim = prim

        def __getitem__(self, i):
            def replay(g, ans, *args, **kw):
                key = (self.prim.name, i, g.shape)
                if key not in returned:
                    returned[key] = rules[self.prim][i](g, ans, *args, **kw)
                return returned[key].copy()
            return replay

    def forward():
        for t in leaves:
            t.grad = None
        return F.cross_entropy(layers[1](ag.relu(layers[0](inputs))), Y)

    def replayed():
        loss = forward()
        for p in prims:
            p.vjps = Replay(p)
        try:
            loss.backward()
        finally:
            for p in prims:
                p.vjps = rules[p]

    replayed()  # records what each rule returns
    copies = list(returned.values())
    times = interleaved({'forward': forward, 'forward+backward': lambda: forward().backward(),
                         'replayed': replayed, 'copies': lambda: [c.copy() for c in copies]},
                        rounds, sample_s=0.02, warmup_s=0.1)
    us = {name: quartile(t) * 1e6 for name, t in times.items()}
    return {'backward': us['forward+backward'] - us['forward'],
            'backward, rules replayed as copies': us['replayed'] - us['forward'],
            'the copies alone': us['copies']}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a few rounds and short chains: a smoke test')
    args = parser.parse_args(argv)
    threads.limit()
    quick = args.quick
    print('single calls (us per call; 8 elements unless said)')
    for name, us in op_costs(2 if quick else 15).items():
        print(f'  {name:38s} {us:6.2f}')
    print('W4 chain (us per op)')
    for name, us in chain_split(3 if quick else 151, 30 if quick else W4.n_ops).items():
        print(f'  {name:38s} {us:5.2f}')
    print('W5 chain, 100,000 ops (seconds)' if not quick else 'W5 chain, short (seconds)')
    for state, (fwd, bwd, n_full, full_s) in chain_gc(1 if quick else 3, 300 if quick else W5.n_ops).items():
        print(f'  garbage collector {state:3s}  forward {fwd:.3f}  backward {bwd:.3f}  '
              f'(full collections in the forward: {n_full:.0f}, {full_s:.3f} s)')
    print("W2's backward (us per step)")
    for name, us in backward_bookkeeping(3 if quick else 101).items():
        print(f'  {name:36s} {us:6.1f}')

if __name__ == '__main__':
    main()
