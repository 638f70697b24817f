"""Iterative solver pieces against dense formulas: kernel columns, Nyström preconditioner, leverage scores, CG."""
import numpy as np
import pytest

from fastgdml import _core

from conftest import TOY_PERMS, make_toy

SIG = 0.9


@pytest.fixture(scope="module")
def problem():
    R = make_toy(M=8, seed=31)[0]
    return R


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_kernel_columns_equal_assembled_columns(problem, use_E_cstr):
    op = _core.KernelOperator(problem, TOY_PERMS, SIG, use_energy=use_E_cstr)
    K = op.assemble()
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(op.size, size=25, replace=False))
    if use_E_cstr:
        cols = np.union1d(cols, [op.size - 1, op.size - 5])
    np.testing.assert_allclose(op.columns(cols), K[:, cols], rtol=0, atol=1e-12 * np.abs(K).max())
    rev = cols[::-1].copy()  # any order: column s is K[:, cols[s]] (the row shards of an MPI run ask that way)
    np.testing.assert_allclose(op.columns(rev), K[:, rev], rtol=0, atol=1e-12 * np.abs(K).max())
    with pytest.raises(ValueError, match="distinct"):
        op.columns(np.concatenate([cols, cols[:1]]))


def dense_nystrom(K, cols, lam):
    Knc = K[:, cols]
    Kt = Knc @ np.linalg.solve(K[np.ix_(cols, cols)], Knc.T)
    return Kt


