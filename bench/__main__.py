"""`make bench`: every benchmark, each measuring its baseline in the same run, results written
to bench/RESULTS.md. PostgreSQL figures are added when BENCH_POSTGRES_URL (or, in CI style,
TEST_DATABASE_URL) names a server to create a throwaway database on."""

from __future__ import annotations

import os
import subprocess
import sys


def main() -> int:
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL")
    metrics = [sys.executable, "-m", "bench.metrics_bench"]
    if postgres:
        metrics += ["--postgres", postgres]
    for command in ([sys.executable, "-m", "bench.ingest"], metrics):
        print("$", " ".join(command[1:]), flush=True)
        status = subprocess.call(command)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
