"""Two versions of autograd_lite in one process, alternated: ``python benchmarks/ab.py --base REV``.

Each version's package is taken from git (``git archive REV autograd_lite``; ``--new`` defaults
to the working tree) into a temporary folder and imported under its own name, so both run the
same workloads (benchmarks/contestants/ag_lite.py) in the same process, round after round,
base then new. A round times each step for about 30 ms and keeps the fastest; the ratio of the
two fastest over all rounds, and the median of the per-round ratios, are printed. Alternating
in one process is what makes the figures comparable on a shared, noisy machine.

    python benchmarks/ab.py --base 57b5972 --only W1,W4 --rounds 11

``--paired N`` instead alternates single steps, base then new, N times each, and prints the
ratio of their 10th percentiles and the median of the per-pair ratios: the steadiest figure
on a loaded machine (the same revision against itself gives 1.00).
"""
import argparse
import importlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import threads  # noqa: F401,E402  (one thread per library; before NumPy loads)
import workloads as wl  # noqa: E402
from timing import paired, paired_summary  # noqa: E402

REPO = os.path.dirname(HERE)
PACKAGE = 'autograd_lite'


def materialize(rev, into):
    """The package as it is at ``rev`` (None: the working tree; a folder that holds an
    ``autograd_lite`` package: that one), in folder ``into``."""
    if rev is None:
        return REPO
    if os.path.isdir(os.path.join(rev, PACKAGE)):  # a folder holding a package (an experiment)
        return rev
    archive = subprocess.run(['git', '-C', REPO, 'archive', rev, PACKAGE], check=True, capture_output=True)
    subprocess.run(['tar', '-x', '-C', into], input=archive.stdout, check=True)
    return into


def load(folder, alias):
    """Import ``folder``'s autograd_lite, keep its modules under ``alias``, and build the
    contestant module on it. Returns the contestant."""
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + '.')]:
        del sys.modules[name]
    sys.path.insert(0, folder)
    try:
        importlib.import_module(PACKAGE)
        spec = importlib.util.spec_from_file_location(f'contestant_{alias}', os.path.join(HERE, 'contestants', 'ag_lite.py'))
        contestant = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(contestant)
    finally:
        sys.path.remove(folder)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + '.')]:
        sys.modules[f'{alias}.{name}'] = sys.modules.pop(name)  # kept alive, out of the way
    return contestant


def step_of(contestant, workload):
    if isinstance(workload, wl.Chain):
        return contestant.chain(workload, workload.data())
    X, Y, params = workload.data()
    return contestant.mlp(workload, X, Y, params)[0]


def fastest(fn, seconds=0.03):
    best, start, n = float('inf'), time.perf_counter(), 0
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        best, n = min(best, t1 - t0), n + 1
        if t1 - start > seconds and n >= 3:
            return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--base', required=True, help='git revision of the reference version')
    parser.add_argument('--new', default=None, help='git revision to compare (default: the working tree)')
    parser.add_argument('--only', default='W1,W1b,W2,W4', help='workloads, e.g. W1,W4 (W5 runs in benchmarks/run.py)')
    parser.add_argument('--rounds', type=int, default=11)
    parser.add_argument('--paired', type=int, default=0, metavar='N',
                        help='alternate single steps N times instead of rounds (see above)')
    parser.add_argument('--guard-off', action='store_true',
                        help="run the new version with ag.guard_saved_arrays(False) (where it has it)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as base_dir, tempfile.TemporaryDirectory() as new_dir:
        base = load(materialize(args.base, base_dir), 'base')
        new = load(materialize(args.new, new_dir), 'new')
        if args.guard_off:
            new.ag.guard_saved_arrays(False)
        print(f"base {args.base}, new {args.new or 'working tree'}; "
              f"{f'{args.paired} paired steps' if args.paired else f'{args.rounds} alternated rounds'}; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for key in args.only.split(','):
            workload = wl.ALL[key]
            fb, fn = step_of(base, workload), step_of(new, workload)
            for f in (fb, fn, fb, fn):
                f()  # warm up
            if args.paired:
                b10, n10, ratio, median_ratio = paired_summary(*paired(fb, fn, args.paired))
                print(f"{key}: base {b10 * 1e6:.1f} us, new {n10 * 1e6:.1f} us (10th percentiles of {args.paired} "
                      f"paired steps); new/base {ratio:.3f}, {median_ratio:.3f} (median of pairs)", flush=True)
                continue
            tb, tn = [], []
            for _ in range(args.rounds):
                tb.append(fastest(fb))
                tn.append(fastest(fn))
            ratios = [n / b for b, n in zip(tb, tn)]
            print(f"{key}: base {min(tb) * 1e6:.1f} us, new {min(tn) * 1e6:.1f} us; new/base "
                  f"{min(tn) / min(tb):.3f} (fastest), {statistics.median(ratios):.3f} (median of rounds, "
                  f"{min(ratios):.3f}-{max(ratios):.3f})", flush=True)


if __name__ == '__main__':
    main()
