"""initcheck installs anywhere without a registry release: a wheel built from the checkout
(``python -m pip wheel . --no-deps -w DIR``, as the README's Install section shows) goes into
a fresh virtual environment and then works in a user's project through its entry points
alone — the pytest plugin (``pytest11``), the ``initcheck`` console script and the CI gate.

The venv sees this interpreter's site-packages, so the already-installed dependencies
(TensorFlow, numpy, scipy, pytest, Hypothesis, ...) serve and nothing is downloaded but the
build backend. It is not made with ``--system-site-packages``: inside a venv (the README's
quick start) that flag would show the *base* interpreter's packages, not the user's venv;
instead a ``.pth`` file adds every site-packages directory of the running interpreter
(``site.getsitepackages()``: the venv's, plus the base's when the venv itself has system
site-packages). Where no wheel can be built (the build backend cannot be fetched), the
tests skip with the reason. The development install of initcheck in the base environment
(editable, or this checkout on ``PYTHONPATH``) must not shadow the wheel: ``PYTHONPATH`` is
dropped, the commands run from the user project, and every test asserts that ``initcheck``
is imported from the venv's own site-packages.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300

USER_PYPROJECT = """\
[project]
name = "userproj"
version = "0.0.1"

[tool.pytest.ini_options]
pythonpath = ["."]

[tool.initcheck.initializers.user_he]
target = "userproj.inits:he_init"
variance = "he"
"""

USER_INITS = '''\
"""The user's He-normal initializer, Keras layout (*kernel, in, out)."""

import math

import numpy as np


