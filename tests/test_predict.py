"""Predictions from given coefficients: dense oracle, finite differences, invariances, input handling."""
import threading

import numpy as np
import pytest

import fastgdml

import oracle
from conftest import TOY_PERMS, TOY_Z, make_toy


def toy_model(use_E_cstr, perms=TOY_PERMS, seed=0):
    """A model with random coefficients (predictions need not be physical to test the formulas)."""
    from fastgdml.symmetry import descriptor_permutation_table

    rng = np.random.default_rng(seed)
    R = make_toy(M=7, seed=5)[0]
    X = np.array([oracle.descriptor_dense(r)[0] for r in R])
    arrays = {"type": np.array("m"), "z": TOY_Z, "R_desc": X.T.copy(), "R_d_desc_alpha": rng.standard_normal(X.shape),
              "sig": np.float64(0.9), "std": np.float64(1.7), "c": np.float64(-3.0), "perms": perms,
              "tril_perms_lin": descriptor_permutation_table(perms, 5)}
    if use_E_cstr:
        arrays["alphas_E"] = rng.standard_normal(len(R))
    return fastgdml.Model(arrays)


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_prediction_matches_oracle(use_E_cstr):
    model = toy_model(use_E_cstr)
    a = model.arrays
    R = make_toy(M=5, seed=9)[0]
    E, F = model.predict(R)
    for q in range(len(R)):
        E_ref, F_ref = oracle.predict(R[q], a["R_desc"].T, a["R_d_desc_alpha"], TOY_PERMS, 0.9, 1.7, -3.0,
                                      a.get("alphas_E"))
        assert abs(E[q] - E_ref) <= 1e-10 * max(1.0, abs(E_ref))
        assert np.abs(F[q] - F_ref).max() <= 1e-10 * np.abs(F_ref).max()


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_forces_are_minus_energy_gradient(use_E_cstr):
    model = toy_model(use_E_cstr)
    R = make_toy(M=1, seed=11)[0][0]
    _, F = model.predict(R)
    h = 1e-5
    fd = np.zeros(R.size)
    for i in range(R.size):
        Rp, Rm = R.ravel().copy(), R.ravel().copy()
        Rp[i] += h
        Rm[i] -= h
        fd[i] = -(model.predict(Rp)[0][0] - model.predict(Rm)[0][0]) / (2 * h)
    assert np.abs(F.ravel() - fd).max() <= 1e-6 * np.abs(F).max()


def test_invariance_rotation_translation_permutation():
    model = toy_model(True)
    R = make_toy(M=1, seed=12)[0][0]
    E, F = model.predict(R)
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    E2, F2 = model.predict(R @ Q.T + np.array([1.0, -2.0, 0.5]))
    assert abs(E2[0] - E[0]) <= 1e-10 * abs(E[0])
    np.testing.assert_allclose(F2[0], F[0] @ Q.T, atol=1e-10 * np.abs(F).max())
    for perm in TOY_PERMS:
        Ep, Fp = model.predict(R[perm])
        assert abs(Ep[0] - E[0]) <= 1e-10 * abs(E[0])
        np.testing.assert_allclose(Fp[0], F[0][perm], atol=1e-10 * np.abs(F).max())


def test_input_shapes():
    model = toy_model(False)
    R = make_toy(M=3, seed=1)[0]
    E, F = model.predict(R)
    assert E.shape == (3,) and F.shape == (3, 5, 3)
    E1, F1 = model.predict(R[1])
    assert E1.shape == (1,) and F1.shape == (1, 5, 3)
    np.testing.assert_allclose(E1[0], E[1], rtol=1e-13)
    E2, _ = model.predict(R.reshape(3, -1))  # sgdml's (M, 3N) layout
    np.testing.assert_allclose(E2, E, rtol=1e-13)
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((5, 3), np.nan))


def test_predict_is_thread_safe():
    model = toy_model(True)
    R = make_toy(M=20, seed=4)[0]
    E_ref, F_ref = model.predict(R)
    results = [None] * 4

    def work(t):
        results[t] = [model.predict(R[i])[1][0] for i in range(len(R))]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # a deadlock fails the test instead of hanging the suite
    assert not any(t.is_alive() for t in threads), "threads did not finish within 120 s"
    for res in results:
        np.testing.assert_allclose(np.array(res), F_ref, rtol=1e-12, atol=1e-12)


def test_periodic_model_uses_minimum_image_and_stays_conservative():
    """With a lattice, predictions depend on minimum-image distances only, and F = -grad E still holds."""
    model = toy_model(False)
    arrays = dict(model.arrays)
    L = np.diag([4.0, 4.5, 5.0])
    arrays["lattice"] = L
    periodic = fastgdml.Model(arrays)
    R = make_toy(M=1, seed=13)[0][0]
    E, F = periodic.predict(R)
    np.testing.assert_allclose(E, model.predict(R)[0], rtol=1e-12)  # all pairs already within half a cell
    shifted = R.copy()
    shifted[2] += L[:, 0] - L[:, 2]  # move one atom by lattice vectors: same periodic structure
    E2, F2 = periodic.predict(shifted)
    np.testing.assert_allclose(E2, E, rtol=1e-12)
    np.testing.assert_allclose(F2, F, rtol=1e-10, atol=1e-12 * np.abs(F).max())
