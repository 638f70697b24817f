// fastgdml_bench_matvec: the kernel-vector product K v of a training set (one CG iteration), without Python,
// against the DGEMM rate of the same two shapes measured in the same run through the core's own BLAS.
//
// With the weight cache a K v is two GEMM-shaped products per permutation block (ARCHITECTURE.md §1):
//   T = A U^T   (nG x D)(D x n)      and      Z = W [X; U]   (nG x 2n)(2n x D),
// 6 n^2 G D flops together (the count bench/matvec.py divides by). The ratio K v rate / DGEMM rate of those
// shapes says how much the gathers, the elementwise weights and the Jacobian steps cost on top of BLAS.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common.hpp"
#include "fastgdml/io/model_file.hpp"
#include "fastgdml/io/npz_reader.hpp"
#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/linalg.hpp"

using namespace fastgdml;
using namespace fastgdml::bench;

namespace {

const char* kUsage = R"(usage: fastgdml_bench_matvec [options]

K v of a training set through the fastgdml core's KernelOperator (no Python), in GFLOP/s counted as
6 n^2 G D per product, against the DGEMM rate of the same two shapes (T = A U^T: nG x D times D x n;
Z = W [X; U]: nG x 2n times 2n x D) measured in the same run through the core's BLAS.

options:
  --dataset D.npz  training geometries from a dataset (keys R, z; n of them, evenly spaced over the file);
                   default: random clouds of --atoms carbon atoms (one base cloud + 0.1 Ang noise)
  --n N            training geometries (default 1000)
  --atoms N        atoms of the random clouds (default 42; ignored with --dataset)
  --rotors K       methyl rotors in the permutation group, G = 6^K (default 1; 0: identity only). With a
                   dataset: the first K carbons bonded to three hydrogens (< 1.25 Ang) in its first geometry,
                   S3 on each rotor's hydrogens (as bench/_common.py's methyl_rotor_group); random clouds:
                   S3 on atoms 3r, 3r+1, 3r+2
  --sigma S        Matern length scale (default 30)
  --energy         include the n energy rows and columns (energy constraints)
  --cache-mb MB    memory the backend may use for the K v weight cache (default 4096); without the cache a
                   K v does 8 n^2 G D flops, still reported against 6
  --repeats K      timed K v products, at least (default 5)
  --min-time T     seconds each measurement runs at least (default 1.0; DGEMMs: half of it)
  --square M       also the DGEMM rate of an M x M x M product (default 2000; 0 skips)
  --threads T      OpenMP and BLAS threads (default: OMP_NUM_THREADS or all cores)
  --verify         compare K v with the assembled dense K (needs (n 3N)^2 doubles: small n only);
                   exit status 1 beyond 1e-10 relative (max |difference| / max |K v|)
  --json OUT.json  write configuration, machine and results as JSON
  -h, --help       this text

Times in ms, rates in GFLOP/s (1e9 floating-point operations per second).
Exit status: 0 ok, 1 verification failed, 2 bad input (message names the file or flag).
)";

struct TrainingSet {
  int n_atoms = 0;
  std::vector<double> R;  // n x N x 3
  std::vector<int> z;
  std::string source;
};

TrainingSet from_dataset(const std::string& path, std::int64_t n) {
  io::NpzArchive archive(path, io::file_budget());  // NpzError names the file and the key
  io::NpyArray R = archive.read("R");
  if (R.shape.size() != 3 || R.shape[2] != 3 || R.shape[1] < 2)
    throw InputError(path + ": 'R' must have shape (M, N, 3) with N >= 2");
  const std::int64_t M = R.shape[0], per = 3 * R.shape[1];
  if (n > M) throw InputError(path + " has " + std::to_string(M) + " geometries, fewer than --n " + std::to_string(n));
  const std::vector<double> all = io::to_doubles(R, path + ": 'R'");
  TrainingSet t;
  t.n_atoms = static_cast<int>(R.shape[1]);
  for (std::int64_t i = 0; i < n; ++i) {  // evenly spaced: a deterministic subset spanning the trajectory
    const std::int64_t k = i * M / n;
    t.R.insert(t.R.end(), all.begin() + k * per, all.begin() + (k + 1) * per);
  }
  for (std::int64_t v : io::to_integers(archive.read("z"), path + ": 'z'")) t.z.push_back(static_cast<int>(v));
  if (static_cast<int>(t.z.size()) != t.n_atoms) throw InputError(path + ": 'z' must have N entries like R");
  t.source = path;
  return t;
}

