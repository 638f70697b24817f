"""The backend registry: what this build can compute on, how a backend is asked for, and who served a call."""
import os

import numpy as np
import pytest

import fastgdml
from fastgdml import _core
from fastgdml.cli import main as cli_main

from conftest import DATA, TOY_PERMS, TOY_Z, make_toy


def test_cpu_is_registered_and_names_are_sorted():
    names = fastgdml.backends()
    assert "cpu" in names and names == sorted(names)


def _cuda_state():
    """'absent' (this build has no CUDA backend library), 'no device' (built, nothing to run it on) or 'usable'."""
    if "cuda" not in fastgdml.backends():
        return "absent"
    return "usable" if dict((n, ok) for n, ok, _ in _core.backend_status())["cuda"] else "no device"


@pytest.mark.parametrize("name", ["gpu", "", "cpu2"])
def test_unknown_backend_is_an_error_naming_the_available_ones(name):
    R = make_toy(M=4)[0]
    with pytest.raises(ValueError, match=r"unknown backend '.*'; available: .*cpu"):
        _core.KernelOperator(R, TOY_PERMS, 1.0, backend=name)


def test_cuda_without_its_library_or_device_is_an_error_saying_why():
    """Never a silent CPU fallback: without the library an unknown backend with the reason, with the library but no
    device a RuntimeError naming the missing device and the fix."""
    R = make_toy(M=4)[0]
    state = _cuda_state()
    if state == "usable":
        pytest.skip("a CUDA device is present: the GPU tests (pytest -m gpu) cover this backend")
    if state == "absent":
        with pytest.raises(ValueError, match=r"unknown backend 'cuda'; available: cpu.*no CUDA backend"):
            _core.KernelOperator(R, TOY_PERMS, 1.0, backend="cuda")
    else:
        with pytest.raises(RuntimeError, match=r"backend 'cuda': no CUDA device .*backend='cpu'"):
            _core.KernelOperator(R, TOY_PERMS, 1.0, backend="cuda")
        with pytest.raises(RuntimeError, match=r"no CUDA device"):
            fastgdml.Model.load(os.path.join(DATA, "ethanol_sgdml_sym.npz"), backend="cuda")
    status = {name: (ok, detail) for name, ok, detail in _core.backend_status()}
    assert status["cpu"][0] and not status["cuda"][0] and "cuda" in status["cuda"][1].lower()


def test_the_named_backend_serves_the_call():
    R, E, F = make_toy(M=20)
    op = _core.KernelOperator(R[:4], TOY_PERMS, 1.0, backend="cpu")
    assert op.backend == "cpu"
    model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 10, 1.2, perms=TOY_PERMS,
                           n_valid=0)
    assert model.backend == "cpu" and np.all(np.isfinite(model.predict(R[:2])[1]))


def test_info_without_a_file_describes_the_installation(capsys):
    assert cli_main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fastgdml {fastgdml.__version__}") and "backend cpu: host CPU" in out
    assert "backend cuda: " in out  # available, or why not


def test_training_on_an_unknown_backend_is_an_error_not_a_fallback(toy):
    state = _cuda_state()
    if state == "absent":
        with pytest.raises(ValueError, match=r"unknown backend 'cuda'; available: cpu.*no CUDA backend"):
            fastgdml.train(toy, 10, 1.2, perms=TOY_PERMS, n_valid=0, backend="cuda")
    elif state == "no device":
        with pytest.raises(RuntimeError, match=r"no CUDA device"):
            fastgdml.train(toy, 10, 1.2, perms=TOY_PERMS, n_valid=0, backend="cuda")
    with pytest.raises(ValueError, match=r"unknown backend 'gpu'"):
        fastgdml.SolverOptions(backend="gpu")


@pytest.mark.parametrize("command", [["train", "DATA", "--sigma", "1.2"], ["test", "MODEL", "DATA"],
                                     ["prune", "MODEL", "DATA"], ["learning-curve", "DATA", "--sizes", "5"],
                                     ["ipi", "MODEL", "--unix", "x"]])
def test_cli_backend_flag_names_the_available_backends(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(command + ["--backend", "nope"])
    assert exit_info.value.code == 2
    assert "unknown backend 'nope'; available: " + ", ".join(fastgdml.backends()) in capsys.readouterr().err


def test_cli_trains_and_tests_on_the_named_backend(toy, tmp_path, capsys):
    data, out = str(tmp_path / "toy.npz"), str(tmp_path / "model.npz")
    toy.save(data)
    assert cli_main(["train", data, "--n-train", "10", "--sigma", "1.2", "--n-valid", "5", "--backend", "cpu",
                     "-o", out, "--quiet"]) == 0
    assert fastgdml.Model.load(out).backend == "cpu"
    assert cli_main(["test", out, data, "--backend", "cpu", "--json"]) == 0
