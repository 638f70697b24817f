"""Dense NumPy oracles, written from the formulas of FORMATS.md §3-§5 with explicit loops and dense
matrices: independent of the GEMM formulation the C++ core uses."""
import itertools

import numpy as np


def pairs(N):
    return [(a, b) for a in range(N) for b in range(a)]  # k = a(a-1)/2 + b


def descriptor_dense(R):
    """x (D,) and the dense Jacobian J (D, 3N)."""
    N = len(R)
    P = pairs(N)
    x = np.empty(len(P))
    J = np.zeros((len(P), 3 * N))
    for k, (a, b) in enumerate(P):
        d = R[a] - R[b]
        r = np.linalg.norm(d)
        x[k] = 1 / r
        J[k, 3 * a:3 * a + 3] = -d / r**3
        J[k, 3 * b:3 * b + 3] = d / r**3
    return x, J


def perm_matrix(perm):
    """Dense P with P x = x[delta] for the atom permutation perm."""
    N = len(perm)
    P = pairs(N)
    index = {frozenset(p): k for k, p in enumerate(P)}
    M = np.zeros((len(P), len(P)))
    for k, (a, b) in enumerate(P):
        M[k, index[frozenset((perm[a], perm[b]))]] = 1
    return M


def matern(x, xp, sig):
    d = x - xp
    r = np.linalg.norm(d)
    u = np.sqrt(5) * r / sig
    e = np.exp(-u)
    k = (1 + u + u * u / 3) * e
    grad_x = -5 / (3 * sig**2) * (1 + u) * e * d
    H = 5 / (3 * sig**2) * e * ((1 + u) * np.eye(len(d)) - 5 / sig**2 * np.outer(d, d))
    return k, grad_x, H


def kernel_matrix(Rs, perms, sig, use_E_cstr=False):
    """K = Cov([F; -E]) (FORMATS.md §4.3), dense, for training geometries Rs (n, N, 3)."""
    n, N = Rs.shape[:2]
    dim = 3 * N
    xs, Js = zip(*(descriptor_dense(R) for R in Rs))
    Ps = [perm_matrix(p) for p in perms]
    M = n * dim + (n if use_E_cstr else 0)
    K = np.zeros((M, M))
    for i, j in itertools.product(range(n), range(n)):
        for P in Ps:
            k, grad_x, H = matern(xs[i], P @ xs[j], sig)
            K[i * dim:(i + 1) * dim, j * dim:(j + 1) * dim] += Js[i].T @ H @ P @ Js[j]
            if use_E_cstr:
                K[i * dim:(i + 1) * dim, n * dim + j] += Js[i].T @ grad_x        # Cov(F_i, -E_j)
                K[n * dim + i, j * dim:(j + 1) * dim] += -(P @ Js[j]).T @ grad_x  # Cov(-E_i, F_j)
                K[n * dim + i, n * dim + j] += k
    return K


def predict(R, X, V, perms, sig, std, c, alphas_E=None):
    """FORMATS.md §5.1 literally: sums over training points and permuted copies."""
    x, J = descriptor_dense(R)
    Ps = [perm_matrix(p) for p in perms]
    F_desc = np.zeros_like(x)
    E = 0.0
    for j in range(len(X)):
        for P in Ps:
            xjp, vjp = P @ X[j], P @ V[j]
            d = x - xjp
            u = np.sqrt(5) * np.linalg.norm(d) / sig
            e = np.exp(-u)
            F_desc += 25 / (3 * sig**4) * e * (d @ vjp) * d - 5 / (3 * sig**2) * (1 + u) * e * vjp
            E += 5 / (3 * sig**2) * (1 + u) * e * (d @ vjp)
            if alphas_E is not None:
                F_desc += alphas_E[j] * 5 / (3 * sig**2) * (1 + u) * e * d
                E += alphas_E[j] * (1 + u + u * u / 3) * e
    return std * E + c, (std * J.T @ F_desc).reshape(-1, 3)
