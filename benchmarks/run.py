"""Run every benchmark: ``python benchmarks/run.py [--quick] [--json OUT] [--plot PNG]``.

Each workload: check every installed contestant's gradients against NumPy by hand (a
wrong one is reported, not timed), time the rest interleaved round by round, report
median, min, max and the ratio to NumPy by hand. W5 runs in one fresh process per
contestant (see chain_child.py), so that its memory is its own.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import threads  # noqa: F401  (one thread per library; before NumPy loads)
import numpy as np

import contestants
import report
import timing
import verify
import workloads as wl

HERE = os.path.dirname(os.path.abspath(__file__))
# (rounds, seconds per sample, seconds of warm-up) per workload size
FULL = {'small': (31, 0.02, 0.2), 'W3': (11, 0.0, 0.5), 'W4': (21, 0.05, 0.3)}
QUICK = {'small': (7, 0.01, 0.05), 'W3': (3, 0.0, 0.2), 'W4': (5, 0.02, 0.1)}


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(pools, versions):
    return {
        'cpu': cpu_model(), 'cores': os.cpu_count(), 'platform': platform.platform(),
        'python': platform.python_version(), 'numpy': np.__version__,
        'blas': [{k: p.get(k) for k in ('internal_api', 'version', 'architecture', 'num_threads',
                                         'threading_layer', 'filepath')} for p in pools],
        'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
        'load_average_at_start': os.getloadavg(),
        'engines': versions,
    }


def print_header(info):
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['platform']}")
    print(f"python {info['python']}, numpy {info['numpy']}; engines: "
          + ', '.join(f"{k} {v}" for k, v in info['engines'].items()))
    for p in info['blas']:
        print(f"thread pool: {p['internal_api']} {p['version']}, kernel {p['architecture']}, "
              f"{p['num_threads']} thread(s) ({os.path.basename(p['filepath'] or '')})")
    print(f"OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}; load average at start: "
          + ' '.join(f"{x:.2f}" for x in info['load_average_at_start']))
    sys.stdout.flush()


def time_workload(w, modules, plan):
    """Check, then time, every contestant on one in-process workload."""
    is_chain = isinstance(w, wl.Chain)
    entries, fns = {}, {}
    for mod in modules:
        try:
            wrong = (verify.chain_mismatch if is_chain else verify.mlp_mismatch)(mod, w)
        except Exception as exc:  # an engine that cannot run the workload is reported
            entries[mod.NAME] = {'status': 'error', 'message': f"{type(exc).__name__}: {exc}"[:200]}
            continue
        if wrong:
            entries[mod.NAME] = {'status': 'wrong gradient', 'message': wrong}
            continue
        if is_chain:
            fns[mod.NAME] = mod.chain(w, w.data())
        else:
            X, Y, params = w.data()
            fns[mod.NAME] = mod.mlp(w, X, Y, params)[0]
    rounds, sample_s, warmup_s = plan
    samples = timing.interleaved(fns, rounds, sample_s, warmup_s)
    floor = samples[contestants.numpy_hand.NAME]
    for name, times in samples.items():
        entry = {'status': 'ok', **timing.summary(times, floor)}
        if is_chain:
            entry['us_per_op'] = entry['median'] / w.n_ops * 1e6
        entries[name] = entry
    return entries


def run_w5(modules, quick):
    """W5: each contestant in its own process; gradients checked against NumPy by hand's."""
    n_ops = wl.W5.n_ops // 10 if quick else wl.W5.n_ops
    entries, reference = {}, None
    for mod in modules:
        name = mod.__name__.rsplit('.', 1)[1]
        proc = subprocess.run([sys.executable, os.path.join(HERE, 'chain_child.py'), name, str(n_ops)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ['no output'])[-1]
            entries[mod.NAME] = {'status': 'error', 'message': last[:200]}
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        grad = np.array(out['grad'])
        if reference is None:
            reference = grad
        wrong = verify.mismatch([grad], [reference])
        if wrong:
            entries[mod.NAME] = {'status': 'wrong gradient', 'message': wrong}
            continue
        secs = sorted(out['seconds'])
        entries[mod.NAME] = {'status': 'ok', 'median': secs[len(secs) // 2], 'min': secs[0],
                             'max': secs[-1], 'extra_mib': out['extra_mib'], 'n_ops': n_ops}
    floor = entries.get(contestants.numpy_hand.NAME, {}).get('median')
    for e in entries.values():
        if e['status'] == 'ok':
            e['ratio'] = e['median'] / floor
    return entries


def describe(w, kind):
    out = {'title': w.title, 'kind': kind, 'goal': w.goal}
    if kind == 'memory':
        out['goal_mib'] = w.goal_mib
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer rounds, W5 with 10,000 ops: a smoke test')
    parser.add_argument('--json', metavar='OUT', help='write all results to this JSON file')
    parser.add_argument('--plot', metavar='PNG', help='draw the ratios as a bar chart (needs matplotlib)')
    parser.add_argument('--only', metavar='KEYS', help='comma-separated workloads, e.g. W1,W4')
    parser.add_argument('--engines', metavar='MODULES', default=','.join(contestants.MODULES),
                        help='comma-separated contestant modules (default: all installed)')
    args = parser.parse_args(argv)
    keys = args.only.split(',') if args.only else list(wl.ALL)
    unknown = [k for k in keys if k not in wl.ALL]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(wl.ALL)}")
    started = time.perf_counter()

    modules, versions, missing = [], {}, []
    for name in args.engines.split(','):
        try:
            mod = contestants.load(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
            continue
        modules.append(mod)
        versions[mod.NAME] = mod.version()
    if not modules or modules[0] is not contestants.numpy_hand:
        parser.error('numpy_hand must come first: it is the floor and the reference')
    info = machine(threads.limit(), versions)
    print_header(info)
    if missing:
        print('not installed: ' + ', '.join(missing))

    plan = QUICK if args.quick else FULL
    results = {'machine': info, 'quick': args.quick, 'workloads': {}}
    for key in keys:
        w = wl.ALL[key]
        t0 = time.perf_counter()
        if key == 'W5':
            entries = run_w5(modules, args.quick)
            kind, floor = 'memory', entries.get(contestants.numpy_hand.NAME, {}).get('median')
        else:
            entries = time_workload(w, modules, plan.get(key, plan['small']))
            kind = 'per_op' if isinstance(w, wl.Chain) else 'ratio'
            floor = entries[contestants.numpy_hand.NAME]['median']
            if kind == 'per_op':
                floor = entries[contestants.numpy_hand.NAME]['us_per_op']
        results['workloads'][key] = {**describe(w, kind), 'floor': floor, 'results': entries}
        ours = entries.get('autograd_lite', {})
        print(f"{key}: done in {time.perf_counter() - t0:.1f} s; autograd_lite "
              f"{report.cell(results['workloads'][key], ours) if ours else 'not run'}")
        sys.stdout.flush()

    names = [m.NAME for m in modules]
    info['load_average_at_end'] = os.getloadavg()
    info['total_seconds'] = time.perf_counter() - started
    print()
    print(report.summary_table(results, names))
    print()
    print(report.detail_table(results))
    print(f"\ntotal {info['total_seconds']:.0f} s; load average at end: "
          + ' '.join(f"{x:.2f}" for x in info['load_average_at_end']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if args.plot:
        report.plot(results, names, args.plot)


if __name__ == '__main__':
    main()
