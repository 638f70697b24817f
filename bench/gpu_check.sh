#!/usr/bin/env bash
# The one GPU check of the CUDA backend (at most 8 minutes on one H200): build with FASTGDML_CUDA=ON, the GPU tests
# (pytest -m gpu), compute-sanitizer memcheck and racecheck on a small case of every operation, and the benchmarks
# (K v and prediction against cuBLAS DGEMM of the same shapes, a CG training of Ac-Ala3-NHMe against the CPU), with
# logs and JSON written into the folder given as the argument.
#
#   bash bench/gpu_check.sh OUT_DIR
#
# Needs on the machine: nvcc, cmake, Python with numpy, pybind11, scikit-build-core, pytest and the cuBLAS/cuSOLVER
# wheels (nvidia-cublas, nvidia-cusolver). What it may lack can travel with the working tree (bench/README.md,
# "Running the GPU check"): wheels in .whl/ (scipy-openblas32 for that Python), zlib's headers as a .deb in .deb/,
# the datasets in .gpu_data/ (ala3_xtb.npz, aspirin_xtb.npz from ../shared/data).
set -uo pipefail
OUT=${1:?usage: bash bench/gpu_check.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
status=0
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to OUT/NAME.log, remember a failure
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit} s) ==="
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -25 "$OUT/$name.log"
  echo "=== $name: exit $rc after $((SECONDS - start)) s ==="
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}

PY=${PYTHON:-python3}
SITE=/tmp/fastgdml_gpu_site
rm -rf "$SITE" && mkdir -p "$SITE"
if ls .whl/*.whl > /dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || exit 1
fi
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
cmake_defs=(-C cmake.define.FASTGDML_CUDA=ON -C "cmake.define.CMAKE_CUDA_ARCHITECTURES=90-real")
if [ ! -e /usr/include/zlib.h ] && ls .deb/zlib1g-dev*.deb > /dev/null 2>&1; then
  rm -rf /tmp/zlib && mkdir -p /tmp/zlib && dpkg -x .deb/zlib1g-dev*.deb /tmp/zlib
  zlib_lib=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
  cmake_defs+=(-C cmake.define.ZLIB_INCLUDE_DIR=/tmp/zlib/usr/include -C "cmake.define.ZLIB_LIBRARY=$zlib_lib")
fi
[ -d .gpu_data ] && export FASTGDML_BENCH_DATA=$PWD/.gpu_data
# The cuBLAS/cuSOLVER wheels of this Python: the backend's RPATH looks beside the installed package, which a
# --target install does not have, so the loader is told where they are.
CU13=$($PY -c "import os, nvidia; print(next(os.path.join(p, 'cu13', 'lib') for p in nvidia.__path__ if os.path.isdir(os.path.join(p, 'cu13', 'lib'))))" 2>/dev/null)
[ -n "$CU13" ] && export LD_LIBRARY_PATH="$CU13${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1

step build 240 $PY -m pip install -v --no-build-isolation --no-deps --target "$SITE" "${cmake_defs[@]}" . || {
  echo "build failed: see $OUT/build.log"; exit 1; }
step info 60 $PY -m fastgdml.cli info
step pytest-gpu 240 $PY -m pytest -q -rs -m gpu tests/test_gpu.py tests/test_backend_conformance.py \
  --junitxml="$OUT/pytest-gpu.xml"
if command -v compute-sanitizer > /dev/null 2>&1; then
  step memcheck 120 compute-sanitizer --tool memcheck --error-exitcode 3 $PY bench/gpu_small_case.py
  step racecheck 120 compute-sanitizer --tool racecheck --error-exitcode 3 $PY bench/gpu_small_case.py
else
  echo "compute-sanitizer not found: memcheck and racecheck not run" | tee "$OUT/sanitizer.log"
  status=1
fi
step bench 300 $PY bench/gpu.py --json "$OUT/gpu.json"
echo "GPU check finished with status $status; logs and JSON in $OUT"
exit $status
