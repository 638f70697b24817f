"""rGDML feature scores against brute-force masked predictions; symmetric masks keep the kernel symmetric."""
import numpy as np
import pytest

import fastgdml
from fastgdml import _core
from fastgdml.pruning.importance import _Masking, feature_orbits, feature_scores

from conftest import TOY_PERMS, TOY_Z, make_toy


def masked_copy(model, drop):
    """The same model (same coefficients) with the descriptor entries ``drop`` (of its layout) removed."""
    a = dict(model.arrays)
    D_full = model.n_atoms * (model.n_atoms - 1) // 2
    layout = np.arange(D_full) if model.feature_mask is None else model.feature_mask
    keep = np.setdiff1d(np.arange(len(layout)), drop)
    a["R_desc"] = np.asarray(a["R_desc"])[keep]
    a["R_d_desc_alpha"] = np.asarray(a["R_d_desc_alpha"])[:, keep]
    a["feature_mask"] = layout[keep]
    return fastgdml.Model(a)


@pytest.fixture(scope="module", params=["identity", "sym6", "sym6_ecstr"])
def trained(request):
    R, E, F = make_toy(M=40, seed=11)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    perms = None if request.param == "identity" else TOY_PERMS
    model = fastgdml.train(ds, 20, 1.2, lam=1e-6, perms=perms, symmetries="none", n_valid=0,
                           use_E_cstr=request.param.endswith("ecstr"))
    return model, make_toy(M=6, seed=12)[0]


def test_scores_equal_brute_force_masked_predictions(trained):
    model, R = trained
    scores = feature_scores(model, R)
    orbit = feature_orbits(model.perms, model.n_atoms)
    E0, F0 = model.predict(R)
    m = _Masking(model)
    for o in range(orbit.max() + 1):
        drop = np.flatnonzero(orbit == o)
        E1, F1 = masked_copy(model, drop).predict(R)
        want = ((F0 - F1) ** 2).sum()
        np.testing.assert_allclose(scores[drop], want, rtol=1e-8, atol=1e-12 * ((F0 ** 2).sum()))
        for i, r in enumerate(R[:2]):  # energy changes too (used by the interaction analysis)
            _, dF, dE = m.deltas(r)
            np.testing.assert_allclose(dE[o], E0[i] - E1[i], rtol=1e-8, atol=1e-10 * abs(E0[i]))
            np.testing.assert_allclose(dF[o], F0[i] - F1[i], rtol=1e-8, atol=1e-10 * np.abs(F0).max())


def test_orbits_follow_the_permutation_group():
    orbit = feature_orbits(TOY_PERMS, 5)
    # C-H pairs (1,0), (2,0), (3,0) form one orbit, the H-H pairs another, the H-O pairs a third
    k = lambda a, b: a * (a - 1) // 2 + b  # noqa: E731
    assert orbit[k(1, 0)] == orbit[k(2, 0)] == orbit[k(3, 0)]
    assert orbit[k(2, 1)] == orbit[k(3, 1)] == orbit[k(3, 2)]
    assert orbit[k(4, 1)] == orbit[k(4, 2)] == orbit[k(4, 3)]
    assert orbit[k(4, 0)] not in orbit[[k(1, 0), k(2, 1), k(4, 1)]] and len(set(orbit)) == 4  # C-O alone
    assert np.array_equal(feature_orbits(np.arange(5)[None], 5), np.arange(10))


def test_scores_of_a_reduced_model_are_zero_for_removed_features(trained):
    model, R = trained
    orbit = feature_orbits(model.perms, model.n_atoms)
    drop = np.flatnonzero(orbit == orbit[0])
    reduced = masked_copy(model, drop)
    scores = feature_scores(reduced, R)
    assert scores.shape == (10,) and np.all(scores[drop] == 0) and np.all(scores[np.setdiff1d(np.arange(10), drop)] > 0)


@pytest.mark.parametrize("keep_orbits", [[0, 2], [1, 3], [0, 1, 3]])
def test_symmetric_mask_keeps_the_symmetrised_kernel_symmetric_and_psd(keep_orbits):
    R = make_toy(M=8, seed=13)[0]
    orbit = feature_orbits(TOY_PERMS, 5)
    labels = np.unique(orbit)
    mask = np.flatnonzero(np.isin(orbit, labels[keep_orbits]))
    op = _core.KernelOperator(R, TOY_PERMS, 1.0, use_energy=True, mask=mask, lattice=None, cache_bytes=0)
    K = op.assemble()
    # assemble() mirrors its lower triangle (symmetric by construction); columns() computes both triangles
    C = op.columns(np.arange(op.size))
    np.testing.assert_allclose(C, K, rtol=0, atol=1e-12 * np.abs(K).max())
    np.testing.assert_allclose(C, C.T, rtol=0, atol=1e-12 * np.abs(K).max())
    assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
    # a mask that splits an orbit is refused (its symmetrised kernel would not be symmetric)
    with pytest.raises(ValueError, match="not closed"):
        _core.KernelOperator(R, TOY_PERMS, 1.0, use_energy=False, mask=np.array([0, 1]), lattice=None, cache_bytes=0)


def test_interaction_terms_add_up_to_the_predicted_forces(trained):
    from fastgdml.features import interactions, pair_forces

    model, R = trained
    m = _Masking(model)
    E, F = model.predict(R[:2])
    for i, r in enumerate(R[:2]):
        terms, _, dE = m.deltas(r)
        c = pair_forces(m, terms)
        total = np.zeros((model.n_atoms, 3))
        np.add.at(total, m.pairs[0], c)
        np.add.at(total, m.pairs[1], -c)
        np.testing.assert_allclose(total, F[i], rtol=1e-9, atol=1e-9 * np.abs(F[i]).max())
    out = interactions(model, R)
    # (out["force"] is symmetrised by construction, force + force.T: its entries are checked against the pair
    # terms instead) F_l^k = F_k^l = the mean over R of |pair (l, k)'s force term|
    want = np.zeros((5, 5))
    for r in R:
        norms = np.linalg.norm(pair_forces(m, m.deltas(r)[0]), axis=1)
        want[m.pairs[0], m.pairs[1]] += norms / len(R)
        want[m.pairs[1], m.pairs[0]] += norms / len(R)
    np.testing.assert_allclose(out["force"], want, rtol=1e-12, atol=0)
    assert np.all(np.diag(out["force"]) == 0) and np.all(out["force"][~np.eye(5, dtype=bool)] > 0)
    # additive energy contributions relative to the lowest-energy geometry of R: they sum to the mean E - E_min
    E_all = model.predict(R)[0]
    assert out["energy_difference"] == pytest.approx(E_all.mean() - E_all.min(), abs=1e-9)
    assert out["energy"].sum() == pytest.approx(out["energy_difference"], abs=1e-6)
    assert out["energy_quadrature_error"] <= 1e-6
    np.testing.assert_allclose(out["distance"], np.linalg.norm(R[:, :, None] - R[:, None], axis=-1).mean(0))
