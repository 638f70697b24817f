"""Training with the iterative solver: agreement with Cholesky, checkpoints and resume, non-convergence."""
import numpy as np
import pytest

import fastgdml

from conftest import TOY_PERMS, make_toy


@pytest.mark.parametrize("use_E_cstr", [False, True])
@pytest.mark.parametrize("perms", [TOY_PERMS, None], ids=["sym6", "identity"])
def test_cg_model_predicts_like_cholesky_model(toy, use_E_cstr, perms):
    kw = dict(lam=1e-3, use_E_cstr=use_E_cstr, perms=perms, idxs_train=np.arange(12), n_valid=0)
    ref = fastgdml.train(toy, 12, 1.2, solver="cholesky", **kw)
    cg = fastgdml.train(toy, 12, 1.2, solver="cg", tol=1e-10, inducing=80, **kw)
    assert cg.converged and str(cg.arrays["solver_name"]) == "cg"
    assert cg.arrays["solver_resid"] <= 1e-10 * cg.arrays["norm_y_train"]
    R = make_toy(M=5, seed=40)[0]
    E_ref, F_ref = ref.predict(R)
    E, F = cg.predict(R)
    assert np.abs(F - F_ref).max() <= 1e-6 * np.abs(F_ref).max()
    assert np.abs(E - E_ref).max() <= 1e-6 * np.abs(E_ref).max()


def test_auto_solver_picks_by_memory(toy):
    small = fastgdml.train(toy, 10, 1.2, lam=1e-3, n_valid=0)
    assert str(small.arrays["solver_name"]) == "analytic"
    big = fastgdml.train(toy, 10, 1.2, lam=1e-3, n_valid=0, max_memory=100_000, tol=1e-8)
    assert str(big.arrays["solver_name"]) == "cg" and big.converged


def test_resume_after_interruption_gives_the_same_model(toy, tmp_path, monkeypatch):
    kw = dict(lam=1e-4, perms=TOY_PERMS, idxs_train=np.arange(15), n_valid=0, solver="cg", tol=1e-9, inducing=40)
    full = fastgdml.train(toy, 15, 1.2, **kw)
    ck = tmp_path / "run.ckpt.npz"
    # interrupt after 6 iterations, with a checkpoint written every iteration
    from fastgdml.training import cg

    original = cg._Progress.update

    def interrupt(self, it, rel):
        original(self, it, rel)
        if it == 6:
            raise KeyboardInterrupt

    monkeypatch.setattr(cg._Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fastgdml.train(toy, 15, 1.2, checkpoint=str(ck), checkpoint_interval=0.0, **kw)
    monkeypatch.setattr(cg._Progress, "update", original)
    saved = np.load(ck)
    assert int(saved["iterations"]) == 5  # the checkpoint of the last completed callback
    resumed = fastgdml.train(toy, 15, 1.2, checkpoint=str(ck), resume=str(ck), **kw)
    assert resumed.converged and not ck.exists()  # removed once converged
    assert int(resumed.arrays["solver_iters"]) > 5
    R = make_toy(M=4, seed=41)[0]
    np.testing.assert_allclose(resumed.predict(R)[1], full.predict(R)[1], rtol=0,
                               atol=1e-6 * np.abs(full.predict(R)[1]).max())
    # a checkpoint of another task is refused
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fastgdml.train(toy, 15, 1.2, checkpoint=str(ck), checkpoint_interval=0.0, max_iterations=3, validate=False,
                       **{**kw, "tol": 1e-14, "use_E": False})
    with pytest.raises(ValueError, match="another training task"):
        fastgdml.train(toy, 15, 1.5, resume=str(ck), **{**kw, "tol": 1e-14})


def test_non_convergence_is_reported_and_stored(toy, tmp_path):
    with pytest.warns(RuntimeWarning, match="did not converge"):
        model = fastgdml.train(toy, 15, 1.2, lam=1e-10, perms=TOY_PERMS, n_valid=0, solver="cg", tol=1e-14,
                               inducing=5, max_iterations=10, use_E=False)
    assert not model.converged
    path = tmp_path / "m.npz"
    model.save(path)
    back = fastgdml.Model.load(path)
    assert not back.converged and int(back.arrays["solver_iters"]) == 10
    assert back.arrays["solver_resid"] > 1e-14 * back.arrays["norm_y_train"]


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_warm_start_reaches_the_same_model(toy, use_E_cstr):
    kw = dict(lam=1e-4, use_E_cstr=use_E_cstr, perms=TOY_PERMS, idxs_train=np.arange(15), n_valid=0, solver="cg",
              inducing=40)
    cold = fastgdml.train(toy, 15, 1.2, tol=1e-9, **kw)
    near = fastgdml.train(toy, 15, 1.2, tol=1e-3, **kw)  # same sigma, loose tolerance: a start close to x
    warm = fastgdml.train(toy, 15, 1.2, tol=1e-9, warm_start=near, **kw)
    # Iteration counts are not compared: they depend on BLAS rounding and threads (and on this tiny problem CG's
    # last stage dominates either way); the saving on real data is measured in bench/search.py.
    assert warm.converged
    R = make_toy(M=4, seed=41)[0]
    np.testing.assert_allclose(warm.predict(R)[1], cold.predict(R)[1], atol=1e-6 * np.abs(cold.predict(R)[1]).max())
    other = fastgdml.train(toy, 15, 2.0, tol=1e-9, warm_start=cold, **kw)  # another sigma: still the right answer
    ref = fastgdml.train(toy, 15, 2.0, tol=1e-9, **kw)
    np.testing.assert_allclose(other.predict(R)[1], ref.predict(R)[1], atol=1e-6 * np.abs(ref.predict(R)[1]).max())
    with pytest.raises(ValueError, match="another task"):
        fastgdml.train(toy, 15, 1.2, tol=1e-9, warm_start=cold, **{**kw, "idxs_train": np.arange(1, 16)})


def test_scaled_start_minimises_the_residual(toy):
    from fastgdml import _core
    from fastgdml.iterative import scaled_start

    R, y = toy.R[:10], toy.F[:10].ravel() / toy.F[:10].std()
    op = _core.KernelOperator(R, TOY_PERMS, 1.2, use_energy=False, mask=None, lattice=None, cache_bytes=0)
    guess = np.random.default_rng(0).standard_normal(y.size)
    x, rel = scaled_start(op, y, 1e-4, guess)
    A = lambda v: op.matvec(v) + 1e-4 * v  # noqa: E731
    # (rel < 1 whenever rel is not None, by construction: not asserted.) A random guess is nearly useless but
    # not orthogonal to y, so a scaled copy of it is used; it is the best multiple and rel is its true residual.
    assert rel is not None
    c = x[0] / guess[0]
    np.testing.assert_allclose(x, c * guess, rtol=1e-12)
    best = min(np.linalg.norm(y - s * A(guess)) for s in np.linspace(-2, 2, 401) * c)
    assert np.linalg.norm(y - A(x)) <= best * (1 + 1e-9)
    assert rel == pytest.approx(np.linalg.norm(y - A(x)) / np.linalg.norm(y), rel=1e-9)
    x, rel = scaled_start(op, y, 1e-4, np.zeros_like(y))  # useless guess: zero start
    assert rel is None and not x.any()
    with pytest.raises(ValueError, match="shape"):
        scaled_start(op, y, 1e-4, guess[:-1])
