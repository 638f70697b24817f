// The C ABI (c_api.h) over the C++ core: every entry point catches everything and turns it into a status code and
// a thread-local message; nothing throws across the boundary and nothing exits the process.
#include "fastgdml/c_api.h"

#include <cctype>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgdml/fork_safety.hpp"
#include "fastgdml/io/model_file.hpp"
#include "fastgdml/linalg.hpp"
#include "fastgdml/io/npz_reader.hpp"
#include "fastgdml/predictor.hpp"

#ifndef FASTGDML_VERSION_STR
#define FASTGDML_VERSION_STR "unknown"
#endif

struct fgdml_model {
  std::unique_ptr<fastgdml::Predictor> predictor;
  std::vector<int> z;
  std::string energy_unit, length_unit;
  bool periodic = false;
  double lattice[9] = {0};
};

namespace {

thread_local std::string last_error;

// The unit table of python/fastgdml/units.py (ASE's constants; tests/test_c_api.py checks they agree).
struct Unit {
  const char* label;
  double value;
};
constexpr Unit kEnergyUnits[] = {{"kcal/mol", 0.04336410390059322}, {"kj/mol", 0.010364269574711572},
                                 {"ev", 1.0}, {"mev", 1e-3}, {"hartree", 27.211386024367243},
                                 {"ha", 27.211386024367243}};
constexpr Unit kLengthUnits[] = {{"ang", 1.0}, {"angstrom", 1.0}, {"a", 1.0}, {"bohr", 0.5291772105638411},
                                 {"au", 0.5291772105638411}, {"nm", 10.0}};

template <std::size_t K>
bool lookup(const Unit (&table)[K], const std::string& label, double* value) {
  std::string key;
  for (char c : label)
    if (c != ' ') key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const Unit& u : table)
    if (key == u.label) {
      *value = u.value;
      return true;
    }
  return false;
}

// What the Python module does at import, done once before the first model: BLAS runs its jobs on the OpenMP
// team (one thread pool, no oversubscription) and a forked child keeps a usable core.
void initialise_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    fastgdml::linalg::share_threads_with_openmp();
    fastgdml::threads::install_fork_handlers();
  });
}

int fail(int code, const std::string& message) {
  last_error = message;
  return code;
}

