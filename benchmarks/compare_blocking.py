"""Which event-loop blocking scenarios each tool catches, and where it raises a false alarm.

    benchmarks/setup-neighbours          # once: a venv with the neighbours
    python benchmarks/compare_blocking.py [--python benchmarks/.venv-neighbours/bin/python]

Runs pytest-pyskill (``--pyskill-strict``), blockbuster (``blockbuster_ctx()`` around every test,
as its README shows) and pyleak (its pytest plugin, the ``no_leaks`` marker put on every test,
blocking detection only, raising) over the scenario project the test suite uses
(``tests/scenarios/event_loop``): every ``test_pos_*`` blocks the event loop and should be caught,
every ``test_neg_*`` is the fixed twin (or a pattern that never blocks) and must not be flagged.
Each ``scenario_*.py`` file is run on its own (as ``test_it.py``, next to the project's other
test files, ``test_sync_code.py`` among them, as the test suite does). A tool "flags" a test when
the test fails under it, in its call or in a fixture (each tool alone, the others switched off;
with all of them off every test passes, checked first). Prints one table per scenario and a
Markdown summary, and writes ``benchmarks/results/blocking_comparison.json`` (per test: outcome,
verdict and the first line of what the tool said).
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
# Plugins in the neighbours venv that load themselves through their entry points.
OTHERS_OFF = ["-p", "no:queryguard", "-p", "no:queryspy"]
ALL_TOOLS_OFF = ["-p", "no:pyskill", "-p", "no:pyleak"]  # blockbuster has no plugin
# seconds: pytest-pyskill's default slow-callback threshold (100 ms); pyleak's marker defaults
# to 0.2 s, its detector to 0.1 s.
PYLEAK_THRESHOLD = 0.1
VERSIONS = [
    "pytest-pyskill",
    "blockbuster",
    "pyleak",
    "pytest",
    "pytest-asyncio",
    "anyio",
    "uvloop",
]

# blockbuster has no pytest plugin: its README wraps every test in an autouse fixture. A sync
# fixture, so it is active from the test's (async) fixtures to its teardown, on any event loop
# running on the test's thread (it checks for a running loop at each call).
BLOCKBUSTER_PLUGIN = """
import pytest
from blockbuster import blockbuster_ctx

@pytest.fixture(autouse=True)
def blockbuster():
    with blockbuster_ctx() as bb:
        yield bb
"""

# pyleak's own pytest plugin wraps a test marked ``no_leaks`` (async tests only, for blocking);
# the marker alone also turns on task and thread leak detection, switched off here.
PYLEAK_PLUGIN = f"""
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.no_leaks(
            tasks=False, threads=False, blocking=True, blocking_threshold={PYLEAK_THRESHOLD}
        ))
"""

PLUGINS = {"blockbuster": BLOCKBUSTER_PLUGIN, "pyleak": PYLEAK_PLUGIN}


def tools() -> dict[str, list[str]]:
    """Flags that make one tool active and failing on what it finds."""
    return {
        "pytest-pyskill": [*OTHERS_OFF, "-p", "no:pyleak", "--pyskill-strict"],
        "blockbuster": [*OTHERS_OFF, *ALL_TOOLS_OFF],
        "pyleak": [*OTHERS_OFF, "-p", "no:pyskill"],
    }


def outcomes(junit: str) -> dict[str, dict[str, str]]:
    """Each test's outcome, and the first line of its failure or error (what the tool said)."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        for outcome in ("failure", "error", "skipped"):
            element = case.find(outcome)
            if element is not None:
                message = (element.get("message") or "").strip().splitlines()
                result[name] = {
                    "outcome": {"failure": "failed"}.get(outcome, outcome),
                    "reason": message[0][:200] if message else "",
                }
                break
        else:
            result[name] = {"outcome": "passed", "reason": ""}
    return result


