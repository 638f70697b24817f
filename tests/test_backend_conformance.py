"""One test body per compute backend (the ``backend`` fixture of conftest.py: every registered backend, "cuda"
skipping with its reason where it is not built or has no device). Each operation of the backend interface is
checked against the dense NumPy oracle (tests/oracle.py) or, for training, against the closed-form solve, and each
asserts that the named backend served the call. The CPU backend is the reference the others must match."""
import numpy as np
import pytest

import fastgdml
from fastgdml import _core

import oracle
from conftest import TOY_PERMS, TOY_Z, make_toy

SIGMA = 1.1


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30], ids=["weights-recomputed", "weights-cached"])
def test_kernel_products_equal_the_dense_oracle(backend, cache_bytes):
    R = make_toy(M=6, seed=4)[0]
    K = oracle.kernel_matrix(R, TOY_PERMS, SIGMA, use_E_cstr=True)
    op = _core.KernelOperator(R, TOY_PERMS, SIGMA, use_energy=True, cache_bytes=cache_bytes, backend=backend)
    assert op.backend == backend and op.size == len(K)
    if backend == "cpu":  # what a backend caches is its own decision (the CUDA backend recomputes the weights)
        assert (op.cache_bytes > 0) == (cache_bytes > 0)
    scale = np.abs(K).max()
    v = np.random.default_rng(0).standard_normal(len(K))
    np.testing.assert_allclose(op.matvec(v), K @ v, atol=1e-11 * scale * np.abs(v).sum())
    np.testing.assert_allclose(op.assemble(), K, atol=1e-11 * scale)
    cols = np.array([0, 7, 44, 45, len(K) - 6, len(K) - 1])  # force columns of two points and energy columns
    np.testing.assert_allclose(op.columns(cols), K[:, cols], atol=1e-11 * scale)
    blocks, energy_diagonal = op.diagonal_blocks()
    dim = 15
    for i in range(6):
        np.testing.assert_allclose(blocks[i], K[i * dim:(i + 1) * dim, i * dim:(i + 1) * dim], atol=1e-11 * scale)
    np.testing.assert_allclose(energy_diagonal, np.diag(K)[6 * dim:], atol=1e-11 * scale)


def test_predictions_equal_the_dense_oracle(backend):
    R, E, F = make_toy(M=30, seed=5)
    model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 12, SIGMA, perms=TOY_PERMS, use_E_cstr=True,
                           n_valid=0, backend=backend)
    assert model.backend == backend
    a = model.arrays
    queries = make_toy(M=3, seed=9)[0]
    E_pred, F_pred = model.predict(queries)
    for q in range(3):
        E_ref, F_ref = oracle.predict(queries[q], a["R_desc"].T, a["R_d_desc_alpha"], TOY_PERMS, SIGMA,
                                      float(a["std"]), float(a["c"]), alphas_E=a["alphas_E"])
        np.testing.assert_allclose(E_pred[q], E_ref, rtol=1e-10, atol=1e-10 * abs(E_ref))
        np.testing.assert_allclose(F_pred[q], F_ref, atol=1e-10 * np.abs(F_ref).max())
    reloaded = fastgdml.Model(a, backend=backend)
    assert reloaded.backend == backend


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_cg_training_equals_the_closed_form_one(backend, use_E_cstr):
    R, E, F = make_toy(M=40, seed=6)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    kw = dict(perms=TOY_PERMS, use_E_cstr=use_E_cstr, idxs_train=np.arange(25), n_valid=0, lam=1e-6)
    exact = fastgdml.train(ds, 25, SIGMA, solver="cholesky", backend=backend, **kw)
    iterative = fastgdml.train(ds, 25, SIGMA, solver="cg", tol=1e-10, inducing=40, backend=backend, **kw)
    assert exact.backend == iterative.backend == backend and iterative.converged
    queries = make_toy(M=4, seed=8)[0]
    F_exact, F_cg = exact.predict(queries)[1], iterative.predict(queries)[1]
    # tol 1e-10 on the residual; lambda 1e-6 bounds the condition number: forces agree far below the data scale
    np.testing.assert_allclose(F_cg, F_exact, atol=1e-5 * np.abs(F_exact).max())


def test_feature_scores_equal_a_masked_model(backend):
    """The score of one orbit equals |F - F_masked|^2 of the model with that orbit's features removed, the
    coefficients kept (the brute-force definition), computed on the same backend."""
    from fastgdml.pruning.importance import feature_orbits

    R, E, F = make_toy(M=30, seed=7)
    model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 15, SIGMA, perms=TOY_PERMS, n_valid=0,
                           backend=backend)
    queries = make_toy(M=4, seed=10)[0]
    scores = fastgdml.feature_scores(model, queries)
    orbit = feature_orbits(model.perms, model.n_atoms)
    top = int(np.argmax(scores))
    keep = np.flatnonzero(orbit != orbit[top])  # the most important orbit removed
    a = dict(model.arrays)
    a["R_desc"], a["R_d_desc_alpha"], a["feature_mask"] = a["R_desc"][keep], a["R_d_desc_alpha"][:, keep], keep
    masked = fastgdml.Model(a, backend=backend)
    brute = float(((model.predict(queries)[1] - masked.predict(queries)[1]) ** 2).sum())
    assert brute > 0
    np.testing.assert_allclose(scores[top], brute, rtol=1e-9)
    deltas = _core.feature_deltas(model.n_atoms, np.ascontiguousarray(model.arrays["R_desc"].T),
                                  model.arrays["R_d_desc_alpha"], None, model.perms, None, None, model.sigma,
                                  model.std, orbit, queries, backend=backend)
    assert deltas["backend"] == backend
    np.testing.assert_allclose(deltas["scores"][orbit], scores, rtol=1e-12)
