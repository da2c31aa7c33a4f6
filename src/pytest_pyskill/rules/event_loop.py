"""Rules over what held an event loop's thread: ``blocking-call``, ``slow-callback`` and the
``max-loop-block`` budget."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from ..model import CallSite, Finding, Location, LoopEvent, Severity
from .base import TestRun

# First matching prefix wins.
FIXES: tuple[tuple[str, str], ...] = (
    ("time.sleep", "await asyncio.sleep(...) instead of time.sleep(...)"),
    ("open", "await asyncio.to_thread(...) around file I/O (or anyio.Path / aiofiles)"),
    ("os.system", "await asyncio.create_subprocess_shell(...) and await proc.wait()"),
    ("os.waitpid", "await asyncio.create_subprocess_exec(...) and await proc.wait()"),
    ("os.", "await asyncio.to_thread(...) around filesystem calls (or anyio.Path)"),
    (
        "socket.",
        "use an async client (asyncio streams, httpx.AsyncClient, aiohttp) or "
        "await asyncio.to_thread(...)",
    ),  # fmt: skip
    ("subprocess.", "await asyncio.create_subprocess_exec(...) and await proc.communicate()"),
    (
        "threading.",
        "use asyncio.Event / asyncio.Lock / TaskGroup, or await "
        "asyncio.to_thread(...) for the wait",
    ),  # fmt: skip
    ("queue.", "use asyncio.Queue, or await asyncio.to_thread(q.get)"),
    ("concurrent.futures.", "await asyncio.wrap_future(future) instead of future.result()"),
    ("input", "read input before the loop starts, or await asyncio.to_thread(input)"),
    (
        "db.sqlalchemy",
        "use create_async_engine / AsyncSession with an async driver (asyncpg, "
        "aiosqlite, psycopg async), or await asyncio.to_thread(...)",
    ),  # fmt: skip
    (
        "db.django",
        "use the async ORM (aget, acount, async for, asave) or await sync_to_async(...)(...)",
    ),  # fmt: skip
    ("db.dbapi", "use aiosqlite, or await asyncio.to_thread(...)"),
)


def fix_for(call: str) -> str:
    for prefix, fix in FIXES:
        if call.startswith(prefix):
            return fix
    return "await asyncio.to_thread(...) so the loop keeps running"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 0.001:
        return "<1 ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _reportable(site: CallSite, run: TestRun) -> bool:
    if not site.frames:
        return False
    return not site.in_test_code or bool(run.options.get("check_test_code"))


class BlockingCall:
    id = "blocking-call"
    summary = "a blocking call (sleep, file, socket, subprocess, thread wait, sync DB driver) ran "
    "on the thread of a running event loop"
    severity: Severity = "warning"

    def check(self, run: TestRun) -> Iterable[Finding]:
        by_site: dict[CallSite, list[LoopEvent]] = defaultdict(list)
        for event in run.loop_events:
            if event.kind == "call" and event.allowed is None and _reportable(event.callsite, run):
                by_site[event.callsite].append(event)
        for site, events in by_site.items():
            names = Counter(e.call for e in events)
            total = sum(e.duration or 0.0 for e in events)
            top = names.most_common(1)[0][0]
            what = ", ".join(names)
            calls = f"{len(events)} call{'s' if len(events) != 1 else ''}"
            details = [f"{n} x {name}" for name, n in names.most_common()]
            details += sorted({f"  {e.call}({e.detail})" for e in events if e.detail})[:10]
            yield Finding(
                rule=self.id,
                severity=self.severity,
                message=f"{what} blocked the event loop ({calls}, {_ms(total)} in all)",
                count=len(events),
                location=Location.of(site.primary),
                label=what,
                fix=fix_for(top),
                details=tuple(details),
                trace=tuple(f"{e.call}  {_ms(e.duration)}  [{e.callsite}]" for e in events),
            )


def _explained(stall: LoopEvent, calls: list[LoopEvent], tick: float) -> bool:
    """At least half of the stall is covered by blocking calls (allowed ones too) made on the
    loop's thread while it lasted."""
    start = stall.started - 2 * tick
    end = stall.started + (stall.duration or 0.0)
    covered = 0.0
    for call in calls:
        if call.thread != stall.thread:
            continue
        c_end = call.started + (call.duration or 0.0)
        if c_end >= start and call.started <= end:
            covered += min(c_end, end) - max(call.started, start)
    return covered >= 0.5 * (stall.duration or 0.0)


