import numpy as np
import pytest

from fastgdml import _core
from fastgdml.symmetry import descriptor_permutation_table

import oracle
from conftest import TOY_PERMS, TOY_REF


def test_descriptor_matches_dense_oracle():
    R = TOY_REF + 0.05 * np.random.default_rng(1).standard_normal(TOY_REF.shape)
    X, g = _core.descriptors(R[None])
    x, J = oracle.descriptor_dense(R)
    np.testing.assert_allclose(X[0], x, rtol=1e-14)
    # compressed g: J row k has -g on atom a, +g on atom b
    for k, (a, b) in enumerate(oracle.pairs(5)):
        np.testing.assert_allclose(J[k, 3 * b:3 * b + 3], g[0, k], rtol=1e-14)
        np.testing.assert_allclose(J[k, 3 * a:3 * a + 3], -g[0, k], rtol=1e-14)


def test_jacobian_is_derivative_of_descriptor():
    R = TOY_REF.copy()
    x, J = oracle.descriptor_dense(R)
    h = 1e-6
    for i in range(R.size):
        Rp, Rm = R.copy().ravel(), R.copy().ravel()
        Rp[i] += h
        Rm[i] -= h
        fd = (_core.descriptors(Rp.reshape(1, 5, 3))[0][0] - _core.descriptors(Rm.reshape(1, 5, 3))[0][0]) / (2 * h)
        np.testing.assert_allclose(fd, J[:, i], rtol=1e-6, atol=1e-8)


def test_permutation_maps_permute_descriptors():
    R = TOY_REF + 0.05 * np.random.default_rng(2).standard_normal(TOY_REF.shape)
    maps = _core.permutation_maps(5, TOY_PERMS)
    x = _core.descriptors(R[None])[0][0]
    for perm, delta in zip(TOY_PERMS, maps):
        x_perm = _core.descriptors(R[perm][None])[0][0]  # new atom a = old atom perm[a]
        np.testing.assert_array_equal(x_perm, x[delta])
        np.testing.assert_array_equal(oracle.perm_matrix(perm) @ x, x[delta])


def test_tril_perms_lin_matches_reference_model(data_dir):
    from fastgdml.io.npz import load_npz

    m = load_npz(f"{data_dir}/aspirin_sgdml_sym.npz")
    np.testing.assert_array_equal(descriptor_permutation_table(m["perms"], len(m["z"])), m["tril_perms_lin"])


def test_minimum_image_wrap():
    L = np.diag([5.0, 6.0, 7.0])
    R = np.array([[0.1, 0.1, 0.1], [4.9, 0.2, 6.8]])
    X, g = _core.descriptors(R[None], lattice=L)
    d = R[1] - R[0] - np.array([5.0, 0.0, 7.0])
    np.testing.assert_allclose(X[0, 0], 1 / np.linalg.norm(d), rtol=1e-14)


def test_mask_keeps_selected_features_and_rejects_broken_orbits():
    R = TOY_REF[None]
    full = _core.descriptors(R)[0][0]
    mask = np.array([0, 3, 7])
    np.testing.assert_array_equal(_core.descriptors(R, mask=mask)[0][0], full[mask])
    # pairs (1,0),(2,0),(3,0) are one orbit of the rotor group: keeping only some breaks symmetry
    with pytest.raises(ValueError, match="not closed"):
        _core.permutation_maps(5, TOY_PERMS, mask=np.array([0, 1]))
    orbit = np.array([0, 1, 3])  # (1,0), (2,0), (3,0)
    assert _core.permutation_maps(5, TOY_PERMS, mask=orbit).shape == (6, 3)


def test_bad_perms_rejected():
    with pytest.raises(ValueError, match="not a permutation"):
        _core.permutation_maps(5, np.array([[0, 0, 1, 2, 3]]))
