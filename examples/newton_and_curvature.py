"""Second-order methods with autograd_lite.func: Newton's method with ``hessian``, and the
curvature of the iris network's loss seen through Hessian-vector and Gauss-Newton-vector
products, without forming either matrix.

1. Newton's method on Rosenbrock's function from (-1.2, 1): ``x <- x - H(x)^-1 grad f(x)``,
   with ``value_and_grad`` and ``hessian``; it reaches the minimum (1, 1) in a few steps.
2. The 4-8-3 iris network (sigmoid hidden layer, cross-entropy; the 120 standardised training
   rows), its 67 parameters in one vector ``theta``:
   * ``hvp`` gives H v and ``jvp``, ``hvp`` and ``vjp`` give the Gauss-Newton product
     G v = J^T H_z J v (J: the Jacobian of the scores, H_z: the loss's Hessian in the scores),
     each checked against the matrices formed with ``hessian`` and ``jacrev``;
   * power iteration on those products finds the largest curvature, checked against
     ``np.linalg.eigvalsh``;
   * ten Gauss-Newton steps, each solving (G + damping I) d = -g by conjugate gradients on
     G v products (Hessian-free optimisation), against ten steps of gradient descent.

Run: python examples/newton_and_curvature.py
"""
import numpy as np

import autograd_lite as ag
from autograd_lite import func
from autograd_lite.nn import functional as F

# -- 1. Newton's method ----------------------------------------------------------------


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def newton(f, x, steps=20, tol=1e-12):
    """Newton's method from ``x``: the iterates' values, until the gradient is below ``tol``."""
    value_and_grad, hessian = func.value_and_grad(f), func.hessian(f)
    history = []
    for _ in range(steps):
        value, g = value_and_grad(x)
        history.append((x.copy(), float(value), float(np.linalg.norm(g))))
        if np.linalg.norm(g) < tol:
            break
        x = x - np.linalg.solve(hessian(x), g)
    return x, history


# -- 2. the iris network's curvature ------------------------------------------------------
SIZES = [(4, 8), (8, 3)]
N_PARAMS = sum(i * o + o for i, o in SIZES)  # 67


def unpack(theta):
    """The layers' (W, b) from the flat parameter vector (Tensor or array)."""
    layers, start = [], 0
    for n_in, n_out in SIZES:
        W = theta[start:start + n_in * n_out].reshape(n_in, n_out)
        start += n_in * n_out
        layers.append((W, theta[start:start + n_out]))
        start += n_out
    return layers


def scores(theta, X):
    (W1, b1), (W2, b2) = unpack(theta)
    return ag.sigmoid(X @ W1 + b1) @ W2 + b2


def iris_problem(seed=0):
    from autograd_lite.demo.training import load_split
    data = load_split('iris', seed=seed)
    theta = np.random.default_rng(seed).normal(scale=0.5, size=N_PARAMS)
    X, y = data.X_train, data.y_train
    logits = lambda theta: scores(theta, X)               # (67,) -> (120, 3)
    loss_of_logits = lambda z: F.cross_entropy(z, y)      # (120, 3) -> ()
    loss = lambda theta: loss_of_logits(logits(theta))    # (67,) -> ()
    return theta, logits, loss_of_logits, loss


def gauss_newton_product(logits, loss_of_logits, theta, v):
    """G v = J^T H_z J v, from one jvp, one hvp and one vjp: never a matrix."""
    z, Jv = func.jvp(logits, (theta,), (v,))
    _, (HJv,) = func.hvp(loss_of_logits, (z,), (Jv,))
    _, vjp_fn = func.vjp(logits, theta)
    return vjp_fn(HJv)[0]


def largest_eigenvalue(product, n, iterations=100, seed=0):
    """Power iteration on a symmetric positive semi-definite matrix given by ``product(v)``."""
    v = np.random.default_rng(seed).normal(size=n)
    v /= np.linalg.norm(v)
    for _ in range(iterations):
        w = product(v)
        estimate = float(v @ w)
        v = w / np.linalg.norm(w)
    return estimate


