"""The C++ kernel matrix and kernel-vector product against the dense oracle and finite differences."""
import numpy as np
import pytest

from fastgdml import _core

import oracle
from conftest import TOY_PERMS, make_toy

RTOL_K = 1e-10  # dense assembly vs oracle, relative to max |K|


@pytest.fixture(scope="module")
def geometries():
    return make_toy(M=6, seed=3)[0]


@pytest.mark.parametrize("use_E_cstr", [False, True])
@pytest.mark.parametrize("perms", [TOY_PERMS, TOY_PERMS[:1]], ids=["sym6", "identity"])
def test_assembled_kernel_matches_oracle(geometries, perms, use_E_cstr):
    sig = 0.7
    K_ref = oracle.kernel_matrix(geometries, perms, sig, use_E_cstr)
    op = _core.KernelOperator(geometries, perms, sig, use_energy=use_E_cstr)
    K = op.assemble()
    scale = np.abs(K_ref).max()
    assert np.abs(K - K_ref).max() <= RTOL_K * scale
    # assemble() computes the lower triangle and mirrors it (K == K.T by construction): the symmetry of the
    # kernel is checked on columns(), which computes the entries of both triangles
    C = op.columns(np.arange(op.size))
    assert np.abs(C - C.T).max() <= 1e-12 * scale
    assert np.linalg.eigvalsh(K).min() > -1e-10 * scale  # PSD


@pytest.mark.parametrize("use_E_cstr", [False, True])
@pytest.mark.parametrize("cache_bytes", [0, 1 << 30], ids=["recompute", "cached"])
def test_matvec_matches_oracle(geometries, use_E_cstr, cache_bytes):
    sig = 0.7
    K_ref = oracle.kernel_matrix(geometries, TOY_PERMS, sig, use_E_cstr)
    op = _core.KernelOperator(geometries, TOY_PERMS, sig, use_energy=use_E_cstr, cache_bytes=cache_bytes)
    assert (op.cache_bytes > 0) == (cache_bytes > 0)
    assert op.backend == "cpu"
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(op.size)
        ref = K_ref @ v
        assert np.abs(op.matvec(v) - ref).max() <= 1e-10 * np.abs(ref).max()


def test_kernel_blocks_are_second_derivatives_of_symmetrised_kernel(geometries):
    """K_FF[i,j] = d^2 k_sym / dR_i dR_j and the energy blocks = first derivatives (FORMATS.md §4.3)."""
    sig = 0.7
    Ri, Rj = geometries[0], geometries[1]
    Ps = [oracle.perm_matrix(p) for p in TOY_PERMS]

    def ksym(A, B):
        xa, xb = oracle.descriptor_dense(A)[0], oracle.descriptor_dense(B)[0]
        return sum(oracle.matern(xa, P @ xb, sig)[0] for P in Ps)

    K = _core.KernelOperator(np.stack([Ri, Rj]), TOY_PERMS, sig, use_energy=True).assemble()
    h = 1e-4
    dim = 15
    block = K[0:dim, dim:2 * dim]
    for a in range(0, dim, 4):
        for b in range(0, dim, 3):
            ea, eb = np.zeros(dim), np.zeros(dim)
            ea[a], eb[b] = h, h
            fd = (ksym(Ri + ea.reshape(5, 3), Rj + eb.reshape(5, 3)) - ksym(Ri + ea.reshape(5, 3), Rj - eb.reshape(5, 3))
                  - ksym(Ri - ea.reshape(5, 3), Rj + eb.reshape(5, 3)) + ksym(Ri - ea.reshape(5, 3), Rj - eb.reshape(5, 3))) / (4 * h * h)
            assert abs(block[a, b] - fd) <= 1e-5 * np.abs(block).max()
    # Cov(-E_0, F_1) = d k_sym(R_0, R_1) / dR_1
    for b in range(dim):
        eb = np.zeros(dim)
        eb[b] = h
        fd = (ksym(Ri, Rj + eb.reshape(5, 3)) - ksym(Ri, Rj - eb.reshape(5, 3))) / (2 * h)
        assert abs(K[2 * dim, dim + b] - fd) <= 1e-6 * max(1.0, np.abs(K[2 * dim, dim:2 * dim]).max())
    assert abs(K[2 * dim, 2 * dim + 1] - ksym(Ri, Rj)) <= 1e-12 * len(TOY_PERMS)


def test_jacobian_rows_and_descriptors(geometries):
    op = _core.KernelOperator(geometries, TOY_PERMS, 1.0)
    a = np.random.default_rng(1).standard_normal((len(geometries), 15))
    rows = op.jacobian_rows(a)
    for j, R in enumerate(geometries):
        x, J = oracle.descriptor_dense(R)
        np.testing.assert_allclose(op.X[j], x, rtol=1e-14)
        np.testing.assert_allclose(rows[j], J @ a[j], rtol=1e-12, atol=1e-12)


def test_operator_input_errors(geometries):
    with pytest.raises(ValueError, match="sigma"):
        _core.KernelOperator(geometries, TOY_PERMS, -1.0)
    with pytest.raises(ValueError, match="perms must have shape"):
        _core.KernelOperator(geometries, TOY_PERMS[:, :4], 1.0)
    op = _core.KernelOperator(geometries, TOY_PERMS, 1.0)
    with pytest.raises(ValueError, match="v must have shape"):
        op.matvec(np.zeros(3))
