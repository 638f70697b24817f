"""The backend registry: what this build can compute on, how a backend is asked for, and who served a call."""
import numpy as np
import pytest

import fastgdml
from fastgdml import _core
from fastgdml.cli import main as cli_main

from conftest import TOY_PERMS, TOY_Z, make_toy


def test_cpu_is_registered_and_names_are_sorted():
    names = fastgdml.backends()
    assert "cpu" in names and names == sorted(names)


@pytest.mark.parametrize("name", ["cuda", "gpu", ""])
def test_unknown_backend_is_an_error_naming_the_available_ones(name):
    R = make_toy(M=4)[0]
    with pytest.raises(ValueError, match=r"unknown backend '.*'; available: .*cpu"):
        _core.KernelOperator(R, TOY_PERMS, 1.0, backend=name)


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
    assert out.startswith(f"fastgdml {fastgdml.__version__}") and "backends: " + ", ".join(fastgdml.backends()) in out
