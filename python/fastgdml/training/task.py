"""What a training solves (:class:`TrainingTask`) and how (:class:`SolverOptions`).

A task is the data side of one solve: the dataset, the training (and validation) indices, the kernel length
scale and regulariser, the permutation group, whether energies are used and constrained, and the feature mask.
:meth:`TrainingTask.sample` prepares one the way :func:`fastgdml.train` does (energy-stratified indices,
permutations from the dataset or a symmetry search). The options say how to solve it: Cholesky or CG, the
memory budget, the CG tolerance and preconditioner, checkpoints. :func:`fastgdml.training.train_task` takes both.

Both are frozen dataclasses validated when they are built: an invalid task or option is an error at once,
with the message :func:`fastgdml.train` gives for the same argument.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..backend_choice import require_backend
from ..data.dataset import Dataset
from ..data.sampling import stratified_sample
from ..model import SIGMA_RANGE, Model
from ..symmetry.group import validate_perms
from ..symmetry.group_search import DEFAULT_MAX_PERMS, find_permutations

SOLVERS = ("auto", "cholesky", "cg")


def _check_labels_and_kernel(dataset, use_E: bool, use_E_cstr: bool, sigma: float, lam: float) -> None:
    """The checks of a task that need no sampling: dataset type, energy labels, sigma and lambda."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a fastgdml.Dataset, got {type(dataset).__name__}")
    if use_E_cstr and not use_E:
        raise ValueError("use_E_cstr=True needs use_E=True (energy constraints are energy labels)")
    if use_E and dataset.E is None:
        raise ValueError(f"{dataset.source or 'dataset'} has no energies ('E'); train with use_E=False")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be >= 0, got {lam}")
    if not SIGMA_RANGE[0] <= sigma <= SIGMA_RANGE[1]:
        raise ValueError(f"sigma = {sigma:g} is outside [{SIGMA_RANGE[0]:g}, {SIGMA_RANGE[1]:g}], where the kernel "
                         f"stays representable (useful values are ~1..1000)")


def _distinct_indices(idxs, M: int, name: str) -> np.ndarray:
    """``idxs`` as a 1-D int64 array of distinct indices in [0, M), or ValueError."""
    idxs = np.asarray(idxs, dtype=np.int64)
    if idxs.ndim != 1 or idxs.size == 0 or len(np.unique(idxs)) != idxs.size or idxs.min() < 0 or idxs.max() >= M:
        raise ValueError(f"{name} must be distinct indices in [0, {M})")
    return idxs


def _check_same_molecule(dataset: Dataset, vds: Dataset) -> None:
    if vds is not dataset and (vds.n_atoms != dataset.n_atoms or not np.array_equal(vds.z, dataset.z)):
        raise ValueError(f"valid_dataset {vds.source or vds.name} holds another molecule (atomic numbers differ from "
                         f"{dataset.source or dataset.name})")


