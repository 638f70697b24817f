/* fastgdml C ABI: load a trained sGDML/fastgdml model file and predict energies and forces from C, C++, Fortran
 * or any language with a C foreign-function interface (the LAMMPS plugin uses it).
 *
 * Conventions
 *   - Every function that can fail returns an int status: FGDML_OK (0) or one of the FGDML_ERR_* codes below.
 *     The message of the last failure on the calling thread is fgdml_last_error(). No C++ exception and no
 *     process exit ever leaves this library.
 *   - Units are the model's own (fgdml_model_units): positions in its length unit, energies in its energy unit,
 *     forces in energy/length. sGDML models are kcal/mol and Angstrom unless the file says otherwise.
 *   - Arrays are row-major C arrays of double: R and F are n_geometries x n_atoms x 3 (atoms in the model's
 *     order), E is n_geometries.
 *   - Threads: a loaded model is immutable; fgdml_predict may be called on one model from several threads at
 *     once. The core runs OpenMP; set OMP_NUM_THREADS (and OMP_WAIT_POLICY=passive beside other busy
 *     processes) before the library is loaded.
 *
 * Link with -lfastgdml; the header and library paths are printed by `fastgdml config --include` and
 * `fastgdml config --library` (Python: fastgdml.get_include(), fastgdml.get_library()).
 */
#ifndef FASTGDML_C_API_H
#define FASTGDML_C_API_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FGDML_API __attribute__((visibility("default")))
#else
#define FGDML_API
#endif

enum {
  FGDML_OK = 0,
  FGDML_ERR_ARGUMENT = 1, /* a null pointer, a negative count, an unknown name */
  FGDML_ERR_FILE = 2,     /* the model file cannot be opened or read */
  FGDML_ERR_MODEL = 3,    /* the file is not a valid model (corrupt, truncated, wrong shapes, NaN, pickles) */
  FGDML_ERR_GEOMETRY = 4, /* non-finite positions, atoms closer than the model allows */
  FGDML_ERR_MEMORY = 5,   /* not enough memory */
  FGDML_ERR_INTERNAL = 6  /* anything else (a bug: please report the message) */
};

typedef struct fgdml_model fgdml_model;

/* Library version ("0.1.0") and the message of the calling thread's last failure ("" if none). The returned
   strings stay valid until the next call on the same thread that fails (last_error) / forever (version). */
FGDML_API const char* fgdml_version(void);
FGDML_API const char* fgdml_last_error(void);

/* Loads and checks the model file at path (sGDML or fastgdml .npz). On success *out is a new model to be released
   with fgdml_model_free; on failure *out is NULL and the message names the file and the offending key. */
FGDML_API int fgdml_model_load(const char* path, fgdml_model** out);
FGDML_API void fgdml_model_free(fgdml_model* m); /* NULL is allowed */

/* Number of atoms (> 0), or -1 for a NULL model. */
FGDML_API int fgdml_model_n_atoms(const fgdml_model* m);
/* z: n_atoms ints receive the atomic numbers in the model's atom order. */
FGDML_API int fgdml_model_atomic_numbers(const fgdml_model* m, int* z);
/* *energy_unit and *length_unit receive the model's unit labels ("kcal/mol", "eV", "Ang", "bohr", ...; the sGDML
   defaults "kcal/mol" and "Ang" when the file names none); the strings live as long as the model. */
FGDML_API int fgdml_model_units(const fgdml_model* m, const char** energy_unit, const char** length_unit);
/* The values of the model's units in eV and Angstrom (*eV_per_energy, *angstrom_per_length), from the same table
   as the Python package (fastgdml.units: ASE's CODATA constants). FGDML_ERR_MODEL for a unit label the table lacks. */
FGDML_API int fgdml_model_unit_factors(const fgdml_model* m, double* eV_per_energy, double* angstrom_per_length);
/* One label's value: eV per energy unit ("kcal/mol", "kJ/mol", "eV", "meV", "Hartree"/"Ha") or Angstrom per length
   unit ("Ang"/"Angstrom"/"A", "Bohr"/"au", "nm"), case-insensitive. FGDML_ERR_ARGUMENT for an unknown label. */
FGDML_API int fgdml_energy_unit_in_ev(const char* label, double* value);
FGDML_API int fgdml_length_unit_in_angstrom(const char* label, double* value);

/* 1 when the model is periodic (then lattice, if not NULL, receives its 3 x 3 cell, vectors as columns, row-major,
   model length units), 0 when molecular, -1 for a NULL model. */
FGDML_API int fgdml_model_lattice(const fgdml_model* m, double* lattice);

/* Energies E (n_geometries) and forces F (n_geometries x n_atoms x 3) at positions R (n_geometries x n_atoms x 3).
   F may alias nothing else; E and F are left unspecified on failure. */
FGDML_API int fgdml_predict(const fgdml_model* m, int n_geometries, const double* R, double* E, double* F);
/* As fgdml_predict, plus the virial W (n_geometries x 3 x 3, row-major) = -dE/d(strain): for a molecule the
   sum over atoms of r_i (x) F_i, for a periodic model the derivative under a homogeneous strain of positions and
   cell (stress = -W / volume). Energy units. */
FGDML_API int fgdml_predict_virial(const fgdml_model* m, int n_geometries, const double* R, double* E, double* F,
                                   double* W);

#ifdef __cplusplus
}
#endif

#endif /* FASTGDML_C_API_H */
