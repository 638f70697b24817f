"""Property-based fuzzing (hypothesis, bounded by max_examples) of the loaders and the prediction entry points:
whatever the bytes or arrays, the result is a valid object or the loader's own error, never another exception,
a crash or a hang."""
import io

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastgdml  # noqa: E402
from fastgdml.dataset import DatasetError  # noqa: E402
from fastgdml.model import ModelError  # noqa: E402

from conftest import TOY_PERMS, TOY_Z, make_toy  # noqa: E402

# derandomize: the same 150 examples on every run and machine (a failure reproduces; CI never flakes on a new draw)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _files():
    R, E, F = make_toy(M=12, seed=5)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    model = fastgdml.train(ds, 6, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=3)
    out = {}
    for name, obj in (("dataset", ds), ("model", model)):
        for compressed in (False, True):
            buf = io.BytesIO()
            arrays = obj.to_dict() if name == "dataset" else dict(obj.arrays, type=np.array("m"))
            (np.savez_compressed if compressed else np.savez)(buf, **arrays)
            out[(name, compressed)] = buf.getvalue()
    return out


FILES = _files()
EDITS = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)


@FUZZ
@given(kind=st.sampled_from(sorted(FILES)), edits=EDITS, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_files_load_or_raise_the_loaders_error(tmp_path_factory, kind, edits, cut):
    blob = bytearray(FILES[kind])
    for where, value in edits:
        blob[int(where * len(blob))] = value
    if cut is not None:
        blob = blob[: int(cut * len(blob))]
    path = tmp_path_factory.mktemp("fuzz") / "f.npz"
    path.write_bytes(bytes(blob))
    load, error = (fastgdml.Dataset.load, DatasetError) if kind[0] == "dataset" else (fastgdml.Model.load, ModelError)
    try:
        obj = load(path)
    except error as exc:
        assert str(path) in str(exc)
        return
    if kind[0] == "model":  # what loads must predict finite numbers or refuse the input
        E, F = obj.predict(make_toy(M=1, seed=9)[0])
        assert E.shape == (1,) and F.shape == (1, 5, 3)


ARRAYS = hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))  # NaN/Inf included


@FUZZ
@given(R=ARRAYS, z=ARRAYS, F=ARRAYS, E=st.one_of(st.none(), ARRAYS))
def test_dataset_constructor_accepts_or_raises_dataset_error(R, z, F, E):
    try:
        ds = fastgdml.Dataset(R, z, F, E=E)
    except DatasetError:
        return
    assert ds.R.shape == ds.F.shape == (len(ds), ds.n_atoms, 3) and np.all(np.isfinite(ds.R))


_model = None


def _the_model():
    global _model
    if _model is None:
        R, E, F = make_toy(M=12, seed=5)
        _model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 6, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=0)
    return _model


@FUZZ
@given(R=hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int32, np.complex64]),
                    shape=st.one_of(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=16),
                                    st.sampled_from([(5, 3), (2, 5, 3), (15,), (3, 15)])),
                    elements=None))
def test_predict_returns_finite_values_or_raises_value_error(R):
    model = _the_model()
    try:
        E, F = model.predict(R)
    except ValueError:
        return
    assert E.ndim == 1 and F.shape == (E.size, 5, 3)
    assert np.all(np.isfinite(E)) and np.all(np.isfinite(F))
