"""What every benchmark shares: the machine line and the sections of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine(*, discord_version: bool = False) -> str:
    """CPUs, memory, kernel, Python and SQLite (and discord.py) of this machine."""
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    parts = [
        f"{os.cpu_count()} CPUs (`nproc`)",
        f"{mem} memory",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
    ]
    if discord_version:
        import discord

        parts.append(f"discord.py {discord.__version__}")
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    return ", ".join(parts)


def read_section(start: str, end: str) -> str:
    """The current text between the markers (markers included), or ""."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    if start in old and end in old:
        return old[old.index(start) : old.index(end) + len(end)]
    return ""


def write_section(start: str, end: str, body: str) -> None:
    """Replace the section between the markers in RESULTS.md (append it if missing)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in old and end in old:
        new = old[: old.index(start)] + body + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(new)
