#include "fastgdml/io/model_file.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fastgdml/io/npz_reader.hpp"

namespace fastgdml::io {
namespace {

constexpr double kSigmaMin = 1e-6, kSigmaMax = 1e9;  // model.py SIGMA_RANGE
constexpr double kCoincident = 1e-8;                 // model.py COINCIDENT

std::int64_t meminfo_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::int64_t>(pages) * page : std::int64_t{1} << 40;
}

std::int64_t address_space_left() {
  rlimit r{};
  if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return std::int64_t{1} << 62;
  std::ifstream f("/proc/self/statm");
  std::int64_t pages = 0;
  f >> pages;
  const std::int64_t used = pages * sysconf(_SC_PAGE_SIZE);
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(r.rlim_cur) - used);
}

class Reader {
 public:
  Reader(const std::string& path, std::int64_t budget) : archive_(path, budget), path_(path) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw NpzError(path_ + ": '" + key + "' " + what);
  }
  std::string name(const std::string& key) const { return path_ + ": '" + key + "'"; }
  bool has(const std::string& key) const { return archive_.has(key); }
  NpyArray array(const std::string& key) { return archive_.read(key); }

  double scalar(const std::string& key, bool positive) {
    const NpyArray a = array(key);
    if (a.size() != 1) fail(key, "must be a single number, got " + std::to_string(a.size()) + " values");
    const double v = to_doubles(a, name(key))[0];
    if (!std::isfinite(v) || (positive && !(v > 0)))
      fail(key, std::string("must be a ") + (positive ? "positive " : "") + "finite number");
    return v;
  }

  std::string text(const std::string& key) { return has(key) ? to_text(array(key), name(key)) : std::string(); }

 private:
  NpzArchive archive_;
  std::string path_;
};

// perms (G x N): permutations of 0..N-1 forming a group with the identity, returned with the identity first.
std::vector<std::int64_t> check_group(Reader& r, const NpyArray& a, int N) {
  if (a.shape.size() != 2 || a.shape[1] != N || a.shape[0] < 1)
    r.fail("perms", "must have shape (P, " + std::to_string(N) + ")");
  const std::vector<std::int64_t> p = to_integers(a, r.name("perms"));
  const std::int64_t G = a.shape[0];
  std::set<std::vector<std::int64_t>> rows;
  std::int64_t identity = -1;
  for (std::int64_t g = 0; g < G; ++g) {
    std::vector<std::int64_t> row(p.begin() + g * N, p.begin() + (g + 1) * N), sorted = row;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < N; ++i)
      if (sorted[i] != i) r.fail("perms", "row " + std::to_string(g) + " is not a permutation of 0.." + std::to_string(N - 1));
    bool is_identity = true;
    for (int i = 0; i < N; ++i) is_identity = is_identity && row[i] == i;
    if (is_identity && identity < 0) identity = g;
    if (!rows.insert(row).second) r.fail("perms", "has duplicate rows");
  }
  if (identity < 0) r.fail("perms", "must contain the identity permutation");
  std::vector<std::int64_t> product(N);
  for (const auto& a_row : rows)
    for (const auto& b_row : rows) {
      for (int i = 0; i < N; ++i) product[i] = a_row[b_row[i]];
      if (!rows.count(product))
        r.fail("perms", "is not closed under composition (not a group): add the missing products or pass the full group");
    }
  std::vector<std::int64_t> out;
  out.reserve(p.size());
  out.insert(out.end(), p.begin() + identity * N, p.begin() + (identity + 1) * N);
  for (std::int64_t g = 0; g < G; ++g)
    if (g != identity) out.insert(out.end(), p.begin() + g * N, p.begin() + (g + 1) * N);
  return out;
}

}  // namespace

std::int64_t file_budget() {
  return static_cast<std::int64_t>(0.8 * static_cast<double>(std::min(meminfo_available(), address_space_left())));
}

