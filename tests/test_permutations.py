"""Permutation search on synthetic molecules with known groups (methyl rotors, a symmetric top, no symmetry), on
the reference's frames, and its use in training."""
import itertools

import numpy as np
import pytest

from fastgdml import _core
from fastgdml.permutations import find_permutations

TETRA = np.degrees(np.arccos(-1.0 / 3.0))  # 109.47 degrees


def bond_dirs(axis, ref, phase_deg):
    """Three unit vectors at the tetrahedral angle from axis, 120 degrees apart, the first at phase_deg."""
    a = axis / np.linalg.norm(axis)
    v = ref - (ref @ a) * a
    v /= np.linalg.norm(v)
    w = np.cross(a, v)
    t = np.radians(TETRA)
    return [np.cos(t) * a + np.sin(t) * (np.cos(np.radians(phase_deg + 120 * k)) * v +
                                         np.sin(np.radians(phase_deg + 120 * k)) * w) for k in range(3)]


def methyl(C, partner, phase):
    """Positions of the three H of a methyl on carbon C bonded to partner."""
    return [C + 1.09 * d for d in bond_dirs(partner - C, np.array([0.3, 1.0, 0.2]), phase)]


def chiral_centre(centre, partner, lengths, phase=0.0):
    """Three substituent positions of a tetrahedral centre bonded to partner."""
    return [centre + L * d for L, d in zip(lengths, bond_dirs(partner - centre, np.array([0.0, 0.4, 1.0]), phase))]


def frames(build, states, count, rng, noise=0.02, jitter=8.0):
    """count geometries: random discrete state, torsion jitter, Gaussian noise and a random rigid motion."""
    out = []
    for _ in range(count):
        state = states[rng.integers(len(states))]
        X = build(*[s + rng.normal(0.0, jitter) for s in state])
        Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        out.append(X @ Q.T + rng.normal(size=3) + rng.normal(0.0, noise, X.shape))
    return np.array(out)


def one_rotor(phi):
    # CH3-CHFCl: chiral centre C1 (no mirror symmetry), methyl C0 with H5 H6 H7
    C1, C0 = np.zeros(3), np.array([1.54, 0.0, 0.0])
    F, Cl, H = chiral_centre(C1, C0, [1.35, 1.77, 1.09])
    return np.array([C0, C1, F, Cl, H, *methyl(C0, C1, phi)])


ONE_ROTOR_Z = np.array([6, 6, 9, 17, 1, 1, 1, 1])


def two_rotors(phi_a, phi_b):
    # CH3-CHF-CHCl-CH3: two chiral centres, rotors five bonds apart
    C1, C2 = np.zeros(3), np.array([1.54, 0.0, 0.0])
    C0, F, H1 = chiral_centre(C1, C2, [1.54, 1.35, 1.09])
    C3, Cl, H2 = chiral_centre(C2, C1, [1.54, 1.77, 1.09], phase=40.0)
    return np.array([C0, C1, C2, C3, F, Cl, H1, H2, *methyl(C0, C1, phi_a), *methyl(C3, C2, phi_b)])


TWO_ROTORS_Z = np.array([6, 6, 6, 6, 9, 17, 1, 1, 1, 1, 1, 1, 1, 1])


def ethane(phi_a, phi_b):
    C0, C1 = np.zeros(3), np.array([1.54, 0.0, 0.0])
    return np.array([C0, C1, *methyl(C0, C1, phi_a), *methyl(C1, C0, phi_b)])


ETHANE_Z = np.array([6, 6, 1, 1, 1, 1, 1, 1])


def cyclic(atoms, n):
    p = np.arange(n)
    p[atoms] = np.roll(atoms, 1)
    return p


def group_of(perms):
    return {tuple(p) for p in perms}


def assert_group(perms, z):
    s = group_of(perms)
    assert tuple(range(len(z))) == tuple(perms[0])
    assert all(tuple(np.asarray(a)[np.asarray(b)]) in s for a in s for b in s)
    assert all(np.array_equal(z[p], z) for p in perms)


def test_linear_assignment_is_optimal():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 6):
        C = rng.random((20, n, n))
        cols = _core.linear_assignment(C)
        for b in range(20):
            best = min(C[b][np.arange(n), list(p)].sum() for p in itertools.permutations(range(n)))
            assert np.isclose(C[b][np.arange(n), cols[b]].sum(), best)
    with pytest.raises(ValueError, match="finite"):
        _core.linear_assignment(np.full((3, 3), np.inf))


def test_methyl_rotor_gives_its_three_rotations():
    rng = np.random.default_rng(1)
    R = frames(one_rotor, [(0.0,), (120.0,), (240.0,)], 200, rng)
    perms = find_permutations(R, ONE_ROTOR_Z)
    assert_group(perms, ONE_ROTOR_Z)
    rot = cyclic([5, 6, 7], 8)
    assert group_of(perms) == group_of([np.arange(8), rot, rot[rot]])


