"""sGDML datasets: geometries, atomic numbers, energies and forces (FORMATS.md §1)."""
from __future__ import annotations

import hashlib
import os
from typing import Optional

import numpy as np

from ..io.memory import file_budget, gib
from ..io.npz import MODEL_OBJECT_KEYS, NpzError, as_str, load_npz, save_npz_atomic
from .._version import __version__
from ..geometry import check_lattice, minimum_image, same_lattice


class DatasetError(ValueError):
    """A dataset that is missing keys, has inconsistent shapes or non-finite values."""


def dataset_md5(z: np.ndarray, R: np.ndarray, E: Optional[np.ndarray], F: np.ndarray) -> str:
    """The sGDML dataset fingerprint: md5 over the md5 digests of z, R, [E], F (raw bytes, C order)."""
    outer = hashlib.md5()
    for arr in (z, R) + ((E,) if E is not None else ()) + (F,):
        # memoryview: the raw bytes in C order without a copy of the array (datasets can be gigabytes)
        outer.update(hashlib.md5(memoryview(np.ascontiguousarray(arr)).cast("B")).digest())
    return outer.hexdigest()


def _finite(name: str, arr: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise DatasetError(f"{where}: '{name}' has {int(bad.sum())} NaN/Inf value(s), first at index "
                           f"{tuple(int(i) for i in first)}; remove or fix those frames")


class Dataset:
    """Geometries with energy and force labels, in the sGDML dataset format.

    Parameters
    ----------
    R : array (M, N, 3)
        Cartesian positions (unit ``r_unit``, Angstrom by convention).
    z : array (N,)
        Atomic numbers, shared by all frames (same atom order in every frame).
    F : array (M, N, 3)
        Forces, ``F = -dE/dR``.
    E : array (M,) or (M, 1), optional
        Total energies.
    name, theory : str
        Dataset name and level of theory (metadata).
    r_unit, e_unit : str, optional
        Unit labels (metadata; the maths is unit-agnostic).
    lattice : array (3, 3), optional
        Periodic cell, lattice vectors as columns.
    perms : array (P, N), optional
        Atom permutations (symmetries) to use when training on this dataset.
    source : str, optional
        Where the data came from (a file path), used in error messages.
    """

    def __init__(self, R, z, F, E=None, name: str = "dataset", theory: str = "unknown",
                 r_unit: Optional[str] = None, e_unit: Optional[str] = None, lattice=None, perms=None,
                 source: Optional[str] = None):
        where = source or "dataset"
        self.source = source
        self.name, self.theory, self.r_unit, self.e_unit = str(name), str(theory), r_unit, e_unit
        z_raw = np.asarray(z)
        if z_raw.ndim != 1 or z_raw.size < 2:
            raise DatasetError(f"{where}: 'z' must have shape (N,) with N >= 2 atoms, got {z_raw.shape}")
        if not np.issubdtype(z_raw.dtype, np.integer):
            if np.issubdtype(z_raw.dtype, np.floating) and np.all(np.isfinite(z_raw)) and np.all(z_raw == np.round(z_raw)):
                z_raw = z_raw.astype(np.int64)
            else:
                raise DatasetError(f"{where}: 'z' must hold integer atomic numbers, got dtype {z_raw.dtype}")
        if z_raw.min() < 1 or z_raw.max() > 118:
            raise DatasetError(f"{where}: 'z' must hold atomic numbers 1..118, got range "
                               f"[{z_raw.min()}, {z_raw.max()}]")
        N = z_raw.size
        R_raw, F_raw = np.asarray(R), np.asarray(F)
        for key, arr in (("R", R_raw), ("F", F_raw)):
            if arr.ndim != 3 or arr.shape[1:] != (N, 3) or arr.shape[0] < 1:
                raise DatasetError(f"{where}: '{key}' must have shape (M, {N}, 3) to match 'z' with {N} atoms, "
                                   f"got {arr.shape}")
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise DatasetError(f"{where}: '{key}' must be real numbers, got dtype {arr.dtype}")
        if F_raw.shape != R_raw.shape:
            raise DatasetError(f"{where}: 'F' has {F_raw.shape[0]} frames but 'R' has {R_raw.shape[0]}")
        M = R_raw.shape[0]
        E_raw = None
        if E is not None:
            E_raw = np.asarray(E)
            if E_raw.shape not in ((M,), (M, 1)):
                raise DatasetError(f"{where}: 'E' must have shape ({M},) or ({M}, 1), got {E_raw.shape}")
            if not np.issubdtype(E_raw.dtype, np.number) or np.iscomplexobj(E_raw):
                raise DatasetError(f"{where}: 'E' must be real numbers, got dtype {E_raw.dtype}")
        _finite("R", R_raw, where)
        _finite("F", F_raw, where)
        if E_raw is not None:
            _finite("E", E_raw, where)
        # The fingerprint uses the arrays exactly as given (dtype and byte order matter).
        self.md5 = dataset_md5(z_raw, R_raw, E_raw, F_raw)
        self.z = z_raw
        self.R = np.ascontiguousarray(R_raw, dtype=np.float64)
        self.F = np.ascontiguousarray(F_raw, dtype=np.float64)
        self.E = None if E_raw is None else np.ascontiguousarray(E_raw, dtype=np.float64).ravel()
        self._E_shape = None if E_raw is None else E_raw.shape
        self.lattice = None
        if lattice is not None:
            self.lattice = check_lattice(lattice, where, DatasetError)
        self.perms = None
        if perms is not None:
            from ..symmetry.group import validate_perms

            self.perms = validate_perms(perms, N, where=f"{where}: 'perms'", error=DatasetError)

    # -- file I/O ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "Dataset":
        """Read an sGDML dataset ``.npz`` file.

        Raises
        ------
        FileNotFoundError, DatasetError
            With the file name, the offending key and what to do.
        """
        path = os.fspath(path)
        try:
            # A model's object keys decode (safely) so that a model given as a dataset is named as such below.
            d = load_npz(path, object_keys=MODEL_OBJECT_KEYS)
        except NpzError as exc:
            raise DatasetError(str(exc)) from None
        if "type" in d:
            kind = as_str(d["type"])
            if kind != "d":
                what = {"m": "a model", "t": "a training task"}.get(kind, f"of type '{kind}'")
                raise DatasetError(f"{path}: this file is {what}, not a dataset (key 'type' is '{kind}', expected 'd')")
        missing = [k for k in ("R", "z", "F") if k not in d]
        if missing:
            raise DatasetError(f"{path}: missing key(s) {', '.join(repr(k) for k in missing)}; an sGDML dataset needs "
                               f"'R' (M, N, 3), 'z' (N,) and 'F' (M, N, 3)")
        objects = sorted(k for k, v in d.items() if v.dtype.hasobject)
        if objects:
            raise DatasetError(f"{path}: key '{objects[0]}' holds Python objects; a dataset has none (numbers and "
                               f"strings only), so the file is refused")
        # Converted copies (float64, C order) of the label arrays come on top of what was read.
        extra = sum(np.asarray(d[k]).size * 8 for k in ("R", "F", "E")
                    if k in d and not (np.asarray(d[k]).dtype == np.float64 and np.asarray(d[k]).flags.c_contiguous))
        if extra > file_budget():
            raise DatasetError(f"{path}: converting 'R', 'F' and 'E' to float64 needs {gib(extra)} more memory "
                               f"than the {gib(file_budget())} this process can use now; store them as float64")
        text = {k: as_str(d[k]) for k in ("name", "theory", "r_unit", "e_unit") if k in d}
        stem = os.path.splitext(os.path.basename(path))[0]
        return cls(d["R"], d["z"], d["F"], E=d.get("E"), name=text.get("name", stem),
                   theory=text.get("theory", "unknown"), r_unit=text.get("r_unit"), e_unit=text.get("e_unit"),
                   lattice=d.get("lattice"), perms=d.get("perms"), source=path)

    def to_dict(self) -> dict:
        """The arrays of the sGDML dataset file (all keys of FORMATS.md §1)."""
        out = {"type": np.array("d"), "code_version": np.array(f"fastgdml {__version__}"),
               "name": np.array(self.name), "theory": np.array(self.theory), "R": self.R, "z": self.z, "F": self.F}
        if self.E is not None:
            out["E"] = self.E.reshape(self._E_shape)
            out.update(E_min=self.E.min(), E_max=self.E.max(), E_mean=self.E.mean(), E_var=self.E.var())
        out.update(F_min=self.F.min(), F_max=self.F.max(), F_mean=self.F.mean(), F_var=self.F.var())
        if self.r_unit is not None and self.e_unit is not None:
            out.update(r_unit=np.array(self.r_unit), e_unit=np.array(self.e_unit))
        if self.lattice is not None:
            out["lattice"] = self.lattice
        if self.perms is not None:
            out["perms"] = self.perms
        out["md5"] = np.array(dataset_md5(self.z, self.R, out.get("E"), self.F).encode(), dtype="S32")
        return out

    def save(self, path) -> None:
        """Write the dataset as an sGDML ``.npz`` file (atomically: temporary file + rename)."""
        save_npz_atomic(path, self.to_dict())

    # -- convenience ------------------------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return int(self.z.size)

    def __len__(self) -> int:
        return int(self.R.shape[0])

    def subset(self, idxs) -> "Dataset":
        """A new dataset with the frames ``idxs`` (its md5 is that of the new content: indices into it, stored in
        a model, refer to the subset, not to this dataset)."""
        idxs = np.asarray(idxs, dtype=np.int64)
        return Dataset(self.R[idxs], self.z, self.F[idxs], E=None if self.E is None else self.E[idxs],
                       name=self.name, theory=self.theory, r_unit=self.r_unit, e_unit=self.e_unit,
                       lattice=self.lattice, perms=self.perms, source=self.source)

    def merge(self, other: "Dataset") -> "Dataset":
        """This dataset's frames followed by ``other``'s (same molecule, units, lattice; the md5 is recomputed)."""
        if other.n_atoms != self.n_atoms or not np.array_equal(other.z, self.z):
            raise DatasetError(f"cannot merge {other.source or other.name} into {self.source or self.name}: the "
                               f"atomic numbers differ")
        if (other.E is None) != (self.E is None):
            raise DatasetError("cannot merge a dataset with energies and one without")
        if (other.r_unit, other.e_unit) != (self.r_unit, self.e_unit):
            raise DatasetError(f"cannot merge datasets in different units ({self.e_unit}, {self.r_unit} vs "
                               f"{other.e_unit}, {other.r_unit}); convert one first")
        if (self.lattice is None) != (other.lattice is None) or (
                self.lattice is not None and not same_lattice(other.lattice, self.lattice)):
            raise DatasetError("cannot merge datasets with different lattices")
        E = None if self.E is None else np.concatenate([np.ravel(self.E), np.ravel(other.E)])
        return Dataset(np.concatenate([self.R, other.R]), self.z, np.concatenate([self.F, other.F]), E=E,
                       name=self.name, theory=self.theory, r_unit=self.r_unit, e_unit=self.e_unit,
                       lattice=self.lattice, perms=self.perms)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n_geometries={len(self)}, n_atoms={self.n_atoms}, "
                f"energies={'yes' if self.E is not None else 'no'}, md5={self.md5})")


def coincident_atoms(R: np.ndarray, lattice: Optional[np.ndarray] = None, tol: float = 1e-8):
    """(frame, i, j, distance) of the first pair of atoms closer than ``tol`` (minimum image with a lattice), or
    None.

    Coincident atoms make the inverse-distance descriptor infinite; callers use this to name the culprit.
    """
    R = np.asarray(R, dtype=np.float64).reshape(-1, np.shape(R)[-2], 3)
    i, j = np.tril_indices(R.shape[1], -1)
    chunk = max(1, 2_000_000 // max(len(i), 1))
    for start in range(0, len(R), chunk):
        d = minimum_image(R[start:start + chunk, i] - R[start:start + chunk, j], lattice)
        d2 = np.einsum("mpk,mpk->mp", d, d)
        close = np.argwhere(d2 < tol * tol)
        if len(close):
            m, p = close[0]
            return int(start + m), int(i[p]), int(j[p]), float(np.sqrt(d2[m, p]))
    return None
