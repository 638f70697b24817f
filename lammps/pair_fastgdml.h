/* pair_style fastgdml: a global sGDML/fastgdml force field in LAMMPS, through the fastgdml C ABI.
 *
 * Part of the fastgdml LAMMPS plugin (this folder), licensed under the GNU General Public License version 2
 * (LICENSE here), because it includes LAMMPS headers. The fastgdml core it calls (libfastgdml, c_api.h) is MIT.
 *
 * A global model couples every atom pair of one molecule, so every rank gathers the whole molecule (atom IDs
 * 1..N are the model's atoms 1..N), predicts it and keeps the forces of the atoms it owns; rank 0 adds the energy
 * and the global virial.
 */
#ifndef FASTGDML_PAIR_FASTGDML_H
#define FASTGDML_PAIR_FASTGDML_H

#include <string>
#include <vector>

#include "pair.h"

struct fgdml_model;

namespace LAMMPS_NS {

class PairFastGDML : public Pair {
 public:
  explicit PairFastGDML(class LAMMPS* lmp);
  ~PairFastGDML() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char** arg) override;
  void coeff(int narg, char** arg) override;
  void init_style() override;
  double init_one(int i, int j) override;

 private:
  void allocate();
  void gather_molecule();  // R_ (model order, model length unit) from all ranks, with the checks
  [[noreturn]] void fail(const std::string& message);

  fgdml_model* model_ = nullptr;
  std::string model_path_;
  int n_atoms_ = 0;
  std::vector<int> model_z_;      // atomic numbers in the model's atom order
  std::vector<int> type_z_;       // atomic number of each LAMMPS type (index 1..ntypes)
  double energy_factor_ = 1.0;    // LAMMPS energy units per model energy unit
  double length_factor_ = 1.0;    // model length units per Angstrom
  std::vector<double> R_, F_;     // N x 3, model units
  std::vector<int> counts_, displs_;
  std::vector<double> sendbuf_, recvbuf_;
};

}  // namespace LAMMPS_NS

#endif
