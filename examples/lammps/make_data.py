"""Write a LAMMPS data file (atom_style atomic, units real or metal: positions in Angstrom) for one geometry of an
sGDML dataset or prediction file, with atom IDs in the model's atom order and one atom type per element.

    python make_data.py GEOMETRIES.npz OUT.data [--frame 0] [--box 40]

Prints the element list for `pair_coeff * * MODEL.npz El1 El2 ...` (the types' order)."""
import argparse

import numpy as np

MASSES = {1: 1.008, 6: 12.011, 7: 14.007, 8: 15.999, 9: 18.998, 15: 30.974, 16: 32.06, 17: 35.45}
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F", 15: "P", 16: "S", 17: "Cl"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("geometries", help=".npz with R (M, N, 3) in Angstrom and z (N,)")
    ap.add_argument("output", help="LAMMPS data file to write")
    ap.add_argument("--frame", type=int, default=0, help="which geometry (default 0)")
    ap.add_argument("--box", type=float, default=40.0, help="edge of the (shrink-wrapped) box in Angstrom")
    args = ap.parse_args(argv)
    with np.load(args.geometries) as f:
        R, z = np.asarray(f["R"][args.frame], dtype=float), np.asarray(f["z"], dtype=int)
    unknown = sorted(set(z) - set(MASSES))
    if unknown:
        raise SystemExit(f"make_data.py: no mass for atomic number(s) {unknown}; add them to MASSES")
    elements = list(dict.fromkeys(int(v) for v in z))  # types in order of first appearance
    R = R - R.mean(axis=0)
    half = args.box / 2
    lines = [f"LAMMPS data file: frame {args.frame} of {args.geometries} (fastgdml examples/lammps/make_data.py)", "",
             f"{len(z)} atoms", f"{len(elements)} atom types", "",
             f"{-half} {half} xlo xhi", f"{-half} {half} ylo yhi", f"{-half} {half} zlo zhi", "", "Masses", ""]
    lines += [f"{t + 1} {MASSES[e]}  # {SYMBOLS[e]}" for t, e in enumerate(elements)]
    lines += ["", "Atoms # atomic", ""]
    lines += [f"{i + 1} {elements.index(int(zi)) + 1} {x:.10f} {y:.10f} {w:.10f}" for i, (zi, (x, y, w)) in enumerate(zip(z, R))]
    with open(args.output, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(" ".join(SYMBOLS[e] for e in elements))


if __name__ == "__main__":
    main()
