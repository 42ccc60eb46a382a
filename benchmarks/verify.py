"""Before a contestant is timed, its gradients must agree with NumPy by hand.

A contestant that computes a wrong answer is reported with the reason, not timed.
"""
import numpy as np

from contestants import numpy_hand

RTOL = 1e-7  # float64 engines differ from the hand-written code by rounding only


def mismatch(got, want):
    """None when the lists of arrays agree to RTOL (relative to each array's largest
    element), else a sentence saying where they differ."""
    if len(got) != len(want):
        return f"{len(got)} gradients where {len(want)} were expected"
    for i, (g, r) in enumerate(zip(got, want)):
        g = np.asarray(g)
        if g.shape != r.shape:
            return f"gradient {i} has shape {g.shape}, expected {r.shape}"
        scale = np.max(np.abs(r), initial=0.0)
        err = np.max(np.abs(g - r), initial=0.0)
        if not err <= RTOL * scale:  # also catches NaN
            return f"gradient {i} is off by {err:.3g} (largest element {scale:.3g})"
    return None


def mlp_mismatch(module, w, seed=0):
    """Run one step of the contestant and of NumPy by hand from the same weights."""
    X, Y, params = w.data(seed)
    want_step, want = numpy_hand.mlp(w, X, Y, params)
    want_step()
    step, grads = module.mlp(w, X, Y, params)
    step()
    return mismatch(grads(), want())


def chain_mismatch(module, w, seed=0):
    x0 = w.data(seed)
    return mismatch([module.chain(w, x0)()], [numpy_hand.chain(w, x0)()])
