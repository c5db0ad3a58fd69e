"""``python -m devkit chaos [SCENARIO...] [--size small|full] [--json]``.

Runs the scenarios one after another (each on its own private stack), prints one row per
scenario and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from devkit.chaos.harness import Result
from devkit.chaos.scenarios import FULL, SCENARIOS, SMALL

COLUMNS = ("scenario", "produced", "clean aggregated", "rejected", "lost", "counted twice",
           "recovery s", "final windows", "result")


def row(r: Result) -> list[str]:
    rec = "-" if r.recovery_s is None else f"{r.recovery_s:.1f}"
    return [r.scenario, str(r.produced), str(r.aggregated), str(r.rejected), str(r.lost),
            str(r.counted_twice), rec, str(r.details.get("final_windows", "-")),
            "PASS" if r.passed else "FAIL"]


def table(results: list[Result]) -> str:
    rows = [list(COLUMNS)] + [row(r) for r in results]
    widths = [max(len(x[i]) for x in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(x, widths, strict=True))) for x in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devkit chaos")
    p.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], metavar="SCENARIO",
                   help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--size", choices=("small", "full"), default="full")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--logs", default=".local/chaos", help="where each scenario keeps its logs")
    args = p.parse_args(argv)
    # a SIGTERM (timeout, CI) must still stop the emulators and workers a scenario started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.scenarios or list(SCENARIOS)
    size = SMALL if args.size == "small" else FULL
    logs = Path(args.logs) / time.strftime("%Y%m%d-%H%M%S")
    results = []
    for name in names:
        print(f"chaos: {name} ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        try:
            r = SCENARIOS[name](size, logs)
        except Exception as exc:  # a broken scenario is a failed row, not a crash of the runner
            r = Result(name, problems=[f"scenario error: {type(exc).__name__}: {exc}"])
        r.details["scenario_s"] = round(time.monotonic() - start, 1)
        results.append(r)
        (logs / name).mkdir(parents=True, exist_ok=True)
        (logs / name / "result.json").write_text(json.dumps(r.to_json(), indent=2, default=str))
        status = "PASS" if r.passed else "FAIL: " + "; ".join(r.problems)
        print(f"chaos: {name}: {status} ({r.details['scenario_s']}s)", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, default=str))
    else:
        print(table(results))
        print(f"logs: {logs}/")
    (logs / "results.json").parent.mkdir(parents=True, exist_ok=True)
    (logs / "results.json").write_text(json.dumps([r.to_json() for r in results], indent=2, default=str))
    return 0 if all(r.passed for r in results) else 1