ModelFile read_model(const std::string& path, std::int64_t budget) {
  const std::int64_t limit = budget < 0 ? file_budget() : budget;  // one reading of the memory available
  Reader r(path, limit);
  for (const char* key : {"z", "R_desc", "R_d_desc_alpha", "sig", "c", "perms"})
    if (!r.has(key)) r.fail(key, "is missing; not a complete sGDML model file");
  ModelFile m;

  const NpyArray z = r.array("z");
  if (z.shape.size() != 1 || z.size() < 2) r.fail("z", "must be integer atomic numbers of shape (N,)");
  for (std::int64_t v : to_integers(z, r.name("z"))) {
    if (v < 0 || v > 1000) r.fail("z", "holds atomic number " + std::to_string(v));
    m.z.push_back(static_cast<int>(v));
  }
  const int N = static_cast<int>(m.z.size());
  const std::int64_t D_full = static_cast<std::int64_t>(N) * (N - 1) / 2;

  std::vector<std::int64_t> mask;
  if (r.has("feature_mask")) {
    const NpyArray a = r.array("feature_mask");
    mask = to_integers(a, r.name("feature_mask"));
    bool ok = a.shape.size() == 1 && !mask.empty();
    for (std::size_t i = 0; ok && i < mask.size(); ++i)
      ok = mask[i] >= 0 && mask[i] < D_full && (i == 0 || mask[i] > mask[i - 1]);
    if (!ok) r.fail("feature_mask", "must hold increasing descriptor indices in [0, " + std::to_string(D_full) + ")");
  }
  const std::int64_t D = mask.empty() ? D_full : static_cast<std::int64_t>(mask.size());

  const NpyArray X = r.array("R_desc");
  if (X.shape.size() != 2 || X.shape[0] != D)
    r.fail("R_desc", "must have shape (" + std::to_string(D) + ", n) for " + std::to_string(N) + " atoms");
  const std::int64_t n = X.shape[1];
  if (n == 0) r.fail("R_desc", "holds 0 training points; the model is empty, retrain it");
  const NpyArray perms = r.array("perms");
  const std::int64_t G = perms.shape.size() == 2 ? perms.shape[0] : 1;
  // The arrays prediction derives (model.py predictor_bytes), before any of them exists.
  const std::int64_t derived = 8 * (7 * n * D + 2 * G * D + 8 * D);
  if (derived > limit)
    r.fail("R_desc", "of " + std::to_string(n) + " training points needs " + std::to_string(derived >> 20) +
                         " MiB to predict, more than the " + std::to_string(limit >> 20) + " MiB this process can use");
  const std::vector<double> Xd = to_doubles(X, r.name("R_desc"));
  const NpyArray V = r.array("R_d_desc_alpha");
  if (V.shape.size() != 2 || V.shape[0] != n || V.shape[1] != D)
    r.fail("R_d_desc_alpha", "must have shape (" + std::to_string(n) + ", " + std::to_string(D) + ")");
  m.data.V = to_doubles(V, r.name("R_d_desc_alpha"));
  m.data.X.resize(n * D);  // R_desc is (D, n): transposed into rows x_j
  double x_max = 0.0;
  for (std::int64_t k = 0; k < D; ++k)
    for (std::int64_t j = 0; j < n; ++j) {
      const double v = Xd[k * n + j];
      if (!std::isfinite(v)) r.fail("R_desc", "contains NaN/Inf; the model is corrupt, retrain it");
      m.data.X[j * D + k] = v;
      x_max = std::max(x_max, v);
    }
  for (double v : m.data.V)
    if (!std::isfinite(v)) r.fail("R_d_desc_alpha", "contains NaN/Inf; the model is corrupt, retrain it");

  m.data.perms = check_group(r, perms, N);
  m.layout = DescriptorLayout(N, mask);
  try {
    (void)m.layout.permutation_maps(m.data.perms);
  } catch (const std::invalid_argument& e) {
    r.fail("feature_mask", std::string("does not fit the permutations: ") + e.what());
  }
  m.data.sigma = r.scalar("sig", true);
  if (m.data.sigma < kSigmaMin || m.data.sigma > kSigmaMax)
    r.fail("sig", "is outside [1e-06, 1e+09], where the kernel's terms stay representable; the model is degenerate");
  m.data.std = r.has("std") ? r.scalar("std", true) : 1.0;
  m.data.c = r.scalar("c", false);
  if (r.has("lam") && r.scalar("lam", false) < 0) r.fail("lam", "must be >= 0 (the ridge regulariser)");
  if (r.has("alphas_E")) {
    const NpyArray a = r.array("alphas_E");
    m.data.b = to_doubles(a, r.name("alphas_E"));
    if (static_cast<std::int64_t>(m.data.b.size()) != n)
      r.fail("alphas_E", "must have " + std::to_string(n) + " entries (one per training point)");
    for (double v : m.data.b)
      if (!std::isfinite(v)) r.fail("alphas_E", "contains NaN/Inf; the model is corrupt, retrain it");
  }
  if (r.has("lattice")) {
    const NpyArray a = r.array("lattice");
    if (a.shape != std::vector<std::int64_t>{3, 3}) r.fail("lattice", "must be a (3, 3) matrix (vectors as columns)");
    const std::vector<double> L = to_doubles(a, r.name("lattice"));
    for (double v : L)
      if (!std::isfinite(v)) r.fail("lattice", "must hold finite numbers");
    const double det = L[0] * (L[4] * L[8] - L[5] * L[7]) - L[1] * (L[3] * L[8] - L[5] * L[6]) +
                       L[2] * (L[3] * L[7] - L[4] * L[6]);
    if (std::abs(det) < 1e-12) r.fail("lattice", "must be an invertible (3, 3) matrix (vectors as columns)");
    m.lattice = Lattice::from_matrix(L.data());
  }
  m.energy_unit = r.text("e_unit");
  m.length_unit = r.text("r_unit");
  m.data.min_distance = x_max > 0 ? std::max(kCoincident, 0.1 / x_max) : kCoincident;
  return m;
}

}  // namespace fastgdml::io
