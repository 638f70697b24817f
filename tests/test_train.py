"""Closed-form training against the dense oracle solve, and its physics."""
import numpy as np
import pytest

import fastgdml

import oracle
from conftest import TOY_PERMS, make_toy


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_closed_form_matches_oracle_solve(toy, use_E_cstr):
    idx = np.arange(8)
    lam, sig = 1e-6, 1.2
    model = fastgdml.train(toy, 8, sig, lam=lam, use_E_cstr=use_E_cstr, perms=TOY_PERMS, idxs_train=idx, n_valid=0)
    R = toy.R[idx]
    y = toy.F[idx].ravel()
    if use_E_cstr:
        y = np.concatenate([y, -(toy.E[idx] - toy.E[idx].mean())])
    std = y.std()
    K = oracle.kernel_matrix(R, TOY_PERMS, sig, use_E_cstr)
    alphas = -np.linalg.solve(K + lam * np.eye(len(K)), y / std)
    nF = 8 * 15
    np.testing.assert_allclose(model.arrays["std"], std, rtol=1e-14)
    assert np.abs(model.arrays["alphas_F"] - alphas[:nF]).max() <= 1e-8 * np.abs(alphas).max()
    if use_E_cstr:
        assert np.abs(model.arrays["alphas_E"] - alphas[nF:]).max() <= 1e-8 * np.abs(alphas).max()
        np.testing.assert_allclose(model.c, toy.E[idx].mean())
    # held-out predictions of the oracle model
    Rq = make_toy(M=3, seed=21)[0]
    X = np.array([oracle.descriptor_dense(r)[0] for r in R])
    V = np.array([oracle.descriptor_dense(r)[1] @ a for r, a in zip(R, alphas[:nF].reshape(8, 15))])
    E, F = model.predict(Rq)
    for q in range(3):
        E_ref, F_ref = oracle.predict(Rq[q], X, V, TOY_PERMS, sig, std, model.c,
                                      alphas[nF:] if use_E_cstr else None)
        assert np.abs(F[q] - F_ref).max() <= 1e-7 * np.abs(F_ref).max()
        assert abs(E[q] - E_ref) <= 1e-7 * max(1.0, abs(E_ref))


def test_trained_model_fits_training_data_and_generalises(toy):
    model = fastgdml.train(toy, 30, 1.5, perms=TOY_PERMS, seed=1)
    idx = model.idxs_train
    E, F = model.predict(toy.R[idx])
    assert np.abs(F - toy.F[idx]).max() <= 1e-3 * np.abs(toy.F[idx]).max()
    valid = model.idxs_valid
    assert len(np.intersect1d(idx, valid)) == 0 and len(valid) == 10
    f_err = model.arrays["f_err"].item()
    assert f_err["mae"] < 0.1 * np.abs(toy.F).mean()  # it has learnt something real
    # GDML integration constant: training energies reproduced on average
    assert abs(np.mean(E - toy.E[idx])) < 1e-6


def test_training_is_reproducible_with_seed(toy):
    a = fastgdml.train(toy, 10, 1.5, seed=7, n_valid=5)
    b = fastgdml.train(toy, 10, 1.5, seed=7, n_valid=5)
    c = fastgdml.train(toy, 10, 1.5, seed=8, n_valid=5)
    # the seed fixes the sampled frames exactly; the solve is floating point: with lam = 1e-10 its coefficients
    # move by ~1e-5 relative between thread counts (BLAS blocking), while the model, its predictions, agree
    np.testing.assert_array_equal(a.idxs_train, b.idxs_train)
    np.testing.assert_array_equal(a.idxs_valid, b.idxs_valid)
    assert not np.array_equal(a.idxs_train, c.idxs_train)
    R = make_toy(M=4, seed=41)[0]
    (E_a, F_a), (E_b, F_b) = a.predict(R), b.predict(R)
    np.testing.assert_allclose(F_b, F_a, rtol=0, atol=1e-9 * np.abs(F_a).max())
    np.testing.assert_allclose(E_b, E_a, rtol=0, atol=1e-9 * np.abs(E_a).max())


def test_no_energies(toy):
    ds = fastgdml.Dataset(toy.R, toy.z, toy.F)
    with pytest.raises(ValueError, match="no energies"):
        fastgdml.train(ds, 10, 1.5)
    model = fastgdml.train(ds, 10, 1.5, use_E=False)
    assert model.c == 0.0 and "e_err" not in model.arrays


def test_train_argument_errors(toy):
    with pytest.raises(ValueError, match="n_train"):
        fastgdml.train(toy, 0, 1.0)
    with pytest.raises(ValueError, match="n_train"):
        fastgdml.train(toy, 1000, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        fastgdml.train(toy, 5, -1.0)
    with pytest.raises(ValueError, match="group"):
        fastgdml.train(toy, 5, 1.0, perms=TOY_PERMS[:2])
    with pytest.raises(ValueError, match="identity"):
        fastgdml.train(toy, 5, 1.0, perms=TOY_PERMS[1:2])
    with pytest.raises(MemoryError, match="GiB"):
        fastgdml.train(toy, 20, 1.0, max_memory=1000, solver="cholesky")
    with pytest.raises(ValueError, match="solver"):
        fastgdml.train(toy, 5, 1.0, solver="lu")
    with pytest.raises(ValueError, match="use_E_cstr"):
        fastgdml.train(toy, 5, 1.0, use_E=False, use_E_cstr=True)


def test_duplicate_geometries_with_zero_lambda_report_not_positive_definite(toy):
    ds = fastgdml.Dataset(np.repeat(toy.R[:2], 2, axis=0), toy.z, np.repeat(toy.F[:2], 2, axis=0),
                          E=np.repeat(toy.E[:2], 2))
    with pytest.raises(RuntimeError, match="not positive definite"):
        fastgdml.train(ds, 4, 1.0, lam=0.0, n_valid=0)
