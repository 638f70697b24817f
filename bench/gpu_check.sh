#!/usr/bin/env bash
# The one GPU check of the CUDA backend (at most 8 minutes on one H200), with logs and JSON written into the folder
# given as the argument:
#   1. the C++ build with FASTGDML_CUDA=ON and tests/cpp/test_cuda_backend.cpp against the real backend (every
#      operation, the vector/algebra calls, a whole CG training, row shards, against the CPU backend), then under
#      compute-sanitizer memcheck and racecheck (it needs no Python headers: a verdict even if step 2 cannot build);
#   2. the Python package with FASTGDML_CUDA=ON, the GPU tests (pytest -m gpu) and the benchmarks (K v and
#      prediction against cuBLAS DGEMM of the same shapes, a CG training of Ac-Ala3-NHMe against the CPU).
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
defs=(FASTGDML_CUDA=ON CMAKE_CUDA_ARCHITECTURES=90-real)  # H200 only: the check builds faster
if [ ! -e /usr/include/zlib.h ] && ls .deb/zlib1g-dev*.deb > /dev/null 2>&1; then
  rm -rf /tmp/zlib && mkdir -p /tmp/zlib && dpkg -x .deb/zlib1g-dev*.deb /tmp/zlib
  zlib_lib=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
  defs+=(ZLIB_INCLUDE_DIR=/tmp/zlib/usr/include "ZLIB_LIBRARY=$zlib_lib")
fi
cmake_defs=() pip_defs=()
for d in "${defs[@]}"; do cmake_defs+=("-D$d"); pip_defs+=(-C "cmake.define.$d"); done
[ -d .gpu_data ] && export FASTGDML_BENCH_DATA=$PWD/.gpu_data
# The cuBLAS/cuSOLVER wheels of this Python: the backend's RPATH looks beside the installed package, which a
# --target install does not have, so the loader is told where they are.
CU13=$($PY -c "import os, nvidia; print(next(os.path.join(p, 'cu13', 'lib') for p in nvidia.__path__ if os.path.isdir(os.path.join(p, 'cu13', 'lib'))))" 2>/dev/null)
[ -n "$CU13" ] && export LD_LIBRARY_PATH="$CU13${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1

CPP=/tmp/fastgdml_gpu_cpp
jobs=$(nproc 2>/dev/null || echo 8)
if step cpp-build 200 bash -c "cmake -S . -B $CPP -DFASTGDML_CPP_TESTS=ON -DCMAKE_BUILD_TYPE=Release \
     -DPython_EXECUTABLE=$(command -v $PY) ${cmake_defs[*]} && cmake --build $CPP -j$jobs --target test_cuda_backend_gpu"
then
  export FASTGDML_CUDA_LIBRARY=$CPP/cuda/libfastgdml_cuda.so
  step cpp-gpu-test 120 "$CPP/test_cuda_backend_gpu"
  if command -v compute-sanitizer > /dev/null 2>&1; then
    step cpp-memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 3 "$CPP/test_cuda_backend_gpu" --quick
    step cpp-racecheck 150 compute-sanitizer --tool racecheck --error-exitcode 3 "$CPP/test_cuda_backend_gpu" --quick
  else
    echo "compute-sanitizer not found: memcheck and racecheck not run" | tee "$OUT/sanitizer.log"
    status=1
  fi
  unset FASTGDML_CUDA_LIBRARY  # the Python package below finds its own copy
fi

step build 240 $PY -m pip install -v --no-build-isolation --no-deps --target "$SITE" "${pip_defs[@]}" . || {
  echo "Python build failed: see $OUT/build.log"; exit 1; }
step info 60 $PY -m fastgdml.cli info
step pytest-gpu 240 $PY -m pytest -q -rs -m gpu tests/test_gpu.py tests/test_backend_conformance.py \
  --junitxml="$OUT/pytest-gpu.xml"
step bench 240 $PY bench/gpu.py --json "$OUT/gpu.json"
echo "GPU check finished with status $status; logs and JSON in $OUT"
exit $status
