/* A C99 client of the fastgdml C ABI, compiled by tests/test_c_api.py against the installed header and library.
 *
 *   fgdml_check --unit energy|length LABEL prints the label's value in eV or Angstrom (%.17g)
 *   fgdml_check MODEL                      load only: prints "ok N_ATOMS ENERGY_UNIT LENGTH_UNIT PERIODIC z Z..."
 *   fgdml_check MODEL R.bin B OUT.bin      predicts B geometries (B x N x 3 doubles in R.bin) and writes E (B), F
 *                                          (B x N x 3) and the virial W (B x 9) as doubles to OUT.bin; then
 *                                          predicts them again on 4 threads at once (one geometry per call) and
 *                                          exits 3 when any differs from the batch.
 * A failing call prints "error CODE: MESSAGE" on stderr and exits with 10 + CODE.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastgdml/c_api.h"

static int failed(int code) {
  fprintf(stderr, "error %d: %s\n", code, fgdml_last_error());
  return 10 + code;
}

struct job {
  const fgdml_model* model;
  const double* R;
  const double* E;
  const double* F;
  int first, step, count, n_atoms, mismatches;
};

static void* predict_one_at_a_time(void* arg) {
  struct job* j = (struct job*)arg;
  double* F = malloc(sizeof(double) * 3 * (size_t)j->n_atoms);
  for (int q = j->first; q < j->count; q += j->step) {
    double E;
    const size_t at = (size_t)q * 3 * (size_t)j->n_atoms;
    if (fgdml_predict(j->model, 1, j->R + at, &E, F) != FGDML_OK) {
      ++j->mismatches;
      continue;
    }
    /* one geometry alone and inside a batch take different BLAS paths: equal to rounding */
    double scale = 1e-300, worst = 0.0;
    for (int k = 0; k < 3 * j->n_atoms; ++k) {
      const double d = F[k] - j->F[at + k];
      if (d * d > worst) worst = d * d;
      if (j->F[at + k] * j->F[at + k] > scale) scale = j->F[at + k] * j->F[at + k];
    }
    const double dE = E - j->E[q];
    if (worst > 1e-20 * scale || dE * dE > 1e-20 * (j->E[q] * j->E[q] + 1.0)) ++j->mismatches;
  }
  free(F);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "--unit") == 0) {
    double value = 0.0;
    const int rc = strcmp(argv[2], "energy") == 0 ? fgdml_energy_unit_in_ev(argv[3], &value)
                                                  : fgdml_length_unit_in_angstrom(argv[3], &value);
    if (rc != FGDML_OK) return failed(rc);
    printf("%.17g\n", value);
    return 0;
  }
  if (argc != 2 && argc != 5) {
    fprintf(stderr, "usage: %s MODEL [R.bin B OUT.bin]\n", argv[0]);
    return 2;
  }
  fgdml_model* model = NULL;
  int rc = fgdml_model_load(argv[1], &model);
  if (rc != FGDML_OK) return failed(rc);
  const int N = fgdml_model_n_atoms(model);
  const char *e_unit = NULL, *r_unit = NULL;
  if ((rc = fgdml_model_units(model, &e_unit, &r_unit)) != FGDML_OK) return failed(rc);
  int* z = malloc(sizeof(int) * (size_t)N);
  if ((rc = fgdml_model_atomic_numbers(model, z)) != FGDML_OK) return failed(rc);
  printf("ok %d %s %s %d z", N, e_unit, r_unit, fgdml_model_lattice(model, NULL));
  for (int i = 0; i < N; ++i) printf(" %d", z[i]);
  printf("\n");
  free(z);
  if (argc == 2) {
    fgdml_model_free(model);
    return 0;
  }

  const int B = atoi(argv[3]);
  const size_t per = 3 * (size_t)N;
  double* R = malloc(sizeof(double) * per * (size_t)B);
  FILE* in = fopen(argv[2], "rb");
  if (in == NULL || fread(R, sizeof(double), per * (size_t)B, in) != per * (size_t)B) {
    fprintf(stderr, "cannot read %s\n", argv[2]);
    return 2;
  }
  fclose(in);
  double* E = malloc(sizeof(double) * (size_t)B);
  double* F = malloc(sizeof(double) * per * (size_t)B);
  double* W = malloc(sizeof(double) * 9 * (size_t)B);
  if ((rc = fgdml_predict_virial(model, B, R, E, F, W)) != FGDML_OK) return failed(rc);
  FILE* out = fopen(argv[4], "wb");
  fwrite(E, sizeof(double), (size_t)B, out);
  fwrite(F, sizeof(double), per * (size_t)B, out);
  fwrite(W, sizeof(double), 9 * (size_t)B, out);
  fclose(out);

  enum { kThreads = 4 };
  pthread_t threads[kThreads];
  struct job jobs[kThreads];
  for (int t = 0; t < kThreads; ++t) {
    struct job j = {model, R, E, F, t, kThreads, B, N, 0};
    jobs[t] = j;
    pthread_create(&threads[t], NULL, predict_one_at_a_time, &jobs[t]);
  }
  int mismatches = 0;
  for (int t = 0; t < kThreads; ++t) {
    pthread_join(threads[t], NULL);
    mismatches += jobs[t].mismatches;
  }
  printf("threads %d mismatches %d\n", kThreads, mismatches);
  fgdml_model_free(model);
  free(R);
  free(E);
  free(F);
  free(W);
  return mismatches == 0 ? 0 : 3;
}
