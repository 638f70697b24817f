"""Model and Calculator pickle (the arrays travel, the core objects are rebuilt): multiprocessing with spawn and
fork, and workflow engines that ship objects between processes, get identical predictions."""
import multiprocessing as mp
import pickle

import numpy as np
import pytest

import fastgdml

from conftest import TOY_PERMS, TOY_Z, make_toy


@pytest.fixture(scope="module")
def model():
    R, E, F = make_toy(M=30, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, r_unit="Ang", e_unit="kcal/mol")
    return fastgdml.train(ds, 12, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=5)


def predict_with(obj, R):
    """In a worker: energies and forces from a Model or (via ASE) a Calculator."""
    if isinstance(obj, fastgdml.Model):
        return obj.predict(R)
    from ase import Atoms

    out = []
    for r in R:
        atoms = Atoms(numbers=TOY_Z, positions=r)
        atoms.calc = obj
        out.append((atoms.get_potential_energy(), atoms.get_forces()))
    return np.array([e for e, _ in out]), np.array([f for _, f in out])


def test_model_round_trips_through_pickle(model):
    R = make_toy(M=4, seed=8)[0]
    back = pickle.loads(pickle.dumps(model))
    assert back.sigma == model.sigma and back.backend == model.backend and back.source == model.source
    for a, b in zip(back.predict(R), model.predict(R)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13 * np.abs(b).max())


@pytest.mark.parametrize("method", ["spawn", "fork"])
@pytest.mark.parametrize("kind", ["model", "calculator"])
def test_predictions_in_worker_processes_equal_the_parents(model, method, kind):
    if kind == "calculator":
        pytest.importorskip("ase")
        obj = fastgdml.Calculator(model)
    else:
        obj = model
    R = make_toy(M=6, seed=9)[0]
    E0, F0 = predict_with(obj, R)
    with mp.get_context(method).Pool(2) as pool:
        results = pool.starmap(predict_with, [(obj, R[:3]), (obj, R[3:])], chunksize=1)
    E1 = np.concatenate([e for e, _ in results])
    F1 = np.concatenate([f for _, f in results])
    # a forked child runs the core on one thread: equal to rounding, not bitwise
    np.testing.assert_allclose(E1, E0, rtol=1e-12, atol=1e-12 * np.abs(E0).max())
    np.testing.assert_allclose(F1, F0, rtol=1e-10, atol=1e-12 * np.abs(F0).max())


def test_calculator_keeps_its_units_and_lock_after_unpickling(model):
    pytest.importorskip("ase")
    calc = fastgdml.Calculator(model, energy_unit="eV", length_unit="Bohr")
    back = pickle.loads(pickle.dumps(calc))
    assert back.eV_per_energy == 1.0 and back.ang_per_length == calc.ang_per_length
    with back._lock:  # a working (reentrant) lock, not a copy of the old one
        with back._lock:
            pass
