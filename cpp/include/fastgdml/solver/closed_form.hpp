// Closed-form training: x = (K + lambda I)^-1 y by a dense Cholesky factorisation (DESIGN.md §3, small problems).
// One driver for Python and (issue 14) the C ABI and C++ benchmarks: assembly, the ridge, the factorisation and
// the policy for a matrix that is not positive definite (an error naming the cause and the fixes, never a silent
// jitter).
#pragma once

#include <cstdint>

#include "fastgdml/kernel_operator.hpp"

namespace fastgdml::solver {

// x (K.size()) <- (K + lambda I)^-1 y. Throws std::runtime_error when K + lambda I is not positive definite.
void solve_closed_form(const KernelOperator& K, double lambda, const double* y, double* x);

}  // namespace fastgdml::solver
