"""The table ``make bench`` prints, the JSON file it writes, and two such files side by side.

A row is one (workload, parallelism): parallelism None for the plain-Python loop, and
workload "paced <rate>" for the latency run. A sample is one run's figures (run.py builds them).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]
Row = dict[str, Any]


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(samples: list[dict[str, Any]], paced: Any | None) -> list[Row]:
    """Medians per (workload, parallelism), in the order first run; "ratio" is the median
    over rounds of a job's events/s ÷ its plain loop's in the same round (the plain loop of
    workload ``base`` when a sample names one). ``paced``: a latency.PacedRun, or None."""
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for sample in samples:
        groups.setdefault((sample["workload"], sample["parallelism"]), []).append(sample)
    plain = {(s["workload"], s["round"]): s["events_per_s"] for s in samples
             if s["parallelism"] is None}
    rows = []
    for (workload, parallelism), runs in sorted(groups.items(),
                                                key=lambda g: (g[0][0], g[0][1] or 0)):
        ratios = [s["events_per_s"] / plain[base, s["round"]] for s in runs
                  if parallelism is not None
                  and (base := s.get("base", workload), s["round"]) in plain]
        rows.append({"workload": workload, "parallelism": parallelism,
                     "base": runs[0].get("base"),
                     "events_per_s": statistics.median(s["events_per_s"] for s in runs),
                     "ratio": statistics.median(ratios) if ratios else None,
                     "p50_ms": None, "p99_ms": None,
                     "cpu_us_per_event": _median([s["cpu_us_per_event"] for s in runs]),
                     "correct": all(s.get("correct", True) for s in runs)})
    if paced is not None:
        rows.append({"workload": f"paced {paced.rate / 1000:g}k/s",
                     "parallelism": paced.parallelism,
                     "events_per_s": paced.achieved_rate, "ratio": None,
                     "p50_ms": paced.p50_ms, "p99_ms": paced.p99_ms,
                     "cpu_us_per_event": paced.cpu_us_per_event, "correct": True})
    return rows


def _label(row: Row) -> str:
    return f"{row['workload']} plain loop" if row["parallelism"] is None else row["workload"]


def _cell(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(rows: list[Row], settings: dict[str, Any]) -> str:
    title = (f"{settings['events']:,} events, medians of {settings['rounds']} interleaved "
             f"rounds, {settings['taskmanagers']} TaskManagers × {settings['slots']} slots, "
             f"{os.cpu_count()} CPUs")
    header = (f"{'workload':<16}{'p':>3}{'events/s':>13}{'vs loop':>9}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'TM CPU µs/event':>17}")
    lines = [title, header]
    for row in rows:
        lines.append(
            f"{_label(row):<16}{_cell(row['parallelism'], 'd'):>3}"
            f"{row['events_per_s']:>13,.0f}{_cell(row['ratio'], '.3f'):>9}"
            f"{_cell(row['p50_ms'], '.1f'):>9}{_cell(row['p99_ms'], '.1f'):>9}"
            f"{_cell(row['cpu_us_per_event'], '.2f'):>17}"
            f"{'' if row['correct'] else '  WRONG RESULTS'}")
    lines.append("vs loop: ÷ the plain loop's events/s in the same round; CPU of a plain loop: "
                 "its own thread's; loop ×2: the plain loop split over 2 processes, no "
                 "exchange (the most a p=2 can reach here); keyed ×2: the same with the "
                 "least a keyed exchange costs, by hand (the most a keyed p=2 can reach "
                 "here); paced: events/s achieved, end-to-end latency")
    return "\n".join(lines)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def write_result(settings: dict[str, Any], rows: list[Row], samples: list[dict[str, Any]],
                 paced: dict[str, Any] | None, path: str | None = None) -> Path:
    """Write everything one run measured as JSON; returns the file's path (by default
    ``results/<UTC time>-<git short rev>.json``)."""
    now = datetime.now(UTC)
    rev = _git("rev-parse", "--short", "HEAD")
    result = {"created": now.isoformat(timespec="seconds"), "git_rev": rev,
              "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
              "cpu_count": os.cpu_count(), "machine": platform.platform(),
              "python": platform.python_version(), **settings,
              "rows": rows, "samples": samples, "paced": paced}
    target = Path(path) if path else RESULTS / f"{now:%Y%m%dT%H%M%SZ}-{rev}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    return target


def _origin(name: str, path: str, result: dict[str, Any]) -> str:
    return (f"{name}: {path} ({result['git_rev']}{' dirty' if result['git_dirty'] else ''}, "
            f"{result['events']:,} events, {result['rounds']} rounds)")


def compare(path_a: str, path_b: str) -> str:
    """The rows of two result files side by side; "change" is B's events/s ÷ A's − 1."""
    a, b = (json.loads(Path(p).read_text()) for p in (path_a, path_b))
    rows_a = {(r["workload"], r["parallelism"]): r for r in a["rows"]}
    header = (f"{'workload':<16}{'p':>3}{'events/s A':>13}{'B':>11}{'change':>9}"
              f"{'vs loop A':>10}{'B':>7}{'p99 ms A':>10}{'B':>7}{'CPU µs A':>10}{'B':>7}")
    lines = [_origin("A", path_a, a), _origin("B", path_b, b), header]
    for row in b["rows"]:
        old = rows_a.get((row["workload"], row["parallelism"]))
        if old is None:
            continue
        lines.append(
            f"{_label(row):<16}{_cell(row['parallelism'], 'd'):>3}"
            f"{old['events_per_s']:>13,.0f}{row['events_per_s']:>11,.0f}"
            f"{row['events_per_s'] / old['events_per_s'] - 1:>+9.1%}"
            f"{_cell(old['ratio'], '.3f'):>10}{_cell(row['ratio'], '.3f'):>7}"
            f"{_cell(old['p99_ms'], '.1f'):>10}{_cell(row['p99_ms'], '.1f'):>7}"
            f"{_cell(old['cpu_us_per_event'], '.2f'):>10}"
            f"{_cell(row['cpu_us_per_event'], '.2f'):>7}")
    return "\n".join(lines)
