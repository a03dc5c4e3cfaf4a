"""Channel, message, reaction, pin, thread and DM handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from . import limits
from . import permissions as perm
from .errors import CANNOT_DM, ApiError, form_error
from .rest_base import MEMBERS_INTENT, Ctx, RestBase
from .state import JSON, ChannelRecord


class MessageRoutes(RestBase):
    """Handlers for channels, messages, reactions, pins, threads and DMs."""

    # -- channels & messages --------------------------------------------------------------
    async def get_channel(self, ctx: Ctx) -> JSON:
        return self.sb.channel_payload(self.channel(ctx.params["channel_id"], ctx.me))

    async def edit_channel(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if ch.guild_id is None:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        g = self.sb.guilds[ch.guild_id]
        body = ctx.json
        if ch.is_thread:
            if ctx.me.user_id != ch.owner_id:
                self.require(ctx, g, perm.MANAGE_THREADS)
            for key in ("name", "archived", "locked", "auto_archive_duration"):
                if key in body:
                    setattr(ch, key, body[key])
            self.sb.dispatch("THREAD_UPDATE", g.channel_payload(ch), g.id, intent=1)
        else:
            self.require(ctx, g, perm.MANAGE_CHANNELS, ch)
            for key in ("name", "topic", "position"):
                if key in body:
                    setattr(ch, key, body[key])
            if "permission_overwrites" in body:
                ch.overwrites = list(body["permission_overwrites"] or [])
            self.sb.dispatch("CHANNEL_UPDATE", g.channel_payload(ch), g.id, intent=1)
        return g.channel_payload(ch)

    async def delete_channel(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if ch.guild_id is None:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        g = self.sb.guilds[ch.guild_id]
        payload = g.channel_payload(ch)
        if ch.is_thread:
            if ctx.me.user_id != ch.owner_id:
                self.require(ctx, g, perm.MANAGE_THREADS)
            g.threads.pop(ch.id, None)
            data = {
                "id": str(ch.id),
                "guild_id": str(g.id),
                "parent_id": str(ch.parent_id),
                "type": ch.type,
            }
            self.sb.dispatch("THREAD_DELETE", data, g.id, intent=1)
        else:
            self.require(ctx, g, perm.MANAGE_CHANNELS, ch)
            g.channels.pop(ch.id, None)
            self.sb.dispatch("CHANNEL_DELETE", payload, g.id, intent=1)
        ch.deleted = True
        self.sb.channels.pop(ch.id, None)
        return payload

    def _start_thread(self, ctx: Ctx, parent: ChannelRecord, message: Any, private: bool) -> JSON:
        if parent.guild_id is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        g = self.sb.guilds[parent.guild_id]
        needed = perm.CREATE_PRIVATE_THREADS if private else perm.CREATE_PUBLIC_THREADS
        self.require(ctx, g, perm.VIEW_CHANNEL | needed, parent)
        body = ctx.json
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise form_error(
                [("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            )
        if message is not None and message.id in self.sb.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = g.create_thread(
            parent,
            name,
            owner_id=ctx.me.user_id,
            message=message,
            private=private,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        out = g.channel_payload(thread)
        out["member"] = g.thread_member_payload(thread, ctx.me.user_id)
        if parent.type == 15:  # forum post: the body carries the first message
            first = body.get("message") or {}
            limits.check_message(first)
            limits.check_not_empty(first, n_files=len(ctx.files))
            rec = self.sb.store.create(thread, ctx.me.user_id, first, ctx.files)
            out["message"] = self.sb.store.payload(rec, ctx.me.user_id)
        return out

    async def thread_from_message(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        return self._start_thread(ctx, ch, rec, private=False)

    async def thread_without_message(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        private = int(ctx.json.get("type") or 12) == 12 and ch.type != 15
        return self._start_thread(ctx, ch, None, private=private)

    def _thread(self, ctx: Ctx) -> ChannelRecord:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if not ch.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return ch

    def _thread_members_update(
        self, ch: ChannelRecord, added: int | None, removed: int | None
    ) -> None:
        g = self.sb.guilds[ch.guild_id or 0]
        data: JSON = {"id": str(ch.id), "guild_id": str(g.id), "member_count": len(ch.member_ids)}
        if added is not None:
            member = {**g.thread_member_payload(ch, added)}
            m = g.members.get(added)
            if m is not None:
                member["member"] = m.to_payload()
            data["added_members"] = [member]
        if removed is not None:
            data["removed_member_ids"] = [str(removed)]
        self.sb.dispatch("THREAD_MEMBERS_UPDATE", data, g.id, intent=MEMBERS_INTENT)

    async def join_thread(self, ctx: Ctx) -> None:
        await self._add_to_thread(ctx, ctx.me.user_id)

    async def leave_thread(self, ctx: Ctx) -> None:
        await self._remove_from_thread(ctx, ctx.me.user_id)

    async def add_thread_member(self, ctx: Ctx) -> None:
        await self._add_to_thread(ctx, ctx.params["user_id"])

    async def remove_thread_member(self, ctx: Ctx) -> None:
        await self._remove_from_thread(ctx, ctx.params["user_id"])

    async def _add_to_thread(self, ctx: Ctx, user_id: int) -> None:
        ch = self._thread(ctx)
        self.member(self.sb.guilds[ch.guild_id or 0], user_id)
        if user_id not in ch.member_ids:
            ch.member_ids.append(user_id)
            self._thread_members_update(ch, user_id, None)

    async def _remove_from_thread(self, ctx: Ctx, user_id: int) -> None:
        ch = self._thread(ctx)
        if user_id in ch.member_ids:
            ch.member_ids.remove(user_id)
            self._thread_members_update(ch, None, user_id)

    async def thread_members(self, ctx: Ctx) -> list[JSON]:
        ch = self._thread(ctx)
        g = self.sb.guilds[ch.guild_id or 0]
        return [g.thread_member_payload(ch, u) for u in ch.member_ids]

    async def active_threads(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        threads = [t for t in g.threads.values() if not t.archived]
        return {
            "threads": [g.channel_payload(t) for t in threads],
            "members": [
                g.thread_member_payload(t, ctx.me.user_id)
                for t in threads
                if ctx.me.user_id in t.member_ids
            ],
        }

    async def typing(self, ctx: Ctx) -> None:
        self.channel(ctx.params["channel_id"], ctx.me)

    def _check_send(self, ctx: Ctx, ch: ChannelRecord) -> None:
        if ch.is_thread and ch.archived:
            if ch.locked:
                raise ApiError(400, 50083, "Thread is archived")
            ch.archived = False  # sending unarchives, as on Discord
            g = self.sb.guilds[ch.guild_id or 0]
            self.sb.dispatch("THREAD_UPDATE", g.channel_payload(ch), g.id, intent=1)
        if ch.type == 1:
            user = self.sb.users[ch.recipient_id or 0]
            if not user.accepts_dms or user.bot:
                raise ApiError(403, CANNOT_DM, "Cannot send messages to this user")
            return
        guild = self.sb.guilds[ch.guild_id or 0]
        self.require(ctx, guild, perm.VIEW_CHANNEL | perm.SEND_MESSAGES, ch)

    async def create_message(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        body = ctx.json
        limits.check_message(body)
        limits.check_not_empty(body, n_files=len(ctx.files))
        self._check_send(ctx, ch)
        ref = body.get("message_reference")
        if ref and ref.get("fail_if_not_exists", True) and ref.get("message_id"):
            self.sb.store.get(int(ref.get("channel_id") or ch.id), int(ref["message_id"]))
        rec = self.sb.store.create(ch, ctx.me.user_id, body, ctx.files, msg_type=19 if ref else 0)
        return self.sb.store.payload(rec, ctx.me.user_id)

    async def get_messages(self, ctx: Ctx) -> list[JSON]:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        recs = [m for m in self.sb.messages(ch) if not m.deleted]
        before, after = ctx.query("before"), ctx.query("after")
        around = ctx.query("around")
        limit = int(ctx.query("limit", "50") or 50)
        if around:
            a = int(around)
            older = [m for m in recs if m.id <= a][-((limit + 1) // 2) :]
            newer = [m for m in recs if m.id > a][: limit // 2]
            recs = older + newer
        elif after:
            recs = [m for m in recs if m.id > int(after)][:limit]
        else:
            if before:
                recs = [m for m in recs if m.id < int(before)]
            recs = recs[-limit:]
        return [self.sb.store.payload(m, ctx.me.user_id) for m in sorted(recs, key=lambda m: -m.id)]

    async def get_message(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        return self.sb.store.payload(
            self.sb.store.get(ch.id, ctx.params["message_id"]), ctx.me.user_id
        )

    async def edit_message(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        if rec.author_id != ctx.me.user_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        limits.check_message(ctx.json)
        return self.sb.store.payload(self.sb.store.edit(rec, ctx.json, ctx.files), ctx.me.user_id)

    async def delete_message(self, ctx: Ctx) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        if rec.author_id != ctx.me.user_id and ch.guild_id is not None:
            self.require(ctx, self.sb.guilds[ch.guild_id], perm.MANAGE_MESSAGES, ch)
        self.sb.store.delete(rec)

    async def bulk_delete(self, ctx: Ctx) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if ch.guild_id is None:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        self.require(ctx, self.sb.guilds[ch.guild_id], perm.MANAGE_MESSAGES, ch)
        ids = [int(i) for i in ctx.json.get("messages") or []]
        if not 2 <= len(ids) <= 100:
            raise form_error(
                [("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")]
            )
        two_weeks_ago = self.sb.ids.next(datetime.now(UTC) - timedelta(days=14))
        if any(i < two_weeks_ago for i in ids):
            raise ApiError(
                400, 50034, "You can only bulk delete messages that are under 14 days old."
            )
        recs = [self.sb.store.get(ch.id, i) for i in ids]
        for rec in recs:
            rec.deleted = True
        data = {
            "ids": [str(i) for i in ids],
            "channel_id": str(ch.id),
            "guild_id": str(ch.guild_id),
        }
        self.sb.dispatch("MESSAGE_DELETE_BULK", data, ch.guild_id, intent=1 << 9)

    async def get_pins(self, ctx: Ctx) -> Any:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        pins = [
            self.sb.store.payload(m, ctx.me.user_id)
            for m in self.sb.messages(ch)
            if m.pinned and not m.deleted
        ]
        if "messages/pins" in ctx.request.path:
            return {
                "items": [{"pinned_at": p["timestamp"], "message": p} for p in pins],
                "has_more": False,
            }
        return pins

    async def _set_pin(self, ctx: Ctx, pinned: bool) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        if ch.guild_id is not None:
            self.require(ctx, self.sb.guilds[ch.guild_id], perm.MANAGE_MESSAGES, ch)
        rec.pinned = pinned
        data: JSON = {"channel_id": str(ch.id), "last_pin_timestamp": None}
        if ch.guild_id:
            data["guild_id"] = str(ch.guild_id)
        self.sb.dispatch("CHANNEL_PINS_UPDATE", data, ch.guild_id, intent=1 << 0)
        self.sb.store.dispatch("MESSAGE_UPDATE", rec)

    async def pin(self, ctx: Ctx) -> None:
        await self._set_pin(ctx, True)

    async def unpin(self, ctx: Ctx) -> None:
        await self._set_pin(ctx, False)

    # -- reactions ------------------------------------------------------------------------
    async def add_reaction(self, ctx: Ctx) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        if ch.guild_id is not None:
            self.require(
                ctx, self.sb.guilds[ch.guild_id], perm.ADD_REACTIONS | perm.READ_MESSAGE_HISTORY, ch
            )
        emoji = ctx.params["emoji"]
        users = rec.reactions.setdefault(emoji, [])
        if ctx.me.user_id not in users:
            users.append(ctx.me.user_id)
            self._reaction_event("MESSAGE_REACTION_ADD", rec, ctx.me.user_id, emoji)

    async def remove_own_reaction(self, ctx: Ctx) -> None:
        await self._remove_reaction(ctx, ctx.me.user_id)

    async def remove_reaction(self, ctx: Ctx) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if ch.guild_id is not None and ctx.params["user_id"] != ctx.me.user_id:
            self.require(ctx, self.sb.guilds[ch.guild_id], perm.MANAGE_MESSAGES, ch)
        await self._remove_reaction(ctx, ctx.params["user_id"])

    async def _remove_reaction(self, ctx: Ctx, user_id: int) -> None:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        emoji = ctx.params["emoji"]
        users = rec.reactions.get(emoji, [])
        if user_id in users:
            users.remove(user_id)
            self._reaction_event("MESSAGE_REACTION_REMOVE", rec, user_id, emoji)

    def _reaction_event(self, event: str, rec: Any, user_id: int, emoji: str) -> None:
        from .messages import DIRECT_MESSAGE_REACTIONS, GUILD_MESSAGE_REACTIONS, _emoji_payload

        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(rec.channel_id),
            "message_id": str(rec.id),
            "emoji": _emoji_payload(emoji),
            "burst": False,
            "type": 0,
        }
        if rec.guild_id:
            data["guild_id"] = str(rec.guild_id)
            member = self.sb.guilds[rec.guild_id].members.get(user_id)
            if event.endswith("ADD") and member is not None:
                data["member"] = member.to_payload()
        intent = GUILD_MESSAGE_REACTIONS if rec.guild_id else DIRECT_MESSAGE_REACTIONS
        self.sb.dispatch(event, data, rec.guild_id, intent=intent)

    async def get_reactions(self, ctx: Ctx) -> list[JSON]:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        rec = self.sb.store.get(ch.id, ctx.params["message_id"])
        return [self.sb.users[u].to_payload() for u in rec.reactions.get(ctx.params["emoji"], [])]