def conjugate_gradient(product, b, iterations=20, tol=1e-10):
    """Solve A x = b for a positive definite A given by ``product``."""
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), r @ r
    for _ in range(iterations):
        Ap = product(p)
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr, rr_old = r @ r, rr
        if np.sqrt(rr) < tol:
            break
        p = r + (rr / rr_old) * p
    return x


def main():
    x, history = newton(rosenbrock, np.array([-1.2, 1.0]))
    print("Newton's method on Rosenbrock's function from (-1.2, 1):")
    for k, (xk, value, gnorm) in enumerate(history):
        print(f"  step {k}: x = ({xk[0]: .10f}, {xk[1]: .10f})  f = {value:.3e}  |grad| = {gnorm:.3e}")
    assert np.allclose(x, [1.0, 1.0], atol=1e-10), x

    theta, logits, loss_of_logits, loss = iris_problem()
    rng = np.random.default_rng(1)
    v = rng.normal(size=N_PARAMS)
    H = func.hessian(loss)(theta)                                       # (67, 67)
    J = func.jacrev(logits)(theta).reshape(-1, N_PARAMS)                # (360, 67)
    z = logits(theta).data
    Hz = func.hessian(loss_of_logits)(z).reshape(z.size, z.size)        # (360, 360)
    G = J.T @ Hz @ J
    _, (Hv,) = func.hvp(loss, (theta,), (v,))
    Gv = gauss_newton_product(logits, loss_of_logits, theta, v)
    diffs = {'H v': np.abs(Hv - H @ v).max(), 'G v': np.abs(Gv - G @ v).max()}
    print(f"\niris 4-8-3 network, {N_PARAMS} parameters, loss {float(loss(theta)):.4f}:")
    print(f"  hvp against the formed Hessian: max |diff| {diffs['H v']:.1e}; "
          f"Gauss-Newton product against J^T H_z J: {diffs['G v']:.1e}")
    assert max(diffs.values()) < 1e-12, diffs
    # H has negative eigenvalues away from a minimum; G never does: its largest is the sharpness
    top_G = largest_eigenvalue(lambda u: gauss_newton_product(logits, loss_of_logits, theta, u), N_PARAMS)
    eig_H, eig_G = np.linalg.eigvalsh(H), np.linalg.eigvalsh(G)
    print(f"  largest Gauss-Newton eigenvalue by power iteration {top_G:.6f}, by eigvalsh {eig_G[-1]:.6f}")
    print(f"  Hessian eigenvalues from {eig_H[0]:.4f} to {eig_H[-1]:.4f}; Gauss-Newton from "
          f"{eig_G[0]:.1e} to {eig_G[-1]:.4f} (positive semi-definite)")
    assert abs(top_G - eig_G[-1]) < 1e-6 * eig_G[-1] and eig_G[0] > -1e-10

    # Hessian-free optimisation: (G + damping I) d = -g by conjugate gradients on G v products
    gd, gn, damping = theta.copy(), theta.copy(), 1e-2
    value_and_grad = func.value_and_grad(loss)
    lr = 1.0 / eig_G[-1]  # gradient descent with a step of 1 / (the largest curvature)
    print(f"\n  step  gradient descent (lr {lr:.2f})  Gauss-Newton + CG")
    losses = []
    for step in range(10):
        gd = gd - lr * value_and_grad(gd)[1]
        value, g = value_and_grad(gn)
        d = conjugate_gradient(lambda u: gauss_newton_product(logits, loss_of_logits, gn, u) + damping * u, -g)
        gn = gn + d
        losses.append((float(loss(gd)), float(loss(gn))))
        print(f"  {step + 1:4d}  {losses[-1][0]:25.4f}  {losses[-1][1]:16.4f}")
    assert losses[-1][1] < 0.5 * losses[-1][0], losses[-1]
    return {'newton_steps': len(history) - 1, 'hvp_diff': diffs['H v'], 'gnvp_diff': diffs['G v'],
            'top_gauss_newton': top_G, 'losses': losses}


if __name__ == '__main__':
    main()