def he_init(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)
'''

USER_TEST = """\
from userproj.inits import he_init


def test_he_init(initcheck):
    initcheck.assert_breaks_symmetry(he_init, (784, 256))
    initcheck.assert_variance(he_init, "he", (784, 256))
"""


@dataclass(frozen=True)
class Installed:
    """A venv with the initcheck wheel installed, and a user project next to it."""

    venv: Path
    project: Path
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run a command in the user project with the venv's environment.

        Args:
            args: the command and its arguments.

        Returns:
            The completed process, output captured as text.
        """
        return subprocess.run(
            [str(a) for a in args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def _clean_env(venv: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "CI", "HYPOTHESIS_PROFILE")
    }
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, (
        f"{what} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def _build_wheel(dist: Path, env: dict[str, str]) -> None:
    """``python -m pip wheel . --no-deps -w dist``, as the README says; a skip with the
    reason where the build backend cannot be had (no index reachable)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(dist)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    unavailable = ("No matching distribution", "Could not find a version")
    if proc.returncode != 0 and any(u in proc.stdout + proc.stderr for u in unavailable):
        pytest.skip(
            f"no wheel can be built here, its build backend is unavailable: "
            f"{proc.stderr.strip().splitlines()[-1:]}"
        )
    _check(proc, "pip wheel")


def _see_these_packages(inst: Installed) -> None:
    """Make the venv see this interpreter's site-packages (its .pth files processed)."""
    purelib = Path(_check(inst.run(inst.python, "-c", _PURELIB), "sysconfig").strip())
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    lines = [f"import site; site.addsitedir({d!r})" for d in dirs]
    (purelib / "_initcheck_test_parent_env.pth").write_text("\n".join(lines) + "\n")


_PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel, make a fresh venv, install the wheel, write a user project."""
    tmp = tmp_path_factory.mktemp("install")
    dist, venv, project = tmp / "dist", tmp / "venv", tmp / "userproj"
    base_env = _clean_env(venv)
    base_env.pop("VIRTUAL_ENV")

    def run(*args: str | Path, cwd: Path = tmp) -> str:
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            env=base_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        return _check(proc, " ".join(str(a) for a in args))

    _build_wheel(dist, base_env)
    (wheel,) = dist.glob("initcheck-*.whl")
    run(sys.executable, "-m", "venv", venv)
    inst = Installed(venv=venv, project=project, env=_clean_env(venv))
    project.mkdir()
    _see_these_packages(inst)
    # --force-reinstall: a copy of initcheck in the base environment must not count as
    # "already satisfied"; --no-deps --no-index: the dependencies come from the base
    # environment, nothing is downloaded.
    run(inst.python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", wheel)

    (project / "userproj").mkdir()
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text(USER_PYPROJECT)
    (project / "userproj" / "__init__.py").write_text("")
    (project / "userproj" / "inits.py").write_text(USER_INITS)
    (project / "tests" / "test_inits.py").write_text(USER_TEST)
    return inst


def _site_packages(inst: Installed) -> Path:
    out = inst.run(inst.python, "-c", _PURELIB)
    return Path(_check(out, "sysconfig").strip()).resolve()


@pytest.mark.slow
def test_the_wheel_is_what_the_venv_imports(installed):
    out = installed.run(
        installed.python, "-c", "import initcheck, initcheck.plugin; print(initcheck.__file__)"
    )
    origin = Path(_check(out, "import initcheck").strip()).resolve()
    assert origin.is_relative_to(_site_packages(installed)), (
        f"initcheck was imported from {origin}, not from the venv's wheel install"
    )
    assert not origin.is_relative_to(ROOT)


@pytest.mark.slow
def test_the_venv_sees_the_running_environment_not_only_the_base(installed):
    """Inside a venv, ``--system-site-packages`` would show the base interpreter's
    packages; the nested venv must see the running environment's (the user's venv)."""
    code = "import sys; print('\\n'.join(sys.path))"
    seen = {
        Path(p).resolve()
        for p in _check(installed.run(installed.python, "-c", code), "sys.path").splitlines()
        if p
    }
    wanted = {Path(d).resolve() for d in site.getsitepackages() if Path(d).is_dir()}
    assert wanted <= seen, f"the venv does not see {sorted(map(str, wanted - seen))}"


@pytest.mark.slow
def test_the_plugin_registers_through_its_entry_point(installed):
    code = (
        "from importlib.metadata import distribution; d = distribution('initcheck'); "
        "print(d.locate_file('')); "
        "print([(e.name, e.value) for e in d.entry_points if e.group == 'pytest11'])"
    )
    located, entry = _check(installed.run(installed.python, "-c", code), "metadata").splitlines()
    assert Path(located).resolve() == _site_packages(installed), located
    assert entry == "[('initcheck', 'initcheck.plugin')]", entry

    out = installed.run(installed.python, "-m", "pytest", "--trace-config", "--co", "-q")
    text = _check(out, "pytest --trace-config")
    match = re.search(r"PLUGIN registered: <module 'initcheck\.plugin' from '([^']+)'>", text)
    assert match, f"--trace-config shows no initcheck plugin module:\n{text[-3000:]}"
    plugin_file = Path(match.group(1)).resolve()
    assert plugin_file.is_relative_to(_site_packages(installed)), plugin_file

    with_plugin = _check(installed.run(installed.python, "-m", "pytest", "--help"), "--help")
    without = _check(
        installed.run(installed.python, "-m", "pytest", "-p", "no:initcheck", "--help"),
        "-p no:initcheck --help",
    )
    assert "--initcheck-alpha" in with_plugin
    assert "--initcheck-alpha" not in without


@pytest.mark.slow
def test_the_console_script_runs(installed):
    script = installed.bin / ("initcheck.exe" if os.name == "nt" else "initcheck")
    assert script.is_file(), "the wheel installs the initcheck console script into the venv"
    version = _check(installed.run(script, "--version"), "initcheck --version")
    assert re.fullmatch(r"initcheck \d+\.\d+\.\d+\S*\n", version), version
    out = installed.run(script, "check", "he_normal", "--variance", "he")
    _check(out, "initcheck check he_normal --variance he")


@pytest.mark.slow
def test_the_gate_and_the_fixture_work_in_a_user_project(installed):
    listing = _check(
        installed.run(installed.python, "-m", "pytest", "--collect-only", "-q"),
        "pytest --collect-only",
    )
    for prop in ("symmetry", "centering", "seeds", "tails", "degeneracy", "variance", "scaling"):
        assert f"initcheck::user_he::{prop}" in listing, listing
    assert "tests/test_inits.py::test_he_init" in listing, listing

    out = installed.run(installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    text = _check(out, "pytest in the user project")
    assert re.search(r"\b8 passed\b", text), text[-3000:]
