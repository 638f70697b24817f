// The whole CUDA backend (cuda/cuda_backend.cu, cuda_compute.cu, cuda_feature_scores.cu and their kernels) run on
// the CPU through the emulation (cuda/emulation: kernels as std::threads, Device on host memory with cuBLAS and
// cuSOLVER written out from their definitions), against the CPU backend:
//   - every Backend operation: descriptors (with a cell), K v, kernel columns, diagonal blocks, assembled K,
//     training descriptors, Jacobian rows, prediction with the strain derivative and the close-contact refusal,
//     feature scores;
//   - every VectorSpace and DenseAlgebra operation, in each transpose/triangle combination the solvers use, and the
//     tall factor in double and in float storage;
//   - a whole iterative training (Nyström-preconditioned CG through solver::train_iterative) against the CPU's.
// What it cannot check is the real cuBLAS/cuSOLVER behind Device (device_cuda.cu): built with
// FASTGDML_TEST_REAL_CUDA (target test_cuda_backend_gpu) the same checks run on the real backend on a GPU
// (bench/gpu_check.sh), as do the Python GPU tests (pytest -m gpu).
// Tolerances are relative to the largest entry of the CPU result, named per check.
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "checks.hpp"
#ifndef FASTGDML_TEST_REAL_CUDA
#include "cuda_backend.hpp"
#endif
#include "fastgdml/backend.hpp"
#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/solver/iterative_training.hpp"

