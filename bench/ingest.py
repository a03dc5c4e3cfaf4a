"""Ingestion, responsiveness and memory of the real bot against the sandbox.

    .venv/bin/python -m bench.ingest [--events 200000] [--naive-events 20000]

The sandbox runs in this process; the bot runs in its own process (``bench.ingest_worker``,
built by ``open_hearth`` exactly as ``bot.py run`` builds it), so on a 2-core machine each has
a core and the bot, not the sender, is what is measured. All baselines run in the same
invocation, against the same sandbox, one after another:

- **noop**: the same bot with a no-op ``on_message`` instead of activity tracking (what
  discord.py's own parsing costs);
- **full**: Hearth's activity tracking; timed until every event is *in the database*;
- **naive**: one ORM object and one commit per event (the usual leveling-bot pattern), timed
  until every event is committed. It is ~100x slower, so it gets fewer events (a rate is a
  rate; the count is in the table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._common import machine, write_section
from sandbox import ChannelRecord, Guild, Sandbox, ScriptedMember
from sandbox.state import BotApp, MessageRecord

ROOT = Path(__file__).resolve().parent
START, END = "<!-- ingest-bench:start -->", "<!-- ingest-bench:end -->"


@dataclass
class Worker:
    proc: asyncio.subprocess.Process

    async def line(self, within: float = 600) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not raw:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise RuntimeError(f"worker died: {err.decode()[-2000:]}")
        return dict(json.loads(raw))

    async def finish(self) -> dict[str, Any]:
        if self.proc.stdin is not None:
            self.proc.stdin.write(b"stop\n")
            await self.proc.stdin.drain()
        final = await self.line()
        await self.proc.wait()
        return final


async def start_worker(
    sb: Sandbox,
    app: BotApp,
    mode: str,
    database_url: str,
    expect: int = 0,
    dev_guild: Guild | None = None,
) -> tuple[Worker, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    env |= {
        "DISCORD_TOKEN": app.token,
        "DATABASE_URL": database_url,
        "DISCORD_API_BASE": sb.api_base,
        "DISCORD_GATEWAY_URL": sb.gateway_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT.parent),
    }
    if dev_guild is not None:
        env["DEV_GUILD_ID"] = str(dev_guild.id)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest_worker",
        "--mode",
        mode,
        "--expect",
        str(expect),
        cwd=ROOT.parent,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    worker = Worker(proc)
    ready = await worker.line(within=300)
    await sb.wait_until_connected(app, timeout=60)
    return worker, ready


async def maybe_profile(worker: Worker, label: str, seconds: float) -> None:
    """With HEARTH_BENCH_PROFILE=prefix and py-spy installed, profile the bot process."""
    prefix = os.environ.get("HEARTH_BENCH_PROFILE")
    if prefix:
        await asyncio.create_subprocess_exec(
            "py-spy",
            "record",
            "-o",
            f"{prefix}.{label}.json",
            "-f",
            "speedscope",
            "-d",
            str(max(1, int(seconds))),
            "-p",
            str(worker.proc.pid),
        )


def _ws_frame(text: str) -> bytes:
    """One unmasked server-to-client WebSocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = bytes([0x81, n])
    elif n < 1 << 16:
        header = bytes([0x81, 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x81, 127]) + n.to_bytes(8, "big")
    return header + payload


async def fast_stream(
    sb: Sandbox, channel: ChannelRecord, members: list[ScriptedMember], count: int
) -> None:
    """MESSAGE_CREATEs as fast as the bot can take them.

    ``sb.stream_messages`` sends one frame per await and tops out near 11k events/s, below
    what one discord.py process can parse, which would make every variant look alike. Here
    frames are built ahead and written to the socket's transport in 64 KiB-ish slabs, waiting
    only while the kernel buffer is full. Sequence numbers continue the session's own.
    """
    assert channel.guild_id is not None
    sessions = [s for s in sb.gateway.targets(channel.guild_id, 1 << 9, None) if s.ws]
    templates = []
    for m in members:
        body = sb.store.payload(MessageRecord(0, channel.id, channel.guild_id, m.id, content="hi"))
        body["id"], body["timestamp"] = "@@ID@@", "@@TS@@"
        templates.append(json.dumps(body, separators=(",", ":")))
    ts = datetime.now(UTC).isoformat()
    for session in sessions:
        await session.queue.join()
        transport = session.ws._writer.transport  # type: ignore[union-attr]
        slab: list[bytes] = []
        for i in range(count):
            session.seq += 1
            data = templates[i % len(templates)]
            data = data.replace("@@ID@@", str(sb.ids.next()), 1).replace("@@TS@@", ts, 1)
            slab.append(_ws_frame(f'{{"op":0,"s":{session.seq},"t":"MESSAGE_CREATE","d":{data}}}'))
            if len(slab) == 256 or i == count - 1:
                transport.write(b"".join(slab))
                slab.clear()
                while transport.get_write_buffer_size() > 1 << 20:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)  # the kernel buffer drains at the bot's pace


