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


def _backend_params():
    """Every registered backend, plus "cuda" (marked gpu) so that its absence shows as a skip with a reason."""
    from fastgdml import _core

    names = sorted(set(_core.backends()) | {"cuda"})
    return [pytest.param(n, marks=pytest.mark.gpu) if n == "cuda" else n for n in names]


@pytest.fixture(params=_backend_params())
def backend(request):
    """The name of a compute backend of this build; one test body runs on each (tests/test_backend_conformance.py).
    A backend that is not built, or whose device is missing, skips with the reason."""
    from fastgdml import _core

    name = request.param
    if name not in _core.backends():
        pytest.skip(f"backend '{name}' is not in this build (registered: {', '.join(_core.backends())})")
    try:
        _core.KernelOperator(make_toy(M=2)[0], TOY_PERMS[:1], 1.0, backend=name)
    except RuntimeError as exc:  # e.g. no device: the factory says why
        pytest.skip(f"backend '{name}' is registered but cannot run here: {exc}")
    return name
