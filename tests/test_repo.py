"""The README's two quick-start commands stay true: CI runs the same test command, and the
main-job command parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quick start has a bash block"
    return [ln for ln in block.group(1).splitlines() if ln and not ln.startswith("#")]


def test_quick_start_has_exactly_two_commands():
    assert len(quick_start()) == 2


def test_ci_runs_the_readme_test_command():
    test_command = quick_start()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_main_job_installs_and_writes_a_report_under_reports():
    from initcheck.cli import build_parser

    install, main_job = quick_start()[0].split(" && ")
    assert install.startswith("pip install -e")
    argv = shlex.split(main_job)
    assert argv[0] == "initcheck"
    args = build_parser().parse_args(argv[1:])
    assert args.classic
    assert Path(args.report).parts[0] == "reports"


def test_ci_fails_when_torch_or_jax_cannot_be_installed():
    # CI must run the PyTorch/JAX audit tests: no install may fall back to skipping them
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    lines = ci.replace("\\\n", " ").splitlines()
    installs = [ln for ln in lines if "pip install" in ln and not ln.lstrip().startswith("#")]
    torch = [ln for ln in installs if "torch" in ln]
    extras = [ln for ln in installs if "jax" in ln]
    assert torch and extras, installs
    for ln in torch + extras:
        assert "||" not in ln, ln


def test_ci_runs_the_quick_start_in_a_fresh_venv():
    """.ci/run's last step: a clone, a new venv, the quick start's install alone (no extras),
    its main job and its test command."""
    install, main_job = quick_start()[0].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "git clone" in ci and "python -m venv" in ci
    fresh = [ln.strip() for ln in ci.split("python -m venv", 1)[1].splitlines()]
    assert any(
        ln.startswith(f"python -m {install.replace('pip install', 'pip install -q')}")
        for ln in fresh
    ), fresh
    assert any(ln.startswith(main_job) for ln in fresh), fresh
    assert any(ln.startswith(quick_start()[1]) for ln in fresh), fresh