TrainingSet random_clouds(std::int64_t n, int N) {
  // As bench/_common.py's load_geometries fallback: molecule-sized extent, small per-geometry noise.
  std::mt19937_64 rng(0);
  std::uniform_real_distribution<double> box(0.0, 1.2 * std::cbrt(static_cast<double>(N)) * 1.5);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::vector<double> base(3 * static_cast<std::size_t>(N));
  for (double& b : base) b = box(rng);
  TrainingSet t;
  t.n_atoms = N;
  t.z.assign(N, 6);
  for (std::int64_t i = 0; i < n; ++i)
    for (double b : base) t.R.push_back(b + noise(rng));
  t.source = "random " + std::to_string(N) + "-atom clouds";
  return t;
}

// Hydrogen triples of methyl groups in the first geometry, in atom order (bench/_common.py).
std::vector<std::vector<int>> methyl_rotors(const TrainingSet& t) {
  std::vector<std::vector<int>> rotors;
  const double* r = t.R.data();
  for (int c = 0; c < t.n_atoms; ++c) {
    if (t.z[c] != 6) continue;
    std::vector<int> hs;
    for (int h = 0; h < t.n_atoms; ++h) {
      if (t.z[h] != 1) continue;
      double d2 = 0.0;
      for (int k = 0; k < 3; ++k) d2 += (r[3 * h + k] - r[3 * c + k]) * (r[3 * h + k] - r[3 * c + k]);
      if (d2 < 1.25 * 1.25) hs.push_back(h);
    }
    if (hs.size() == 3) rotors.push_back(hs);
  }
  return rotors;
}

// The direct product of S3 on each rotor's three atoms (G = 6^rotors, identity first), G x N row-major.
std::vector<std::int64_t> rotor_group(const std::vector<std::vector<int>>& rotors, int N) {
  std::vector<std::vector<std::int64_t>> group(1);
  for (int a = 0; a < N; ++a) group[0].push_back(a);
  for (const std::vector<int>& hs : rotors) {
    std::vector<std::vector<std::int64_t>> next;
    for (const auto& p : group) {
      std::vector<int> image = hs;  // sorted: next_permutation walks all 6 orders, identity first
      do {
        auto q = p;
        for (int i = 0; i < 3; ++i) q[hs[i]] = image[i];
        next.push_back(q);
      } while (std::next_permutation(image.begin(), image.end()));
    }
    group.swap(next);
  }
  std::vector<std::int64_t> flat;
  for (const auto& p : group) flat.insert(flat.end(), p.begin(), p.end());
  return flat;
}

std::vector<double> random_matrix(std::int64_t rows, std::int64_t cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> a(static_cast<std::size_t>(rows * cols));
  for (double& x : a) x = normal(rng);
  return a;
}

// Best time of C (m x n) = A (m x k) op(B), B stored n x k (kTrans) or k x n (kNoTrans), through the core's BLAS.
double gemm_time(std::int64_t m, std::int64_t n, std::int64_t k, Op op_b, int repeats, double min_time) {
  std::mt19937_64 rng(1);
  const std::vector<double> A = random_matrix(m, k, rng), B = random_matrix(n, k, rng);
  std::vector<double> C(static_cast<std::size_t>(m * n));
  const std::int64_t ldb = op_b == Op::kTrans ? k : n;
  return time_calls([&] {
    linalg::gemm(Op::kNoTrans, op_b, m, n, k, 1.0, A.data(), k, B.data(), ldb, 0.0, C.data(), n);
  }, repeats, min_time).min();
}

