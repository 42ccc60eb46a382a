"""Interpreter steps (bytecodes) of one step, per function: ``python benchmarks/bytecodes.py TREE W1b``.

On this machine the small steps' time follows the interpreter's work more than the
instruction count (docs/performance.md, "the fourth round"), so a change that removes C-level
work but adds bytecodes can be a wash. This counts them exactly, with ``sys.settrace``'s
opcode events, for one step after two warm-up steps: the same count on every run, whatever
the load. TREE is a folder holding an ``autograd_lite`` package, as for callgrind_loop.py.

KEY is a workload of benchmarks/workloads.py (W1, W1b, W2, W4: one step of the MLPs, one run
of the chain) or ``iris-backward`` / ``iris-value_and_grad``, the two iris steps of
func_transforms.py. ``GUARD=0`` in the environment turns the guard on saved arrays off.

    python benchmarks/bytecodes.py . W1b          # the top functions and the total
    python benchmarks/bytecodes.py . W1b --all    # every function
"""
import collections
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_step(tree, key):
    """The step function for ``key``, on the package in ``tree``."""
    sys.path.insert(0, os.path.abspath(tree))
    sys.path.insert(0, HERE)
    import threads  # noqa: F401  (one thread per library; before NumPy loads)
    if key.startswith('iris-'):
        import func_transforms
        return func_transforms.iris_steps()[key[len('iris-'):]]
    import workloads as wl
    spec = importlib.util.spec_from_file_location('contestant', os.path.join(HERE, 'contestants', 'ag_lite.py'))
    contestant = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contestant)
    if os.environ.get('GUARD') == '0' and hasattr(contestant.ag, 'guard_saved_arrays'):
        contestant.ag.guard_saved_arrays(False)
    workload = wl.ALL[key]
    if isinstance(workload, wl.Chain):
        return contestant.chain(workload, workload.data())
    X, Y, params = workload.data()
    return contestant.mlp(workload, X, Y, params)[0]


def count(step):
    """``{(file, function): bytecodes}`` of one call of ``step``."""
    counts = collections.Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == 'opcode':
            code = frame.f_code
            counts[(os.path.basename(code.co_filename), code.co_name)] += 1
        return tracer
    sys.settrace(tracer)
    try:
        step()
    finally:
        sys.settrace(None)
    return counts


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit(__doc__.split('\n\n')[0] + "\n(see the module's docstring)")
    tree, key, show_all = argv[0], argv[1], '--all' in argv[2:]
    step = load_step(tree, key)
    step()
    step()  # warm-up: first calls import and fill caches
    counts = count(step)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for (filename, function), n in rows if show_all else rows[:25]:
        print(f"{n:7d}  {filename}  {function}")
    print(f"{sum(counts.values()):7d}  total ({key}{', guard off' if os.environ.get('GUARD') == '0' else ''})")


if __name__ == '__main__':
    main()
