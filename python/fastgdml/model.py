"""Trained models in the sGDML model file format (FORMATS.md §2.2) and their predictions."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from . import _core
from .io.memory import file_budget, gib
from .io.npz import MODEL_OBJECT_KEYS, NpzError, as_str, load_npz, save_npz_atomic
from .geometry import check_lattice
from .symmetry.group import descriptor_permutation_table, validate_perms


class ModelError(ValueError):
    """A model file that is missing keys or whose arrays do not fit together."""


# Kernel length scales outside this range make 1/sigma^2 or the kernel's exponentials under- or overflow for any
# descriptor distance (inverse distances of 1e-3..1e3 per length unit); useful models have sigma ~ 1..1000.
SIGMA_RANGE = (1e-6, 1e9)
# Atoms closer than this (model length units) are coincident whatever the training data.
COINCIDENT = 1e-8


def predictor_bytes(n: int, D: int, n_perms: int) -> int:
    """Memory the prediction core derives from a model: copies of the n x D training arrays (float64 conversion,
    Python transpose, core copies, the prepared [X; V]) and the G x D permutation maps (forward, inverse and the
    saved table)."""
    return 8 * (7 * n * D + 2 * n_perms * D + 8 * D)


_REQUIRED = ("z", "R_desc", "R_d_desc_alpha", "sig", "c", "perms")


def _scalar(arrays: dict, key: str, where: str, default=None, positive: bool = False) -> float:
    """A model key that must hold one finite real number (``positive``: > 0)."""
    value = np.asarray(arrays.get(key, default))
    kind = "positive finite" if positive else "finite"
    if value.size != 1 or value.dtype.kind not in "biuf":
        raise ModelError(f"{where}: '{key}' must be a single {kind} number, got {value.dtype} of shape {value.shape}")
    x = float(value.ravel()[0])
    if not np.isfinite(x) or (positive and not x > 0):
        raise ModelError(f"{where}: '{key}' must be a {kind} number, got {x}")
    return x


def _real_array(arrays: dict, key: str, where: str, convert: bool = True) -> np.ndarray:
    value = np.asarray(arrays[key])
    if value.dtype.kind not in "biuf":
        raise ModelError(f"{where}: '{key}' must hold real numbers, got dtype {value.dtype}")
    return value.astype(np.float64, copy=False) if convert else value


class Model:
    """A GDML/sGDML force field: energies and forces for geometries of one molecule.

    Build one with :func:`fastgdml.train` or :meth:`Model.load` (files written here or by the public ``sgdml``
    package). The arrays are kept in the sGDML layout (``R_desc`` is (D, n)); extra keys round-trip.

    Parameters
    ----------
    arrays : dict
        The keys of an sGDML model file.
    source : str, optional
        Where the model came from (used in error messages).
    backend : str
        Compute backend: ``"cpu"`` or ``"cuda"`` (:func:`fastgdml.backends` lists what this build has).
    """

    def __init__(self, arrays: dict, source: Optional[str] = None, backend: str = "cpu"):
        where = source or "model"
        missing = [k for k in _REQUIRED if k not in arrays]
        if missing:
            raise ModelError(f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}; not a complete sGDML "
                             f"model file")
        self.arrays = dict(arrays)
        self.source = source
        z = np.asarray(arrays["z"])
        if z.ndim != 1 or z.size < 2 or not np.issubdtype(z.dtype, np.integer):
            raise ModelError(f"{where}: 'z' must be integer atomic numbers of shape (N,), got {z.dtype} {z.shape}")
        N = z.size
        D = N * (N - 1) // 2
        mask = arrays.get("feature_mask")
        self.feature_mask = None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.ndim != 1 or mask.dtype.kind not in "iu" or mask.size == 0 or mask.min() < 0 or mask.max() >= D \
                    or np.any(np.diff(mask) <= 0):
                raise ModelError(f"{where}: 'feature_mask' must hold increasing descriptor indices in [0, {D}) "
                                 f"(pairs kept), got {mask.dtype} of shape {mask.shape}")
            self.feature_mask = mask.astype(np.int64)
        D_model = D if self.feature_mask is None else self.feature_mask.size
        X = _real_array(arrays, "R_desc", where, convert=False)
        V = _real_array(arrays, "R_d_desc_alpha", where, convert=False)
        if X.ndim != 2 or X.shape[0] != D_model:
            raise ModelError(f"{where}: 'R_desc' must have shape ({D_model}, n) for {N} atoms, got {X.shape}")
        n = X.shape[1]
        if n == 0:
            raise ModelError(f"{where}: 'R_desc' holds 0 training points (shape {X.shape}); the model is empty, "
                             f"retrain it")
        # Before any derived array: the core's copies grow as n x N^2 (checked shapes only, values come later).
        n_perms = np.shape(arrays["perms"])[0] if np.ndim(arrays["perms"]) == 2 else 1
        derived = predictor_bytes(n, D_model, n_perms)
        if derived > file_budget():
            raise ModelError(f"{where}: a model of {N} atoms, {n} training points and {n_perms} permutations "
                             f"needs {gib(derived)} of memory to predict, more than the {gib(file_budget())} this "
                             f"process can use now; refusing to load it")
        if V.shape != (n, D_model):
            raise ModelError(f"{where}: 'R_d_desc_alpha' must have shape ({n}, {D_model}), got {V.shape}")
        X, V = X.astype(np.float64, copy=False), V.astype(np.float64, copy=False)
        for key, arr in (("R_desc", X), ("R_d_desc_alpha", V)):
            if not np.all(np.isfinite(arr)):
                raise ModelError(f"{where}: '{key}' contains NaN/Inf; the model is corrupt, retrain it")
        self.perms = validate_perms(arrays["perms"], N, where=f"{where}: 'perms'", error=ModelError)
        self.sigma = _scalar(arrays, "sig", where, positive=True)
        if not SIGMA_RANGE[0] <= self.sigma <= SIGMA_RANGE[1]:
            raise ModelError(f"{where}: 'sig' = {self.sigma:g} is outside [{SIGMA_RANGE[0]:g}, {SIGMA_RANGE[1]:g}], "
                             f"where the kernel's terms (1/sigma^2, exp(-r/sigma)) stay representable; the model "
                             f"is degenerate, retrain it")
        self.std = _scalar(arrays, "std", where, default=1.0, positive=True)
        self.c = _scalar(arrays, "c", where)
        if "lam" in arrays:
            lam = _scalar(arrays, "lam", where)
            if lam < 0:
                raise ModelError(f"{where}: 'lam' must be >= 0 (the ridge regulariser), got {lam:g}")
        alphas_E = arrays.get("alphas_E")
        if alphas_E is not None:
            alphas_E = _real_array(arrays, "alphas_E", where).ravel()
            if not np.all(np.isfinite(alphas_E)):
                raise ModelError(f"{where}: 'alphas_E' contains NaN/Inf; the model is corrupt, retrain it")
            if alphas_E.size != n:
                raise ModelError(f"{where}: 'alphas_E' must have {n} entries (one per training point), "
                                 f"got {alphas_E.size}")
        lattice = arrays.get("lattice")
        self.lattice = None
        if lattice is not None:
            self.lattice = check_lattice(lattice, where, ModelError)
        self.z = z
        # Inverse distances are largest for the closest pair: queries closer than a tenth of the closest pair in
        # the training data are far outside what the model knows (and 1/r blows up); predict refuses them.
        self.min_distance = max(COINCIDENT, 0.1 / float(X.max())) if X.max() > 0 else COINCIDENT
        self._predictor = self._new_predictor(X, V, alphas_E, backend)

    def _new_predictor(self, X: np.ndarray, V: np.ndarray, alphas_E: Optional[np.ndarray], backend: str):
        """The core's predictor of the validated float64 arrays X (D, n), V (n, D) and alphas_E (n,) or None."""
        return _core.Predictor(self.n_atoms, np.ascontiguousarray(X.T), V, self.perms, self.sigma, self.std, self.c,
                               alphas_E=alphas_E, mask=self.feature_mask, lattice=self.lattice, backend=backend,
                               min_distance=self.min_distance)

    def _set_integration_constant(self, c: float) -> None:
        """Set the energy offset ``c`` (key ``c``). For training (:mod:`fastgdml.training.fit`): a GDML model's
        c comes from its own predictions of the training energies, so the model is built with c = 0 first. Only
        the core's predictor is rebuilt, not the validation."""
        self.c = float(c)
        self.arrays["c"] = np.float64(c)
        a = self.arrays
        alphas_E = None if "alphas_E" not in a else np.asarray(a["alphas_E"], dtype=np.float64).ravel()
        self._predictor = self._new_predictor(np.asarray(a["R_desc"], dtype=np.float64),
                                              np.asarray(a["R_d_desc_alpha"], dtype=np.float64), alphas_E,
                                              self.backend)

    # -- pickling: the arrays travel, the core's Predictor is rebuilt (multiprocessing, workflow engines) ----
    def __getstate__(self) -> dict:
        return {"arrays": self.arrays, "source": self.source, "backend": self.backend}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["arrays"], source=state["source"], backend=state["backend"])

    # -- properties of the sGDML interface ---------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return int(self.z.size)

    @property
    def n_train(self) -> int:
        """Number of training points n."""
        return int(np.asarray(self.arrays["R_desc"]).shape[1])

    @property
    def idxs_train(self) -> Optional[np.ndarray]:
        """Training frames in the training dataset (key ``idxs_train``), if recorded."""
        return self.arrays.get("idxs_train")

    @property
    def idxs_valid(self) -> Optional[np.ndarray]:
        """Validation frames (key ``idxs_valid``), if recorded."""
        return self.arrays.get("idxs_valid")

    @property
    def use_E_cstr(self) -> bool:
        """Whether the model was trained with energy constraints (has ``alphas_E``)."""
        return "alphas_E" in self.arrays

    @property
    def r_unit(self) -> Optional[str]:
        """Length unit label (key ``r_unit``), if recorded."""
        return as_str(self.arrays["r_unit"]) if "r_unit" in self.arrays else None

    @property
    def e_unit(self) -> Optional[str]:
        """Energy unit label (key ``e_unit``), if recorded."""
        return as_str(self.arrays["e_unit"]) if "e_unit" in self.arrays else None

    @property
    def converged(self) -> bool:
        """False for a model whose iterative solve stopped before reaching its tolerance."""
        return bool(np.asarray(self.arrays.get("solver_converged", True)))

    @property
    def backend(self) -> str:
        """The compute backend that serves :meth:`predict`."""
        return self._predictor.backend

    # -- prediction --------------------------------------------------------------------------------------
    def predict(self, R, strain: bool = False):
        """Energies and forces (and, with ``strain``, their derivative under a homogeneous strain).

        Parameters
        ----------
        R : array (N, 3), (M, N, 3), (3N,) or (M, 3N)
            Positions in the model's length unit.
        strain : bool
            Also return dE/dε (M, 3, 3): the derivative of the energy when positions and cell are strained by
            (I + ε), in the model's energy unit. For a periodic model the stress is dE/dε / volume (volume
            = |det lattice|) and the virial is −dE/dε.

        Returns
        -------
        E : array (M,)
            Energies in the model's energy unit.
        F : array (M, N, 3)
            Forces (energy unit / length unit).
        dE_dstrain : array (M, 3, 3)
            Only with ``strain``.
        """
        R = np.asarray(R)
        if R.dtype.kind not in "biuf":
            raise ValueError(f"R must hold real numbers (positions), got dtype {R.dtype}")
        R = R.astype(np.float64, copy=False)
        N = self.n_atoms
        if R.shape == (N, 3) or R.shape == (3 * N,):
            R = R.reshape(1, N, 3)
        elif R.ndim == 2 and R.shape[1] == 3 * N:
            R = R.reshape(-1, N, 3)
        if R.ndim != 3 or R.shape[1:] != (N, 3):
            raise ValueError(f"R must have shape ({N}, 3) or (M, {N}, 3) for this {N}-atom model, got {R.shape}")
        if R.shape[0] == 0:
            raise ValueError("R must hold at least one geometry, got shape (0, N, 3)")
        # The core refuses non-finite positions, close contacts (closer than self.min_distance, naming the
        # geometry and the atoms) and non-finite results, and bounds its work arrays by predicting in chunks.
        try:
            return self._predictor.predict(np.ascontiguousarray(R), strain=strain)
        except ValueError as exc:
            if str(exc).startswith("non-finite"):
                raise ValueError(f"{self.source or 'model'}: {exc}") from None
            raise

    # -- file I/O ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path, backend: str = "cpu") -> "Model":
        """Read an sGDML model ``.npz`` (ours or the public ``sgdml`` package's); object keys decoded safely."""
        path = os.fspath(path)
        try:
            arrays = load_npz(path, object_keys=MODEL_OBJECT_KEYS)
        except NpzError as exc:
            raise ModelError(str(exc)) from None
        kind = as_str(arrays["type"]) if "type" in arrays else None
        if kind != "m":
            what = {"d": "a dataset", "t": "a training task", None: "missing its 'type' key"}.get(kind, f"of type '{kind}'")
            raise ModelError(f"{path}: not a model file ({what}); expected key 'type' = 'm'")
        return cls(arrays, source=path, backend=backend)

    def save(self, path) -> None:
        """Write the model file (atomically). It loads and predicts in the public ``sgdml`` package."""
        out = dict(self.arrays)
        out["type"] = np.array("m")
        out["tril_perms_lin"] = descriptor_permutation_table(self.perms, self.n_atoms, self.feature_mask)
        save_npz_atomic(path, out)

    def __repr__(self) -> str:
        return (f"Model(n_atoms={self.n_atoms}, n_train={self.n_train}, n_perms={len(self.perms)}, "
                f"sigma={self.sigma:g}, E_cstr={self.use_E_cstr})")
