"""The core's BLAS: products large enough to run multi-threaded on the shared OpenMP team, also from several
Python threads at once (OpenBLAS's jobs run through the core's threads callback)."""
import threading

import numpy as np

from fastgdml import _core


def test_threaded_gemm_is_correct():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((700, 300)), rng.standard_normal((500, 300))
    np.testing.assert_allclose(_core.gemm_abt(A, B), A @ B.T, rtol=1e-12, atol=1e-11)


def test_concurrent_gemm_from_python_threads():
    rng = np.random.default_rng(1)
    mats = [(rng.standard_normal((400, 200)), rng.standard_normal((300, 200))) for _ in range(4)]
    out = [None] * 4

    def work(i):
        A, B = mats[i]
        out[i] = [_core.gemm_abt(A, B) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # a deadlock fails the test instead of hanging the suite
    assert not any(t.is_alive() for t in threads), "threads did not finish within 120 s"
    for (A, B), results in zip(mats, out):
        for C in results:
            np.testing.assert_allclose(C, A @ B.T, rtol=1e-12, atol=1e-11)


def test_thread_settings():
    n = _core.get_num_threads()
    _core.set_num_threads(1)
    try:
        assert _core.get_num_threads() == 1
        rng = np.random.default_rng(2)
        A = rng.standard_normal((300, 100))
        np.testing.assert_allclose(_core.gemm_abt(A, A), A @ A.T, rtol=1e-12, atol=1e-11)
    finally:
        _core.set_num_threads(n)