@dataclass(frozen=True, eq=False)
class TrainingTask:
    """One training problem: (K + lam I) a = y on the training frames of a dataset.

    Build it directly from chosen indices, or with :meth:`sample` (what :func:`fastgdml.train` does). Arrays are
    stored as given after validation (indices as int64, permutations as the validated group).
    """

    dataset: Dataset
    """The training data (positions, atomic numbers, forces and, with ``use_E``, energies)."""
    idxs_train: np.ndarray
    """Indices of the training frames in ``dataset`` (distinct)."""
    sigma: float = 20.0
    """Kernel length scale in descriptor space (useful range about 10-100), within ``model.SIGMA_RANGE``."""
    lam: float = 1e-10
    """Ridge regulariser lambda added to the diagonal of K (>= 0)."""
    perms: Optional[np.ndarray] = None
    """Atom permutations (G, N) forming a group; None: the dataset's ``perms``, else the identity alone (a search
    for the group is :meth:`sample`'s job). Stored validated, identity first."""
    use_E: bool = True
    """Use the energies (integration constant, energy errors); needs ``dataset.E``."""
    use_E_cstr: bool = False
    """Energy constraints: energy rows and columns in K (needs ``use_E``)."""
    mask: Optional[np.ndarray] = None
    """Descriptor feature mask: kept pair indices, a union of permutation orbits (reduced models, rGDML)."""
    valid_dataset: Optional[Dataset] = None
    """Where the validation frames come from (same molecule); None: ``dataset``."""
    idxs_valid: Optional[np.ndarray] = None
    """Indices of the validation frames in the validation dataset (none: no validation); disjoint from the
    training frames when that is the training dataset."""

    def __post_init__(self):
        _check_labels_and_kernel(self.dataset, self.use_E, self.use_E_cstr, self.sigma, self.lam)
        ds, vds = self.dataset, self.validation_dataset
        idxs_train = _distinct_indices(self.idxs_train, len(ds), "idxs_train")
        _check_same_molecule(ds, vds)
        idxs_valid = np.zeros(0, dtype=np.int64)
        if self.idxs_valid is not None and np.size(self.idxs_valid):
            idxs_valid = _distinct_indices(self.idxs_valid, len(vds), "idxs_valid")
            if self.same_dataset and np.intersect1d(idxs_valid, idxs_train).size:
                raise ValueError("idxs_valid must not hold training frames (idxs_train) of the same dataset")
        perms = self.perms
        if perms is None:
            perms = ds.perms if ds.perms is not None else np.arange(ds.n_atoms)[None, :]
        object.__setattr__(self, "idxs_train", idxs_train)
        object.__setattr__(self, "idxs_valid", idxs_valid)
        object.__setattr__(self, "perms", validate_perms(perms, ds.n_atoms))

    @classmethod
    def sample(cls, dataset: Dataset, n_train: int, sigma: float = 20.0, lam: float = 1e-10, use_E: bool = True,
               use_E_cstr: bool = False, perms=None, seed: int = 0, n_valid: Optional[int] = None,
               idxs_train=None, mask=None, symmetries: str = "auto", max_perms: int = DEFAULT_MAX_PERMS,
               valid_dataset: Optional[Dataset] = None, verbose: bool = False) -> "TrainingTask":
        """The task :func:`fastgdml.train` solves for these arguments (see there for each one).

        Draws ``n_train`` energy-stratified training frames (unless ``idxs_train`` is given) and ``n_valid``
        validation frames (default: up to 1000) with one generator seeded by ``seed``; takes the permutations
        from ``perms``, the dataset's ``perms`` key, or (``symmetries="auto"``) a search on up to 1000 frames
        of the dataset (:func:`fastgdml.find_permutations` within ``max_perms``, reported on stderr with
        ``verbose``). When the budget leaves permutations out, a one-line note says how many and how to keep
        them: on stderr with ``verbose``, else as a RuntimeWarning.
        """
        _check_labels_and_kernel(dataset, use_E, use_E_cstr, sigma, lam)
        M, N = len(dataset), dataset.n_atoms
        rng = np.random.default_rng(seed)
        if idxs_train is None:
            if not 1 <= n_train <= M:
                raise ValueError(f"n_train must be between 1 and the {M} geometries of the dataset, got {n_train}")
            idxs_train = stratified_sample(dataset.E, n_train, rng, n_total=M)
        else:
            idxs_train = _distinct_indices(idxs_train, M, "idxs_train")
            if n_train != idxs_train.size:
                raise ValueError(f"n_train = {n_train} but {idxs_train.size} idxs_train were given")
        vds = dataset if valid_dataset is None else valid_dataset
        _check_same_molecule(dataset, vds)
        same = vds is dataset or vds.md5 == dataset.md5
        n_rest = len(vds) - (len(idxs_train) if same else 0)
        n_valid = min(n_rest, 1000) if n_valid is None else int(n_valid)
        if not 0 <= n_valid <= n_rest:
            raise ValueError(f"n_valid must be between 0 and the {n_rest} geometries available for validation")
        idxs_valid = stratified_sample(vds.E, n_valid, rng, n_total=len(vds), exclude=idxs_train if same else None)

        if symmetries not in ("auto", "none"):
            raise ValueError(f"symmetries must be 'auto' or 'none', got {symmetries!r}")
        if perms is None and symmetries == "none":
            perms = np.arange(N)[None, :]
        elif perms is None and dataset.perms is None:
            # Geometries only (no labels): up to 1000 frames of the whole dataset sharpen the local test (more
            # frames, closer nearest neighbours) beyond what a small training set allows.
            perms, search = find_permutations(dataset.R, dataset.z, lattice=dataset.lattice, max_frames=1000,
                                              max_size=max_perms, seed=seed, report=True, warn=False)
            if verbose:
                print("fastgdml: symmetry search: " + search.describe(), file=sys.stderr, flush=True)
            note = search.budget_note()
            if note is not None and verbose:
                print("fastgdml: " + note, file=sys.stderr, flush=True)
            elif note is not None:
                warnings.warn(note, RuntimeWarning, stacklevel=3)
        return cls(dataset, idxs_train, sigma=sigma, lam=lam, perms=perms, use_E=use_E, use_E_cstr=use_E_cstr,
                   mask=mask, valid_dataset=valid_dataset, idxs_valid=idxs_valid)

    @property
    def validation_dataset(self) -> Dataset:
        """The dataset the validation indices refer to (``valid_dataset``, else ``dataset``)."""
        return self.dataset if self.valid_dataset is None else self.valid_dataset

    @property
    def same_dataset(self) -> bool:
        """Whether validation frames come from the training dataset (the same object or the same md5)."""
        vds = self.validation_dataset
        return vds is self.dataset or vds.md5 == self.dataset.md5

    @property
    def n_train(self) -> int:
        """Number of training frames."""
        return int(self.idxs_train.size)

    @property
    def n_unknowns(self) -> int:
        """Size of the linear system: 3N force rows per training frame, plus one energy row each with
        ``use_E_cstr``."""
        return self.n_train * 3 * self.dataset.n_atoms + (self.n_train if self.use_E_cstr else 0)


