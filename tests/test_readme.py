"""The README stays a short user guide whose examples run as written.

Every ```python, ```toml and ```bash block of README.md runs in a project shaped like a
user's (see :func:`user_project`): no conftest.py, Hypothesis's default profile (``CI`` and
``HYPOTHESIS_PROFILE`` unset, a fresh example database), and a small ``mypkg.inits`` module
holding the initializers the examples name (``mypkg.models:build`` is a model factory).
How a block runs depends on what it is:

- a python block defining ``test_*`` functions becomes a test file; each of its tests must
  pass (one outer test per README test);
- any other python block runs as a script and must exit 0;
- a toml block is appended to the project's ``pyproject.toml`` and gated with ``pytest``;
- a bash block runs line by line; each command must exit 0, or with the code its comment
  states (``# exit N``), and a comment line following a command ending in ``on stderr:``
  must be what the command wrote to stderr.

A block preceded by ``<!-- not-tested: REASON -->`` is skipped; the reason must say what
covers it instead (used sparingly: installs and the whole-suite run).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from initcheck.keras_names import KERAS_INITIALIZER_NAMES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 350
TESTED_LANGS = ("python", "toml", "bash")

USER_INITS = '''\
"""A user's own initializers, in Keras layout (*kernel, in, out)."""

import math

import numpy as np
from scipy import stats

TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def _fan_in(shape):
    return math.prod(shape[:-1])


def my_he(shape, dtype=None, seed=None):
    """He normal: N(0, 2/fan_in)."""
    std = math.sqrt(2.0 / _fan_in(shape))
    return np.random.default_rng(seed).normal(0.0, std, shape)


def my_init(shape, dtype=None, seed=None):
    """He truncated normal: N(0, s^2) cut at 2s, s chosen so that Var = 2/fan_in."""
    std = math.sqrt(2.0 / _fan_in(shape)) / TRUNCATED_STD
    rng = np.random.default_rng(seed)
    return std * stats.truncnorm.rvs(-2.0, 2.0, size=shape, random_state=rng)


def my_he_without_gain(shape, dtype=None, seed=None):
    """The missing-ReLU-gain bug: N(0, 1/fan_in) where He needs 2/fan_in."""
    std = math.sqrt(1.0 / _fan_in(shape))
    return np.random.default_rng(seed).normal(0.0, std, shape)
'''

USER_MODELS = '''\
"""A user's model factory (PyTorch), He-initialized for its ReLUs."""

import torch.nn as nn