def test_rotor_that_never_rotated_gives_no_symmetry():
    rng = np.random.default_rng(2)
    R = frames(one_rotor, [(0.0,)], 200, rng)
    assert group_of(find_permutations(R, ONE_ROTOR_Z)) == {tuple(range(8))}


def test_two_independent_rotors_give_nine():
    rng = np.random.default_rng(3)
    states = [(a, b) for a in (0.0, 120.0, 240.0) for b in (0.0, 120.0, 240.0)]
    R = frames(two_rotors, states, 300, rng)
    perms, report = find_permutations(R, TWO_ROTORS_Z, report=True)
    assert_group(perms, TWO_ROTORS_Z)
    a, b = cyclic([8, 9, 10], 14), cyclic([11, 12, 13], 14)
    expected = {tuple(x[y]) for x in (np.arange(14), a, a[a]) for y in (np.arange(14), b, b[b])}
    assert group_of(perms) == expected
    assert sorted(size for _, size in report.blocks) == [3, 3] and "9 permutation" in report.describe()


def test_size_budget_keeps_the_largest_subgroup_and_says_what_it_left_out():
    rng = np.random.default_rng(3)
    states = [(a, b) for a in (0.0, 120.0, 240.0) for b in (0.0, 120.0, 240.0)]
    R = frames(two_rotors, states, 300, rng)
    with pytest.warns(RuntimeWarning, match="left out"):
        perms, report = find_permutations(R, TWO_ROTORS_Z, max_size=5, report=True)
    assert len(perms) == 3
    assert_group(perms, TWO_ROTORS_Z)
    assert len(report.left_out) == 1 and "max_size=5" in report.left_out[0]


def ethane_oracle(states):
    """Bond- and species-preserving permutations that map some noise-free state exactly onto another."""
    mats = [np.linalg.norm(ethane(*s)[:, None] - ethane(*s)[None], axis=-1) for s in states]
    found = set()
    for swap in (False, True):
        for ha in itertools.permutations([2, 3, 4]):
            for hb in itertools.permutations([5, 6, 7]):
                p = np.array([1, 0, *hb, *ha]) if swap else np.array([0, 1, *ha, *hb])
                if any(np.allclose(A[np.ix_(p, p)], B, atol=1e-6) for A in mats for B in mats):
                    found.add(tuple(p))
    return found


def test_ethane_symmetric_top_with_noise():
    # staggered ethane with both rotors turning: the permutations of ethane's molecular symmetry group G36
    # (36 of the 72 bond-preserving ones: an odd permutation within one methyl alone maps staggered onto no
    # realised state)
    states = [(a, 60.0 + b) for a in (0.0, 120.0, 240.0) for b in (0.0, 120.0, 240.0)]
    expected = ethane_oracle(states)
    rng = np.random.default_rng(4)
    perms = find_permutations(frames(ethane, states, 300, rng, noise=0.03), ETHANE_Z)
    assert_group(perms, ETHANE_Z)
    assert group_of(perms) == expected and len(expected) == 36


def test_no_symmetry():
    rng = np.random.default_rng(5)
    base = rng.normal(scale=1.5, size=(7, 3))
    R = base[None] + rng.normal(0.0, 0.05, (100, 7, 3))
    z = np.array([6, 6, 6, 8, 8, 1, 1])
    assert group_of(find_permutations(R, z)) == {tuple(range(7))}


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="shape"):
        find_permutations(np.zeros((4, 3, 3)), [1, 1])
    with pytest.raises(ValueError, match="NaN"):
        find_permutations(np.full((4, 2, 3), np.nan), [1, 1])


@pytest.mark.parametrize("name", ["ethanol_xtb", "aspirin_xtb"])
def test_same_group_as_the_reference_on_its_frames(name):
    import os
    d = np.load(os.path.join(os.path.dirname(__file__), "data", "perms_reference_frames.npz"))
    perms = find_permutations(d[f"{name}_R"], d[f"{name}_z"])
    assert group_of(perms) == group_of(d[f"{name}_perms"]) and len(perms) == 6


def rotor_dataset(count=60, seed=6):
    import fastgdml
    from conftest import morse_energy_forces

    R = frames(one_rotor, [(0.0,), (120.0,), (240.0,)], count, np.random.default_rng(seed))
    EF = [morse_energy_forces(r, ONE_ROTOR_Z) for r in R]
    return fastgdml.Dataset(R, ONE_ROTOR_Z, np.array([f for _, f in EF]), E=np.array([e for e, _ in EF]),
                            name="rotor")


