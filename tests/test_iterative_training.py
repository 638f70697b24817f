"""The core's iterative-training entry (solver/iterative_training.hpp, ``_core.train_iterative``): the memory plan,
the checkpoint state (what is written, when, and how a resume continues) and the stop request, without files.

Python, the C ABI and the C++ benchmarks all train through this one entry; the file format and the signals are
the caller's (``write_checkpoint``, ``stop_requested``).
"""
import numpy as np
import pytest

from fastgdml import _core

from conftest import TOY_PERMS, make_toy

LAM, TOL = 1e-4, 1e-9


@pytest.fixture(scope="module")
def problem():
    R, _, F = make_toy(M=30, seed=2)
    op = _core.KernelOperator(R, TOY_PERMS, 1.2, use_energy=False)
    y = np.ascontiguousarray(F.reshape(-1)) / np.std(F)
    exact = np.linalg.solve(op.assemble() + LAM * np.eye(op.size), y)
    return op, y, exact


def options(inducing=12):
    o = _core.IterativeOptions()
    o.lam, o.tol, o.inducing, o.max_inducing, o.seed = LAM, TOL, inducing, 2 * inducing, 5
    return o


def relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_it_solves_the_system(problem):
    op, y, exact = problem
    x, info = _core.train_iterative(op, y, np.zeros(op.size), options())
    assert info["converged"] and not info["stopped"] and info["checkpoints_written"] == 0
    # tol 1e-9 on the residual of a system with condition number ~1e5: the error is far below 1e-3
    assert relative(x, exact) < 1e-3
    assert len(info["columns"]) >= 12


def test_a_stop_request_writes_the_state_and_a_resume_reaches_the_same_solution(problem):
    op, y, _ = problem
    reference, ref_info = _core.train_iterative(op, y, np.zeros(op.size), options())
    stop_at = max(2, ref_info["iterations"] // 2)
    seen, saved = [], []
    x, info = _core.train_iterative(
        op, y, np.zeros(op.size), options(), checkpoint_interval=1e9,
        write_checkpoint=lambda x, it, cols: saved.append((np.array(x), it, np.array(cols))),
        stop_requested=lambda: bool(seen) and seen[-1] >= stop_at,
        progress=lambda it, rel: seen.append(it))
    assert info["stopped"] and not info["converged"] and info["iterations"] == stop_at
    assert info["checkpoints_written"] == 1 and len(saved) == 1  # only the final one (interval 1e9 s)
    ck_x, ck_it, ck_cols = saved[0]
    assert ck_it == stop_at and np.array_equal(ck_x, x) and np.array_equal(ck_cols, info["columns"])
    # The resume starts from the checkpoint (not x0), counts on from its iterations and uses its columns.
    resumed, r_info = _core.train_iterative(op, y, np.full(op.size, np.nan), options(), resume=(ck_x, ck_it, ck_cols))
    assert r_info["converged"] and r_info["iterations"] > stop_at
    assert np.array_equal(r_info["columns"], ck_cols)
    assert relative(resumed, reference) < 1e-6


def test_checkpoints_at_the_interval_hold_the_iterate_of_their_iteration(problem):
    op, y, _ = problem
    saved = []
    x, info = _core.train_iterative(op, y, np.zeros(op.size), options(), checkpoint_interval=0.0,
                                    write_checkpoint=lambda x, it, cols: saved.append((np.array(x), it)))
    assert info["converged"] and len(saved) == info["iterations"] == info["checkpoints_written"]
    assert [it for _, it in saved] == list(range(1, info["iterations"] + 1))
    # each saved iterate is that iteration's: its residual matches the one CG reported next to it
    A = op.assemble() + LAM * np.eye(op.size)
    residuals = [np.linalg.norm(y - A @ s) / np.linalg.norm(y) for s, _ in saved]
    assert residuals[-1] <= TOL * 1.01 and residuals[0] > 100 * residuals[-1]


def test_an_unconverged_solve_leaves_a_checkpoint(problem):
    op, y, _ = problem
    o = options(inducing=0)  # plain CG, capped: cannot converge in 5 iterations
    o.max_iterations = 5
    saved = []
    x, info = _core.train_iterative(op, y, np.zeros(op.size), o, write_checkpoint=lambda *a: saved.append(a))
    assert not info["converged"] and not info["stopped"] and len(saved) == 1 and saved[0][1] == 5


def test_the_budget_plans_the_columns(problem):
    op, y, _ = problem
    n, N = 30, 5
    budget = 64 << 20
    want = _core.plan_iterative(n, N, len(TOY_PERMS), False, budget, 40, False)
    x, info = _core.train_iterative(op, y, np.zeros(op.size), options(), budget=budget, inducing_request=40)
    assert info["inducing"] == want["inducing"] == 40 and info["max_inducing"] == want["max_inducing"]
    with pytest.raises(ValueError, match="inducing"):
        _core.train_iterative(op, y, np.zeros(op.size), options(), budget=1 << 16, inducing_request=400)


@pytest.mark.parametrize("resume, match", [
    ((np.zeros(7), 3, np.array([1, 2])), "7 entries"),
    ((None, -1, np.array([], dtype=np.int64)), "iteration"),
    ((None, 0, np.array([5, 5])), "strictly increasing"),
    ((None, 0, np.array([10 ** 6])), "strictly increasing"),
])
def test_a_checkpoint_of_another_task_is_refused(problem, resume, match):
    op, y, _ = problem
    x, it, cols = resume
    x = np.zeros(op.size) if x is None else x
    with pytest.raises(ValueError, match=match):
        _core.train_iterative(op, y, np.zeros(op.size), options(), resume=(x, it, cols.astype(np.int64)))


def test_block_jacobi_resume_with_only_the_checkpoint_columns(problem):
    """A resume may give the columns without an inducing count (budget 0, inducing 0): the block-Jacobi
    correction still gets K's diagonal blocks (it used to be built from none and read out of bounds)."""
    op, y, exact = problem
    o = options(inducing=0)
    o.block_jacobi = True
    cols = np.arange(0, op.size, 37, dtype=np.int64)
    x, info = _core.train_iterative(op, y, np.zeros(op.size), o, resume=(np.zeros(op.size), 0, cols))
    assert info["converged"] and np.array_equal(info["columns"], cols)
    assert relative(x, exact) < 1e-3


def test_a_preconditioner_keeps_its_operator_alive():
    """The Python NystromPreconditioner computes on its operator's backend: dropping every other reference to
    the operator must not free it (keep_alive)."""
    import gc

    R = make_toy(M=8, seed=3)[0]
    cols = np.arange(0, 120, 7, dtype=np.int64)
    kept = _core.KernelOperator(R, TOY_PERMS, 1.2)
    v = np.random.default_rng(1).standard_normal(kept.size)
    want = _core.NystromPreconditioner(kept, 1e-4, cols).apply(v)
    P = _core.NystromPreconditioner(_core.KernelOperator(R, TOY_PERMS, 1.2), 1e-4, cols)
    gc.collect()
    junk = [np.full(kept.size, 7.0) for _ in range(50)]  # reuse freed memory if it were freed
    np.testing.assert_allclose(P.apply(v), want, rtol=1e-13)
    del junk
