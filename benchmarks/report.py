"""Tables (Markdown, so that docs/performance.md can take them as printed) and the bar
chart of the ratios to NumPy by hand."""


def _time(seconds):
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def cell(workload, entry):
    """One contestant's result on one workload, as the summary table shows it."""
    if entry['status'] != 'ok':
        return entry['status']
    if workload['kind'] == 'per_op':
        return f"{entry['us_per_op']:.2f} us/op ({entry['ratio']:.2f}x)"
    if workload['kind'] == 'memory':
        return f"{entry['median']:.2f} s, +{entry['extra_mib']:.0f} MiB ({entry['ratio']:.2f}x)"
    return f"{entry['ratio']:.2f}x ({_time(entry['median'])})"


def goal_text(workload):
    if workload['kind'] == 'per_op':
        return f"<= {workload['goal']:g} us/op"
    if workload['kind'] == 'memory':
        return f"<= {workload['goal']:g} s, <= {workload['goal_mib']:g} MiB"
    return f"<= {workload['goal']:g}x"


def summary_table(results, names):
    """Ratio to NumPy by hand (and median time) per workload and contestant."""
    lines = ['| workload | goal for autograd_lite | ' + ' | '.join(names) + ' |',
             '|---|---|' + '---|' * len(names)]
    for key, w in results['workloads'].items():
        row = [f"{key} {w['title']}", goal_text(w)]
        row += [cell(w, w['results'][n]) if n in w['results'] else 'not installed' for n in names]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def detail_table(results):
    """Median, min and max seconds per call for every timed contestant."""
    lines = ['| workload | contestant | median | min | max | ratio |', '|---|---|---|---|---|---|']
    for key, w in results['workloads'].items():
        for name, e in w['results'].items():
            if e['status'] == 'ok':
                lines.append(f"| {key} | {name} | {_time(e['median'])} | {_time(e['min'])} | "
                             f"{_time(e['max'])} | {e['ratio']:.3f}x |")
            else:
                lines.append(f"| {key} | {name} | {e['status']}: {e.get('message', '')} | | | |")
    return '\n'.join(lines)


def plot(results, names, path):
    """Grouped bars: each engine's ratio to NumPy by hand per workload (log scale), with
    autograd_lite's goal marked."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    engines = [n for n in names if n != 'NumPy by hand']
    keys = list(results['workloads'])
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for j, name in enumerate(engines):
        xs, ys = [], []
        for i, key in enumerate(keys):
            e = results['workloads'][key]['results'].get(name)
            if e and e['status'] == 'ok':
                xs.append(i + (j - (len(engines) - 1) / 2) * width)
                ys.append(e['ratio'])
        bars = ax.bar(xs, ys, width, label=name)
        ax.bar_label(bars, labels=[f"{y:.1f}" if y >= 10 else f"{y:.2f}" for y in ys],
                     fontsize=6, padding=1)
    for i, key in enumerate(keys):
        w = results['workloads'][key]
        goal = w['goal'] / w['floor'] if w['kind'] in ('per_op', 'memory') else w['goal']
        ax.hlines(goal, i - 0.45, i + 0.45, colors='black', linestyles='dashed', linewidth=1,
                  label='goal for autograd_lite' if i == 0 else None)
    ax.axhline(1.0, color='grey', linewidth=0.8)
    ax.set_yscale('log')
    ax.set_xticks(range(len(keys)), keys)
    ax.set_ylabel('time / NumPy by hand (lower is better)')
    ax.set_title('forward + backward (+ SGD update), float64, one thread; median of interleaved rounds')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