int run(int argc, char** argv) {
  Args args(argc, argv, {"--dataset", "--n", "--atoms", "--rotors", "--sigma", "--cache-mb", "--repeats",
                         "--min-time", "--square", "--threads", "--json"}, {"--energy", "--verify"});
  if (args.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positional().empty()) throw InputError("unexpected argument '" + args.positional()[0] + "' (see --help)");
  const std::int64_t n = args.integer("--n", 1000, 1);
  const int rotors_asked = static_cast<int>(args.integer("--rotors", 1, 0));
  const double sigma = args.real("--sigma", 30.0, 1e-300);
  const std::int64_t cache_mb = args.integer("--cache-mb", 4096, 0);
  const int repeats = static_cast<int>(args.integer("--repeats", 5, 1));
  const double min_time = args.real("--min-time", 1.0, 0.0);
  const std::int64_t square = args.integer("--square", 2000, 0);
  const bool energy = args.has("--energy");
  if (args.has("--json")) check_writable(args.text("--json"));
  const Machine host = machine(static_cast<int>(args.integer("--threads", 0, 1)));

  const TrainingSet t = args.has("--dataset") ? from_dataset(args.text("--dataset"), n)
                                              : random_clouds(n, static_cast<int>(args.integer("--atoms", 42, 2)));
  const int N = t.n_atoms;
  std::vector<std::vector<int>> rotors;
  if (args.has("--dataset")) {
    rotors = methyl_rotors(t);
  } else {
    for (int r = 0; 3 * r + 2 < N; ++r) rotors.push_back({3 * r, 3 * r + 1, 3 * r + 2});
  }
  if (static_cast<int>(rotors.size()) > rotors_asked) rotors.resize(rotors_asked);
  const std::vector<std::int64_t> perms = rotor_group(rotors, N);
  const std::int64_t G = static_cast<std::int64_t>(perms.size()) / N;

  KernelOptions options;
  options.sigma = sigma;
  options.use_energy = energy;
  options.cache_bytes = cache_mb << 20;
  const KernelOperator op(DescriptorLayout(N), Lattice{}, n, t.R.data(), perms, options);
  const std::int64_t D = op.descriptor_size();
  const double flops = 6.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(G * D);

  std::printf("fastgdml_bench_matvec\n  machine: %s\n", host.line().c_str());
  std::printf("  training set: %s, n = %lld, N = %d atoms, D = %lld, G = %lld (%zu methyl rotors%s), sigma = %g, "
              "energy rows %s; K is %lld x %lld\n", t.source.c_str(), static_cast<long long>(n), N,
              static_cast<long long>(D), static_cast<long long>(G), rotors.size(),
              static_cast<int>(rotors.size()) < rotors_asked ? ", fewer than asked: none more found" : "", sigma,
              energy ? "on" : "off", static_cast<long long>(op.size()), static_cast<long long>(op.size()));
  std::printf("  weight cache: %.1f MB of a %lld MB budget (%s); >= %d repeats, >= %.2f s per measurement\n",
              static_cast<double>(op.cache_bytes()) / 1e6, static_cast<long long>(cache_mb),
              op.cache_bytes() > 0 ? "6 n^2 G D flops per K v" : "not cached: 8 n^2 G D flops, counted as 6",
              repeats, min_time);

  std::mt19937_64 rng(1);
  const std::vector<double> v = random_matrix(op.size(), 1, rng);
  std::vector<double> out(static_cast<std::size_t>(op.size()));
  const Timing kv = time_calls([&] { op.matvec(v.data(), out.data()); }, repeats, min_time);
  const double kv_rate = flops / kv.min() / 1e9;

  // The same two products at the DGEMM rate, each timed alone: T = A U^T and Z = W [X; U].
  const double t_T = gemm_time(n * G, n, D, Op::kTrans, 3, 0.5 * min_time);
  const double t_Z = gemm_time(n * G, D, 2 * n, Op::kNoTrans, 3, 0.5 * min_time);
  const double dgemm_rate = flops / (t_T + t_Z) / 1e9;
  std::printf("K v: median %.2f ms, min %.2f ms over %zu products = %.1f GFLOP/s\n", 1e3 * kv.median(),
              1e3 * kv.min(), kv.seconds.size(), kv_rate);
  std::printf("DGEMM same shapes: T %.2f ms + Z %.2f ms = %.1f GFLOP/s\n", 1e3 * t_T, 1e3 * t_Z, dgemm_rate);
  std::printf("K v / same-shape DGEMM: %.1f%%\n", 100.0 * kv_rate / dgemm_rate);

  Json res;
  res.set("kv", kv).set("kv_gflops", kv_rate).set("flops_per_kv", flops);
  res.set("dgemm_T_s", t_T).set("dgemm_Z_s", t_Z).set("dgemm_rate_same_shape", dgemm_rate);
  res.set("fraction_of_dgemm", kv_rate / dgemm_rate).set("cache_bytes", op.cache_bytes());
  if (square > 0) {
    const double t_sq = gemm_time(square, square, square, Op::kTrans, 3, 0.5 * min_time);
    const double sq_rate = 2.0 * std::pow(static_cast<double>(square), 3) / t_sq / 1e9;
    std::printf("DGEMM %lld^3: %.1f GFLOP/s (K v at %.1f%% of it)\n", static_cast<long long>(square), sq_rate,
                100.0 * kv_rate / sq_rate);
    res.set("dgemm_square_size", square).set("dgemm_rate_square", sq_rate).set("fraction_of_square_dgemm", kv_rate / sq_rate);
  }

  int status = 0;
  if (args.has("--verify")) {
    const std::int64_t S = op.size();
    if (static_cast<double>(S) * static_cast<double>(S) * 8.0 > 2e9)
      throw InputError("--verify needs the dense K of " + std::to_string(S) + "^2 doubles (over 2 GB): lower --n");
    std::vector<double> K(static_cast<std::size_t>(S * S)), ref(static_cast<std::size_t>(S));
    op.assemble(K.data());
    linalg::gemv(Op::kNoTrans, S, S, 1.0, K.data(), S, v.data(), 0.0, ref.data());
    op.matvec(v.data(), out.data());
    double diff = 0.0, scale = 0.0;
    for (std::int64_t i = 0; i < S; ++i) {
      diff = std::max(diff, std::abs(out[i] - ref[i]));
      scale = std::max(scale, std::abs(ref[i]));
    }
    const double rel = std::isfinite(diff / scale) ? diff / scale : INFINITY;
    const bool ok = rel <= 1e-10;
    std::printf("verify against the assembled K: max relative difference %.1e (tolerance 1e-10): %s\n", rel,
                ok ? "ok" : "FAILED");
    res.object("verify").set("max_rel_err", rel).set("tolerance", 1e-10).set("passed", ok);
    if (!ok) status = 1;
  }

  if (args.has("--json")) {
    Json json;
    json.set("benchmark", "matvec").set("machine", host.json());
    Json& in = json.object("inputs");
    in.set("source", t.source).set("n_train", n).set("n_atoms", N).set("descriptor_size", D).set("n_perms", G);
    in.set("rotors", static_cast<std::int64_t>(rotors.size())).set("sigma", sigma).set("energy_rows", energy);
    in.set("cache_budget_bytes", cache_mb << 20).set("repeats", repeats).set("min_time_s", min_time);
    json.set("results", res);
    write_json(args.text("--json"), json);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("fastgdml_bench_matvec", [&] { return run(argc, argv); });
}
