"""The README stays true: every option, marker and rule is documented, nothing documented is
missing from the code, and every snippet parses (Python compiles, JSON loads, allowances parse,
commands name real flags). Unsupported library versions say so in one header line."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

from pytest_pyskill import options
from pytest_pyskill.loop.allow import parse_all
from pytest_pyskill.markers import MARKERS
from pytest_pyskill.rules import builtin_rules

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    pattern = re.compile(rf"^( *)```{language}\n(.*?)^\1```", re.S | re.M)
    return [textwrap.dedent(body) for _indent, body in pattern.findall(README)]


def test_every_option_is_documented_with_its_ini_twin() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `--pyskill-")]
    documented = {re.match(r"\| `(--pyskill-[a-z-]+)", row).group(1): row for row in rows}
    assert set(documented) == {opt.flag for opt in options.OPTIONS}
    for opt in options.OPTIONS:
        assert f"`{opt.ini}`" in documented[opt.flag], opt.flag


def test_every_flag_the_readme_mentions_exists() -> None:
    flags = {opt.flag for opt in options.OPTIONS}
    mentioned = set(re.findall(r"--pyskill-[a-z-]+", README))
    assert mentioned <= flags, mentioned - flags


def test_every_marker_and_rule_is_documented() -> None:
    for line in MARKERS:
        name = line.split("(")[0]
        assert f"@pytest.mark.{name}(" in README, name
    for rule in builtin_rules():
        assert f"| `{rule.id}` |" in README, rule.id  # the rules table
        assert re.search(rf"^### .*`{rule.id}`", README, re.M), rule.id  # its own section


def test_python_snippets_compile() -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 8
    for block in blocks:
        ast.parse(block)


def test_json_and_ini_snippets_parse() -> None:
    for block in _blocks("json"):
        json.loads(block)
    (ini,) = _blocks("ini")
    lines = [line.strip() for line in ini.splitlines()[2:]]  # after "[pytest]" and the key
    allowances = parse_all(lines)
    assert [a.rule for a in allowances] == ["blocking-call", "blocking-call", "slow-callback"]


def test_shell_snippets_name_real_commands_and_flags() -> None:
    text = "\n".join(_blocks("bash") + _blocks("yaml"))
    for script in re.findall(r"\./scripts/([a-z]+)", text):
        assert (ROOT / "scripts" / script).exists(), script
    flags = {opt.flag for opt in options.OPTIONS}
    assert set(re.findall(r"--pyskill-[a-z-]+", text)) <= flags


OLD_SQLALCHEMY = """
import importlib.metadata

_real = importlib.metadata.version


def _version(name):
    return "1.4.52" if name.lower() == "sqlalchemy" else _real(name)


importlib.metadata.version = _version
"""


def test_an_unsupported_version_says_so_in_one_line(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(OLD_SQLALCHEMY)
    pytester.makepyfile(
        test_it="""
        import sqlalchemy as sa

        def test_query(pyskill):
            engine = sa.create_engine("sqlite://")
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            assert pyskill.count() == 0  # not captured, nothing breaks
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "pyskill: mode=warn, capture=dbapi",
            "pyskill: SQLAlchemy 1.4.52 is not supported (needs 2.0+); its statements are not "
            "captured",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
