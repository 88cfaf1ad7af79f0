"""One table of user inputs (``initcheck.inputs.TABLE``): every front end is derived from
it. A toy input added to the table, and nothing else, is a pytest option, an ini key, a
marker keyword, a gate key and a CLI flag, each validated by its one validator; the
Settings fields, the docs and the defaults in help come from the same table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

# imported before pytester's in-process runs, which unload what a run imported
import initcheck.api
import initcheck.gate
import initcheck.settings
from initcheck import inputs
from initcheck.cli.parser import build_parser
from initcheck.gate.config import read_pyproject
from initcheck.settings import SETTING_INPUTS, Settings
from initcheck.validators import Input, Rule, positive_int, to_int

ROOT = Path(__file__).resolve().parents[1]
TOY_ERROR = "`toy` must be a positive integer. Received: toy=-1"


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Input:
    """A toy input in the table, taken by every front end."""
    entry = Input(
        "toy", positive_int, 4, "a toy count", frozenset(inputs.FRONTS), convert=to_int, metavar="N"
    )
    monkeypatch.setitem(inputs.TABLE, "toy", entry)
    return entry


def test_a_toy_input_is_a_pytest_option_and_an_ini_key(
    toy: Input, pytester: pytest.Pytester
) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--initcheck-toy=N" in help_text and "a toy count (default: 4)" in help_text
    assert "initcheck_toy (string)" in help_text
    pytester.makepyfile(
        test_toy="from initcheck.plugin.options import session_options\n"
        "def test_toy(pytestconfig):\n"
        "    print('TOY =', session_options(pytestconfig).extras.get('toy'))\n"
    )
    for args, ini, expected in ((["--initcheck-toy", "7"], "", 7), ([], "initcheck_toy = 9", 9)):
        pytester.makeini(f"[pytest]\n{ini}\n")
        result = pytester.runpytest("-p", "no:cacheprovider", "-s", *args)
        result.assert_outcomes(passed=1)
        assert f"TOY = {expected}" in result.stdout.str()
    bad = pytester.runpytest("--initcheck-toy", "-1")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and TOY_ERROR in bad.stderr.str()


def test_a_toy_input_is_a_marker_keyword(toy: Input, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked="""
import pytest

@pytest.mark.initcheck(toy=3)
def test_toy(initcheck):
    assert initcheck.defaults["toy"] == 3

@pytest.mark.initcheck(toy=-1)
def test_bad_toy(initcheck):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert f"@pytest.mark.initcheck: {TOY_ERROR}" in result.stdout.str()


def test_a_toy_input_is_a_gate_key(toy: Input, tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.initcheck.initializers.good]\ntarget = "he_normal"\ntoy = 3\n'
        '[tool.initcheck.initializers.bad]\ntarget = "he_normal"\ntoy = -1\n'
        '[tool.initcheck.models.net]\ntarget = "nets:build"\ntoy = 5\n'
    )
    good, bad, net = read_pyproject(pyproject)
    assert good.error is None and good["toy"] == 3
    assert bad.error is not None and bad.error.endswith(TOY_ERROR)
    assert net.error is None and net["toy"] == 5


def test_a_toy_input_is_a_cli_flag(toy: Input, capsys: pytest.CaptureFixture[str]) -> None:
    from initcheck.cli import main

    for command in inputs.CLI_COMMANDS:
        args = [command, "models.py:build" if command == "audit" else "he_normal"]
        assert build_parser().parse_args([*args, "--toy", "3"]).toy == 3
        assert build_parser().parse_args(args).toy == 4
        assert main([*args, "--toy", "-1"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert TOY_ERROR in line and f"--toy: {TOY_ERROR}" in line


def test_settings_fields_are_the_tables_settings() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert fields == {i.name: i.default for i in SETTING_INPUTS}
    assert all(inputs.TABLE[name] is i for name, i in ((i.name, i) for i in SETTING_INPUTS))


def test_every_validator_speaks_the_one_style() -> None:
    """A validator raises a Rule; the table turns it into one sentence naming the input."""
    for inp in inputs.TABLE.values():
        with pytest.raises((inputs.InputError, inputs.UnknownInputError)) as bad:
            inputs.validate(inp.name, object())
        text = str(bad.value)
        assert f"Received: {inp.name}=" in text, text
        if inp.name != "variance":  # worded by initcheck.targets.resolve_target
            assert text.startswith(f"`{inp.name}` must be "), text
    assert issubclass(Rule, Exception)


def test_help_derives_each_default_from_the_table() -> None:
    """No help string copies a default by hand: the table adds it."""
    for inp in inputs.TABLE.values():
        assert "(default" not in inp.help, inp.name
        if inp.default is not None:
            assert inp.help_text.endswith(f"(default: {inp.default_text})")


def test_the_docs_table_is_the_inputs_table() -> None:
    """docs/settings.md holds the table as :func:`initcheck.inputs.markdown` writes it."""
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    begin, end = "<!-- inputs table: begin -->\n", "<!-- inputs table: end -->"
    assert begin in text and end in text
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == inputs.markdown(), "regenerate it: python -m initcheck.inputs"


@pytest.mark.parametrize(
    ("text", "row"),
    [
        (
            Path(initcheck.settings.__file__).read_text(encoding="utf-8"),
            r"^``(\w+)``\s+(\S+)\s",
        ),
        ((ROOT / "docs" / "statistics.md").read_text(encoding="utf-8"), r"^\| `(\w+)` \| (\S+) \|"),
    ],
    ids=["settings-docstring", "statistics.md"],
)
def test_the_defaults_written_in_prose_are_the_tables(text: str, row: str) -> None:
    """The defaults the docstring and docs/statistics.md explain match the table's."""
    found = {m[1]: m[2] for m in re.finditer(row, text, flags=re.M) if m[1] in inputs.TABLE}
    assert len(found) >= 7, found
    for name, value in found.items():
        assert float(value) == inputs.TABLE[name].default, (name, value)
