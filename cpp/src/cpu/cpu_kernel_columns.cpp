// K[:, C] for a set C of columns, on the CPU (DESIGN.md §2, "Kernel columns for the preconditioner").
//
// Column c of K belongs to training point j (force column j*3N + 3a + comp, or energy column nF + j). For each
// row point i and permutation p, with d~ = P_p^T x_i - x_j, P_p d~ = x_i - P_p x_j, weights w = w(|d~|^2):
//   force rows of i, force column (a, comp):  sum_p  w1 (P_p^T J_i)^T J_j e_c  -  w2 (J_i^T P_p d~) (J_j^T d~)_c
//   energy row of i, force column:            sum_p  w1 (J_j^T d~)_c
//   force rows of i, energy column:           sum_p -w1 J_i^T P_p d~
//   energy row of i, energy column:           sum_p  k
// J_j e_c is non-zero only on the N-1 features that touch atom a, so a column costs O(N + 3N) per (i, j, p)
// after the O(D) distance work shared by all requested columns of point j.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_kernels.hpp"
#include "fastgdml/column_groups.hpp"
#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/math/matern52.hpp"
#include "permuted_difference.hpp"

namespace fastgdml::cpu {

void kernel_columns(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                    PointRange rows, const std::int64_t* cols, std::int64_t count, double* out) {
  const std::int64_t n = in.n, D = in.D, G = in.G, N = layout.n_atoms(), dim = 3 * N;
  const std::int64_t local_nF = rows.count * dim, C = count;
  const int* pa = layout.pair_a();
  const int* pb = layout.pair_b();

  const ColumnGroups groups = group_columns(cols, C, n, static_cast<int>(N), with_energy);
  const AtomIncidence inc = atom_incidence(layout);
  const Matern52 kernel(in.sigma);

#pragma omp parallel
  {
    std::vector<double> d(D), pd(D), alpha(dim), beta_col, col(dim);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t l = 0; l < rows.count; ++l) {
      const std::int64_t i = rows.first + l;  // row point i, the l-th of the range
      const double* xi = in.X + i * D;
      const double* gi = g + i * D * 3;
      double* out_f = out + l * dim * C;                                   // force rows of i
      double* out_e = with_energy ? out + (local_nF + l) * C : nullptr;    // energy row of i
      for (std::int64_t r = 0; r < dim; ++r) std::fill(out_f + r * C, out_f + (r + 1) * C, 0.0);
      if (out_e != nullptr) std::fill(out_e, out_e + C, 0.0);
      for (std::int64_t grp = 0; grp < groups.size(); ++grp) {
        const std::int64_t j = groups.point[grp], energy_slot = groups.energy_slot[grp];
        const double* xj = in.X + j * D;
        const double* gj = g + j * D * 3;
        for (std::int64_t p = 0; p < G; ++p) {
          const int* inv = in.perm_inv + p * D;
          const Matern52Weights w = permuted_difference(xi, xj, in.perm + p * D, inv, D, kernel, d.data(), pd.data());
          jacobian_t_dot(gi, D, pa, pb, pd.data(), static_cast<int>(N), alpha.data());  // J_i^T P_p d~
          for (std::int64_t t = groups.start[grp]; t < groups.start[grp + 1]; ++t) {
            const std::int64_t a = groups.force_col[t] / 3, comp = groups.force_col[t] % 3;
            std::fill(col.begin(), col.end(), 0.0);
            double beta = 0.0;  // (J_j^T d~)_c
            for (std::int64_t e = inc.start[a]; e < inc.start[a + 1]; ++e) {
              const std::int64_t m = inc.feature[e];
              const double jv = inc.sign[e] * gj[3 * m + comp];  // (J_j e_c)_m
              beta += jv * d[m];
              // row m of P_p^T J_i is row k = inv[m] of J_i: -g_i[k] on atom pa[k], +g_i[k] on atom pb[k]
              const std::int64_t k = inv[m];
              const double coef = w.w1 * jv;
              for (int q = 0; q < 3; ++q) {
                col[3 * pa[k] + q] -= coef * gi[3 * k + q];
                col[3 * pb[k] + q] += coef * gi[3 * k + q];
              }
            }
            const std::int64_t slot = groups.force_slot[t];
            for (std::int64_t r = 0; r < dim; ++r) out_f[r * C + slot] += col[r] - w.w2 * alpha[r] * beta;
            if (out_e != nullptr) out_e[slot] += w.w1 * beta;
          }
          if (energy_slot >= 0) {
            for (std::int64_t r = 0; r < dim; ++r) out_f[r * C + energy_slot] -= w.w1 * alpha[r];
            out_e[energy_slot] += w.k;
          }
        }
      }
    }
  }
}

}  // namespace fastgdml::cpu
