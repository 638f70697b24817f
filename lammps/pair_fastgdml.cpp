/* pair_style fastgdml (see pair_fastgdml.h). GPL-2.0, like LAMMPS (LICENSE in this folder). */
#include "pair_fastgdml.h"

#include <mpi.h>

#include <cmath>
#include <cstring>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "fastgdml/c_api.h"
#include "force.h"
#include "memory.h"
#include "neighbor.h"
#include "update.h"

using namespace LAMMPS_NS;

namespace {

// Element symbols by atomic number (index 0 unused), for pair_coeff's element list.
const char* const kElements[] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
constexpr int kMaxZ = 118;

int atomic_number(const char* symbol) {
  for (int z = 1; z <= kMaxZ; ++z)
    if (std::strcmp(symbol, kElements[z]) == 0) return z;
  return 0;
}

const char* symbol(int z) { return z >= 1 && z <= kMaxZ ? kElements[z] : "?"; }

}  // namespace

PairFastGDML::PairFastGDML(LAMMPS* lmp) : Pair(lmp) {
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;  // the virial comes from the model (-dE/dstrain), tallied below
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairFastGDML::~PairFastGDML() {
  fgdml_model_free(model_);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairFastGDML::fail(const std::string& message) { error->all(FLERR, "pair_style fastgdml: " + message); }

void PairFastGDML::allocate() {
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; ++i)
    for (int j = i; j <= n; ++j) setflag[i][j] = 0;
}

void PairFastGDML::settings(int narg, char** /*arg*/) {
  if (narg != 0) fail("takes no arguments (pair_style fastgdml), the model is given by pair_coeff * * MODEL El...");
}

void PairFastGDML::coeff(int narg, char** arg) {
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    fail("usage: pair_coeff * * MODEL.npz El1 ... El" + std::to_string(ntypes) + " (one element per atom type, " +
         std::to_string(ntypes) + " types)");
  fgdml_model_free(model_);
  model_ = nullptr;
  model_path_ = arg[2];
  if (fgdml_model_load(arg[2], &model_) != FGDML_OK) fail(fgdml_last_error());
  if (fgdml_model_lattice(model_, nullptr) == 1)
    fail(model_path_ + " is a periodic model; this pair style serves molecular models (use the ASE calculator or "
                       "i-PI for periodic ones)");
  n_atoms_ = fgdml_model_n_atoms(model_);
  model_z_.assign(n_atoms_, 0);
  fgdml_model_atomic_numbers(model_, model_z_.data());
  type_z_.assign(ntypes + 1, 0);
  for (int t = 1; t <= ntypes; ++t) {
    type_z_[t] = atomic_number(arg[2 + t]);
    if (type_z_[t] == 0) fail(std::string("unknown element '") + arg[2 + t] + "' for atom type " + std::to_string(t));
  }
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
}

void PairFastGDML::init_style() {
  if (model_ == nullptr) fail("pair_coeff * * MODEL El... must come before the run");
  if (atom->tag_enable == 0) fail("needs atom IDs (they give the model's atom order)");
  if (atom->natoms != n_atoms_)
    fail(model_path_ + " is a model of " + std::to_string(n_atoms_) + " atoms but the system has " +
         std::to_string(atom->natoms) + "; a global model describes exactly one molecule");
  if (force->newton_pair == 0) fail("needs newton pair on");
  // Units: LAMMPS's energy unit in eV and positions in Angstrom, converted to the model's units.
  double ev_lammps = 0.0;
  if (std::strcmp(update->unit_style, "real") == 0)
    fgdml_energy_unit_in_ev("kcal/mol", &ev_lammps);
  else if (std::strcmp(update->unit_style, "metal") == 0)
    ev_lammps = 1.0;
  else
    fail(std::string("units ") + update->unit_style + " are not supported; use units real (kcal/mol, Angstrom) "
                                                       "or units metal (eV, Angstrom)");
  double ev_model = 0.0, angstrom_model = 0.0;
  if (fgdml_model_unit_factors(model_, &ev_model, &angstrom_model) != FGDML_OK) fail(fgdml_last_error());
  energy_factor_ = ev_model / ev_lammps;
  length_factor_ = 1.0 / angstrom_model;
  R_.assign(3 * n_atoms_, 0.0);
  F_.assign(3 * n_atoms_, 0.0);
  neighbor->add_request(this);  // unused by the model; LAMMPS needs one for a pair style
}

double PairFastGDML::init_one(int /*i*/, int /*j*/) {
  return 1.0;  // Angstrom: the model needs no neighbours; a small cutoff keeps the ghost shell small
}

void PairFastGDML::gather_molecule() {
  const int nlocal = atom->nlocal, nprocs = comm->nprocs;
  // Per owned atom: ID, type and the unwrapped position (a molecule may straddle a periodic box boundary).
  sendbuf_.resize(5 * static_cast<std::size_t>(nlocal));
  for (int i = 0; i < nlocal; ++i) {
    double xu[3];
    domain->unmap(atom->x[i], atom->image[i], xu);
    double* s = &sendbuf_[5 * i];
    s[0] = static_cast<double>(atom->tag[i]);
    s[1] = static_cast<double>(atom->type[i]);
    s[2] = xu[0];
    s[3] = xu[1];
    s[4] = xu[2];
  }
  counts_.assign(nprocs, 0);
  displs_.assign(nprocs, 0);
  const int mine = 5 * nlocal;
  MPI_Allgather(&mine, 1, MPI_INT, counts_.data(), 1, MPI_INT, world);
  int total = 0;
  for (int p = 0; p < nprocs; ++p) {
    displs_[p] = total;
    total += counts_[p];
  }
  recvbuf_.resize(total);
  MPI_Allgatherv(sendbuf_.data(), mine, MPI_DOUBLE, recvbuf_.data(), counts_.data(), displs_.data(), MPI_DOUBLE,
                 world);
  if (total != 5 * n_atoms_)
    fail("the model has " + std::to_string(n_atoms_) + " atoms but " + std::to_string(total / 5) +
         " are in the box now (atoms lost?)");
  std::vector<int> type_of(n_atoms_, 0);  // 0: not seen
  for (int a = 0; a < n_atoms_; ++a) {
    const double* r = &recvbuf_[5 * a];
    const long id = std::lround(r[0]);
    if (id < 1 || id > n_atoms_ || type_of[id - 1] != 0)
      fail("atom IDs must be 1.." + std::to_string(n_atoms_) + ", each once");
    type_of[id - 1] = static_cast<int>(std::lround(r[1]));
    for (int c = 0; c < 3; ++c) R_[3 * (id - 1) + c] = r[2 + c] * length_factor_;
  }
  for (int k = 0; k < n_atoms_; ++k)  // in ID order: the first mismatch is the one to report
    if (type_z_[type_of[k]] != model_z_[k])
      fail("atom " + std::to_string(k + 1) + " is type " + std::to_string(type_of[k]) + " (" +
           symbol(type_z_[type_of[k]]) + " in pair_coeff) but atom " + std::to_string(k + 1) + " of " + model_path_ +
           " is " + symbol(model_z_[k]) + "; list the elements of the atom types in order");
}

void PairFastGDML::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  if (eflag_atom || vflag_atom || cvflag_atom)
    fail("per-atom energies and virials are not defined for a global model");
  gather_molecule();
  double E = 0.0, W[9];
  // Every rank predicts the same molecule: an error is the same everywhere, so error->all is collective.
  if (fgdml_predict_virial(model_, 1, R_.data(), &E, F_.data(), W) != FGDML_OK) fail(fgdml_last_error());
  const double force_factor = energy_factor_ * length_factor_;  // model energy/length -> LAMMPS energy/Angstrom
  double** f = atom->f;
  for (int i = 0; i < atom->nlocal; ++i) {
    const int k = static_cast<int>(atom->tag[i]) - 1;
    for (int c = 0; c < 3; ++c) f[i][c] += F_[3 * k + c] * force_factor;
  }
  if (comm->me == 0) {  // global quantities once: LAMMPS sums them over ranks
    if (eflag_global) eng_vdwl += E * energy_factor_;
    if (vflag_global) {
      virial[0] += W[0] * energy_factor_;
      virial[1] += W[4] * energy_factor_;
      virial[2] += W[8] * energy_factor_;
      virial[3] += 0.5 * (W[1] + W[3]) * energy_factor_;
      virial[4] += 0.5 * (W[2] + W[6]) * energy_factor_;
      virial[5] += 0.5 * (W[5] + W[7]) * energy_factor_;
    }
  }
}