def build():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model
'''

USER_PYPROJECT = """\
[project]
name = "mypkg"
version = "0.1.0"

[tool.pytest.ini_options]
pythonpath = ["."]
"""


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Block:
    """A fenced code block of the README."""

    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    not_tested: str | None  # the reason given in a preceding not-tested marker


def readme_blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of ``text`` (default: the README), in order.

    Args:
        text: Markdown source; the README when None.

    Returns:
        The blocks, each with its language, code, line and opt-out reason.
    """
    lines = (README.read_text() if text is None else text).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = (
            re.match(r"^<!--\s*not-tested:\s*(.*?)\s*-->$", lines[k].strip()) if k >= 0 else None
        )
        blocks.append(
            Block(
                lang=opening.group(1),
                code="\n".join(lines[start + 1 : j]) + "\n",
                line=start + 1,
                not_tested=marker.group(1) if marker else None,
            )
        )
        i = j + 1
    return blocks


def defined_tests(code: str) -> list[tuple[str, bool]]:
    """The ``test_*`` functions a block defines, each with whether it uses ``@given``."""
    found = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            given = any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "given"
                for d in node.decorator_list
            )
            found.append((node.name, given))
    return found


def example_cases() -> list:
    """One pytest param per runnable unit of the README: a test, a script, a gate, a shell."""
    cases = []
    for block in readme_blocks():
        if block.lang not in TESTED_LANGS or block.not_tested:
            continue
        where = f"L{block.line}"
        if block.lang == "python" and defined_tests(block.code):
            for name, _ in defined_tests(block.code):
                cases.append(pytest.param(block, name, id=f"{where}-{name}"))
        else:
            kind = {"python": "script", "toml": "gate", "bash": "shell"}[block.lang]
            cases.append(pytest.param(block, None, id=f"{where}-{kind}"))
    return cases


# --------------------------------------------------------------------------- the README itself


def test_readme_is_a_short_guide():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it <= {MAX_README_LINES} and move detail to docs/"
    )


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
)
def test_relative_links_exist(page):
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    text = path.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    missing = []
    for link in links:
        target = link.split("#", 1)[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # an anchor on the same page, or a URL
        if not (path.parent / target).exists():
            missing.append(link)
    assert not missing, f"{page} links to missing files: {missing}"


def test_readme_links_every_docs_page():
    text = README.read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    unlinked = [p for p in pages if f"](docs/{p})" not in text]
    assert not unlinked, f"README.md does not link docs pages {unlinked}"


def test_opt_outs_are_few_and_justified():
    skipped = [b for b in readme_blocks() if b.lang in TESTED_LANGS and b.not_tested]
    assert len(skipped) <= 2, [b.line for b in skipped]
    for block in skipped:
        assert re.search(r"tests/test_\w+\.py", block.not_tested), (
            f"README line {block.line}: the not-tested reason must name the test that covers "
            f"the block instead. Received: {block.not_tested!r}"
        )


def test_readme_has_examples_of_each_kind():
    kinds = {(b.lang, bool(b.lang == "python" and defined_tests(b.code))) for b in readme_blocks()}
    assert {("python", True), ("python", False), ("toml", False), ("bash", False)} <= kinds


def test_parser_reads_markers_and_fences():
    text = "x\n<!-- not-tested: see tests/test_a.py -->\n\n```bash\nls\n```\n```python\n1\n```\n"
    first, second = readme_blocks(text)
    assert (first.lang, first.code, first.line, first.not_tested) == (
        "bash",
        "ls\n",
        4,
        "see tests/test_a.py",
    )
    assert (second.lang, second.not_tested) == ("python", None)


# --------------------------------------------------------------------------- running examples


@pytest.fixture
def user_project(pytester, monkeypatch):
    """A project as a user would have it: no conftest.py, default Hypothesis profile.

    The README's examples import ``mypkg.inits`` (``my_he``, ``my_init``) and name
    ``inits.py:ATTR`` on the command line; both exist here.
    """
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    # the console script of this interpreter's environment comes first on PATH
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    pytester.makepyfile(
        **{"mypkg/__init__": "", "mypkg/inits": USER_INITS, "mypkg/models": USER_MODELS}
    )
    pytester.makepyfile(inits="from mypkg.inits import my_he, my_init  # noqa: F401\n")
    pytester.makefile(".toml", pyproject=USER_PYPROJECT)
    (pytester.path / "tests").mkdir()
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


def outcome_lines(result) -> str:
    return "\n".join(result.outlines[-40:] + result.errlines[-20:])


def run_test(project, code: str, name: str, *args: str):
    project.path.joinpath("tests", "test_readme_example.py").write_text(code)
    return project.runpytest_subprocess(
        f"tests/test_readme_example.py::{name}", "-p", "no:cacheprovider", *args, timeout=600
    )


def run_script(project, code: str) -> None:
    project.path.joinpath("readme_example.py").write_text(code)
    result = project.run(sys.executable, "readme_example.py", timeout=600)
    assert result.ret == 0, outcome_lines(result)


def run_gate(project, code: str) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n" + code)
    tables = re.findall(r"^\[tool\.initcheck\.initializers\.(\w+)\]", code, re.M)
    assert tables, "the toml example names at least one initializer"
    result = project.runpytest_subprocess("-v", "-p", "no:cacheprovider", timeout=600)
    assert result.ret == 0, outcome_lines(result)
    for name in tables:
        for prop in ("symmetry", "centering", "seeds", "variance", "scaling"):
            result.stdout.fnmatch_lines([f"*initcheck::{name}::{prop} PASSED*"])
    for name in re.findall(r"^\[tool\.initcheck\.models\.(\w+)\]", code, re.M):
        result.stdout.fnmatch_lines([f"*initcheck::{name}::*::variance PASSED*"])
    if re.search(r"^train\s*=\s*true", code, re.M):
        result.stdout.fnmatch_lines(["*initcheck::*::training PASSED*"])


def run_shell(project, code: str) -> None:
    lines = code.splitlines()
    for i, line in enumerate(lines):
        command = line.split(" #", 1)[0].strip()
        if not command or command.startswith("#"):
            continue
        comment = line.split(" #", 1)[1] if " #" in line else ""
        expected = re.search(r"\bexit (\d+)", comment)
        result = project.run("bash", "-c", command, timeout=600)
        want = int(expected.group(1)) if expected else 0
        assert result.ret == want, f"{command!r} exited {result.ret}:\n{outcome_lines(result)}"
        follow = lines[i + 1] if i + 1 < len(lines) else ""
        if comment.rstrip().endswith("on stderr:") and follow.startswith("# "):
            shown = follow[2:].rstrip().removesuffix("…").strip()
            stderr = "\n".join(result.errlines)
            assert shown in stderr, f"{command!r}: stderr lacks {shown!r}:\n{stderr}"


#: A framework a README example imports (the quick start's install has none of them).
FRAMEWORK_IMPORT = re.compile(r"^\s*(?:import|from)\s+(torch|jax|flax|transformers)\b", re.M)


#: A word that is a Keras initializer name (quoted in code, or a command-line SPEC).
KERAS_WORD = re.compile(r"""(?:["'](\w+)["']|\b(?:check|compare|--initcheck)\s+(\w+))""")


def needed_frameworks(block: Block) -> list[str]:
    """The optional frameworks ``block`` needs: those it imports, Keras for a Keras
    initializer name (``"he_normal"``; the ``[keras]`` extra), and PyTorch for a gate
    example with a model table (its ``mypkg.models:build`` is :data:`USER_MODELS`)."""
    found = set(FRAMEWORK_IMPORT.findall(block.code))
    if block.lang == "toml" and re.search(r"^\[tool\.initcheck\.models\.", block.code, re.M):
        found.add("torch")
    words = {w for pair in KERAS_WORD.findall(block.code) for w in pair if w}
    if re.search(r"^\s*(?:import|from)\s+keras\b", block.code, re.M) or (
        words & KERAS_INITIALIZER_NAMES
    ):
        found.add("keras")
    return sorted(found)


def test_framework_examples_are_found():
    blocks = [Block("python", "import torch.nn as nn\n", 1, None), Block("bash", "ls\n", 2, None)]
    assert [needed_frameworks(b) for b in blocks] == [["torch"], []]
    gate = Block("toml", "[tool.initcheck.models.mlp]\ntarget = 'm:build'\n", 3, None)
    assert needed_frameworks(gate) == ["torch"]
    keras_names = [
        Block("python", 'initcheck.check("he_normal")\n', 4, None),
        Block("bash", "initcheck check glorot_uniform --variance glorot\n", 5, None),
        Block("toml", 'target = "he_normal"\n', 6, None),
    ]
    assert [needed_frameworks(b) for b in keras_names] == [["keras"]] * 3
    assert needed_frameworks(Block("python", 'assert_variance(f, "he")\n', 7, None)) == []


@pytest.mark.slow
@pytest.mark.parametrize(("block", "test_name"), example_cases())
def test_readme_example(user_project, block: Block, test_name: str | None):
    for module in needed_frameworks(block):  # skipped with a reason, as extras are optional
        # found, not imported: pytester restores sys.modules after the test, and a second
        # import of torch in the same process raises SystemError
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"README line {block.line}'s example needs {module} (an extra)")
    if test_name is not None:
        result = run_test(user_project, block.code, test_name)
        assert result.ret == 0, outcome_lines(result)
        result.assert_outcomes(passed=1)
    elif block.lang == "python":
        run_script(user_project, block.code)
    elif block.lang == "toml":
        run_gate(user_project, block.code)
    else:
        run_shell(user_project, block.code)


def given_block() -> Block:
    for block in readme_blocks():
        if block.lang == "python" and any(g for _, g in defined_tests(block.code)):
            return block
    raise AssertionError("the README has no @given example")


def initcheck_summary_rows(lines: list[str]) -> list[str]:
    """The result rows of the initcheck terminal summary (header and count line excluded)."""
    start = next(i for i, ln in enumerate(lines) if re.match(r"^=+ initcheck summary =+$", ln))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("=") or re.match(r"^\d+ initcheck results?", line):
            break
        if line.strip() and not line.startswith("initializer "):
            rows.append(line)
    return rows


@pytest.mark.slow
def test_readme_given_example_catches_a_missing_relu_gain(user_project):
    """Acceptance: the README's @given example, pointed at He without the ReLU gain, fails
    once, naming the variance defect, with exactly one row in the initcheck summary."""
    block = given_block()
    code = block.code.replace(
        "from mypkg.inits import my_he\n",
        "from mypkg.inits import my_he_without_gain as my_he\n",
    )
    assert code != block.code, "the @given example imports my_he from mypkg.inits"
    name = next(n for n, g in defined_tests(code) if g)
    result = run_test(user_project, code, name)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*variance too small*"])
    rows = initcheck_summary_rows(result.outlines)
    assert len(rows) == 1, rows
    assert "FAILED" in rows[0] and "variance" in rows[0], rows


def test_shell_blocks_quote_cleanly():
    """Every bash command of the README is valid shell syntax."""
    for block in readme_blocks():
        if block.lang == "bash":
            for line in block.code.splitlines():
                shlex.split(line, comments=True)
