import os

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")

# A 5-atom toy molecule: C, a methyl-like rotor of three H (S3 symmetry, 6 permutations) and an O.
TOY_Z = np.array([6, 1, 1, 1, 8])
TOY_REF = np.array([[0.0, 0.0, 0.0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63],
                    [0.9, -0.8, -0.9]])
TOY_PERMS = np.array([[0, 1, 2, 3, 4], [0, 2, 3, 1, 4], [0, 3, 1, 2, 4],
                      [0, 2, 1, 3, 4], [0, 3, 2, 1, 4], [0, 1, 3, 2, 4]])


def morse_energy_forces(R, z):
    """Pairwise Morse potential with species-dependent parameters: E and F = -dE/dR exactly."""
    E = 0.0
    F = np.zeros_like(R)
    for a in range(len(R)):
        for b in range(a):
            r0 = 0.5 + 0.05 * (z[a] + z[b])
            De, alpha = 10.0 + z[a] * z[b] * 0.5, 1.5
            d = R[a] - R[b]
            r = np.linalg.norm(d)
            ex = np.exp(-alpha * (r - r0))
            E += De * (1 - ex) ** 2
            dEdr = 2 * De * (1 - ex) * alpha * ex
            F[a] -= dEdr * d / r
            F[b] += dEdr * d / r
    return E, F


def make_toy(M=40, seed=0, scale=0.08):
    rng = np.random.default_rng(seed)
    R = TOY_REF[None] + scale * rng.standard_normal((M, 5, 3))
    EF = [morse_energy_forces(r, TOY_Z) for r in R]
    E = np.array([e for e, _ in EF])
    F = np.array([f for _, f in EF])
    return R, E, F


@pytest.fixture
def toy():
    import fastgdml

    R, E, F = make_toy()
    return fastgdml.Dataset(R, TOY_Z, F, E=E, name="toy", theory="morse", r_unit="Ang", e_unit="kcal/mol")


@pytest.fixture
def data_dir():
    return DATA
