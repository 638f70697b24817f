"""The core's OpenMP pool waits passively unless the user chose a wait policy (python/fastgdml/_openmp.py, measured
in bench/busy_neighbour.py), and the user's environment is left as it was."""
import os
import subprocess
import sys

import pytest

CHILD = r'''
import ctypes, os, sys
import fastgdml
paths = [line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line]
if not paths:
    print("no-libgomp"); sys.exit(0)
sys.stdout.flush()
ctypes.CDLL(paths[0]).omp_display_env(1)  # GNU OpenMP's settings, printed to stderr
print("env", os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"))
'''


def settings(extra_env: dict):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    if out.stdout.startswith("no-libgomp"):
        pytest.skip("the core is not linked against GNU OpenMP here")
    shown = dict(line.strip().split(" = ", 1) for line in out.stderr.splitlines() if " = " in line)
    return {k: v.strip("'") for k, v in shown.items()}, out.stdout.split("env", 1)[1].split()


def test_default_is_passive_and_the_environment_is_restored():
    shown, env = settings({})
    assert shown["GOMP_SPINCOUNT"] == "0" and shown["OMP_WAIT_POLICY"] == "PASSIVE"
    assert env == ["None", "None"]  # children of the process do not inherit the default


@pytest.mark.parametrize("user", [{"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "ACTIVE"}])
def test_a_users_wait_policy_is_kept(user):
    shown, env = settings(user)
    if "GOMP_SPINCOUNT" in user:
        assert shown["GOMP_SPINCOUNT"] == "300000" and env == ["None", "300000"]
    else:
        assert shown["OMP_WAIT_POLICY"] == "ACTIVE" and shown["GOMP_SPINCOUNT"] != "0" and env == ["ACTIVE", "None"]
