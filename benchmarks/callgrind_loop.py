"""One workload's timed loop, for counting instructions: ``valgrind --tool=callgrind python
benchmarks/callgrind_loop.py TREE W4``.

Instruction counts do not depend on what else the machine runs, so two versions of the
package compare exactly even on a loaded machine. TREE is a folder holding an
``autograd_lite`` package (a checkout, or ``git archive REV autograd_lite | tar -x -C TREE``).
Run once with ``N=0`` in the environment (start-up only) and once without: the difference is
the loop's count (W4: 3 runs of the 2000-op chain; MLPs: 200 steps).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
tree, key = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
sys.path.insert(0, HERE)
import threads  # noqa: E402,F401  (one thread per library; before NumPy loads)
import workloads as wl  # noqa: E402

spec = importlib.util.spec_from_file_location('contestant', os.path.join(HERE, 'contestants', 'ag_lite.py'))
contestant = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contestant)
workload = wl.ALL[key]
if isinstance(workload, wl.Chain):
    step, runs = contestant.chain(workload, workload.data()), 3
else:
    X, Y, params = workload.data()
    step, runs = contestant.mlp(workload, X, Y, params)[0], 200
if os.environ.get('GUARD') == '0' and hasattr(contestant.ag, 'guard_saved_arrays'):
    contestant.ag.guard_saved_arrays(False)  # GUARD=0: without the guard on saved arrays
step()  # warm up: imports and first-call costs belong to start-up
for _ in range(int(os.environ.get('N', runs))):
    step()
