// Matérn-5/2 kernel in descriptor space and the scalar weights of its derivatives (DESIGN.md §1).
//
// With d = x - x', r = |d|, u = sqrt(5) r / sigma, e = exp(-u):
//   k        = (1 + u + u^2/3) e
//   grad_x k = -w1 d,                          w1 = 5/(3 sigma^2) (1 + u) e
//   H        = d^2 k / dx dx'^T = w1 I - w2 d d^T,  w2 = 25/(3 sigma^4) e
// Only r^2 is passed in: callers obtain it from a GEMM (|x|^2 + |x'|^2 - 2 x.x'), where round-off can make
// it slightly negative for near-identical points, hence the clamp.
#pragma once

#include <cmath>

#include "fastgdml/math/macros.hpp"

namespace fastgdml {

struct Matern52Weights {
  double w1;  // 5/(3 s^2) (1+u) e: coefficient of I in H and of -d in grad_x k
  double w2;  // 25/(3 s^4) e: coefficient of -d d^T in H
  double k;   // kernel value (1 + u + u^2/3) e
};

struct Matern52 {
  double sqrt5_over_sigma;
  double c1;  // 5/(3 sigma^2)
  double c2;  // 25/(3 sigma^4)

  FASTGDML_HD explicit Matern52(double sigma)
      : sqrt5_over_sigma(2.23606797749978969640917366873128 / sigma),
        c1(5.0 / (3.0 * sigma * sigma)),
        c2(25.0 / (3.0 * sigma * sigma * sigma * sigma)) {}

  FASTGDML_HD Matern52Weights weights_from_r2(double r2) const {
    const double r = sqrt(r2 > 0.0 ? r2 : 0.0);
    const double u = sqrt5_over_sigma * r;
    const double e = exp(-u);
    return {c1 * (1.0 + u) * e, c2 * e, (1.0 + u + u * u / 3.0) * e};
  }
};

}  // namespace fastgdml