// Runs body, mapping every exception to a status code and the message of the last error; invalid_argument means
// bad input data: invalid_code says which (the model file's content, or the positions).
template <class Body>
int guarded(const char* function, int invalid_code, Body&& body) {
  try {
    return body();
  } catch (const fastgdml::io::NpzError& e) {
    const std::string m = e.what();
    return fail(m.find("cannot open") != std::string::npos ? FGDML_ERR_FILE : FGDML_ERR_MODEL, m);
  } catch (const std::bad_alloc&) {
    return fail(FGDML_ERR_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::domain_error& e) {  // close contacts, non-finite results
    return fail(FGDML_ERR_GEOMETRY, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(invalid_code, std::string(function) + ": " + e.what());
  } catch (const std::exception& e) {
    return fail(FGDML_ERR_INTERNAL, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(FGDML_ERR_INTERNAL, std::string(function) + ": unknown error");
  }
}

int check_predict_arguments(const char* function, const fgdml_model* m, int n, const double* R, const double* E,
                            const double* F) {
  if (m == nullptr || !m->predictor) return fail(FGDML_ERR_ARGUMENT, std::string(function) + ": model is NULL");
  if (n < 0) return fail(FGDML_ERR_ARGUMENT, std::string(function) + ": n_geometries must be >= 0");
  if (n > 0 && (R == nullptr || E == nullptr || F == nullptr))
    return fail(FGDML_ERR_ARGUMENT, std::string(function) + ": R, E and F must not be NULL");
  return FGDML_OK;
}

}  // namespace

extern "C" {

const char* fgdml_version(void) { return FASTGDML_VERSION_STR; }

const char* fgdml_last_error(void) { return last_error.c_str(); }

int fgdml_model_load(const char* path, fgdml_model** out) {
  if (out == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_model_load: out is NULL");
  *out = nullptr;
  if (path == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_model_load: path is NULL");
  return guarded("fgdml_model_load", FGDML_ERR_MODEL, [&] {
    initialise_once();
    fastgdml::io::ModelFile file = fastgdml::io::read_model(path);  // NpzError names file and key
    auto m = std::make_unique<fgdml_model>();
    m->z = file.z;
    m->energy_unit = file.energy_unit.empty() ? "kcal/mol" : file.energy_unit;
    m->length_unit = file.length_unit.empty() ? "Ang" : file.length_unit;
    m->periodic = file.lattice.present;
    if (m->periodic)
      for (int i = 0; i < 9; ++i) m->lattice[i] = file.lattice.L[i];
    m->predictor = std::make_unique<fastgdml::Predictor>(file.layout, file.lattice, file.data, "cpu");
    *out = m.release();
    return FGDML_OK;
  });
}

void fgdml_model_free(fgdml_model* m) { delete m; }

int fgdml_model_n_atoms(const fgdml_model* m) { return m == nullptr ? -1 : static_cast<int>(m->z.size()); }

int fgdml_model_atomic_numbers(const fgdml_model* m, int* z) {
  if (m == nullptr || z == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_model_atomic_numbers: NULL argument");
  for (std::size_t i = 0; i < m->z.size(); ++i) z[i] = m->z[i];
  return FGDML_OK;
}

int fgdml_model_units(const fgdml_model* m, const char** energy_unit, const char** length_unit) {
  if (m == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_model_units: model is NULL");
  if (energy_unit != nullptr) *energy_unit = m->energy_unit.c_str();
  if (length_unit != nullptr) *length_unit = m->length_unit.c_str();
  return FGDML_OK;
}

int fgdml_energy_unit_in_ev(const char* label, double* value) {
  if (label == nullptr || value == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_energy_unit_in_ev: NULL argument");
  if (!lookup(kEnergyUnits, label, value))
    return fail(FGDML_ERR_ARGUMENT, std::string("unknown energy unit '") + label +
                                        "'; use one of kcal/mol, kJ/mol, eV, meV, Hartree (Ha)");
  return FGDML_OK;
}

int fgdml_length_unit_in_angstrom(const char* label, double* value) {
  if (label == nullptr || value == nullptr)
    return fail(FGDML_ERR_ARGUMENT, "fgdml_length_unit_in_angstrom: NULL argument");
  if (!lookup(kLengthUnits, label, value))
    return fail(FGDML_ERR_ARGUMENT, std::string("unknown length unit '") + label +
                                        "'; use one of Ang (Angstrom, A), Bohr (au), nm");
  return FGDML_OK;
}

int fgdml_model_unit_factors(const fgdml_model* m, double* eV_per_energy, double* angstrom_per_length) {
  if (m == nullptr || eV_per_energy == nullptr || angstrom_per_length == nullptr)
    return fail(FGDML_ERR_ARGUMENT, "fgdml_model_unit_factors: NULL argument");
  if (fgdml_energy_unit_in_ev(m->energy_unit.c_str(), eV_per_energy) != FGDML_OK ||
      fgdml_length_unit_in_angstrom(m->length_unit.c_str(), angstrom_per_length) != FGDML_OK)
    return fail(FGDML_ERR_MODEL, "the model's units: " + last_error);
  return FGDML_OK;
}

int fgdml_model_lattice(const fgdml_model* m, double* lattice) {
  if (m == nullptr) return -1;
  if (m->periodic && lattice != nullptr)
    for (int i = 0; i < 9; ++i) lattice[i] = m->lattice[i];
  return m->periodic ? 1 : 0;
}

int fgdml_predict(const fgdml_model* m, int n, const double* R, double* E, double* F) {
  const int bad = check_predict_arguments("fgdml_predict", m, n, R, E, F);
  if (bad != FGDML_OK) return bad;
  return guarded("fgdml_predict", FGDML_ERR_GEOMETRY, [&] {
    m->predictor->predict(n, R, E, F, nullptr);
    return FGDML_OK;
  });
}

int fgdml_predict_virial(const fgdml_model* m, int n, const double* R, double* E, double* F, double* W) {
  const int bad = check_predict_arguments("fgdml_predict_virial", m, n, R, E, F);
  if (bad != FGDML_OK) return bad;
  if (n > 0 && W == nullptr) return fail(FGDML_ERR_ARGUMENT, "fgdml_predict_virial: W must not be NULL");
  return guarded("fgdml_predict_virial", FGDML_ERR_GEOMETRY, [&] {
    m->predictor->predict(n, R, E, F, W);
    for (long i = 0; i < 9L * n; ++i) W[i] = -W[i];  // virial = -dE/dstrain
    return FGDML_OK;
  });
}

}  // extern "C"