@dataclass(frozen=True, eq=False)
class SolverOptions:
    """How a :class:`TrainingTask` is solved. The defaults are :func:`fastgdml.train`'s."""

    kind: str = "auto"
    """``"cholesky"`` (closed form, dense K), ``"cg"`` (preconditioned conjugate gradient, K v on the fly), or
    ``"auto"``: Cholesky when the dense matrix fits ``max_memory``, is estimated cheaper than CG and nothing is
    resumed, else CG."""
    tol: float = 1e-4
    """CG stopping tolerance on |r| / |y| (normalised labels), in (0, 1)."""
    max_memory: Optional[int] = None
    """Memory budget in bytes (dense K, or the CG preconditioner). None: 90% of the available memory for
    Cholesky, 50% for CG."""
    inducing: Optional[int] = None
    """Inducing columns of the CG's Nyström preconditioner (None: 4% of the unknowns, at least 1700, within the
    budget). On a stall CG restarts with 1.2x as many, at most twice, while the budget allows."""
    block_jacobi: bool = True
    """CG: add the diagonal 3N x 3N blocks of what the Nyström part misses to the preconditioner (default on: far
    fewer iterations at small sigma, a few more at large sigma; see :func:`fastgdml.train`)."""
    max_iterations: int = 0
    """CG iteration limit (0: the core's automatic limit)."""
    checkpoint: Optional[str] = None
    """CG: file to write the iterate to (atomically) every ``checkpoint_interval`` seconds and when the solve
    ends unconverged or interrupted; deleted after convergence."""
    checkpoint_interval: float = 300.0
    """Seconds between CG checkpoints."""
    resume: Optional[str] = None
    """CG: continue from this checkpoint (of the same task and tolerance)."""
    warm_start: Optional[Model] = None
    """CG: start from this model's coefficients, rescaled by the least-squares factor (a model of the same
    training indices, permutations, energy constraints and mask, e.g. at a neighbouring sigma or lambda)."""
    seed: int = 0
    """Seed of the CG preconditioner's column sampling."""
    verbose: bool = False
    """Report each stage with its size and time, and CG progress, on stderr."""
    backend: str = "cpu"
    """Compute backend of the kernel products and of the trained model (one of :func:`fastgdml.backends`)."""
    comm: object = "auto"
    """MPI: ``"auto"`` (MPI_COMM_WORLD when started by ``mpirun`` with several ranks), None (this process alone)
    or an mpi4py communicator. With several ranks the CG solve is row-sharded over them (:mod:`fastgdml.parallel`):
    every rank gets the same model, rank 0 writes the checkpoints and prints; ``max_memory`` is per rank; the
    closed form and warm starts are single-process."""

    def __post_init__(self):
        if self.kind not in SOLVERS:
            raise ValueError(f"solver must be 'auto', 'cholesky' or 'cg', got {self.kind!r}")
        if self.resume is not None and self.kind == "cholesky":
            raise ValueError("resume continues an iterative (CG) solve; use solver='cg' or 'auto'")
        if not (np.isfinite(self.tol) and 0 < self.tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {self.tol}")
        require_backend(self.backend)
