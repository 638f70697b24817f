"""The standalone C++ benchmarks (bench/cpp): built once per session with CMake against the core library, then
fastgdml_bench_predict verifies the aspirin fixture against numbers Model.predict made (make_reference.py) and
fastgdml_bench_matvec runs a tiny K v checked against the assembled K; both write their JSON. Bad inputs end in
exit status 2 with the file named, a failed verification in exit status 1. Timings are not checked here."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(DATA, "aspirin_sgdml_sym.npz")
CXX = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or CXX is None,
                                reason="bench/cpp needs cmake and a C++ compiler on PATH")


@pytest.fixture(scope="session")
def bench_bin(tmp_path_factory):
    """Directory of the two binaries: one configure and build of the core and bench/cpp per session (~30 s on
    two cores). CUDA is off: the benchmarks use the CPU backend, and nvcc would only add build time."""
    build = tmp_path_factory.mktemp("bench_cpp_build")
    configure = ["cmake", "-S", ROOT, "-B", str(build), "-DFASTGDML_BENCH=ON", "-DFASTGDML_CUDA=OFF",
                 "-DCMAKE_BUILD_TYPE=Release", f"-DPython_EXECUTABLE={sys.executable}", f"-DCMAKE_CXX_COMPILER={CXX}"]
    done = subprocess.run(configure, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(["cmake", "--build", str(build), "-j2", "--target", "fastgdml_bench_predict",
                           "fastgdml_bench_matvec"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return build / "bench" / "cpp"


def run(exe, *args):
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_ref") / "aspirin_ref.npz"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "cpp", "make_reference.py"), MODEL, str(out),
                           "--n", "12"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_predict_verifies_against_model_predict(bench_bin, reference, tmp_path):
    out = tmp_path / "predict.json"
    done = run(bench_bin / "fastgdml_bench_predict", MODEL, "--verify", reference, "--batch", 20, "--single", 10,
               "--repeats", 2, "--min-time", 0, "--json", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify" in done.stdout and ": ok" in done.stdout
    result = json.loads(out.read_text())
    assert result["benchmark"] == "predict"
    assert {"threads", "blas", "cpu"} <= set(result["machine"])
    assert result["inputs"]["n_atoms"] == 21 and result["inputs"]["n_perms"] == 6
    assert {"single", "batch", "verify"} <= set(result["results"])
    assert result["results"]["single"]["per_geometry"]["median_s"] > 0
    assert result["results"]["batch"]["size"] == 20
    verify = result["results"]["verify"]
    assert verify["passed"] and verify["geometries"] == 12
    assert max(verify[k] for k in ("batch_max_rel_dE", "batch_max_rel_dF", "single_max_rel_dE",
                                   "single_max_rel_dF")) <= 1e-10


def test_predict_fails_a_wrong_reference(bench_bin, reference, tmp_path):
    with np.load(reference) as ref:
        F = ref["F"].copy()
        F[3, 5, 1] *= 1 + 1e-8
        np.savez(tmp_path / "wrong.npz", R=ref["R"], E=ref["E"], F=F)
    done = run(bench_bin / "fastgdml_bench_predict", MODEL, "--verify", tmp_path / "wrong.npz", "--batch", 0,
               "--single", 0)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout


def test_matvec_tiny_run_agrees_with_the_assembled_kernel(bench_bin, tmp_path):
    out = tmp_path / "matvec.json"
    done = run(bench_bin / "fastgdml_bench_matvec", "--n", 12, "--atoms", 9, "--rotors", 1, "--energy", "--verify",
               "--repeats", 2, "--min-time", 0, "--square", 64, "--json", out)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["benchmark"] == "matvec"
    assert {"threads", "blas", "cpu"} <= set(result["machine"])
    assert result["inputs"]["n_perms"] == 6 and result["inputs"]["descriptor_size"] == 36
    res = result["results"]
    assert {"kv", "kv_gflops", "dgemm_rate_same_shape", "fraction_of_dgemm", "dgemm_rate_square"} <= set(res)
    assert res["kv_gflops"] > 0 and res["dgemm_rate_same_shape"] > 0
    assert res["verify"]["passed"] and res["verify"]["max_rel_err"] <= 1e-10


def test_bad_inputs_are_one_line_errors_naming_the_file(bench_bin, tmp_path):
    missing = tmp_path / "missing.npz"
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(open(MODEL, "rb").read()[:1000])
    for args in ([missing], [truncated], [MODEL, "--geometries", tmp_path / "R.bin"]):
        done = run(bench_bin / "fastgdml_bench_predict", *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith("fastgdml_bench_predict: error: ") and str(args[-1]) in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    done = run(bench_bin / "fastgdml_bench_matvec", "--dataset", missing)
    assert done.returncode == 2 and str(missing) in done.stderr
    done = run(bench_bin / "fastgdml_bench_matvec", "--n", "ten")
    assert done.returncode == 2 and "--n" in done.stderr


def test_help_documents_every_flag(bench_bin):
    for exe, flags in (("fastgdml_bench_predict", ["--geometries", "--batch", "--single", "--repeats", "--min-time",
                                                   "--threads", "--verify", "--json"]),
                       ("fastgdml_bench_matvec", ["--dataset", "--n", "--atoms", "--rotors", "--sigma", "--energy",
                                                  "--cache-mb", "--repeats", "--min-time", "--square", "--threads",
                                                  "--verify", "--json"])):
        done = run(bench_bin / exe, "--help")
        assert done.returncode == 0 and done.stdout.startswith(f"usage: {exe}")
        for flag in flags:
            assert f"  {flag} " in done.stdout, (exe, flag)