def versions(python: str) -> dict[str, str]:
    """The versions installed next to ``python`` of the tools and the runners they ride on."""
    code = (
        "import importlib.metadata as m, sys\n"
        "for d in sys.argv[1:]:\n"
        "    try: print(d, m.version(d))\n"
        "    except m.PackageNotFoundError: print(d, 'missing')"
    )
    out = subprocess.run([python, "-c", code, *VERSIONS], capture_output=True, text=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def run_tool(python: str, project: dict, tool: str, flags: list[str]) -> dict[str, dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        copy_project("event_loop", project["scenario"], tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYSKILL_TEST_URL"] = f"sqlite:///{tmp}/db.sqlite3"
        env["PYSKILL_TEST_ASYNC_URL"] = f"sqlite+aiosqlite:///{tmp}/db.sqlite3"
        if tool in PLUGINS:
            with open(os.path.join(tmp, f"{tool}_everywhere.py"), "w") as fh:
                fh.write(PLUGINS[tool])
            flags = [*flags, "-p", f"{tool}_everywhere"]
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
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            f"--junitxml={junit}",
            *project["args"],
            *flags,
        ]
        # stdin closed, as under CI: test_pos_ask_user's input() must not wait for a terminal.
        proc = subprocess.run(
            cmd, cwd=tmp, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if not os.path.exists(junit):
            raise SystemExit(f"{' '.join(cmd)} failed to run:\n{proc.stdout[-2000:]}{proc.stderr}")
        return outcomes(junit)


PROJECTS: list[dict] = [
    {
        "scenario": "scenario_asyncio.py",
        "args": [],
        "title": "pytest-asyncio (strict mode)",
    },
    {
        "scenario": "scenario_anyio.py",
        "args": [],
        "title": "anyio pytest plugin (asyncio backend)",
    },
    {
        "scenario": "scenario_uvloop.py",
        "args": [],
        "title": "uvloop (uvloop.run in sync tests)",
    },
    {
        "scenario": "scenario_db.py",
        "args": ["-k", "not test_sync_code"],
        "title": "sync database drivers in coroutines (SQLite)",
    },
]


def verdict(name: str, outcome: str) -> str:
    """A test fails under a tool (in its call or in a fixture: an error) when the tool flags it."""
    flagged = outcome in ("failed", "error")
    if name.startswith("test_pos"):
        return ("caught" if outcome == "failed" else "caught (setup)") if flagged else "missed"
    return "FALSE ALARM" if flagged else "ok"


def main() -> None:
    parser = argparse.ArgumentParser()
    default = os.path.join(HERE, ".venv-neighbours", "bin", "python")
    parser.add_argument("--python", default=default if os.path.exists(default) else sys.executable)
    args = parser.parse_args()
    # pytest runs in a temporary directory: a relative path to the interpreter would break there.
    python = os.path.abspath(args.python) if os.sep in args.python else args.python
    installed = versions(python)
    print(", ".join(f"{name} {version}" for name, version in installed.items()))
    report: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    summary: dict[str, dict[str, dict[str, int]]] = {}
    worse: list[str] = []
    for project in PROJECTS:
        title = project["title"]
        # With every tool off each test passes: a test that fails under a tool, the tool flagged.
        baseline = run_tool(python, project, "none", [*OTHERS_OFF, *ALL_TOOLS_OFF])
        broken = sorted(n for n, r in baseline.items() if r["outcome"] != "passed")
        if broken:
            raise SystemExit(f"{title}: fails with every tool off: {', '.join(broken)}")
        names = sorted(baseline)
        positives = [n for n in names if n.startswith("test_pos")]
        per_tool: dict[str, dict[str, dict[str, str]]] = {}
        for tool, flags in tools().items():
            results = run_tool(python, project, tool, flags)
            if set(results) != set(names):
                raise SystemExit(f"{title}: {tool} ran {sorted(results)}, not {names}")
            for name, result in results.items():
                result["verdict"] = verdict(name, result["outcome"])
            per_tool[tool] = results
        report[title] = per_tool
        print(
            f"\n{title}: {len(positives)} blocking scenarios (pos),"
            f" {len(names) - len(positives)} clean ones (neg)"
        )
        print(f"{'scenario':<36}" + "".join(f"{t:>16}" for t in per_tool))
        for name in names:
            print(
                f"{name[5:]:<36}" + "".join(f"{r[name]['verdict']:>16}" for r in per_tool.values())
            )
            ours = per_tool["pytest-pyskill"][name]["verdict"]
            for tool, results in per_tool.items():
                theirs = results[name]["verdict"]
                if ours == "missed" and theirs.startswith("caught"):
                    worse.append(f"{title}: {name} caught by {tool}, not by us")
                if ours == "FALSE ALARM" and theirs == "ok":
                    worse.append(f"{title}: {name} falsely flagged by us, not by {tool}")
        summary[title] = {
            tool: {
                "positives": len(positives),
                "caught": sum(results[n]["verdict"].startswith("caught") for n in positives),
                "negatives": len(names) - len(positives),
                "false_alarms": sum(r["verdict"] == "FALSE ALARM" for r in results.values()),
            }
            for tool, results in per_tool.items()
        }
        print(
            f"{'caught / false alarms':<36}"
            + "".join(
                f"{str(t['caught']) + ' / ' + str(t['false_alarms']):>16}"
                for t in summary[title].values()
            )
        )
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "blocking_comparison.json"), "w") as fh:
        json.dump(
            {
                "versions": installed,
                "pyleak_threshold_s": PYLEAK_THRESHOLD,
                "summary": summary,
                "tests": report,
            },
            fh,
            indent=2,
        )
    print("\n| scenario | tool | positives caught | false alarms on negatives |")
    print("|---|---|---|---|")
    for title, per_tool_totals in summary.items():
        for tool, t in per_tool_totals.items():
            print(
                f"| {title} | {tool} | {t['caught']} / {t['positives']}"
                f" | {t['false_alarms']} / {t['negatives']} |"
            )
    print()
    if worse:
        print("pytest-pyskill is behind a neighbour on:")
        for line in worse:
            print("  " + line)
    else:
        print("pytest-pyskill is at least as good as every neighbour on every scenario.")


if __name__ == "__main__":
    main()
