"""A small case of every CUDA backend operation, for compute-sanitizer (memcheck, racecheck) in bench/gpu_check.sh:
descriptors, K v, kernel columns, diagonal blocks, the closed form, a CG training with block-Jacobi and a float
Nyström factor, prediction with the strain derivative, and feature scores. Exits nonzero on any error."""
import os
import sys

import numpy as np

import fastgdml
from fastgdml import _core

rng = np.random.default_rng(0)
N, n = 6, 12
base = np.array([[1.3 * a, 0.9 * (a % 2), 0.0] for a in range(N)])
R = base[None] + 0.1 * rng.standard_normal((n + 4, N, 3))
perms = np.array([[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 5, 4]])
op = _core.KernelOperator(R[:n], perms, 1.5, use_energy=True, backend="cuda")
v = rng.standard_normal(op.size)
cpu = _core.KernelOperator(R[:n], perms, 1.5, use_energy=True, backend="cpu")
assert np.allclose(op.matvec(v), cpu.matvec(v), rtol=0, atol=1e-10 * np.abs(cpu.matvec(v)).max())
op.columns(np.array([0, 3, op.size - 1]))
op.diagonal_blocks()
z = np.full(N, 6)
F = rng.standard_normal((n + 4, N, 3))
E = rng.standard_normal(n + 4)
ds = fastgdml.Dataset(R, z, F, E=E)
for solver in ("cholesky", "cg"):
    model = fastgdml.train(ds, n, 1.5, perms=perms, use_E_cstr=True, idxs_train=np.arange(n), n_valid=0,
                           solver=solver, tol=1e-8, lam=1e-4, inducing=20, block_jacobi=(solver == "cg"), backend="cuda")
    model.predict(R[n:], strain=True)
fastgdml.feature_scores(model, R[n:])
print("small case on", _core.describe_backend("cuda"), ": ok")
sys.exit(0)
