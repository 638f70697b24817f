"""The core's memory model of training (solver/memory_plan.hpp): budgets become plans that fit them."""
import numpy as np
import pytest

from fastgdml import _core
from fastgdml.training import cg

from conftest import TOY_PERMS, make_toy


@pytest.mark.parametrize("n, N, G, use_E, budget_gib", [(1000, 21, 6, False, 3), (200, 21, 6, True, 1),
                                                        (2000, 42, 1, False, 8), (50, 5, 6, False, 0.01)])
def test_plan_fits_the_budget_and_follows_the_default(n, N, G, use_E, budget_gib):
    budget = int(budget_gib * 2**30)
    plan = cg.plan(n, N, G, use_E, budget, None, False)
    M = n * 3 * N + (n if use_E else 0)
    cache = 8 * n * n * G * (3 if use_E else 2)
    assert plan["cache_bytes"] == (cache if cache <= budget // 4 else 0)
    assert plan["inducing"] == min(plan["max_columns"], max(1700, int(0.04 * M)))
    assert plan["inducing"] <= plan["max_inducing"] <= plan["max_columns"] <= M
    assert plan["fixed_bytes"] + plan["max_columns"] * plan["bytes_per_column"] <= budget
    assert plan["bytes_per_column"] == pytest.approx(8 * 1.15 * M)


def test_requested_columns_that_do_not_fit_are_a_memory_error():
    with pytest.raises(MemoryError, match=r"100000 inducing columns need .* GiB but the memory budget leaves room"):
        cg.plan(1000, 21, 6, False, 2**28, 100000, False)
    assert cg.plan(1000, 21, 6, False, 2**30, 50, False)["inducing"] == 50


def test_block_jacobi_blocks_are_budgeted():
    plain = cg.plan(400, 21, 6, False, 2**30, None, False)
    blocks = cg.plan(400, 21, 6, False, 2**30, None, True)
    assert blocks["fixed_bytes"] - plain["fixed_bytes"] == 2 * 8 * 400 * 63 * 63


def test_kernel_operator_admits_the_cache_the_plan_counts():
    R = make_toy(M=12)[0]
    need = 8 * 12 * 12 * len(TOY_PERMS) * 2
    # admitted at exactly the weights' size (it also keeps the training norms: a few bytes more)
    assert need <= _core.KernelOperator(R, TOY_PERMS, 1.0, cache_bytes=need).cache_bytes < need + 8 * 12 * 2
    assert _core.KernelOperator(R, TOY_PERMS, 1.0, cache_bytes=need - 1).cache_bytes == 0
    assert _core.closed_form_bytes(12, 5, len(TOY_PERMS), True) == 8 * (12 * 15 + 12) ** 2


def test_the_core_chooses_the_solver_from_the_dense_size():
    need = _core.closed_form_bytes(20, 5, 6, True)  # (20 * 15 + 20)^2 doubles
    assert need == 8 * 320 ** 2
    assert _core.choose_solver(20, 5, 6, True, "auto", need) == "cholesky"
    assert _core.choose_solver(20, 5, 6, True, "auto", need - 1) == "cg"
    assert _core.choose_solver(20, 5, 6, True, "auto", need, resuming=True) == "cg"
    assert _core.choose_solver(20, 5, 6, True, "cg", 10 * need) == "cg"
    with pytest.raises(ValueError, match=r"needs 0\.0 GiB for the 320 x 320 kernel matrix .*solver='cg'"):
        _core.choose_solver(20, 5, 6, True, "cholesky", need - 1)
    with pytest.raises(ValueError, match="resume continues an iterative"):
        _core.choose_solver(20, 5, 6, True, "cholesky", need, resuming=True)
    with pytest.raises(ValueError, match="solver must be"):
        _core.choose_solver(20, 5, 6, True, "lu", need)


def test_auto_takes_cg_where_the_dense_solve_costs_more():
    # aspirin's shape (21 atoms, 6 permutations) with memory to spare: Cholesky measured faster at n_train 50
    # (0.45 s vs 1.0 s), about equal at 100 (3.0 vs 2.6 s), slower at 200 (20 vs 11 s)
    budget = 1 << 40
    assert [_core.choose_solver(n, 21, 6, False, "auto", budget) for n in (20, 50, 100, 200, 1000)] == \
        ["cholesky", "cholesky", "cholesky", "cg", "cg"]
    # an explicit Cholesky is kept wherever it fits
    assert _core.choose_solver(200, 21, 6, False, "cholesky", budget) == "cholesky"
    # more permutations make the assembly dearer: G = 81 on 42 atoms switches earlier than G = 1
    switch = {G: next(n for n in range(10, 400, 5) if _core.choose_solver(n, 42, G, False, "auto", budget) == "cg")
              for G in (1, 81)}
    assert switch[81] < switch[1], switch
