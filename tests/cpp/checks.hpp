// What the C++ tests share: a failure count, one-line checks that print what they compared, and the toy
// geometries (a chain of atoms with noise). Test-only; each test program includes it once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace fastgdml::testing {

inline int failures = 0;

inline void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

inline std::string format_e(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

// |got - want|_max <= rtol * |want|_max, finite, same size (and not empty).
inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                        const std::string& what) {
  double scale = 1e-300, worst = 0.0;
  bool ok = got.size() == want.size() && !want.empty();
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (std::size_t i = 0; ok && i < got.size(); ++i) {
    if (!std::isfinite(got[i])) ok = false;
    worst = std::max(worst, std::abs(got[i] - want[i]));
  }
  ok = ok && worst <= rtol * scale;
  std::printf("%s %s (max abs difference %.2e, scale %.2e, tolerance %.0e relative)\n", ok ? "ok  " : "FAIL",
              what.c_str(), worst, scale, rtol);
  if (!ok) ++failures;
}

// M geometries of N atoms (M x N x 3): a zig-zag chain with normal noise of `noise`.
inline std::vector<double> chain_geometries(std::int64_t M, int N, std::uint64_t seed, double step, double zig,
                                            int period, double noise) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, noise);
  std::vector<double> R(M * 3 * N);
  for (std::int64_t m = 0; m < M; ++m)
    for (int a = 0; a < N; ++a)
      for (int c = 0; c < 3; ++c)
        R[(m * N + a) * 3 + c] = step * a * (c == 0) + zig * (a % period) * (c == 1) + normal(rng);
  return R;
}

}  // namespace fastgdml::testing
