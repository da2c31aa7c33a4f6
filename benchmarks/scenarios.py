"""The scenario projects of ``tests/scenarios``, copied for a run (shared by the comparisons)."""

import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")


def copy_project(name: str, scenario: str, dest: str) -> None:
    """Copy ``tests/scenarios/<name>`` to ``dest``, ``scenario`` renamed ``test_it.py`` (the
    project's other ``scenario_*.py`` files left out), as the test suite does."""
    source = os.path.join(SCENARIOS, name)
    for dirpath, _, files in os.walk(source):
        for file in files:
            if not file.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, file), source)
            target_name = rel
            if file.startswith("scenario_"):
                if file != scenario:
                    continue
                target_name = os.path.join(os.path.dirname(rel), "test_it.py")
            target = os.path.join(dest, target_name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(dirpath, file), target)
