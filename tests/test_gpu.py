"""The CUDA backend on a real GPU against the CPU backend (``pytest -m gpu``; every test here skips without a usable
CUDA device, saying why). Every backend operation and a whole CG training are compared, with the tolerances named
below. The same backend code also runs on the CPU under the emulation in the C++ tests (tests/cpp/
test_cuda_backend.cpp): these tests add the real cuBLAS, cuSOLVER and kernels on the device.
"""
import os

import numpy as np
import pytest

import fastgdml
from fastgdml import _core

from conftest import DATA, TOY_PERMS, TOY_Z, make_toy

pytestmark = pytest.mark.gpu

# Relative to the largest entry of the CPU result. The GPU sums in other orders (cuBLAS DGEMM tiles, block
# reductions): float64 round-off of sums over n D terms, far below these.
TOL_KERNEL = 1e-11     # K v, K columns, diagonal blocks, the assembled K
TOL_PREDICT = 1e-10    # energies, forces and dE/dstrain of a model
TOL_SCORES = 1e-9      # feature scores (squared differences of forces)
TOL_TRAINED = 1e-7     # predictions of models trained by CG to 1e-10 on each backend (lambda 1e-6 bounds cond(K))


@pytest.fixture(scope="module", autouse=True)
def cuda_device():
    if "cuda" not in _core.backends():
        pytest.skip("this build has no CUDA backend (libfastgdml_cuda.so not built)")
    usable = {name: (ok, why) for name, ok, why in _core.backend_status()}["cuda"]
    if not usable[0]:
        pytest.skip(f"backend 'cuda' cannot run here: {usable[1]}")
    return usable[1]


def _close(got, want, tol, what):
    got, want = np.asarray(got), np.asarray(want)
    scale = np.abs(want).max()
    err = np.abs(got - want).max()
    assert err <= tol * scale, f"{what}: max difference {err:.3g} > {tol:g} x {scale:.3g}"


@pytest.mark.parametrize("use_energy", [False, True])
def test_kernel_operations_equal_the_cpu_backend(use_energy):
    R = make_toy(M=30, seed=3)[0]
    ops = {b: _core.KernelOperator(R, TOY_PERMS, 1.1, use_energy=use_energy, backend=b) for b in ("cpu", "cuda")}
    assert ops["cuda"].backend == "cuda" and ops["cuda"].size == ops["cpu"].size
    v = np.random.default_rng(0).standard_normal(ops["cpu"].size)
    _close(ops["cuda"].matvec(v), ops["cpu"].matvec(v), TOL_KERNEL, "K v")
    cols = np.array([0, 5, 16, 44, ops["cpu"].size - 1])
    _close(ops["cuda"].columns(cols), ops["cpu"].columns(cols), TOL_KERNEL, "K[:, cols]")
    _close(ops["cuda"].assemble(), ops["cpu"].assemble(), TOL_KERNEL, "assembled K")
    for got, want, what in zip(ops["cuda"].diagonal_blocks(), ops["cpu"].diagonal_blocks(), ("blocks", "energies")):
        if np.size(want):
            _close(got, want, TOL_KERNEL, f"diagonal {what}")
    a = np.random.default_rng(1).standard_normal((30, 15))
    _close(ops["cuda"].jacobian_rows(a), ops["cpu"].jacobian_rows(a), 1e-13, "Jacobian rows")


@pytest.mark.parametrize("count", [1, 7, 600])  # one MD step, a few beads, a batch of several chunks
def test_predictions_of_a_reference_model_equal_the_cpu_backend(count):
    path = os.path.join(DATA, "aspirin_sgdml_sym.npz")
    cpu, gpu = fastgdml.Model.load(path), fastgdml.Model.load(path, backend="cuda")
    assert gpu.backend == "cuda"
    R = np.load(os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"))["R"]
    R = R[np.arange(count) % len(R)] + 1e-3 * np.random.default_rng(2).standard_normal((count,) + R.shape[1:])
    E_c, F_c, S_c = cpu.predict(R, strain=True)
    E_g, F_g, S_g = gpu.predict(R, strain=True)
    _close(E_g, E_c, TOL_PREDICT, "energies")
    _close(F_g, F_c, TOL_PREDICT, "forces")
    _close(S_g, S_c, TOL_PREDICT, "dE/dstrain")


def test_a_close_contact_is_refused_on_the_gpu_too():
    gpu = fastgdml.Model.load(os.path.join(DATA, "aspirin_sgdml_sym.npz"), backend="cuda")
    R = np.load(os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"))["R"][:2].copy()
    R[1, 1] = R[1, 0] + 1e-4
    with pytest.raises(ValueError, match="geometry 1"):
        gpu.predict(R)


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_cg_training_equals_the_cpu_training(use_E_cstr):
    """A whole training on the GPU (Nyström-preconditioned CG, every vector on the device) against the CPU's."""
    R, E, F = make_toy(M=60, seed=6)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    kw = dict(perms=TOY_PERMS, use_E_cstr=use_E_cstr, idxs_train=np.arange(40), n_valid=0, lam=1e-6,
              solver="cg", tol=1e-10, inducing=60)
    models = {b: fastgdml.train(ds, 40, 1.1, backend=b, **kw) for b in ("cpu", "cuda")}
    assert models["cuda"].backend == "cuda" and models["cuda"].converged
    queries = make_toy(M=5, seed=8)[0]
    for i, what in ((0, "energies"), (1, "forces")):
        _close(models["cuda"].predict(queries)[i], models["cpu"].predict(queries)[i], TOL_TRAINED, what)


def test_closed_form_training_on_the_gpu_equals_the_cpu():
    R, E, F = make_toy(M=30, seed=9)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    kw = dict(perms=TOY_PERMS, use_E_cstr=True, idxs_train=np.arange(20), n_valid=0, lam=1e-8, solver="cholesky")
    models = {b: fastgdml.train(ds, 20, 1.1, backend=b, **kw) for b in ("cpu", "cuda")}
    queries = make_toy(M=4, seed=10)[0]
    _close(models["cuda"].predict(queries)[1], models["cpu"].predict(queries)[1], TOL_TRAINED, "forces")


def test_feature_scores_equal_the_cpu_backend():
    path = os.path.join(DATA, "aspirin_sgdml_sym.npz")
    R = np.load(os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"))["R"][:5]
    cpu = fastgdml.feature_scores(fastgdml.Model.load(path), R)
    gpu = fastgdml.feature_scores(fastgdml.Model.load(path, backend="cuda"), R)
    _close(gpu, cpu, TOL_SCORES, "feature scores")


def test_sigma_search_and_pruning_run_on_the_gpu():
    d = np.load(os.path.join(DATA, "ethanol_xtb_train200.npz"))
    ds = fastgdml.Dataset(d["R"], d["z"], d["F"], E=d["E"].ravel())
    model, scan = fastgdml.search_sigma(ds, 40, n_valid=60, backend="cuda")
    cpu_model, cpu_scan = fastgdml.search_sigma(ds, 40, n_valid=60, backend="cpu")
    assert model.backend == "cuda" and model.sigma == cpu_model.sigma
    pruned, _ = fastgdml.prune(model, ds, fractions=[0.8], n_score=30, n_valid=60)
    assert pruned.backend == "cuda"
