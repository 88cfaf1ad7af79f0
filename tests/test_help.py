"""Help texts say exactly what runs (issue 19, item 9): ``check --help`` names the checks
each declaration adds, derived from the registry, and a run with those flags runs exactly
those checks; the declarations' help names every accepted value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from initcheck import registry
from initcheck.api import make_plan, select_checks
from initcheck.cli import main
from initcheck.cli.parser import DECLARATION_FLAGS
from initcheck.targets import NAMED_TARGETS

GOOD = f"{Path(__file__).parent / 'broken_inits.py'}:he_normal"

#: What each flag declares, as make_plan takes it.
DECLARED = {
    "--variance": {"variance": "he"},
    "--family": {"family": "normal"},
    "--nonlinearity": {"nonlinearity": "relu"},
    "--train": {"train": True},
}


def check_help(capsys) -> str:
    assert main(["check", "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())  # argparse's line wrapping undone


def promised(text: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(default checks, {flag: checks it adds}, checks run only when named) from the help."""
    sentence = re.search(r"checks run: (.*?)\. Only when named in --checks: (.*?)\.", text)
    assert sentence, text
    parts = sentence.group(1).split("; ")
    default = parts[0].split(", ")
    added = {}
    for part in parts[1:]:
        flag, names = re.fullmatch(r"with (--\w+) also (.*)", part).groups()
        added[flag] = names.split(", ")
    return default, added, sentence.group(2).split(", ")


def test_check_help_names_the_checks_each_declaration_selects(capsys):
    default, added, requested = promised(check_help(capsys))
    assert tuple(default) == select_checks(None, make_plan())
    assert set(added) == set(DECLARATION_FLAGS.values())
    for flag, names in added.items():
        selected = select_checks(None, make_plan(**DECLARED[flag]))
        assert set(selected) == set(default) | set(names), flag
    assert set(requested) == set(registry.names()) - {
        n for flag in DECLARED for n in select_checks(None, make_plan(**DECLARED[flag]))
    }


def test_check_help_names_every_variance_target_and_no_false_claim(capsys):
    text = check_help(capsys)
    assert "the scaling law is tested against the best-fitting fan rule" not in text
    for name in NAMED_TARGETS:
        assert name in text.split("--variance takes", 1)[1], name


@pytest.mark.parametrize(
    "flags", [[], ["--variance", "he"], ["--family", "normal"]], ids=["none", "variance", "family"]
)
def test_a_run_runs_what_the_help_promises(flags, capsys):
    default, added, _ = promised(check_help(capsys))
    code = main(["check", GOOD, *flags, "--json", "-"])
    assert code == 0
    ran = [r["check"] for r in json.loads(capsys.readouterr().out)["payload"]["results"]]
    assert set(ran) == set(default) | set(added.get(flags[0], []) if flags else [])


def test_scaling_named_without_a_target_names_the_best_fitting_rule(capsys):
    assert main(["check", GOOD, "--checks", "scaling", "--json", "-"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["payload"]["results"]
    assert result["check"] == "scaling" and "best-fitting" in result["message"]