namespace {

using namespace fastgdml;

using testing::check;
using testing::check_close;
using testing::format_e;

std::vector<double> random_vector(std::int64_t n, std::uint64_t seed, double mean = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

std::vector<double> geometries(std::int64_t M, int N, std::uint64_t seed) {
  return testing::chain_geometries(M, N, seed, 1.3, 0.9, 2, 0.12);
}

// A device buffer of the backend's with host data, and back.
struct Staged {
  const VectorSpace& vs;
  Buffer buffer;
  std::int64_t n;
  Staged(const VectorSpace& v, const std::vector<double>& host)
      : vs(v), buffer(v.allocate(host.size())), n(host.size()) {
    vs.from_host(n, host.data(), buffer.get());
  }
  Staged(const VectorSpace& v, std::int64_t size) : vs(v), buffer(v.allocate(size)), n(size) {}
  std::vector<double> host() const {
    std::vector<double> h(n);
    vs.to_host(n, buffer.get(), h.data());
    return h;
  }
  double* get() { return buffer.get(); }
};

// Runs f(backend) -> host vector on both backends and compares.
template <class F>
void compare(const Backend& cpu, const Backend& gpu, double rtol, const std::string& what, F f) {
  check_close(f(gpu), f(cpu), rtol, what);
}

struct Case {
  std::string name;
  int N;
  std::vector<std::int64_t> mask;
  std::vector<std::int64_t> perms;
  std::int64_t n;
  bool energy;
  bool cell;
};

void test_operations(const Backend& cpu, const Backend& gpu, const Case& cs) {
  const DescriptorLayout layout(cs.N, cs.mask);
  Lattice lattice;
  if (cs.cell) {
    const double L[9] = {9.0, 0.0, 0.0, 0.4, 8.5, 0.0, 0.0, 0.3, 10.0};
    lattice = Lattice::from_matrix(L);
  }
  const std::int64_t n = cs.n, D = layout.size(), N = cs.N;
  const std::vector<double> R = geometries(n, cs.N, 11), Rq = geometries(4, cs.N, 12);
  const std::string tag = cs.name + ": ";

  compare(cpu, gpu, 1e-14, tag + "descriptors and Jacobians", [&](const Backend& b) {
    std::vector<double> X(4 * D), g(4 * D * 3);
    b.descriptors(layout, lattice, 4, Rq.data(), X.data(), g.data());
    X.insert(X.end(), g.begin(), g.end());
    return X;
  });

  TrainingSetup setup;
  setup.layout = layout;
  setup.lattice = lattice;
  setup.n = n;
  setup.R = R.data();
  setup.perms = cs.perms;
  setup.sigma = 1.7;
  setup.use_energy = cs.energy;
  const auto tc = cpu.prepare_training(setup);
  const auto tg = gpu.prepare_training(setup);
  const std::int64_t M = tc->size();
  check(tg->size() == M && tg->n_permutations() == tc->n_permutations() && tg->backend() == "cuda",
        tag + "training state: size " + std::to_string(M) + ", G " + std::to_string(tg->n_permutations()));
  const auto state = [&](const Backend& b) -> const TrainingState& { return &b == &cpu ? *tc : *tg; };

  const std::vector<double> v = random_vector(M, 3);
  compare(cpu, gpu, 1e-12, tag + "K v", [&](const Backend& b) {
    Staged in(b.vectors(), v), out(b.vectors(), M);
    b.kernel_matvec(state(b), in.get(), out.get());
    b.kernel_matvec(state(b), in.get(), out.get());  // twice: the workspaces are reused
    return out.host();
  });
  std::vector<std::int64_t> cols = {0, 2, 3 * N + 1, 3 * N * (n - 1) + 3 * N - 1};
  if (cs.energy) cols.insert(cols.end(), {n * 3 * N, n * 3 * N + n - 1});

  // A row shard (MPI): the points [1, n - 1) on the CUDA backend against those rows of the CPU's unsharded results
  // (their force rows, then their energy rows), for K v, columns in a scrambled order, and the diagonal blocks.
  {
    TrainingSetup shard = setup;
    shard.first_point = 1;
    shard.local_points = n - 2;
    const auto ts = gpu.prepare_training(shard);
    const std::int64_t dim = 3 * N, L = ts->local_size();
    check(ts->sharded() && L == (n - 2) * (dim + (cs.energy ? 1 : 0)), tag + "shard: local rows " + std::to_string(L));
    const auto rows_of = [&](const std::vector<double>& full, std::int64_t width) {  // the shard's rows of a matrix
      std::vector<double> out;
      const auto take = [&](std::int64_t r0, std::int64_t count) {
        out.insert(out.end(), full.begin() + r0 * width, full.begin() + (r0 + count) * width);
      };
      take(dim, (n - 2) * dim);
      if (cs.energy) take(n * dim + 1, n - 2);
      return out;
    };
    std::vector<double> Kv_cpu(M);
    {
      Staged in(cpu.vectors(), v), out(cpu.vectors(), M);
      cpu.kernel_matvec(*tc, in.get(), out.get());
      Kv_cpu = out.host();
    }
    Staged in(gpu.vectors(), v), out(gpu.vectors(), L);
    gpu.kernel_matvec(*ts, in.get(), out.get());
    check_close(out.host(), rows_of(Kv_cpu, 1), 1e-12, tag + "shard: K v rows");
    const std::vector<std::int64_t> scrambled = {cols[3], cols[0], cols[2], cols[1]};
    std::vector<double> C_cpu(M * 4);
    cpu.kernel_columns(*tc, scrambled, C_cpu.data());
    Staged C(gpu.vectors(), L * 4);
    gpu.kernel_columns(*ts, scrambled, C.get());
    check_close(C.host(), rows_of(C_cpu, 4), 1e-12, tag + "shard: kernel columns in a scrambled order");
    std::vector<double> b_cpu(n * dim * dim), e_cpu(n), b_gpu((n - 2) * dim * dim), e_gpu(n - 2);
    cpu.diagonal_blocks(*tc, b_cpu.data(), e_cpu.data());
    gpu.diagonal_blocks(*ts, b_gpu.data(), e_gpu.data());
    check_close(b_gpu, std::vector<double>(b_cpu.begin() + dim * dim, b_cpu.end() - dim * dim), 1e-12,
                tag + "shard: diagonal blocks");
    if (cs.energy) check_close(e_gpu, std::vector<double>(e_cpu.begin() + 1, e_cpu.end() - 1), 1e-12,
                               tag + "shard: energy diagonal");
  }
  compare(cpu, gpu, 1e-12, tag + "kernel columns", [&](const Backend& b) {
    Staged out(b.vectors(), M * static_cast<std::int64_t>(cols.size()));
    b.kernel_columns(state(b), cols, out.get());
    return out.host();
  });
  compare(cpu, gpu, 1e-12, tag + "diagonal blocks", [&](const Backend& b) {
    std::vector<double> blocks(n * 9 * N * N), energy(n, 0.0);
    b.diagonal_blocks(state(b), blocks.data(), cs.energy ? energy.data() : nullptr);
    blocks.insert(blocks.end(), energy.begin(), energy.end());
    return blocks;
  });
  compare(cpu, gpu, 1e-12, tag + "assembled K", [&](const Backend& b) {
    Staged K(b.vectors(), M * M);
    b.assemble(state(b), K.get());
    return K.host();
  });
  compare(cpu, gpu, 0.0, tag + "training descriptors", [&](const Backend& b) {
    std::vector<double> X(n * D);
    b.training_descriptors(state(b), X.data());
    return X;
  });
  const std::vector<double> a = random_vector(n * 3 * N, 5);
  compare(cpu, gpu, 1e-14, tag + "Jacobian rows", [&](const Backend& b) {
    std::vector<double> out(n * D);
    b.jacobian_rows(state(b), a.data(), out.data());
    return out;
  });

  // A model from the training descriptors and Jacobian rows of random coefficients.
  ModelData model;
  model.X.resize(n * D);
  model.V.resize(n * D);
  cpu.training_descriptors(*tc, model.X.data());
  cpu.jacobian_rows(*tc, a.data(), model.V.data());
  if (cs.energy) model.b = random_vector(n, 6);
  model.perms = cs.perms;
  model.sigma = setup.sigma;
  model.std = 1.9;
  model.c = -3.5;
  model.min_distance = 0.05;
  model.work_bytes = 40 * D * 3;  // three geometries per chunk: the chunking is exercised
  const auto mc = cpu.prepare_model(layout, lattice, model);
  const auto mg = gpu.prepare_model(layout, lattice, model);
  const auto mstate = [&](const Backend& b) -> const ModelState& { return &b == &cpu ? *mc : *mg; };
  compare(cpu, gpu, 1e-12, tag + "prediction (E, F, dE/dstrain; chunks of 3 of 4 geometries)", [&](const Backend& b) {
    std::vector<double> E(4), F(4 * 3 * N), S(4 * 9);
    b.predict(mstate(b), 4, Rq.data(), E.data(), F.data(), S.data());
    E.insert(E.end(), F.begin(), F.end());
    E.insert(E.end(), S.begin(), S.end());
    return E;
  });
  {
    std::vector<double> close = Rq, E(4), F(4 * 3 * N);
    for (int c = 0; c < 3; ++c) close[3 * 3 * N + 9 + c] = close[3 * 3 * N + 6 + c] + 0.001;  // geometry 3, atoms 2, 3
    try {
      gpu.predict(*mg, 4, close.data(), E.data(), F.data(), nullptr);
      check(false, tag + "a close contact is refused");
    } catch (const std::domain_error& e) {
      const std::string m = e.what();
      check(m.find("geometry 3") != std::string::npos, tag + "a close contact is refused: " + m);
    }
  }
  std::vector<int> orbit(D);
  const std::int64_t n_orbits = std::min<std::int64_t>(D, 5);
  for (std::int64_t k = 0; k < D; ++k) orbit[k] = static_cast<int>((k * 7) % n_orbits);
  compare(cpu, gpu, 1e-11, tag + "feature scores (scores, dE, g, dF)", [&](const Backend& b) {
    const FeatureDeltas d = b.feature_scores(mstate(b), orbit, n_orbits, 3, Rq.data(), true);
    std::vector<double> all = d.scores;
    all.insert(all.end(), d.dE.begin(), d.dE.end());
    all.insert(all.end(), d.g.begin(), d.g.end());
    all.insert(all.end(), d.dF.begin(), d.dF.end());
    return all;
  });
}

void test_vector_space(const Backend& cpu, const Backend& gpu) {
  const std::int64_t n = 1000;
  const std::vector<double> x = random_vector(n, 21), y = random_vector(n, 22), w = random_vector(n, 23);
  compare(cpu, gpu, 1e-15, "vectors: fill, copy, axpy, xpay, scale, multiply", [&](const Backend& b) {
    const VectorSpace& vs = b.vectors();
    Staged X(vs, x), Y(vs, y), W(vs, w), Z(vs, n);
    vs.fill(n, 2.5, Z.get());
    std::vector<double> out = Z.host();
    vs.copy(n, X.get(), Z.get());
    vs.axpy(n, -0.7, Y.get(), Z.get());
    vs.xpay(n, X.get(), 1.3, Z.get());
    vs.scale(n, 0.9, Z.get());
    vs.multiply(n, W.get(), Z.get());
    const std::vector<double> z = Z.host();
    out.insert(out.end(), z.begin(), z.end());
    out.push_back(vs.dot(n, X.get(), Y.get()));
    return out;
  });
  check(!gpu.vectors().host_memory(), "vectors: the CUDA backend's memory is not the host's");
}

// Column-major symmetric positive definite n x n.
std::vector<double> spd(std::int64_t n, std::uint64_t seed) {
  const std::vector<double> B = random_vector(n * n, seed);
  std::vector<double> A(n * n, 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t l = 0; l < n; ++l) A[i + j * n] += B[i * n + l] * B[j * n + l];
      if (i == j) A[i + j * n] += n;
    }
  return A;
}

void test_dense_algebra(const Backend& cpu, const Backend& gpu, bool quick) {
  const std::int64_t m = 7, n = 5, k = 6, ld = 9;  // ld > columns: the leading dimensions are honoured
  for (Op oa : {Op::kNoTrans, Op::kTrans})
    for (Op ob : {Op::kNoTrans, Op::kTrans}) {
      const std::int64_t lda = ld, ldb = ld, ldc = ld;
      const std::vector<double> A = random_vector(std::max(m, k) * lda, 31),
                                Bm = random_vector(std::max(k, n) * ldb, 32), C = random_vector(m * ldc, 33);
      compare(cpu, gpu, 1e-14,
              std::string("algebra: gemm ") + (oa == Op::kTrans ? "T" : "N") + (ob == Op::kTrans ? "T" : "N"),
              [&](const Backend& b) {
                Staged a(b.vectors(), A), bb(b.vectors(), Bm), c(b.vectors(), C);
                b.algebra().gemm(oa, ob, m, n, k, 0.8, a.get(), lda, bb.get(), ldb, 0.3, c.get(), ldc);
                return c.host();
              });
    }
  {
    const std::vector<double> A = random_vector(m * n, 34), C = random_vector(n * n, 35);
    compare(cpu, gpu, 1e-14, "algebra: syrk_upper (upper triangle)", [&](const Backend& b) {
      Staged a(b.vectors(), A), c(b.vectors(), C);
      b.algebra().syrk_upper(m, n, a.get(), 0.5, c.get());
      std::vector<double> h = c.host(), upper;
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i <= j; ++i) upper.push_back(h[i + j * n]);
      return upper;
    });
  }
  const std::vector<double> S = spd(n, 36), rhs = random_vector(n, 37);
  for (bool lower : {true, false}) {
    compare(cpu, gpu, 1e-13, std::string("algebra: potrf_") + (lower ? "lower" : "upper") + " (factor triangle)",
            [&](const Backend& b) {
              Staged a(b.vectors(), S);
              const int info = lower ? b.algebra().potrf_lower(n, a.get()) : b.algebra().potrf_upper(n, a.get());
              std::vector<double> h = a.host(), tri{static_cast<double>(info)};
              for (std::int64_t j = 0; j < n; ++j)
                for (std::int64_t i = 0; i < n; ++i)
                  if (lower ? i >= j : i <= j) tri.push_back(h[i + j * n]);
              return tri;
            });
  }
  {
    std::vector<double> bad = S;
    bad[2 + 2 * n] = -100.0;
    Staged a(gpu.vectors(), bad);
    check(gpu.algebra().potrf_upper(n, a.get()) == 3,
          "algebra: potrf reports the first non-positive leading minor (3)");
  }
  compare(cpu, gpu, 1e-12, "algebra: potrs_upper", [&](const Backend& b) {
    Staged a(b.vectors(), S), x(b.vectors(), rhs);
    b.algebra().potrf_upper(n, a.get());
    b.algebra().potrs_upper(n, a.get(), x.get());
    return x.host();
  });
  // Triangular solves with a well-conditioned triangle (the Cholesky factor of S, column-major).
  for (bool lower : {true, false})
    for (Op op : {Op::kNoTrans, Op::kTrans}) {
      const std::string which = std::string(lower ? "lower " : "upper ") + (op == Op::kTrans ? "T" : "N");
      const std::vector<double> Bright = random_vector(m * ld, 38), Bleft = random_vector(n * ld, 39);
      compare(cpu, gpu, 1e-12, "algebra: trsm_right, trsm_left, trsv " + which, [&](const Backend& b) {
        Staged T(b.vectors(), S), r(b.vectors(), Bright), l(b.vectors(), Bleft), x(b.vectors(), rhs);
        lower ? b.algebra().potrf_lower(n, T.get()) : b.algebra().potrf_upper(n, T.get());
        b.algebra().trsm_right(lower, op, m, n, T.get(), r.get(), ld);  // B (m x n, ld) inv(op(T))
        b.algebra().trsm_left(lower, op, n, 3, T.get(), l.get(), ld);   // inv(op(T)) B (n x 3, ld)
        b.algebra().trsv(lower, op, n, T.get(), x.get());
        std::vector<double> out = r.host(), lh = l.host(), xh = x.host();
        out.insert(out.end(), lh.begin(), lh.end());
        out.insert(out.end(), xh.begin(), xh.end());
        return out;
      });
    }
  {
    // R of the thin QR of [A; I] is unique up to the signs of its rows: compare R^T R = I + A^T A.
    const std::int64_t rows = 5000, cols = 4;  // more rows than one streamed block (4096)
    const std::vector<double> A = random_vector(rows * cols, 40);
    compare(cpu, gpu, 1e-12, "algebra: qr_r_of_stacked_identity (R^T R, 2 streamed blocks)", [&](const Backend& b) {
      Staged a(b.vectors(), A), R(b.vectors(), cols * cols);
      b.algebra().qr_r_of_stacked_identity(rows, cols, a.get(), R.get());
      const std::vector<double> h = R.host();
      std::vector<double> RtR(cols * cols, 0.0);
      for (std::int64_t i = 0; i < cols; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
          for (std::int64_t l = 0; l < cols; ++l) RtR[i * cols + j] += h[l + i * cols] * h[l + j * cols];
      for (std::int64_t i = 0; i < cols; ++i)
        for (std::int64_t j = 0; j < i; ++j) RtR.push_back(h[i + j * cols]);  // below the diagonal: zeros
      return RtR;
    });
  }
  {
    const std::vector<double> A = random_vector(6 * 4, 41), out0 = random_vector(3 * 4, 42);
    const std::vector<std::int64_t> rows = {5, -1, 0};
    compare(cpu, gpu, 0.0, "algebra: gather_rows, row_squared_norms, diagonal_to_host, add_to_diagonal",
            [&](const Backend& b) {
              Staged a(b.vectors(), A), out(b.vectors(), out0), norms(b.vectors(), 6), sq(b.vectors(), A);
              b.algebra().gather_rows(4, a.get(), rows.data(), 3, out.get());
              b.algebra().row_squared_norms(6, 4, a.get(), norms.get());
              b.algebra().add_to_diagonal(4, 2.0, sq.get());  // the leading 4 x 4 of A
              std::vector<double> d(4), h = out.host(), nh = norms.host();
              b.algebra().diagonal_to_host(4, sq.get(), d.data());
              h.insert(h.end(), nh.begin(), nh.end());
              h.insert(h.end(), d.begin(), d.end());
              return h;
            });
  }
  for (bool single : {false, true}) {
    if (single && quick) continue;
    const std::int64_t rows = 1100, cols = 7;  // more rows than one partial-sum chunk (1024)
    const std::vector<double> W = random_vector(rows * cols, 43), a = random_vector(rows, 44),
                              s = random_vector(cols, 45), out0 = random_vector(rows, 46);
    compare(cpu, gpu, 1e-13, std::string("algebra: tall factor in ") + (single ? "float" : "double"),
            [&](const Backend& b) {
              auto f = b.algebra().tall_factor(rows, cols);
              b.vectors().from_host(rows * cols, W.data(), f->doubles());
              if (single) {
                f->round_to_single();
                f->narrow();
              }
              Staged A(b.vectors(), a), Sv(b.vectors(), s), out(b.vectors(), out0), t(b.vectors(), cols),
                  part(b.vectors(), 3 * cols);
              f->multiply_transposed(A.get(), t.get());
              f->subtract_product(Sv.get(), out.get());
              f->copy_rows(rows - 3, 3, part.get());
              std::vector<double> h = t.host(), oh = out.host(), ph = part.host();
              h.insert(h.end(), oh.begin(), oh.end());
              h.insert(h.end(), ph.begin(), ph.end());
              h.push_back(f->single() ? 1.0 : 0.0);
              return h;
            });
  }
}

// A whole training: the same geometries and labels, the Nyström-preconditioned CG to 1e-10 on both backends.
void test_iterative_training() {
  const int N = 5;
  const std::int64_t n = 8;
  const DescriptorLayout layout(N, {});
  const std::vector<double> R = geometries(n, N, 51);
  const std::vector<std::int64_t> perms = {0, 1, 2, 3, 4, 1, 0, 2, 3, 4};
  std::vector<double> solutions[2];
  std::vector<double> y;
  int k = 0;
  for (const char* name : {"cpu", "cuda"}) {
    KernelOptions options;
    options.sigma = 1.5;
    options.use_energy = true;
    options.backend = name;
    const KernelOperator K(layout, Lattice{}, n, R.data(), perms, options);
    if (y.empty()) y = random_vector(K.size(), 52);
    solver::IterativeTrainingOptions opts;
    opts.solver.lambda = 1e-5;
    opts.solver.tol = 1e-10;
    opts.solver.inducing = 30;
    opts.solver.seed = 7;
    opts.solver.block_jacobi = true;
    opts.solver.single_precision = false;  // the float factor is checked above; its emulated products are slow
    std::vector<double> x(K.size(), 0.0);
    const solver::IterativeTrainingResult r = solver::train_iterative(K, y.data(), x.data(), opts, nullptr, {});
    check(r.solve.converged && K.backend_name() == name,
          std::string("iterative training on '") + name + "': " + r.solve.status + " in " +
              std::to_string(r.solve.iterations) + " iterations, relative residual " +
              format_e(r.solve.relative_residual));
    solutions[k++] = x;
  }
  check_close(solutions[1], solutions[0], 1e-7, "iterative training: the CUDA solution equals the CPU's");
}

}  // namespace

