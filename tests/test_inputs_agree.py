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


# ----------------------------------------------------------------- one wording per bad value

#: The same bad value in every front end, and the one message each must contain.
BAD = {
    "alpha": (2, "`alpha` must be a number strictly between 0 and 1. Received: alpha=2"),
    "seed": (-1, WORDING),
    "variance": (
        "hee",
        "Unknown variance target 'hee': `variance` must be one of ['glorot', 'he', "
        "'he_fan_out', 'kaiming', 'lecun', 'lecun_fan_out', 'xavier'], a positive number "
        '(a fixed variance), a callable (fan_in, fan_out) -> variance, "module:attr" naming '
        'one, or a declared draw ("normal(std=0.02)", "normal(std=0.02/sqrt(2*L))" or '
        "\"trunc_normal(std=0.02, at=2)\"). Received: variance='hee'. Did you mean 'he'?",
    ),
}
UNKNOWN = "unknown key(s) ['alhpa']. Did you mean 'alpha'? Valid keys: "


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_the_python_api_words_each_bad_value_as_the_table_does() -> None:
    from initcheck.inputs import validate

    for name, (value, message) in BAD.items():
        exact = f"^{re.escape(message)}$"
        with pytest.raises(ValueError, match=exact):
            initcheck.check("he_normal", **{name: value})
        with pytest.raises(ValueError, match=exact):
            validate(name, value)
    for make in (
        lambda: initcheck.check("he_normal", alhpa=0.1),
        lambda: Settings().updated(alhpa=0.1),
        lambda: initcheck.assert_variance("he_normal", "he", (4, 4), alhpa=0.1),
    ):
        with pytest.raises(TypeError, match=re.escape(UNKNOWN)):
            make()


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_cli_words_a_bad_value_as_the_api_does(name: str, capsys) -> None:
    from initcheck.cli import main

    value, message = BAD[name]
    assert main(["check", "he_normal", f"--{name}", str(value)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_plugin_options_and_ini_keys_word_a_bad_value_as_the_api_does(
    pytester: pytest.Pytester,
) -> None:
    for name, (value, message) in BAD.items():
        result = pytester.runpytest(f"--initcheck-{name}", str(value), "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert message in result.stderr.str(), name
    for name in ("alpha", "seed"):  # the ini keys (variance is an option only)
        value, message = BAD[name]
        pytester.makeini(f"[pytest]\ninitcheck_{name} = {value}\n")
        result = pytester.runpytest("-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert f"initcheck_{name} = '{value}': {message}" in result.stderr.str()


def test_markers_and_gate_tables_word_a_bad_value_as_the_api_does(
    pytester: pytest.Pytester,
) -> None:
    cases = {**{k: (k, v) for k, v in BAD.items()}, "alhpa": ("alhpa", (0.1, UNKNOWN))}
    tests = ["import pytest\n"]
    tables = []
    for case, (key, (value, _)) in cases.items():
        tests.append(
            f"@pytest.mark.initcheck({key}={value!r})\n"
            f"def test_{case}(initcheck):\n    initcheck.assert_breaks_symmetry('he_normal')\n"
        )
        tables.append(
            f'[tool.initcheck.initializers.{case}]\ntarget = "he_normal"\n{key} = {_toml(value)}\n'
        )
    pytester.makepyfile(test_marked="\n".join(tests))
    pytester.makefile(".toml", pyproject="\n".join(tables))
    result = pytester.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors")
    out = result.stdout.str()
    for case, (_, (_, message)) in cases.items():
        marker = f"@pytest.mark.initcheck: {message}"
        gate = f"pyproject.toml [tool.initcheck.initializers.{case}]: {message}"
        assert marker in out and gate in out, (case, out)


def test_an_unknown_cli_flag_is_one_line_with_a_did_you_mean(capsys) -> None:
    from initcheck.cli import main

    assert main(["check", "he_normal", "--alhpa", "0.1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "unrecognized arguments: --alhpa 0.1. Did you mean '--alpha'?" in line


def test_an_assert_helpers_unknown_keyword_names_its_own_parameters() -> None:
    """``shapes=`` on a helper that takes ``shape=``: the did-you-mean looks among the
    helper's own parameters too, not only the Settings fields."""
    import pytest

    import initcheck

    with pytest.raises(
        TypeError,
        match=r"assert_zero_centered\(\) got unknown key\(s\) \['shapes'\]\. "
        r"Did you mean 'shape'\?",
    ):
        initcheck.assert_zero_centered("he_normal", shapes=[(3, 5)])


# ----------------------------------------------------------------- model tables, every front

NETS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(64, 64)


class Net(nn.Module):
    """He before each ReLU, LeCun at the head; attn.proj deliberately 4x He's variance."""

    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Linear(32, 64)
        self.attn = Attn()
        self.head = nn.Linear(64, num_classes)
        nn.init.kaiming_normal_(self.body.weight, nonlinearity="relu")
        nn.init.normal_(self.attn.proj.weight, std=(8.0 / 64) ** 0.5)
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="linear")

    def forward(self, x):
        return self.head(F.relu(self.attn.proj(F.relu(self.body(x)))))


def build(num_classes):
    return Net(num_classes)
'''
TARGETS = "def scaled(fan_in, fan_out):\n    return 8.0 / fan_in\n"
#: The same declarations as a gate table, CLI flags and Python arguments.
MAPPED = {
    "toml": 'variance = { "attn.proj" = "targets:scaled", "*" = "auto" }\n',
    "cli": ["--variance", "attn.proj=targets:scaled, *=auto"],
    "api": {"variance": {"attn.proj": "targets:scaled", "*": "auto"}},
}
ACCEPTED = {
    "toml": 'variance = "auto"\naccept = [{ path = "attn.proj", reason = "gated by gamma" }]\n',
    "cli": ["--variance", "auto", "--accept", "attn.proj=gated by gamma"],
    "api": {"variance": "auto", "accept": [{"path": "attn.proj", "reason": "gated by gamma"}]},
}


@pytest.fixture
def nets(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    (tmp_path / "nets.py").write_text(NETS)
    (tmp_path / "targets.py").write_text(TARGETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in ("nets", "targets"):
        sys.modules.pop(name, None)
    return tmp_path


def _rows(report: dict) -> dict[str, tuple]:
    """What each front must agree on: per weight, its target, verdict and status."""
    return {
        f"{r['layer']}.{r['param']}": (r["target"], r["passed"], r.get("status", ""), r["shape"])
        for r in report["rows"]
    }


def _api(declared: dict) -> dict:
    import functools

    import nets

    return initcheck.audit(
        functools.partial(nets.build, num_classes=10), signal=False, **declared["api"]
    ).to_dict()


@pytest.mark.parametrize("declared", [MAPPED, ACCEPTED], ids=["mapping", "accept"])
def test_a_model_tables_declarations_mean_the_same_in_the_api_and_the_cli(
    nets, declared, capsys
) -> None:
    from initcheck.cli import main

    api = _api(declared)
    out = nets / "cli.json"
    argv = ["audit", "nets:build", "--kwargs", "num_classes=10", "--no-signal", "--json", str(out)]
    assert main([*argv, *declared["cli"]]) == 0, capsys.readouterr().err
    cli = __import__("json").loads(out.read_text())["payload"]
    assert _rows(cli) == _rows(api)
    assert api["verdict"] == cli["verdict"] == "passed"
    proj = _rows(api)["attn.proj.weight"]
    head = _rows(api)["head.weight"]
    assert head[3] == [10, 64]  # kwargs reached the factory
    if declared is MAPPED:
        assert proj[0].startswith("targets:scaled") and proj[1:3] == (True, "")
    else:  # failing under auto, vouched for with its reason
        assert proj[1:3] == (False, "accepted")
        row = next(r for r in api["rows"] if r["layer"] == "attn.proj")
        assert "accepted: gated by gamma" in row["note"]


def test_the_gate_reads_the_same_model_tables(nets, pytester: pytest.Pytester) -> None:
    tables = "".join(
        f'[tool.initcheck.models.{name}]\ntarget = "nets:build"\nkwargs = {{ num_classes = 10 }}\n'
        f"signal = false\n{declared['toml']}\n"
        for name, declared in (("mapped", MAPPED), ("accepted", ACCEPTED))
    )
    pytester.makefile(
        ".toml", pyproject=f'[tool.pytest.ini_options]\npythonpath = ["{nets}"]\n\n{tables}'
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rx", "--initcheck-json", "gate.json"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["*XFAIL*attn.proj.weight variance: accepted: gated by gamma*"])
    models = __import__("json").loads((pytester.path / "gate.json").read_text())["payload"]
    by_name = {m["model"]: m for m in models["models"]}
    for name, declared in (("mapped", MAPPED), ("accepted", ACCEPTED)):
        assert _rows(by_name[name]) == _rows(_api(declared)), name


def test_a_factory_that_needs_arguments_is_told_how_to_give_them(nets) -> None:
    import nets as module

    from initcheck.models.adapter import NotAModelError

    with pytest.raises(NotAModelError) as info:
        initcheck.audit(module.build, signal=False)
    message = str(info.value)
    for spelling in (
        "functools.partial(build, num_classes=...)",
        "kwargs = { num_classes = ... }",
        '--kwargs "num_classes=..."',
    ):
        assert spelling in message


# ----------------------------------------------------------------- one parser per input

#: The functions that turn a user's value into an input's value: only the table's
#: validators (initcheck.declarations, initcheck.validators) may call them on user input.
PARSERS = {
    "resolve_target",
    "number_or_name",
    "rule_or_mapping",
    "check_inputs_spec",
    "as_layout",
    "normalize_shapes",
    "to_float",
    "to_int",
    "to_bool",
    "comma_list",
}
FRONT_ENDS = ("cli", "plugin", "gate")


def test_no_front_end_defines_or_calls_its_own_parser_for_a_table_input() -> None:
    """The CLI, the plugin and the gate read every table input through
    :mod:`initcheck.inputs` (``text_parser``, ``parse_text``, ``read``, ``validate``): none
    defines a function named after an input, nor imports a value parser."""
    import ast
    from pathlib import Path

    from initcheck.inputs import TABLE

    package = Path(initcheck.__file__).parent
    found = []
    for front in FRONT_ENDS:
        for path in sorted((package / front).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = node.name.lstrip("_")
                    bare = name.removeprefix("parse_").removeprefix("check_")
                    if (bare != name or node.name.startswith("_")) and bare in TABLE:
                        found.append(f"{path.name}: def {node.name}")
                if isinstance(node, ast.ImportFrom):
                    found += [
                        f"{path.name}: imports {a.name}" for a in node.names if a.name in PARSERS
                    ]
    assert not found, found
