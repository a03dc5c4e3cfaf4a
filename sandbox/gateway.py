"""The gateway websocket: HELLO/IDENTIFY/READY, heartbeats, dispatch, RESUME, member chunks.

Each IDENTIFY creates a :class:`Session` that outlives its socket: events dispatched while the
socket is down are buffered with their sequence numbers so a RESUME can replay them, which is
exactly what discord.py relies on after a drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import JSON, BotApp

if TYPE_CHECKING:
    from .server import Sandbox

PRIVILEGED = {"members": 1 << 1, "presences": 1 << 8, "message_content": 1 << 15}
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE = 0, 1, 2, 3
OP_VOICE_STATE, OP_RESUME, OP_RECONNECT, OP_REQUEST_MEMBERS = 4, 6, 7, 8
OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 9, 10, 11
MEMBERS_INTENT = 1 << 1
BUFFER_LIMIT = 50_000

Chooser = Callable[[int, int], JSON]


@dataclass
class Session:
    """One identified gateway session (survives socket drops until resumed or dropped)."""

    session_id: str
    bot: BotApp
    intents: int
    shard_id: int
    shard_count: int
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BUFFER_LIMIT))
    ready: bool = False
    invalid: bool = False
    identify: JSON = field(default_factory=dict)

    def handles_guild(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def push(self, event: str, data: JSON | str) -> None:
        """Assign the next sequence number, buffer for resume, and queue for the socket."""
        self.seq += 1
        raw = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        frame = f'{{"op":0,"s":{self.seq},"t":"{event}","d":{raw}}}'
        self.buffer.append((self.seq, frame))
        if self.ws is not None:
            self.queue.put_nowait(frame)

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed and self.ready


class GatewayHub:
    """Accepts gateway connections and fans dispatches out to matching sessions."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.sessions: dict[str, Session] = {}
        self.identifies: list[JSON] = []
        self._sockets: set[web.WebSocketResponse] = set()

    # -- dispatch -------------------------------------------------------------------------
    def targets(
        self, guild_id: int | None, intent: int | None, only_bots: list[int] | None
    ) -> Iterator[Session]:
        for s in list(self.sessions.values()):
            if only_bots is not None and s.bot.user_id not in only_bots:
                continue
            if intent is not None and not s.intents & intent:
                continue
            if guild_id is not None:
                guild = self.sb.guilds.get(guild_id)
                if guild is None or s.bot.user_id not in guild.bot_ids:
                    continue
            if not s.handles_guild(guild_id):
                continue
            yield s

    def dispatch(
        self,
        event: str,
        data: JSON,
        guild_id: int | None = None,
        *,
        intent: int | None = None,
        only_bots: list[int] | None = None,
        choose: Chooser | None = None,
    ) -> int:
        """Send ``event`` to every matching session; returns how many got it."""
        n = 0
        raw = json.dumps(data, separators=(",", ":")) if choose is None else None
        for s in self.targets(guild_id, intent, only_bots):
            s.push(event, raw if raw is not None else choose(s.bot.user_id, s.intents))  # type: ignore[misc]
            n += 1
        return n

    # -- connection handling --------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: Session | None = None
        writer: asyncio.Task[None] | None = None
        try:
            await self._send(
                ws, {"op": OP_HELLO, "d": {"heartbeat_interval": self.sb.heartbeat_interval_ms}}
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op, d = payload.get("op"), payload.get("d")
                if op == OP_HEARTBEAT:
                    await self._send(ws, {"op": OP_HEARTBEAT_ACK})
                elif op == OP_IDENTIFY and session is None:
                    session = await self._identify(ws, d)
                    if session is None:
                        break
                    writer = asyncio.create_task(self._writer(session, ws))
                    self._ready(session)
                elif op == OP_RESUME and session is None:
                    session = await self._resume(ws, d)
                    if session is None:
                        break
                    writer = asyncio.create_task(self._writer(session, ws))
                elif op == OP_REQUEST_MEMBERS and session is not None:
                    self._member_chunk(session, d)
                # presence (3) and voice state (4) updates are accepted and ignored
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                session.ready = False
                session.queue.put_nowait(None)
                if ws.close_code in (1000, 1001):
                    # a clean close ends the session on Discord: it cannot be resumed
                    self.sessions.pop(session.session_id, None)
            if writer is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(writer, 1)
            self.sb.notify()
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: JSON) -> None:
        await ws.send_str(json.dumps(payload, separators=(",", ":")))

    async def _writer(self, session: Session, ws: web.WebSocketResponse) -> None:
        queue = session.queue
        while True:
            frame = await queue.get()
            queue.task_done()
            if frame is None or ws.closed:
                return
            try:
                await ws.send_str(frame)
            except (ConnectionResetError, RuntimeError):
                return
            if queue.empty():
                self.sb.notify()

    async def _identify(self, ws: web.WebSocketResponse, d: JSON) -> Session | None:
        token = str(d.get("token", ""))
        bot = self.sb.bots.get(token.removeprefix("Bot "))
        self.identifies.append({k: v for k, v in d.items() if k != "token"})
        if bot is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(d.get("intents", 0))
        for name, bit in PRIVILEGED.items():
            if intents & bit and name not in bot.privileged_intents:
                await ws.close(code=4014, message=b"Disallowed intent(s).")
                return None
        shard_id, shard_count = d.get("shard") or [0, 1]
        if not 0 <= shard_id < shard_count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = Session(secrets.token_hex(16), bot, intents, int(shard_id), int(shard_count))
        session.identify = d
        session.ws = ws
        self.sessions[session.session_id] = session
        return session

    def _ready(self, s: Session) -> None:
        guilds = [g for g in self.sb.guilds.values() if s.bot.user_id in g.bot_ids]
        guilds = [g for g in guilds if s.handles_guild(g.id)]
        s.push(
            "READY",
            {
                "v": 10,
                "user": {**s.bot.user.to_payload(), "verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": s.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.sb.gateway_url,
                "shard": [s.shard_id, s.shard_count],
                "application": {"id": str(s.bot.application_id), "flags": s.bot.flags},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": ["sandbox"],
                "auth_session_id_hash": "",
                "_trace": ["sandbox"],
            },
        )
        for g in guilds:
            s.push("GUILD_CREATE", g.to_payload(with_members=bool(s.intents & MEMBERS_INTENT)))
        s.ready = True

    def guild_create(self, guild_id: int, bot: BotApp) -> None:
        """The bot joined a guild while connected: GUILD_CREATE without ``unavailable``, which
        is how discord.py tells a join (``on_guild_join``) from an outage ending."""
        guild = self.sb.guilds[guild_id]
        for s in self.targets(guild_id, None, [bot.user_id]):
            if s.ready:
                data = guild.to_payload(with_members=bool(s.intents & MEMBERS_INTENT))
                del data["unavailable"]
                s.push("GUILD_CREATE", data)

    async def _resume(self, ws: web.WebSocketResponse, d: JSON) -> Session | None:
        session = self.sessions.get(str(d.get("session_id")))
        token = str(d.get("token", "")).removeprefix("Bot ")
        if session is None or session.bot.token != token or session.invalid:
            if session is not None and session.invalid:
                self.sessions.pop(session.session_id, None)
            await self._send(ws, {"op": OP_INVALID_SESSION, "d": False})
            return None
        if session.ws is not None:  # the client noticed the drop before we did: take over
            old, session.ws = session.ws, None
            session.queue.put_nowait(None)
            asyncio.get_running_loop().create_task(old.close(code=4000))
        seq = int(d.get("seq") or 0)
        oldest = session.buffer[0][0] if session.buffer else session.seq + 1
        if seq + 1 < oldest and seq < session.seq:
            await self._send(ws, {"op": OP_INVALID_SESSION, "d": False})
            return None
        session.queue = asyncio.Queue()
        session.ws = ws
        for s, frame in session.buffer:
            if s > seq:
                session.queue.put_nowait(frame)
        session.push("RESUMED", {"_trace": ["sandbox"]})
        session.ready = True
        return session

    def _member_chunk(self, s: Session, d: JSON) -> None:
        guild = self.sb.guilds.get(int(d["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        user_ids = d.get("user_ids")
        not_found: list[str] = []
        if user_ids is not None:
            ids = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m.user.id in ids]
            not_found = [str(i) for i in ids - {m.user.id for m in members}]
        else:
            query = str(d.get("query") or "").lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
            limit = int(d.get("limit") or 0)
            if limit:
                members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
        }
        if d.get("presences"):
            chunk["presences"] = []
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        s.push("GUILD_MEMBERS_CHUNK", chunk)

    # -- fault helpers --------------------------------------------------------------------
    def _sessions_for(self, bot: BotApp | None) -> list[Session]:
        return [s for s in self.sessions.values() if bot is None or s.bot is bot]

    async def drop(self, bot: BotApp | None = None, code: int = 4000) -> int:
        """Close live sockets with a resumable code; the sessions stay resumable."""
        n = 0
        for s in self._sessions_for(bot):
            ws = s.ws
            if ws is not None and not ws.closed:
                s.ws = None
                s.ready = False
                s.queue.put_nowait(None)
                await ws.close(code=code, message=b"Sandbox dropped the connection")
                n += 1
        return n

    async def reconnect(self, bot: BotApp | None = None) -> int:
        """Send op 7 RECONNECT: discord.py closes and resumes on its own."""
        n = 0
        for s in self._sessions_for(bot):
            if s.ws is not None and not s.ws.closed:
                await self._send(s.ws, {"op": OP_RECONNECT, "d": None})
                n += 1
        return n

    def invalidate(self, bot: BotApp | None = None) -> None:
        """Mark sessions invalid so the next RESUME gets INVALID_SESSION (d=false)."""
        for s in self._sessions_for(bot):
            s.invalid = True

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"Sandbox stopping")
