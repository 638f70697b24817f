"""The Python layer's one minimum image and lattice check (fastgdml.geometry) agree with the C++ core."""
import numpy as np
import pytest

import fastgdml
from fastgdml import _core
from fastgdml.geometry import check_lattice, minimum_image


def test_minimum_image_matches_the_core_descriptor():
    """1/|minimum_image(r_a - r_b)| is the core's periodic descriptor entry for the pair (a, b)."""
    rng = np.random.default_rng(4)
    lattice = np.array([[6.0, 0.4, -0.3], [0.2, 5.5, 0.5], [-0.1, 0.3, 7.0]])  # vectors as columns
    R = rng.uniform(-8, 8, size=(3, 6, 3))
    X, _ = _core.descriptors(R, lattice=lattice)
    a, b = np.tril_indices(6, -1)
    d = minimum_image(R[:, a] - R[:, b], lattice)
    np.testing.assert_allclose(X, 1.0 / np.linalg.norm(d, axis=-1), rtol=1e-12)


def test_minimum_image_wraps_into_the_half_cell_and_keeps_vectors_without_a_lattice():
    rng = np.random.default_rng(5)
    box = np.diag([4.0, 5.0, 6.0])
    d = rng.uniform(-30, 30, size=(100, 3))
    wrapped = minimum_image(d, box)
    assert np.all(np.abs(wrapped) <= np.diag(box) / 2 + 1e-12)
    shift = (d - wrapped) @ np.linalg.inv(box).T  # a whole number of cells
    np.testing.assert_allclose(shift, np.rint(shift), atol=1e-9)
    assert minimum_image(d, None) is d


@pytest.mark.parametrize("lattice, pattern", [
    (np.eye(2), r"\(3, 3\) matrix of real numbers"), (np.array([["a"] * 3] * 3), r"matrix of real numbers"),
    (np.zeros((3, 3)), r"invertible"), (np.diag([1.0, 1.0, np.nan]), r"invertible"),
    (np.array([[1.0, 2, 3], [2, 4, 6], [0, 0, 1]]), r"invertible")])
def test_bad_lattices_are_refused_by_name(lattice, pattern):
    with pytest.raises(ValueError, match=rf"file.npz: 'lattice' .*{pattern}"):
        check_lattice(lattice, "file.npz")
    R = np.zeros((1, 2, 3))
    R[0, 1, 0] = 1.0
    with pytest.raises(fastgdml.dataset.DatasetError, match=pattern):
        fastgdml.Dataset(R, [1, 1], R, lattice=lattice, source="file.npz")


def test_good_lattice_is_float64():
    lat = check_lattice(np.eye(3, dtype=np.int32) * 5, "x")
    assert lat.dtype == np.float64 and np.array_equal(lat, 5 * np.eye(3))


def test_same_lattice_tolerance_is_relative_to_the_reference():
    from fastgdml.geometry import same_lattice

    L = np.array([[6.0, 0.4, 0.0], [0.0, 5.5, 0.0], [0.0, 0.0, 7.0]])
    assert same_lattice(L * (1 + 5e-7), L)
    assert not same_lattice(L * (1 + 5e-6), L)
    assert not same_lattice(L + 1e-4 * np.eye(3), L)


def test_distance_matrices_use_the_minimum_image():
    from fastgdml.geometry import distance_matrices

    box = np.diag([4.0, 5.0, 6.0])
    R = np.array([[[0.1, 0.1, 0.1], [3.9, 4.9, 5.9]]])  # 0.2 apart in every direction across the faces
    np.testing.assert_allclose(distance_matrices(R, box)[0, 0, 1], np.sqrt(3) * 0.2, rtol=1e-12)
    np.testing.assert_allclose(distance_matrices(R)[0, 0, 1], np.linalg.norm(R[0, 1] - R[0, 0]), rtol=1e-12)


def test_short_range_pairs_of_a_periodic_dataset_use_the_minimum_image():
    from fastgdml.pruning.workflow import short_range_features

    box = np.diag([4.0, 5.0, 6.0])
    R = np.array([[[0.1, 0.1, 0.1], [3.9, 4.9, 5.9], [2.0, 2.5, 3.0]]] * 3)
    ds = fastgdml.Dataset(R, [1, 1, 8], np.zeros_like(R), lattice=box)
    # pair (1, 0) is 0.35 apart through the faces; the other two are about 3 apart either way
    assert short_range_features(ds, 1.0).tolist() == [True, False, False]
