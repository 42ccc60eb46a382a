"""What the function transforms (autograd_lite.func) cost: the figures of docs/performance.md's
"Function transforms" section, in one run.

    python benchmarks/func_transforms.py [--quick]

1. One training step's gradient on the iris network (4-8-3, sigmoid, cross-entropy, the 120
   training rows): ``func.value_and_grad(loss)(params, X, y)`` on a dict of ndarrays against
   the same loss on parameter Tensors with ``loss.backward()`` (goal: within 1.1x).
2. What ``jvp`` and ``hvp`` cost against one forward and backward pass of the same function
   (``value_and_grad``), on the iris loss and on a 50 -> 50 function.
3. ``jacrev`` and ``jacfwd`` of the 50 -> 50 function ``tanh(W x + b) * x`` and ``hessian`` of
   the 50-input scalar ``sum(tanh(W x + b) ** 2)``, against HIPS autograd (``jacobian``,
   ``hessian``; its forward mode ``make_jvp`` once per input for jacfwd) and ``torch.func``
   (``jacrev``, ``jacfwd``, ``hessian``, vectorised with vmap). Engines that are not installed
   are skipped.

``--step backward|value_and_grad --steps N`` only runs N iris steps, for counting instructions with
valgrind (a count does not depend on the load of other processes; the figures in
docs/performance.md).

Every result is checked against the others before it is timed. The contestants of a table are
timed interleaved, round by round (benchmarks/timing.py), one thread each; "ratio" is the median
over rounds of the per-round ratio, "ratio of bests" the ratio of the fastest rounds (the least
disturbed by other processes). No timing is asserted anywhere.
"""
import argparse
import sys

import threads  # noqa: F401  (one BLAS thread, before NumPy loads)
import numpy as np

import autograd_lite as ag
from autograd_lite import func
from autograd_lite.nn import functional as F
from timing import interleaved, paired, paired_summary

try:
    import torch
    import torch.func as tfunc
    torch.set_num_threads(1)
except ImportError:
    torch = None
try:
    import autograd as hips
    import autograd.numpy as anp
except ImportError:
    hips = None


def iris():
    """The 120 standardised training rows of iris and the 4-8-3 network's parameters."""
    from autograd_lite.demo.training import load_split
    data = load_split('iris', seed=0)
    rng = np.random.default_rng(0)
    params = {}
    for k, (n_in, n_out) in enumerate([(4, 8), (8, 3)], 1):
        limit = np.sqrt(6.0 / (n_in + n_out))
        params[f'W{k}'] = rng.uniform(-limit, limit, size=(n_in, n_out))
        params[f'b{k}'] = rng.uniform(-0.1, 0.1, size=n_out)
    return data.X_train, data.y_train, params


def iris_loss(params, X, y):
    h = ag.sigmoid(X @ params['W1'] + params['b1'])
    return F.cross_entropy(h @ params['W2'] + params['b2'], y)


def check(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-8, atol=1e-10):
        raise SystemExit(f"{what}: results differ (max |diff| {np.max(np.abs(a - b)):.3g}); nothing timed")


def table(title, fns, plan, base):
    """Time ``fns`` interleaved; print each one's median and its ratio to ``base``'s."""
    rounds, sample_s, warmup_s = plan
    samples = interleaved(fns, rounds, sample_s, warmup_s)
    print(f"\n{title} (ratios to {base})\n")
    print(f"| {'':44} | median (us) | best (us) | ratio | ratio of bests |")
    print(f"|{'-' * 46}|------------:|----------:|------:|---------------:|")
    rows = {}
    for name, times in samples.items():
        ratio = np.median([t / f for t, f in zip(times, samples[base])])
        best = min(times) / min(samples[base])  # the least each can cost: least disturbed by load
        rows[name] = ratio
        print(f"| {name:44} | {np.median(times) * 1e6:11.1f} | {min(times) * 1e6:9.1f} | {ratio:5.2f} "
              f"| {best:14.2f} |")
    sys.stdout.flush()
    return rows


def iris_steps():
    """The two ways of taking one iris step's loss and gradients, as (name -> function)."""
    X, y, params = iris()
    tensors = {k: ag.Tensor(v.copy(), requires_grad=True) for k, v in params.items()}

    def with_backward():
        loss = iris_loss(tensors, X, y)
        loss.backward()
        grads = {k: p.grad for k, p in tensors.items()}
        for p in tensors.values():
            p.grad = None
        return loss.item(), grads

    vg = func.value_and_grad(iris_loss)
    value, grads = vg(params, X, y)
    ref_value, ref_grads = with_backward()
    check(value, ref_value, 'iris loss')
    for k in params:
        check(grads[k], ref_grads[k], f'iris d loss / d {k}')
    return {'backward': with_backward, 'value_and_grad': lambda: vg(params, X, y)}


def iris_step(plan):
    steps = iris_steps()
    return table("iris 4-8-3, 120 rows: one step's loss and gradients",
                 {'loss.backward() on parameter Tensors': steps['backward'],
                  'func.value_and_grad(loss)(params, X, y)': steps['value_and_grad']},
                 plan, 'loss.backward() on parameter Tensors')


