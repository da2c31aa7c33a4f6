"""Which N+1 scenarios each tool catches, and where it raises a false alarm.

    benchmarks/setup-neighbours          # once: a venv with the neighbours
    python benchmarks/compare_n_plus_one.py [--python benchmarks/.venv-neighbours/bin/python]

Runs pytest-pyskill (strict), pytest-queryguard (its default fail mode), queryspy
(``--queryspy-strict``) and django-zeal (``zeal_context()``, raising) over the scenario projects
the test suite uses (``tests/scenarios/n_plus_one_*``, on SQLite): every ``test_pos_*`` is an N+1
that should be caught, every ``test_neg_*`` a pattern that must not be flagged. A tool "flags" a
test when the test fails under it (each tool alone, the others switched off). Prints one table
per scenario project and writes ``benchmarks/results/n_plus_one_comparison.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from scenarios import copy_project

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALL_OFF = ["-p", "no:pyskill", "-p", "no:queryguard", "-p", "no:queryspy"]

# django-zeal watches the test's call phase, as pytest-pyskill does by default (an autouse
# fixture would also cover the scenarios' seeding fixture, which zeal then flags).
ZEAL_CONFTEST = """
import pytest
from zeal import zeal_context

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with zeal_context():
        return (yield)
"""

ZEAL_SETTINGS = """
from settings import *  # noqa: F403
INSTALLED_APPS = INSTALLED_APPS + ["zeal"]  # noqa: F405
ZEAL_RAISE = True
"""


def tools(django: bool) -> dict[str, list[str] | None]:
    """Flags that make one tool active and failing on what it finds (None: not applicable)."""
    return {
        "pytest-pyskill": [*ALL_OFF[2:], "-p", "no:queryspy", "--pyskill-strict"],
        "pytest-queryguard": None if django else ["-p", "no:pyskill", "-p", "no:queryspy"],
        "queryspy": None
        if django
        else ["-p", "no:pyskill", "-p", "no:queryguard", "--queryspy-strict"],
        "django-zeal": ["zeal"] if django else None,
    }


def outcomes(junit: str) -> dict[str, str]:
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None:
            result[name] = "failed"
        elif case.find("error") is not None:
            result[name] = "error"
        elif case.find("skipped") is not None:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result


def run_tool(python: str, project: dict[str, str], flags: list[str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        copy_project(project["name"], project["scenario"], tmp)
        args = list(project["args"].split())
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYSKILL_TEST_URL"] = project["url"].format(tmp=tmp)
        env.update(
            {
                "PYSKILL_DJANGO_ENGINE": "django.db.backends.sqlite3",
                "PYSKILL_DJANGO_NAME": os.path.join(tmp, "d.sqlite3"),
            }
        )
        if flags == ["zeal"]:
            with open(os.path.join(tmp, "conftest.py"), "w") as fh:
                fh.write(ZEAL_CONFTEST)
            with open(os.path.join(tmp, "settings_zeal.py"), "w") as fh:
                fh.write(ZEAL_SETTINGS)
            args = [a.replace("--ds=settings", "--ds=settings_zeal") for a in args]
            flags = ALL_OFF
        junit = os.path.join(tmp, "junit.xml")
        cmd = [
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
            f"--junitxml={junit}",
            *args,
            *flags,
        ]
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if not os.path.exists(junit):
            raise SystemExit(f"{' '.join(cmd)} failed to run:\n{proc.stdout[-2000:]}{proc.stderr}")
        return outcomes(junit)


PROJECTS = [
    {
        "name": "n_plus_one_sqlalchemy",
        "scenario": "scenario_sync.py",
        "django": "",
        "url": "sqlite:///{tmp}/db.sqlite3",
        "args": "-o asyncio_default_fixture_loop_scope=function",
        "title": "SQLAlchemy 2 (sync, SQLite)",
    },
    {
        "name": "n_plus_one_sqlalchemy",
        "scenario": "scenario_async.py",
        "django": "",
        "url": "sqlite+aiosqlite:///{tmp}/db.sqlite3",
        "args": "-o asyncio_default_fixture_loop_scope=function",
        "title": "SQLAlchemy 2 (asyncio)",
    },
    {
        "name": "n_plus_one_django",
        "scenario": "scenario_django.py",
        "django": "1",
        "url": "",
        "args": "--ds=settings --nomigrations -p django",
        "title": "Django (SQLite)",
    },
]


def main() -> None:
    parser = argparse.ArgumentParser()
    default = os.path.join(HERE, ".venv-neighbours", "bin", "python")
    parser.add_argument("--python", default=default if os.path.exists(default) else sys.executable)
    args = parser.parse_args()
    report: dict[str, dict[str, dict[str, str]]] = {}
    worse: list[str] = []
    for project in PROJECTS:
        per_tool: dict[str, dict[str, str]] = {}
        for tool, flags in tools(bool(project["django"])).items():
            if flags is None:
                continue
            try:
                per_tool[tool] = run_tool(args.python, project, flags)
            except SystemExit as exc:
                print(f"{tool}: {exc}", file=sys.stderr)
        report[project["title"]] = per_tool
        # Scenarios about pytest-pyskill's own per-test threshold marker are not comparable.
        names = sorted(n for n in next(iter(per_tool.values())) if "threshold" not in n)
        print(
            f"\n{project['title']}: {sum(n.startswith('test_pos') for n in names)} N+1 scenarios"
            f" (pos), {sum(n.startswith('test_neg') for n in names)} clean ones (neg)"
        )
        header = f"{'scenario':<44}" + "".join(f"{t:>20}" for t in per_tool)
        print(header)
        totals = {t: [0, 0, 0] for t in per_tool}  # caught, false alarms, errors
        for name in names:
            cells = []
            for tool, results in per_tool.items():
                outcome = results.get(name, "-")
                positive = name.startswith("test_pos")
                if outcome == "error":
                    cell = "error"
                    totals[tool][2] += 1
                elif positive:
                    cell = "caught" if outcome == "failed" else "missed"
                    totals[tool][0] += outcome == "failed"
                else:
                    cell = "FALSE ALARM" if outcome == "failed" else "ok"
                    totals[tool][1] += outcome == "failed"
                cells.append(f"{cell:>20}")
            print(f"{name[5:]:<44}" + "".join(cells))
            ours = per_tool.get("pytest-pyskill", {}).get(name)
            for tool, results in per_tool.items():
                if tool == "pytest-pyskill":
                    continue
                theirs = results.get(name)
                if name.startswith("test_pos") and theirs == "failed" and ours != "failed":
                    worse.append(f"{project['title']}: {name} caught by {tool}, not by us")
                if name.startswith("test_neg") and ours == "failed" and theirs != "failed":
                    worse.append(f"{project['title']}: {name} falsely flagged by us, not {tool}")
        print(
            f"{'caught / false alarms / errors':<44}"
            + "".join(f"{f'{c} / {f} / {e}':>20}" for c, f, e in totals.values())
        )
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "n_plus_one_comparison.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    print()
    if worse:
        print("pytest-pyskill is behind a neighbour on:")
        for line in worse:
            print("  " + line)
    else:
        print("pytest-pyskill is at least as good as every neighbour on every scenario.")


if __name__ == "__main__":
    main()
