"""`make demo` works: the story plays through against the sandbox and leaves its transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_plays_the_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "demo", "--output", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    transcript = (tmp_path / "out" / "transcript.txt").read_text()
    assert "alice: /hearth about" in transcript
    assert "Only moderators can use this" in transcript  # alice refused, politely
    assert "Europe/Berlin" in transcript
    assert "This interaction failed" not in transcript
    assert "maya: /poll create" in transcript and "Winner:" in transcript  # the poll scene
    (chart,) = (tmp_path / "out").glob("poll-*-results.png")
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "Attended (2): @alice @dara" in transcript  # the event scene: real attendance
    assert (tmp_path / "out" / "event-1.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    # The creator's digest, as received: Markdown and the chart.
    digest = (tmp_path / "out" / "digest.md").read_text()
    assert "your week" in digest and "Events" in digest and "Polls" in digest
    (png,) = (tmp_path / "out").glob("digest-*.png")
    assert png.read_bytes().startswith(b"\x89PNG")