def forward_modes(plan, W, b):
    X, y, params = iris()
    tangent = {k: np.random.default_rng(1).standard_normal(v.shape) for k, v in params.items()}
    f_iris = lambda p: iris_loss(p, X, y)
    _, jv = func.jvp(f_iris, (params,), (tangent,))
    _, grads = func.value_and_grad(f_iris)(params)
    check(jv, sum((grads[k] * tangent[k]).sum() for k in params), 'iris jvp')
    rows = table("iris loss: jvp and hvp against one forward and backward pass",
                 {'forward only': lambda: f_iris(params),
                  'value_and_grad (forward + backward)': lambda: func.value_and_grad(f_iris)(params),
                  'jvp': lambda: func.jvp(f_iris, (params,), (tangent,)),
                  'hvp': lambda: func.hvp(f_iris, (params,), (tangent,))},
                 plan, 'value_and_grad (forward + backward)')
    x = np.random.default_rng(2).standard_normal(50)
    v = np.random.default_rng(3).standard_normal(50)
    f50 = lambda x: ag.tanh(W @ x + b) * x
    s50 = lambda x: (f50(x) * v).sum()
    _, jv = func.jvp(f50, (x,), (v,))
    check(jv, func.jacrev(f50)(x) @ v, '50 -> 50 jvp')
    rows50 = table("50 -> 50 function: jvp against one forward and backward pass (of <f(x), v>)",
                   {'forward only': lambda: f50(x),
                    'value_and_grad of <f(x), v>': lambda: func.value_and_grad(s50)(x),
                    'jvp': lambda: func.jvp(f50, (x,), (v,))},
                   plan, 'value_and_grad of <f(x), v>')
    return rows, rows50


def jacobians(plan, W, b):
    x = np.random.default_rng(4).standard_normal(50)
    f = lambda x: ag.tanh(W @ x + b) * x
    s = lambda x: (ag.tanh(W @ x + b) ** 2).sum()
    J, H = func.jacrev(f)(x), func.hessian(s)(x)
    check(func.jacfwd(f)(x), J, 'jacfwd')
    jac_fns = {'autograd_lite func.jacrev': lambda: func.jacrev(f)(x),
               'autograd_lite func.jacfwd': lambda: func.jacfwd(f)(x)}
    hess_fns = {'autograd_lite func.hessian': lambda: func.hessian(s)(x)}
    if hips is not None:
        hf = lambda x: anp.tanh(anp.dot(W, x) + b) * x
        hs = lambda x: anp.sum(anp.tanh(anp.dot(W, x) + b) ** 2)
        hips_jac, hips_hess = hips.jacobian(hf), hips.hessian(hs)
        hips_jvp = hips.make_jvp(hf)
        basis = np.eye(50)
        hips_fwd = lambda x: np.stack([hips_jvp(x)(e)[1] for e in basis], axis=-1)
        check(hips_jac(x), J, 'HIPS jacobian')
        check(hips_fwd(x), J, 'HIPS make_jvp per input')
        check(hips_hess(x), H, 'HIPS hessian')
        jac_fns['HIPS autograd jacobian (reverse)'] = lambda: hips_jac(x)
        jac_fns['HIPS autograd make_jvp per input (forward)'] = lambda: hips_fwd(x)
        hess_fns['HIPS autograd hessian'] = lambda: hips_hess(x)
    if torch is not None:
        tW, tb, tx = (torch.tensor(a) for a in (W, b, x))
        tf_ = lambda x: torch.tanh(tW @ x + tb) * x
        ts = lambda x: (torch.tanh(tW @ x + tb) ** 2).sum()
        check(tfunc.jacrev(tf_)(tx).numpy(), J, 'torch.func.jacrev')
        check(tfunc.jacfwd(tf_)(tx).numpy(), J, 'torch.func.jacfwd')
        check(tfunc.hessian(ts)(tx).numpy(), H, 'torch.func.hessian')
        jac_fns['torch.func.jacrev'] = lambda: tfunc.jacrev(tf_)(tx)
        jac_fns['torch.func.jacfwd'] = lambda: tfunc.jacfwd(tf_)(tx)
        hess_fns['torch.func.hessian'] = lambda: tfunc.hessian(ts)(tx)
    rows = table("Jacobian of tanh(W x + b) * x, 50 -> 50", jac_fns, plan, 'autograd_lite func.jacrev')
    rows.update(table("Hessian of sum(tanh(W x + b) ** 2), 50 inputs", hess_fns, plan,
                      'autograd_lite func.hessian'))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer, shorter rounds: a smoke test')
    parser.add_argument('--step', choices=['backward', 'value_and_grad'],
                        help="only run --steps iris steps this way, untimed: for counting instructions, "
                             "valgrind --tool=callgrind python benchmarks/func_transforms.py --step ... "
                             "with --steps N and --steps 0; the difference over N is one step's count")
    parser.add_argument('--steps', type=int, default=400)
    parser.add_argument('--paired', type=int, default=0, metavar='N',
                        help="only time the iris step both ways, alternating single calls N times "
                             "(timing.paired): the steadiest ratio on a loaded machine")
    args = parser.parse_args(argv)
    threads.limit()
    if args.step:
        step = iris_steps()[args.step]
        for _ in range(20 + args.steps):  # 20 warm-up steps in both counts
            step()
        return
    if args.paired:
        steps = iris_steps()
        b10, v10, ratio, median_ratio = paired_summary(*paired(steps['backward'], steps['value_and_grad'],
                                                               args.paired))
        print(f"iris step, 10th percentiles of {args.paired} paired calls: loss.backward() {b10 * 1e6:.1f} us, "
              f"value_and_grad {v10 * 1e6:.1f} us; ratio {ratio:.3f}, {median_ratio:.3f} (median of pairs)")
        return
    quick = args.quick
    print(f"numpy {np.__version__}; torch {torch.__version__ if torch else 'not installed'}; "
          f"HIPS autograd {'installed' if hips else 'not installed'}")
    small = (5, 0.01, 0.05) if quick else (31, 0.02, 0.2)
    large = (3, 0.02, 0.1) if quick else (15, 0.1, 0.5)
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((50, 50)) / np.sqrt(50), rng.standard_normal(50) * 0.1
    iris_step(small)
    forward_modes(small, W, b)
    jacobians(large, W, b)


if __name__ == '__main__':
    main()