def community(sb: Sandbox, members: int) -> tuple[Guild, ChannelRecord, list[ScriptedMember]]:
    guild = sb.create_guild(f"bench-{members}")
    channel = guild.create_channel("general")
    people = [guild.add_member(f"m{i}") for i in range(members)]
    return guild, channel, people


async def throughput(mode: str, events: int, tmp: Path) -> dict[str, Any]:
    async with Sandbox() as sb:
        app = sb.create_bot("Hearth")
        _guild, channel, people = community(sb, 200)
        url = f"sqlite+aiosqlite:///{tmp / f'{mode}.db'}"
        worker, _ready = await start_worker(sb, app, mode, url, expect=events)
        await maybe_profile(worker, mode, 4)
        started = time.perf_counter()
        await fast_stream(sb, channel, people, events)
        sent = time.perf_counter() - started
        await worker.line()  # {"done": ...}: every event handled (full: in the database)
        took = time.perf_counter() - started
        final = await worker.line()
        await worker.proc.wait()
    return {
        "mode": mode,
        "events": events,
        "seconds": took,
        "rate": events / took,
        "send_seconds": sent,
        "db_rows": final["db_rows"],
    }


async def responsiveness(
    tmp: Path, *, rate: int, seconds: float, mode: str = "full"
) -> dict[str, Any]:
    """Stream ``rate`` events/s at the full bot while members run slash commands."""
    async with Sandbox() as sb:
        app = sb.create_bot("Hearth")
        guild, channel, people = community(sb, 200)
        worker, _ = await start_worker(
            sb, app, mode, f"sqlite+aiosqlite:///{tmp / 'resp.db'}", dev_guild=guild
        )
        await maybe_profile(worker, "responsiveness", seconds)
        await sb.wait_for(lambda: app.guild_commands.get(guild.id) or app.global_commands, 30)
        latencies: list[float] = []
        stop = asyncio.Event()

        async def stream() -> int:
            sent = 0
            tick = 0.02
            per_tick = int(rate * tick)
            next_at = time.perf_counter()
            while not stop.is_set():
                await sb.stream_messages(channel, people, per_tick)
                sent += per_tick
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            return sent

        async def members_use_commands() -> None:
            i = 0
            while not stop.is_set():
                member = people[i % len(people)]
                i += 1
                began = time.perf_counter()
                await member.slash("hearth about")
                latencies.append(time.perf_counter() - began)
                await asyncio.sleep(0.05)

        streamer = asyncio.create_task(stream())
        users = asyncio.create_task(members_use_commands())
        await asyncio.sleep(seconds)
        stop.set()
        sent = await streamer
        await users
        final = await worker.finish()
    latencies.sort()
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": sent,
        "commands": len(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "stall_max_ms": final["stall_max_ms"],
        "stall_p99_ms": final["stall_p99_ms"],
        "db_rows": final["db_rows"],
    }


