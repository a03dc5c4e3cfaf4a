"""Activity batches written by a process of their own (ACTIVITY_WRITER=process).

Why: during a burst the bot's main thread parses gateway events at 100% of one core. Writing
batches in the same process — even on aiosqlite's thread — needs the GIL for every row bound
and every result read, so the writes take turns with discord.py's parsing on that one core
while the machine's other core sits idle (bench/ingest.py measured ~55% of two cores busy).
A writer process has its own GIL and uses the idle core; the bot only packs each batch into
plain tuples and pickles it (C code, a few milliseconds per 5,000 records).

The protocol over the child's stdin/stdout: length-prefixed pickles. Each request is
``(timezones, batch id, rows)``; each answer is ``None`` (committed) or an error string. The
writer runs exactly the recorder's own ``_write`` (services.activity) on its own engine, so what is
written is identical; the batch is acknowledged only after it committed, so the recorder's
guarantees (a flush returns once written, SIGTERM loses nothing, bounded memory) hold.
If the writer dies, the recorder writes in-process from then on (and says so in the log); a
batch whose acknowledgement was lost is retried under the same id, and skipped if the writer
had committed it (``activity_batch``), so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import struct
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

HEADER = struct.Struct("!I")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Row = tuple[Any, ...]


def pack(records: list[Any]) -> list[Row]:
    """Records as plain tuples (ints and None): cheap to pickle, exact to rebuild."""
    from services.activity import ActivityRecord

    rows: list[Row] = []
    for r in records:
        micros = (r.occurred_at - EPOCH) // timedelta(microseconds=1)
        if isinstance(r, ActivityRecord):
            rows.append((0, r.guild_id, r.user_id, int(r.kind), micros, r.channel_id, r.amount))
        else:
            rows.append((1, r.guild_id, r.user_id, int(r.kind), micros, r.is_bot))
    return rows


def unpack(rows: list[Row]) -> list[Any]:
    from models import ActivityKind, MembershipKind
    from services.activity import ActivityRecord, MembershipRecord

    records: list[Any] = []
    for row in rows:
        at = EPOCH + timedelta(microseconds=row[4])
        if row[0] == 0:
            records.append(ActivityRecord(row[1], row[2], ActivityKind(row[3]), at, row[5], row[6]))
        else:
            records.append(MembershipRecord(row[1], row[2], MembershipKind(row[3]), at, row[5]))
    return records


class ProcessWriter:
    """The bot's side: a child process that writes batches and acknowledges each."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        env = {**os.environ, "HEARTH_WRITER_URL": self.database_url}
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.activity_writer",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        answer = await self._receive()
        if answer != "ready":
            raise RuntimeError(f"activity writer did not start: {answer}")

    async def write(self, records: list[Any], batch_id: str, timezones: dict[int, str]) -> None:
        async with self._lock:
            if not self.alive:
                raise ConnectionError("the activity writer process is not running")
            await self._send((timezones, batch_id, pack(records)))
            answer = await self._receive()
        if answer is not None:
            raise RuntimeError(f"activity writer: {answer}")

    async def close(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            async with self._lock:
                await self._send(None)
            await asyncio.wait_for(proc.wait(), 10)
        except (TimeoutError, ConnectionError, BrokenPipeError):
            proc.kill()
            await proc.wait()

    async def _send(self, message: Any) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.write(HEADER.pack(len(data)) + data)
        await self._proc.stdin.drain()

    async def _receive(self) -> Any:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            header = await self._proc.stdout.readexactly(HEADER.size)
            (size,) = HEADER.unpack(header)
            return pickle.loads(await self._proc.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            raise ConnectionError("the activity writer process exited") from None


async def _serve() -> int:
    from models import Database, create_engine
    from services.activity import ActivityRecorder

    url = os.environ["HEARTH_WRITER_URL"]
    db = Database.from_engine(create_engine(url))
    recorder = ActivityRecorder(db)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def answer(message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(HEADER.pack(len(data)) + data)
        out.flush()

    answer("ready")
    try:
        while True:
            try:
                (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                request = pickle.loads(await reader.readexactly(size))
            except asyncio.IncompleteReadError:
                return 0  # the bot is gone (a hard kill): nothing more will come
            if request is None:
                return 0
            timezones, batch_id, rows = request
            from zoneinfo import ZoneInfo

            for guild_id, name in timezones.items():
                recorder.set_timezone(guild_id, ZoneInfo(name))
            try:
                await recorder._write(unpack(rows), batch_id)
            except Exception as exc:  # the bot keeps the batch and retries
                answer(f"{type(exc).__name__}: {exc}")
            else:
                answer(None)
    finally:
        await db.dispose()


def main() -> int:
    # Whatever the bot's logging says, this process only speaks the protocol on stdout.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # A Ctrl-C or a service manager's SIGTERM reaches the whole process group: the writer
    # keeps going until the bot has handed over its last batch and says stop (or goes away).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return asyncio.run(_serve())


if __name__ == "__main__":
    raise SystemExit(main())