@pytest.mark.parametrize("use_E_cstr", [False, True])
@pytest.mark.parametrize("always_qr", [False, True])
def test_preconditioner_and_leverage_scores_equal_dense_formulas(problem, use_E_cstr, always_qr):
    lam = 1e-6
    op = _core.KernelOperator(problem, TOY_PERMS, SIG, use_energy=use_E_cstr)
    K = op.assemble()
    cols = np.sort(np.random.default_rng(1).choice(op.size, size=30, replace=False))
    P = _core.NystromPreconditioner(op, lam, cols, single_precision=False, always_qr=always_qr)
    assert P.jitter == 0.0 and P.used_qr == always_qr
    Kt = dense_nystrom(K, cols, lam)
    dense_inv = np.linalg.inv(Kt + lam * np.eye(len(K)))
    v = np.random.default_rng(2).standard_normal(op.size)
    ref = dense_inv @ v
    assert np.abs(P.apply(v) - ref).max() <= 1e-7 * np.abs(ref).max()
    scores = np.diag(Kt @ np.linalg.inv(Kt + lam * np.eye(len(K))))
    np.testing.assert_allclose(P.leverage_scores(), scores, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_block_jacobi_preconditioner_equals_dense_formula(problem, use_E_cstr):
    lam = 1e-6
    op = _core.KernelOperator(problem, TOY_PERMS, SIG, use_energy=use_E_cstr)
    K = op.assemble()
    blocks, energy = op.diagonal_blocks()
    for i in range(len(problem)):
        np.testing.assert_allclose(blocks[i], K[15 * i:15 * (i + 1), 15 * i:15 * (i + 1)], rtol=1e-14, atol=1e-15)
    if use_E_cstr:
        np.testing.assert_allclose(energy, np.diag(K)[-len(problem):], rtol=1e-14)
    cols = np.sort(np.random.default_rng(1).choice(op.size, size=30, replace=False))
    P = _core.NystromPreconditioner(op, lam, cols, block_jacobi=True, single_precision=False)
    Kt = dense_nystrom(K, cols, lam)
    B = np.zeros_like(K)
    for i in range(len(problem)):
        s = slice(15 * i, 15 * (i + 1))
        B[s, s] = (K - Kt)[s, s]
    for e in range(15 * len(problem), op.size):
        B[e, e] = (K - Kt)[e, e]
    dense_inv = np.linalg.inv(Kt + B + lam * np.eye(len(K)))
    v = np.random.default_rng(2).standard_normal(op.size)
    ref = dense_inv @ v
    assert np.abs(P.apply(v) - ref).max() <= 1e-7 * np.abs(ref).max()


@pytest.mark.parametrize("block_jacobi", [False, True])
def test_single_precision_factor_is_the_exact_inverse_of_its_own_operator(problem, block_jacobi):
    # W is rounded to float before R is formed, so the apply inverts exactly the operator of the stored W:
    # lambda (I + W W^T) (plain), or L (I + W W^T) L^T with the block-Jacobi factor L (checked through v's
    # round trip: P^-1 (P v) = v is what CG needs, symmetric and positive definite).
    lam = 1e-6
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    cols = np.sort(np.random.default_rng(1).choice(op.size, size=30, replace=False))
    Pd = _core.NystromPreconditioner(op, lam, cols, block_jacobi=block_jacobi, single_precision=False)
    Pf = _core.NystromPreconditioner(op, lam, cols, block_jacobi=block_jacobi)
    Wd, Wf = Pd.W, Pf.W
    # W is stored in float (exactly float32 values), rounded from the double W (each build is its own BLAS
    # computation: the bound, not bitwise equality with a second build, is the property)
    np.testing.assert_array_equal(Wf, Wf.astype(np.float32).astype(np.float64))
    assert np.all(np.abs(Wf - Wd) <= 2.0 ** -24 * np.abs(Wd) * (1 + 1e-6))
    assert not np.array_equal(Wf, Wd)
    v = np.random.default_rng(2).standard_normal(op.size)
    if not block_jacobi:
        ref = np.linalg.solve(lam * (np.eye(op.size) + Wf @ Wf.T), v)
        assert np.abs(Pf.apply(v) - ref).max() <= 1e-8 * np.abs(ref).max()
    # symmetric positive definite: P^-1 as a dense matrix
    Pinv = np.stack([Pf.apply(e) for e in np.eye(op.size)])
    np.testing.assert_allclose(Pinv, Pinv.T, rtol=0, atol=1e-9 * np.abs(Pinv).max())
    assert np.linalg.eigvalsh(0.5 * (Pinv + Pinv.T)).min() > 0


def test_single_precision_preconditioner_keeps_its_quality(problem):
    # cond(P^-1 A) with W in float within 10% of the double-precision preconditioner's
    lam = 1e-8
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    A = op.assemble() + lam * np.eye(op.size)
    cols = np.sort(np.random.default_rng(1).choice(op.size, size=40, replace=False))
    conds = []
    for single in (False, True):
        P = _core.NystromPreconditioner(op, lam, cols, single_precision=single)
        Pinv = np.stack([P.apply(e) for e in np.eye(op.size)])
        ev = np.linalg.eigvals(Pinv @ A).real
        conds.append(ev.max() / ev.min())
    assert conds[1] <= 1.1 * conds[0], conds


def test_singular_inducing_block_gets_jitter_with_a_message(problem):
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    messages = []
    P = _core.NystromPreconditioner(op, 1e-8, np.arange(15), log=messages.append)  # all 3N columns of one point
    assert P.jitter > 0 and any("jitter" in m for m in messages)  # J has a 6-dim null space: K_jj is singular
    v = np.random.default_rng(3).standard_normal(op.size)
    assert np.all(np.isfinite(P.apply(v)))


def iterative(op, y, lam, tol, inducing, **kw):
    o = _core.IterativeOptions()
    o.lam, o.tol, o.inducing = lam, tol, inducing
    for k, v in kw.items():
        setattr(o, k, v)
    return _core.solve_iterative(op, y, np.zeros_like(y), o)


@pytest.mark.parametrize("use_E_cstr", [False, True])
@pytest.mark.parametrize("inducing, block_jacobi", [(0, False), (40, False), (40, True)])
def test_cg_solution_equals_direct_solution(problem, use_E_cstr, inducing, block_jacobi):
    # tol 1e-10 must lie above CG's attainable accuracy, about eps * cond(K + lam I) = 1e-16 * 100 / lam
    lam = 1e-3
    op = _core.KernelOperator(problem, TOY_PERMS, SIG, use_energy=use_E_cstr)
    K = op.assemble() + lam * np.eye(op.size)
    y = np.random.default_rng(4).standard_normal(op.size)
    x, info = iterative(op, y, lam, 1e-10, inducing, max_iterations=20000, stall_window=5000,
                        block_jacobi=block_jacobi)
    assert info["converged"], info
    assert info["relative_residual"] <= 1e-10
    ref = np.linalg.solve(K, y)
    assert np.abs(K @ x - y).max() <= 1e-9 * np.abs(y).max()
    assert np.abs(x - ref).max() <= 1e-4 * np.abs(ref).max()


def test_preconditioner_cuts_iterations(problem):
    lam = 1e-6
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    y = np.random.default_rng(5).standard_normal(op.size)
    _, plain = iterative(op, y, lam, 1e-8, 0, max_iterations=50000, stall_window=50000)
    _, pre = iterative(op, y, lam, 1e-8, 60, max_iterations=50000, stall_window=50000)
    assert plain["converged"] and pre["converged"]
    assert pre["iterations"] < plain["iterations"] / 2


def test_non_convergence_is_reported(problem):
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    y = np.random.default_rng(6).standard_normal(op.size)
    x, info = iterative(op, y, 1e-10, 1e-14, 5, max_iterations=30)
    assert not info["converged"] and info["status"] == "maximum number of iterations reached"
    assert info["iterations"] == 30 and info["relative_residual"] > 1e-14
    K = op.assemble() + 1e-10 * np.eye(op.size)
    assert info["relative_residual"] == pytest.approx(np.linalg.norm(y - K @ x) / np.linalg.norm(y), rel=1e-6)


def test_monitor_sees_iterations_and_can_stop(problem):
    op = _core.KernelOperator(problem, TOY_PERMS, SIG)
    y = np.random.default_rng(7).standard_normal(op.size)
    seen = []

    def monitor(it, rel, x):
        seen.append((it, rel, x.copy()))
        return it < 5

    o = _core.IterativeOptions()
    o.lam, o.tol, o.inducing = 1e-8, 1e-12, 10
    x, info = _core.solve_iterative(op, y, np.zeros_like(y), o, monitor)
    assert info["status"] == "interrupted" and [s[0] for s in seen] == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(seen[-1][2], x)