class SlowCallback:
    id = "slow-callback"
    summary = "the event loop did not get control back for longer than the threshold, with no "
    "blocking call to explain it (CPU-bound work, a C-level wait, a long GC pause)"
    severity: Severity = "warning"

    def check(self, run: TestRun) -> Iterable[Finding]:
        threshold_ms = int(
            run.options.get("slow_callback_ms_threshold")
            or run.options.get("slow_callback_ms")
            or 100
        )
        tick = float(run.options.get("loop_tick", 0.01))
        calls = [e for e in run.loop_events if e.kind == "call"]
        by_site: dict[CallSite, list[LoopEvent]] = defaultdict(list)
        for stall in run.loop_events:
            if stall.kind != "stall" or stall.allowed is not None:
                continue
            if (stall.duration or 0.0) * 1000 < threshold_ms or _explained(stall, calls, tick):
                continue
            if stall.callsite.frames and not _reportable(stall.callsite, run):
                continue
            by_site[stall.callsite].append(stall)
        for site, stalls in by_site.items():
            longest = max(s.duration or 0.0 for s in stalls)
            sampled = sum(s.sampled for s in stalls)
            here = sum(n for s in stalls for st, n in s.samples if st is site)
            times = f"{len(stalls)} time{'s' if len(stalls) != 1 else ''}"
            where = (
                f"; {here} of {sampled} samples here"
                if site.frames
                else f"; no application frame in {sampled} samples (library code, a C "
                "extension or the garbage collector)"
            )
            others: Counter[str] = Counter()
            for s in stalls:
                for st, n in s.samples:
                    if st is not site:
                        others[str(st) if st.frames else "<library code>"] += n
            yield Finding(
                rule=self.id,
                severity=self.severity,
                message=f"the event loop was blocked for {_ms(longest)} (threshold "
                f"{threshold_ms} ms, {times}) with no blocking call to explain it{where}",
                count=len(stalls),
                location=Location.of(site.primary) if site.frames else run.test_location,
                label="slow-callback",
                fix="move CPU-bound work off the loop (await asyncio.to_thread(...), or "
                "loop.run_in_executor with a ProcessPoolExecutor), or yield with "
                "await asyncio.sleep(0) inside long loops",
                details=tuple(f"{n} samples at {where_}" for where_, n in others.most_common(3)),
                trace=tuple(f"{_ms(s.duration)} at {s.callsite}" for s in stalls),
            )


class MaxLoopBlock:
    id = "max-loop-block"
    summary = "the event loop was blocked for longer in total than the test's budget"
    severity: Severity = "error"

    def check(self, run: TestRun) -> Iterable[Finding]:
        budget = run.options.get("max_loop_block_ms")
        if budget is None:
            return
        stalls = [e for e in run.loop_events if e.kind == "stall"]
        total = sum(s.duration or 0.0 for s in stalls)
        if total * 1000 <= budget:
            return
        ranked = sorted(stalls, key=lambda s: -(s.duration or 0.0))
        yield Finding(
            rule=self.id,
            severity=self.severity,
            message=f"the event loop was blocked for {_ms(total)} in all over {len(stalls)} "
            f"stalls, budget is {budget} ms ({run.options.get('max_loop_block_origin', 'marker')})",
            count=len(stalls),
            location=run.test_location,
            label=f"max_loop_block({budget})",
            fix="find the longest stalls below and move that work off the loop, or raise the "
            "budget",
            details=tuple(
                f"{_ms(s.duration)} at {s.callsite if s.callsite.frames else '<library code>'}"
                for s in ranked[:5]
            ),
            always_fails=True,
        )