int main(int argc, char** argv) {
  // --quick (the sanitizer builds): without the float tall factor and the whole training, whose emulated kernels
  // take most of the time (block barriers of 128 threads); every other check runs.
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  try {
#ifdef FASTGDML_TEST_REAL_CUDA
    // The real backend (libfastgdml_cuda.so, found by the registry: $FASTGDML_CUDA_LIBRARY): a skip without a GPU.
    try {
      make_backend("cuda");
    } catch (const std::exception& e) {
      std::printf("SKIP the CUDA backend cannot run here: %s\n", e.what());
      return 77;
    }
#else
    register_backend("cuda", [] { return cuda::make_cuda_backend(); });
#endif
    const std::unique_ptr<Backend> cpu = make_backend("cpu"), gpu = make_backend("cuda");
    check(gpu->name() == "cuda" && !gpu->description().empty(), "backend 'cuda': " + gpu->description());
    test_vector_space(*cpu, *gpu);
    test_dense_algebra(*cpu, *gpu, quick);
    // the group swaps atoms 4 and 5; the mask, closed under it, drops pair (5, 4) and the orbit {(1, 0)}
    const std::vector<std::int64_t> swap45 = {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 5, 4};
    const std::vector<std::int64_t> mask = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    test_operations(*cpu, *gpu, {"6 atoms, G 1, forces", 6, {}, {0, 1, 2, 3, 4, 5}, 5, false, false});
    test_operations(*cpu, *gpu, {"6 atoms, G 2, energies", 6, {}, swap45, 4, true, false});
    test_operations(*cpu, *gpu, {"6 atoms, G 2, masked, cell", 6, mask, swap45, 4, true, true});
    if (!quick) test_iterative_training();
  } catch (const std::exception& e) {
    std::printf("FAIL uncaught exception: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %d failure(s)\n", testing::failures == 0 ? "passed" : "FAILED", testing::failures);
  return testing::failures == 0 ? 0 : 1;
}
