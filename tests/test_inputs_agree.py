"""The front ends agree on the same user input (issue 16's measured disagreements): a bad
seed is one usage line in every front end, with the same wording; ``"Auto"`` is
``"auto"`` in the gate as in ``audit()`` and the CLI; ``audit(settings=...)`` keeps the
settings' seed."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

import initcheck
from initcheck.settings import Settings, parse_seed

WORDING = "`seed` must be a non-negative integer. Received: seed=-1"


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "he_normal", "--seed", "-1"],
        ["compare", "he_normal", "glorot_uniform", "--seed", "-1"],
        ["audit", "models.py:build", "--seed", "-1"],
    ],
    ids=["check", "compare", "audit"],
)
def test_a_negative_seed_is_one_usage_line_exit_2_on_every_command(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "initcheck", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and WORDING in lines[0], proc.stderr
    assert f"see: initcheck {argv[0]} --help" in lines[0]


def test_the_plugin_library_and_cli_share_the_seed_wording(pytester: pytest.Pytester) -> None:
    for make in (lambda: parse_seed("-1"), lambda: Settings(seed=-1)):
        with pytest.raises(ValueError, match=f"^{re.escape(WORDING)}$"):
            make()
    result = pytester.runpytest_subprocess("--initcheck-seed", "-1", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert WORDING in result.stderr.str()


def test_auto_in_any_case_is_accepted_by_the_gate(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("torch") is None:  # not imported here: pytester would unload it
        pytest.skip("the gate's model is a torch one: torch is not installed")
    pytester.makepyfile(
        mymodels="""
import torch.nn as nn

def mlp():
    m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    return m
"""
    )
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        '[tool.initcheck.models.mlp]\ntarget = "mymodels:mlp"\nvariance = "Auto"\nsignal = false\n',
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.no_fnmatch_line("*variance*Auto*")


def test_audit_keeps_the_settings_seed() -> None:
    torch = pytest.importorskip("torch")

    def build() -> object:
        return torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.ReLU(), torch.nn.Linear(24, 4))

    by_settings = initcheck.audit(build, settings=Settings(seed=5), signal=False)
    by_keyword = initcheck.audit(build, seed=5, signal=False)
    assert by_settings.settings["seed"] == by_keyword.settings["seed"] == 5
    assert by_settings.to_dict()["rows"] == by_keyword.to_dict()["rows"]
