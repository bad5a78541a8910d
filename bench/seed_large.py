"""The large seed by bulk import: ``hub seed --scale large``'s own path, timed step by step.

Replaces the graph of the benchmarks' Neo4j (HUB_STATE_DIR, HUB_NEO4J_BOLT_PORT, as the other benchmarks) with
the large cluster: the generator writes the CSV files in one process per core (the largest peak memory reported)
while the server stops, ``neo4j-admin database import full`` builds the store, the server starts and the schema
is applied. Each step's wall-clock and CPU seconds are reported: on a shared machine the CPU says what the step
costs, the wall clock what the others left it. The baseline is the figure of the checked write functions on the
same machine (``hub seed --scale large --checked``: 580 s when last measured), not re-run here: it takes ten
minutes or more. The load average
before and after is in the JSON, as the machine is shared. Writes bench/results/seed_large.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any

from bench.common import write_result
from hub.bulk_seed import bulk_seed_large
from hub.settings import Settings

CHECKED_SECONDS = 580.0  # hub seed --scale large through the write functions, before this path (issue 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, help="only this many days of events (default: the whole year)")
    args = parser.parse_args()
    settings = Settings()
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    report = bulk_seed_large(settings, seed=args.seed, days=args.days)
    seconds = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures: dict[str, Any] = {
        "seed": args.seed,
        "days": args.days or "all",
        "seconds": round(seconds, 1),
        "steps_s": {step: round(s, 1) for step, s in report.steps.items()},
        "cpu_s": {step: round(s, 1) for step, s in report.cpu.items()},
        "import_stages": report.import_stages,
        "generator_peak_rss_mb": round(report.generator.peak_rss_mb, 1),
        "child_cpu_s": round(cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime, 1),
        "rows": report.generator.rows,
        "checked_write_functions_s": CHECKED_SECONDS,
        "speed_up_vs_checked": round(CHECKED_SECONDS / seconds, 2),
        "target_s": 180,
        "met": seconds < 180,
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }
    for key, value in figures.items():
        print(f"{key:28} {value}")
    suffix = "" if args.days is None else f"_{args.days}_days"
    print(write_result(f"seed_large{suffix}", figures))


if __name__ == "__main__":
    main()
