"""Whole-suite benchmark: the generated suite without the plugin, with it, and with neighbours.

    python benchmarks/run.py [--rounds 5] [--files 10] [--python PATH]

Generates the suite (``generate_suite.py``), then runs pytest over it once per configuration per
round, interleaved, and prints the median wall time, the ratio to the run without any plugin,
and the peak memory (max RSS) of each configuration. Neighbours are measured when their
packages are importable by ``--python`` (``benchmarks/setup-neighbours`` makes such a venv):

* pytest-queryguard: active, report-only (``--queryguard-mode=warn``);
* queryspy: active, report-only (``--queryspy-report=...``);
* django-zeal: active in every Django test (``zeal_context()``, ``ZEAL_RAISE = False``).

Then it runs the per-statement micro-benchmark (``micro.py``) with the same interpreter.
Results go to ``benchmarks/results/latest.json``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
OFF_ALL = ["-p", "no:pyskill", "-p", "no:queryguard", "-p", "no:queryspy"]


def importable(python: str, module: str) -> bool:
    code = f"import importlib.util,sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([python, "-c", code]).returncode == 0


def configurations(python: str) -> list[tuple[str, list[str], dict[str, str]]]:
    configs: list[tuple[str, list[str], dict[str, str]]] = [
        ("no plugin", OFF_ALL, {}),
        ("pytest-pyskill", ["-p", "no:queryguard", "-p", "no:queryspy"], {}),
    ]
    if importable(python, "pytest_queryguard"):
        configs.append(
            (
                "pytest-queryguard",
                ["-p", "no:pyskill", "-p", "no:queryspy", "--queryguard-mode=warn"],
                {},
            )
        )
    if importable(python, "queryspy"):
        report = os.path.join(RESULTS, "queryspy.json")
        configs.append(
            (
                "queryspy",
                ["-p", "no:pyskill", "-p", "no:queryguard", f"--queryspy-report={report}"],
                {},
            )
        )
    if importable(python, "zeal"):
        configs.append(("django-zeal", OFF_ALL, {"BENCH_ZEAL": "1"}))
    return configs


def run_once(python: str, suite: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS (MB) of one pytest run over the suite.

    CPU time rather than wall time: on a shared virtual machine, time stolen by neighbours
    shows up in wall time and not in the process's own CPU time."""
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", *args]
    # Bytecode caches on, as on a developer's machine: with PYTHONDONTWRITEBYTECODE set, every
    # run recompiles Django and SQLAlchemy and the start-up noise swamps what is measured.
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full_env.update(env)
    proc = subprocess.Popen(
        cmd, cwd=suite, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"benchmark run failed ({' '.join(args)}): exit {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--micro-n", type=int, default=3000)
    parser.add_argument("--skip-micro", action="store_true")
    args = parser.parse_args()

    os.makedirs(RESULTS, exist_ok=True)
    suite = os.path.join(RESULTS, "suite")
    subprocess.run(
        [args.python, os.path.join(HERE, "generate_suite.py"), suite, "--files", str(args.files)],
        check=True,
    )
    configs = configurations(args.python)
    times: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    memory: dict[str, float] = {name: 0.0 for name, _, _ in configs}
    for _, flags, env in configs:  # warm the OS caches and write every bytecode cache
        run_once(args.python, suite, flags, env)
    for r in range(args.rounds):
        for name, flags, env in configs:
            seconds, rss = run_once(args.python, suite, flags, env)
            times[name].append(seconds)
            memory[name] = max(memory[name], rss)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    base_med = statistics.median(times["no plugin"])
    base_min = min(times["no plugin"])
    print(
        f"\nwhole suite ({args.files * 30} tests), {args.rounds} interleaved rounds "
        "(best and median CPU seconds; ratios to the run without any plugin)"
    )
    print(
        f"{'configuration':<20} {'best s':>7} {'ratio':>6} {'median s':>9} {'ratio':>6} "
        f"{'peak RSS MB':>12}"
    )
    suite_results = {}
    for name, _, _ in configs:
        med, best = statistics.median(times[name]), min(times[name])
        suite_results[name] = {
            "best_s": best,
            "best_ratio": best / base_min,
            "median_s": med,
            "median_ratio": med / base_med,
            "peak_rss_mb": memory[name],
            "runs_s": times[name],
        }
        print(
            f"{name:<20} {best:7.2f} {best / base_min:6.3f} {med:9.2f} {med / base_med:6.3f} "
            f"{memory[name]:12.1f}"
        )
    doc = {
        "python": args.python,
        "rounds": args.rounds,
        "tests": args.files * 30,
        "suite": suite_results,
    }
    if not args.skip_micro:
        micro_json = os.path.join(RESULTS, "micro.json")
        print()
        subprocess.run(
            [
                args.python,
                os.path.join(HERE, "micro.py"),
                "--n",
                str(args.micro_n),
                "--rounds",
                "9",
                "--json",
                micro_json,
            ],
            check=True,
            cwd=ROOT,
        )
        with open(micro_json) as fh:
            doc["micro"] = json.load(fh)
    with open(os.path.join(RESULTS, "latest.json"), "w") as fh:
        json.dump(doc, fh, indent=2)


if __name__ == "__main__":
    main()