def test_train_finds_stores_and_uses_the_group():
    import fastgdml

    ds = rotor_dataset()
    model = fastgdml.train(ds, 40, sigma=2.0, n_valid=0)
    rot = cyclic([5, 6, 7], 8)
    assert group_of(model.perms) == group_of([np.arange(8), rot, rot[rot]])
    # the model is invariant under its group: permuted geometry -> same energy, permuted forces
    R = ds.R[45]
    E0, F0 = model.predict(R)
    E1, F1 = model.predict(R[rot])
    np.testing.assert_allclose(E1, E0, rtol=1e-9)
    np.testing.assert_allclose(F1[0], F0[0][rot], rtol=1e-7, atol=1e-9 * np.abs(F0).max())
    plain = fastgdml.train(ds, 40, sigma=2.0, n_valid=0, symmetries="none", idxs_train=model.idxs_train)
    assert len(plain.perms) == 1
    with pytest.raises(ValueError, match="symmetries"):
        fastgdml.train(ds, 40, sigma=2.0, symmetries="yes")


def test_dataset_perms_key_wins_over_the_search():
    import fastgdml

    ds = rotor_dataset()
    ds.perms = np.arange(8)[None, :]
    assert len(fastgdml.train(ds, 40, sigma=2.0, n_valid=0).perms) == 1


def test_cli_reports_the_group(tmp_path):
    import contextlib
    import io

    from fastgdml import cli

    path = tmp_path / "rotor.npz"
    rotor_dataset().save(str(path))
    out = tmp_path / "m.npz"
    for flag, size in (("auto", 3), ("none", 1)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert cli.main(["train", str(path), "--n-train", "40", "--sigma", "2", "-o", str(out), "--overwrite",
                             "-q", "--n-valid", "10", "--symmetries", flag]) == 0
        assert f"symmetry group: {size} permutation(s)" in buf.getvalue()


def test_budget_keeps_the_largest_product_of_whole_blocks():
    # Ac-Ala3-NHMe's blocks: four C3 methyl rotors and one S3 (the N-methyl); the default budget keeps 81
    from fastgdml.symmetry.group_search import DEFAULT_MAX_PERMS, _best_product

    sizes = [3, 3, 3, 6, 3]

    def kept(cap):
        return int(np.prod([sizes[b] for b in _best_product(sizes, cap)]))

    assert [kept(c) for c in (1, 2, 3, 5, 6, 17, 18, 27, 53, 54, 80, 81, 100, 485, 486, 10**6)] == \
        [1, 1, 3, 3, 6, 9, 18, 27, 27, 54, 54, 81, 81, 162, 486, 486]
    assert kept(DEFAULT_MAX_PERMS) <= DEFAULT_MAX_PERMS
    assert sorted(sizes[b] for b in _best_product(sizes, 27)) == [3, 3, 3]  # ties: fewer blocks, earlier ones


def two_rotor_dataset(count=80, seed=7):
    import fastgdml
    from conftest import morse_energy_forces

    states = [(a, b) for a in (0.0, 120.0, 240.0) for b in (0.0, 120.0, 240.0)]
    R = frames(two_rotors, states, count, np.random.default_rng(seed))
    EF = [morse_energy_forces(r, TWO_ROTORS_Z) for r in R]
    return fastgdml.Dataset(R, TWO_ROTORS_Z, np.array([f for _, f in EF]), E=np.array([e for e, _ in EF]),
                            name="two rotors")


def test_budget_note_says_how_many_were_left_out_and_how_to_keep_them():
    ds = two_rotor_dataset()
    perms, report = find_permutations(ds.R, ds.z, max_size=3, report=True, warn=False)
    assert len(perms) == 3 and report.full_size == 9 and report.n_left_out == 6
    note = report.budget_note()
    assert "kept 3 of the 9" in note and "6 left out" in note and "--max-perms 9" in note and "\n" not in note
    perms, report = find_permutations(ds.R, ds.z, max_size=9, report=True, warn=False)
    assert len(perms) == 9 and report.budget_note() is None and report.n_left_out == 0


def test_train_applies_the_budget_and_prints_the_note(capsys):
    import inspect

    import fastgdml
    from fastgdml.cli.parser import build_parser
    from fastgdml.symmetry.group_search import DEFAULT_MAX_PERMS

    assert inspect.signature(fastgdml.train).parameters["max_perms"].default == DEFAULT_MAX_PERMS
    args = build_parser().parse_args(["train", "x.npz", "--n-train", "10", "-o", "m.npz"])
    assert args.max_perms == DEFAULT_MAX_PERMS
    ds = two_rotor_dataset()
    with pytest.warns(RuntimeWarning, match="kept 3 of the 9 permutations"):
        model = fastgdml.train(ds, 30, sigma=2.0, n_valid=0, max_perms=3, solver="cholesky")
    assert len(model.perms) == 3
    capsys.readouterr()
    model = fastgdml.train(ds, 30, sigma=2.0, n_valid=0, max_perms=3, solver="cholesky", verbose=True)
    lines = [x for x in capsys.readouterr().err.splitlines() if "symmetry budget" in x]
    assert len(lines) == 1 and "max_perms=9" in lines[0]
    assert len(fastgdml.train(ds, 30, sigma=2.0, n_valid=0, solver="cholesky").perms) == 9  # within the default