async def memory(tmp: Path, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        async with Sandbox() as sb:
            app = sb.create_bot("Hearth")
            community(sb, size)
            url = f"sqlite+aiosqlite:///{tmp / f'mem{size}.db'}"
            worker, ready = await start_worker(sb, app, "idle", url)
            await worker.finish()
        rows.append(
            {
                "members": ready["members"],
                "rss_mib": ready["rss_mib"],
                "writer_rss_mib": ready.get("writer_rss_mib", 0.0),
            }
        )
    return rows


def report(
    runs: list[dict[str, Any]],
    resp: dict[str, Any],
    mem: list[dict[str, Any]],
    args: argparse.Namespace,
) -> str:
    by = {r["mode"]: r for r in runs}
    ratio = by["full"]["rate"] / by["noop"]["rate"]
    speedup = by["full"]["rate"] / by["naive"]["rate"]
    ok = lambda good: "✅" if good else "❌"  # noqa: E731
    lines = [
        START,
        "## Ingestion, responsiveness, memory (`bench/ingest.py`)",
        "",
        f"Machine: {machine(discord_version=True)}. Bot in its own process against the sandbox "
        "in the benchmark process, SQLite database, activity batches written by the writer "
        "process (`ACTIVITY_WRITER=process`, the default).",
        "",
        f"Reproduce: `.venv/bin/python -m bench.ingest --events {args.events} "
        f"--naive-events {args.naive_events}`",
        "",
        "| Bot | Events | Time | Events/s | Rows in DB | vs no-op | vs naive |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, label in (
        ("noop", "no-op listener (baseline)"),
        ("full", "Hearth activity tracking"),
        ("naive", "naive: ORM add + commit per event"),
    ):
        r = by[mode]
        vs_noop = f"{r['rate'] / by['noop']['rate']:.2f}"
        vs_naive = f"{r['rate'] / by['naive']['rate']:.1f}x"
        rows = "—" if mode == "noop" else f"{r['db_rows']:,}"
        lines.append(
            f"| {label} | {r['events']:,} | {r['seconds']:.2f} s | {r['rate']:,.0f} | {rows} "
            f"| {vs_noop} | {vs_naive} |"
        )
    lines += [
        "",
        f"- Tracking keeps **{ratio:.2f}** of the no-op rate (target ≥ 0.8) {ok(ratio >= 0.8)}; "
        f"it is **{speedup:.0f}x** the naive recorder (target ≥ 10x) {ok(speedup >= 10)}. "
        f"Full tracking is timed until all {by['full']['events']:,} events are in the database "
        f"(counted: {by['full']['db_rows']:,}).",
        f"- Responsiveness: {resp['sent']:,} events streamed at {resp['rate']:,}/s for "
        f"{resp['seconds']:.0f} s while members ran {resp['commands']} slash commands: "
        f"acknowledgement p50 **{resp['p50_ms']:.1f} ms**, p99 **{resp['p99_ms']:.1f} ms** "
        f"(target ≤ 100) {ok(resp['p99_ms'] <= 100)}; longest event-loop stall "
        f"**{resp['stall_max_ms']:.1f} ms** (p99 {resp['stall_p99_ms']:.1f} ms; target ≤ 100) "
        f"{ok(resp['stall_max_ms'] <= 100)}. Latency is measured from the member's side (the "
        "sandbox dispatching the interaction to the answer arriving).",
        "",
        "| Members in cache | Bot process | Activity writer process | Together |",
        "|---:|---:|---:|---:|",
        *[
            f"| {m['members']:,} | {m['rss_mib']:.0f} MiB | {m['writer_rss_mib']:.0f} MiB "
            f"| {m['rss_mib'] + m['writer_rss_mib']:.0f} MiB |"
            for m in mem
        ],
    ]
    if len(mem) >= 2:
        per = (mem[-1]["rss_mib"] - mem[1]["rss_mib"]) / max(
            1, (mem[-1]["members"] - mem[1]["members"]) / 10_000
        )
        lines += ["", f"- Each additional 10,000 members costs about **{per:.0f} MiB**."]
    lines.append(END)
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000)
    parser.add_argument("--resp-rate", type=int, default=5_000)
    parser.add_argument("--resp-seconds", type=float, default=20.0)
    parser.add_argument("--memory", default="10,10000,20000,40000")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hearth-ingest-") as name:
        tmp = Path(name)
        runs = []
        for mode, n in (("noop", args.events), ("full", args.events), ("naive", args.naive_events)):
            result = await throughput(mode, n, tmp)
            print(json.dumps(result), flush=True)
            runs.append(result)
        resp = await responsiveness(tmp, rate=args.resp_rate, seconds=args.resp_seconds)
        print(json.dumps(resp), flush=True)
        mem = await memory(tmp, [int(x) for x in args.memory.split(",")])
        print(json.dumps(mem), flush=True)
    section = report(runs, resp, mem, args)
    print(section)
    if not args.no_write:
        write_section(START, END, section)


if __name__ == "__main__":
    asyncio.run(main())
