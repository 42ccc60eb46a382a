"""Interleaved timing: every contestant runs once per round, in a rotating order, so that
a burst of load from other processes hits them all alike instead of one of them.

A sample is the mean time of ``inner`` back-to-back calls, with ``inner`` chosen per
contestant during warm-up so that a sample lasts about ``sample_s`` (timer resolution
and loop overhead then do not matter). The garbage collector stays on: an engine that
makes reference cycles pays for collecting them, as its users do.
"""
import time
from statistics import median

import numpy as np


def calibrate(fn, sample_s, warmup_s):
    """Warm ``fn`` up for about ``warmup_s`` (at least two calls); return how many calls
    make a sample of about ``sample_s``."""
    calls = 0
    start = time.perf_counter()
    while calls < 2 or time.perf_counter() - start < warmup_s:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    return max(1, round(sample_s / per_call))


def interleaved(fns, rounds, sample_s, warmup_s):
    """Time each of ``fns`` (name -> callable); return name -> list of seconds per call,
    one entry per round."""
    inner = {name: calibrate(fn, sample_s, warmup_s) for name, fn in fns.items()}
    names = list(fns)
    samples = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, n = fns[name], inner[name]
            start = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - start) / n)
    return samples


def summary(times, floor_times):
    """Median, min and max of ``times``, and the ratio to the floor: the median of the
    per-round ratios, robust to load that drifts between rounds."""
    return {
        'median': median(times), 'min': min(times), 'max': max(times),
        'ratio': median(t / f for t, f in zip(times, floor_times)),
    }


def paired(fa, fb, calls):
    """Call ``fa`` and ``fb`` alternately, one call each, ``calls`` times; return the two lists
    of seconds per call. On a shared machine whose speed drifts within a second, neighbouring
    calls see the same load, so the percentiles of the two lists compare well (the same
    function against itself gives 1.00) where rounds of many calls can differ by 10 %."""
    clock = time.perf_counter
    ta, tb = [], []
    for _ in range(calls):
        t0 = clock()
        fa()
        t1 = clock()
        fb()
        t2 = clock()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return ta, tb


def paired_summary(ta, tb):
    """``(a10, b10, ratio, median_ratio)`` of :func:`paired`'s lists: their 10th percentiles,
    the ratio of those (b over a), and the median of the per-pair ratios."""
    a10, b10 = np.percentile(ta, 10), np.percentile(tb, 10)
    return a10, b10, b10 / a10, float(np.median(np.divide(tb, ta)))
