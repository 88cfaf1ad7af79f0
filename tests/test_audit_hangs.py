"""No hang (issue 27 item 3): a factory that never returns, a forward that never returns
and a factory that hangs only when rebuilt are each stopped by the audit's ``timeout``,
from the library, the CLI and the gate (with and without xdist). Each case runs in a
subprocess with a hard limit of the timeout plus 60 s, so a regression fails instead of
hanging the suite; no assertion depends on how fast the machine is."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

TIMEOUT = 2  # the audit's timeout, seconds
LIMIT = TIMEOUT + 60  # the subprocess's hard limit: a hang fails the test here

MODELS = textwrap.dedent(
    """
    import threading

    import numpy as np
    import torch
    from torch import nn

    def _forever():
        threading.Event().wait()  # never set: the call never returns


    def hang_factory():
        _forever()


    class HangingForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 4)

        def forward(self, x):
            _forever()


    def hang_forward():
        return HangingForward()


    def good():
        model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                              nn.Linear(64, 4))
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        return model


    class BusyForward(HangingForward):
        def forward(self, x):
            x = self.a(x)
            while True:  # torch ops that never end: no module is called again
                x = torch.tanh(x) * 1.0


    def busy_forward():
        return BusyForward()


    CALLS = []


    def hang_rebuild():
        CALLS.append(1)
        if len(CALLS) > 1:
            _forever()
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
        for m in model:  # drawn by numpy: only a rebuild draws it afresh
            if isinstance(m, nn.Linear):
                rng = np.random.default_rng(int(torch.randint(0, 2**31, ())))  # seeded
                drawn = rng.normal(0, 3.0, tuple(m.weight.shape))  # far from torch's default
                m.weight.data = torch.from_numpy(drawn.astype("float32"))
        return model
    """
)
CASES = {
    "hang_factory": "building the model did not return",
    "hang_forward": "the forward/backward pass did not return",
    "hang_rebuild": "rebuilding the model did not return",
}


@pytest.fixture
def models(tmp_path: Path) -> Path:
    (tmp_path / "hangmodels.py").write_text(MODELS)
    return tmp_path


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=LIMIT, check=False)


@pytest.mark.parametrize("case", list(CASES))
def test_library_stops_each_hang_within_its_timeout(models: Path, case: str) -> None:
    code = (
        "import initcheck, torch\n"
        "from hangmodels import *\n"
        "try:\n"
        f"    r = initcheck.audit({case}, settings=initcheck.Settings(timeout={TIMEOUT}),\n"
        "                        inputs=torch.randn(8, 8))\n"
        "    print('VERDICT', r.verdict)\n"
        "    print(r.text(verbose=True))\n"
        "except Exception as e:\n"
        "    print('RAISED', type(e).__name__, e)\n"
    )
    out = _run([sys.executable, "-c", code], models)
    text = out.stdout + out.stderr
    assert "VERDICT passed" not in text, text
    assert CASES[case] in text, text


@pytest.mark.parametrize("case", list(CASES))
def test_cli_exits_within_its_timeout(models: Path, case: str) -> None:
    out = _run(
        [
            sys.executable,
            "-m",
            "initcheck",
            "audit",
            f"hangmodels.py:{case}",
            "--timeout",
            str(TIMEOUT),
            "--verbose",
        ],
        models,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert CASES[case] in out.stdout + out.stderr


@pytest.mark.parametrize("xdist", [False, True], ids=["inprocess", "xdist"])
def test_gate_exits_within_its_timeout_and_runs_the_good_model(models: Path, xdist: bool) -> None:
    if xdist:
        pytest.importorskip("xdist")
    tables = "".join(
        f'[tool.initcheck.models.{case}]\ntarget = "hangmodels:{case}"\ntimeout = {TIMEOUT}\n\n'
        for case in CASES
    )
    (models / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        + tables
        + '[tool.initcheck.models.good]\ntarget = "hangmodels:good"\n'
    )
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rf"]
    out = _run([*cmd, *(["-n", "2"] if xdist else [])], models)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert re.search(r"FAILED initcheck::hang_factory::build|hang_factory::build FAILED", text)
    # the good model's items ran
    assert re.search(r"PASSED initcheck::good::signal|good::signal PASSED", text), text
    for message in CASES.values():
        assert message in text, (message, text)


def test_an_abandoned_pass_stops_at_its_next_op(models: Path) -> None:
    """A forward still inside torch at the interpreter's exit aborts the process
    ("terminate called without an active exception", exit -6: VITS's 60 s pass): the
    abandoned pass raises at its next op, so its thread ends and the process exits 0."""
    code = (
        "import threading, initcheck, torch\n"
        "from hangmodels import *\n"
        f"r = initcheck.audit(busy_forward, settings=initcheck.Settings(timeout={TIMEOUT}),\n"
        "                    inputs=torch.randn(8, 8))\n"
        "print('SIGNAL', r.signal.verdict, r.signal.message)\n"
        "left = [t for t in threading.enumerate() if t.name == 'initcheck-audit']\n"
        "for t in left:\n"
        f"    t.join({LIMIT // 2})\n"
        "print('RUNNING', sum(t.is_alive() for t in left))\n"
    )
    out = _run([sys.executable, "-c", code], models)
    text = out.stdout + out.stderr
    assert "the forward/backward pass did not return" in text, text
    assert "RUNNING 0" in text and out.returncode == 0, text
