"""What NumPy's spellings cost against the method spellings, per call (issue 12, item 7).

    python benchmarks/numpy_dispatch.py [--before PATH] [--rounds N]

1. ``np.exp(t)`` against ``t.exp()`` and ``np.dot(X, W)`` against ``X @ W`` (X an ndarray,
   W a Tensor that requires grad), on small arrays where the dispatch is a visible part of
   the call: the NumPy spelling's ratio to the method spelling.
2. With ``--before PATH`` (a copy of the package from before NumPy dispatch, importable under
   another name: ``PATH`` is its folder, e.g. ``/tmp/np-before/autograd_lite_before``), the
   method spellings of both versions side by side in this process, as a ratio now/before.

Every spelling runs once per round, in a rotating order, so that load from other processes
hits all of them alike (timing.interleaved); a sample is about 2 ms of back-to-back calls. A
figure is the lower quartile over rounds (what a call costs when the machine lets it run, as
in per_op.py), and a ratio is that of two lower quartiles. No timing is asserted anywhere.
"""
import argparse
import importlib.util
import pathlib
import sys

import threads  # noqa: F401  (one BLAS thread, before NumPy loads)
import numpy as np

import autograd_lite as ag
from timing import interleaved


def spellings(lib, tag):
    """name -> callable: the spellings of one version of the package, on fresh operands."""
    rng = np.random.default_rng(0)
    t = lib.Tensor(rng.standard_normal(8), requires_grad=True)                   # (8,)
    X = rng.standard_normal((16, 8))                                             # data, (16, 8)
    W = lib.Tensor(rng.standard_normal((8, 4)), requires_grad=True)              # (8, 4)
    H = lib.Tensor(rng.standard_normal((16, 8)), requires_grad=True)             # (16, 8)
    fns = {
        f't.exp() {tag}': lambda: t.exp(),
        f'X @ W {tag}': lambda: X @ W,
        f'H @ W {tag}': lambda: H @ W,
        f't * 2.0 {tag}': lambda: t * 2.0,
        f'2.0 * t {tag}': lambda: 2.0 * t,
        f't.sum() {tag}': lambda: t.sum(),
        f'lib.tanh(t) {tag}': lambda: lib.tanh(t),
    }
    if hasattr(lib, 'numpy_api'):  # NumPy's spellings exist only after the change
        fns.update({
            f'np.exp(t) {tag}': lambda: np.exp(t),
            f'np.dot(X, W) {tag}': lambda: np.dot(X, W),
            f'np.dot(H, W) {tag}': lambda: np.dot(H, W),
            f'np.multiply(t, 2.0) {tag}': lambda: np.multiply(t, 2.0),
            f'np.sum(t) {tag}': lambda: np.sum(t),
            f'np.tanh(t) {tag}': lambda: np.tanh(t),
        })
    return fns


def quartile(times):
    return sorted(times)[len(times) // 4]


def load_before(path):
    path = pathlib.Path(path).resolve()
    spec = importlib.util.spec_from_file_location(path.name, path / '__init__.py',
                                                  submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--before', help="folder of the package before the change, under another name")
    parser.add_argument('--rounds', type=int, default=201)
    args = parser.parse_args(argv)
    fns = spellings(ag, 'now')
    if args.before:
        fns.update(spellings(load_before(args.before), 'before'))
    samples = interleaved(fns, args.rounds, sample_s=0.002, warmup_s=0.05)
    us = {name: quartile(s) * 1e6 for name, s in samples.items()}

    def ratio(a, b):
        return us[a] / us[b]

    print(f"NumPy {np.__version__}, {args.rounds} rounds; microseconds per call, lower quartile\n")
    print("| spelling | us per call |\n|---|---|")
    for name in fns:
        print(f"| `{name}` | {us[name]:.2f} |")
    print("\n| NumPy spelling / method spelling | ratio |\n|---|---|")
    for numpy_name, method_name in (('np.exp(t)', 't.exp()'), ('np.dot(X, W)', 'X @ W'),
                                    ('np.dot(H, W)', 'H @ W'), ('np.multiply(t, 2.0)', 't * 2.0'),
                                    ('np.sum(t)', 't.sum()'), ('np.tanh(t)', 'lib.tanh(t)')):
        print(f"| `{numpy_name}` / `{method_name}` | {ratio(numpy_name + ' now', method_name + ' now'):.2f} |")
    if args.before:
        print("\n| method spelling, now / before | ratio |\n|---|---|")
        for name in fns:
            if name.endswith(' now') and name.replace(' now', ' before') in fns:
                base = name[:-4]
                print(f"| `{base}` | {ratio(name, base + ' before'):.3f} |")


if __name__ == '__main__':
    main()
