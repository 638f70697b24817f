"""Additive per-atom energy contributions (issue 18, item 6): integrated forces along the straight path from a
reference sum to E(x) − E(x_ref), and do not depend on the frame the geometries are given in."""
import numpy as np
import pytest

import fastgdml
from fastgdml.evaluation.contributions import energy_contributions, kabsch_align

from test_permutations import rotor_dataset

# |sum of contributions - (E - E_ref)|, model energy units (kcal/mol): the default target of energy_contributions
TOL = 1e-6


@pytest.fixture(scope="module")
def trained():
    ds = rotor_dataset(count=80, seed=3)
    model = fastgdml.train(ds, 40, 2.0, n_valid=0)  # the 3-fold rotor group is found: G = 3
    assert len(model.perms) == 3
    queries = np.setdiff1d(np.arange(len(ds)), model.idxs_train)[:6]
    return model, ds, queries


def random_rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("align", [True, False])
def test_contributions_sum_to_the_energy_difference(trained, align):
    model, ds, q = trained
    R, ref = ds.R[q], ds.R[model.idxs_train[0]]
    out = energy_contributions(model, R, ref, align=align)
    E, E_ref = model.predict(R)[0], model.predict(out.reference)[0]  # independent of the result's own energies
    np.testing.assert_allclose(out.contributions.sum(axis=1), E - E_ref, rtol=0, atol=TOL)
    np.testing.assert_allclose(out.quadrature_error, out.contributions.sum(axis=1) - (E - E_ref), rtol=0,
                               atol=1e-9)
    assert np.all(np.abs(E - E_ref) > 100 * TOL)  # the check is not trivially about zeros
    assert np.all(out.nodes >= 16) and np.all(out.reference_index == -1)
    # alignment moves the reference rigidly: same energy, same shape
    assert out.reference_energy == pytest.approx(np.full(len(q), model.predict(ref)[0][0]), abs=1e-8)
    # a tighter target is met with more nodes
    tight = energy_contributions(model, R, ref, align=align, tol=1e-9)
    assert np.all(np.abs(tight.quadrature_error) <= 1e-9)


@pytest.mark.parametrize("align", [True, False])
def test_contributions_are_invariant_to_a_rigid_motion_of_both_geometries(trained, align):
    model, ds, q = trained
    R, ref = ds.R[q], ds.R[model.idxs_train[5]]
    base = energy_contributions(model, R, ref, align=align).contributions
    Q, shift = random_rotation(1), np.array([0.3, -1.2, 2.0])
    moved = energy_contributions(model, R @ Q.T + shift, ref @ Q.T + shift, align=align).contributions
    scale = np.abs(base).max()
    assert scale > 1e-3
    np.testing.assert_allclose(moved, base, rtol=0, atol=1e-7 * scale + TOL)
    if align:  # aligned: moving only the geometry changes nothing either
        only = energy_contributions(model, R @ Q.T + shift, ref, align=True).contributions
        np.testing.assert_allclose(only, base, rtol=0, atol=1e-7 * scale + TOL)


def test_dataset_reference_is_the_nearest_frame_under_the_permutations(trained):
    model, ds, q = trained
    out = energy_contributions(model, ds.R[q], ds)
    assert set(out.reference_index) <= set(model.idxs_train)  # the training dataset: its training frames only
    np.testing.assert_allclose(out.contributions.sum(axis=1), out.energy - out.reference_energy, rtol=0, atol=TOL)
    # a training frame is its own reference: nothing to decompose
    own = energy_contributions(model, ds.R[model.idxs_train[:2]], ds)
    assert list(own.reference_index) == list(model.idxs_train[:2])
    np.testing.assert_allclose(own.contributions, 0.0, atol=1e-9)
    # relabelling the atoms of a geometry by a symmetry of the model relabels its contributions
    perm = np.asarray(model.perms)[1]
    permuted = energy_contributions(model, ds.R[q][:, perm], ds)
    np.testing.assert_allclose(permuted.contributions, out.contributions[:, perm], rtol=0,
                               atol=1e-7 * np.abs(out.contributions).max() + TOL)
    np.testing.assert_array_equal(permuted.reference_index, out.reference_index)


def test_kabsch_alignment_and_input_checks(trained):
    model, ds, _ = trained
    A = ds.R[0]
    Q = random_rotation(4)
    np.testing.assert_allclose(kabsch_align(A, A @ Q.T + 1.0), A @ Q.T + 1.0, atol=1e-10)
    with pytest.raises(ValueError, match="shape"):
        energy_contributions(model, A[:3], A)
    with pytest.raises(ValueError, match="one per geometry"):
        energy_contributions(model, ds.R[:3], ds.R[:2])
