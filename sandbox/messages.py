"""Message storage and the one code path every message takes (REST, webhook, scripted).

Keeping creation in one place means mention parsing, @everyone recording and MESSAGE_CREATE
dispatch behave identically whether the bot, an interaction or a scripted member wrote it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import permissions as perm
from .errors import UNKNOWN_MESSAGE, not_found
from .snowflakes import iso
from .state import JSON, AttachmentRecord, ChannelRecord, MessageRecord

if TYPE_CHECKING:
    from .server import Sandbox

GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
EPHEMERAL = 1 << 6
LOADING = 1 << 7

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)")


def pings_everyone(content: str, allowed_mentions: JSON | None) -> bool:
    """Would ``content`` ping @everyone/@here under Discord's allowed_mentions rules?

    No ``allowed_mentions`` at all means "parse everything"; with the object present only
    ``"everyone"`` in ``parse`` lets it through.
    """
    if not _EVERYONE.search(content or ""):
        return False
    if allowed_mentions is None:
        return True
    return "everyone" in (allowed_mentions.get("parse") or [])


def _allowed_ids(kind: str, found: list[int], allowed_mentions: JSON | None) -> list[int]:
    if allowed_mentions is None or kind in (allowed_mentions.get("parse") or []):
        return found
    explicit = {int(x) for x in allowed_mentions.get(kind) or []}
    return [i for i in found if i in explicit]


class MessageStore:
    """All messages by id plus per-channel order; ``records(ch)`` is what tests read."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.by_id: dict[int, MessageRecord] = {}
        self.by_channel: dict[int, list[MessageRecord]] = {}

    def get(self, channel_id: int, message_id: int) -> MessageRecord:
        rec = self.by_id.get(message_id)
        if rec is None or rec.deleted or rec.channel_id != channel_id:
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return rec

    def records(self, channel_id: int) -> list[MessageRecord]:
        return list(self.by_channel.get(channel_id, []))

    # -- creation -------------------------------------------------------------------------
    def create(
        self,
        channel: ChannelRecord,
        author_id: int,
        body: JSON,
        files: list[AttachmentRecord] | None = None,
        *,
        at: datetime | None = None,
        application_id: int | None = None,
        interaction_id: int | None = None,
        interaction_meta: JSON | None = None,
        msg_type: int = 0,
        dispatch: bool = True,
        extra_flags: int = 0,
    ) -> MessageRecord:
        flags = int(body.get("flags") or 0) | extra_flags
        rec = MessageRecord(
            id=self.sb.ids.next(at),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            flags=flags,
            ephemeral=bool(flags & EPHEMERAL),
            application_id=application_id,
            webhook_id=application_id if interaction_id else None,
            interaction_id=interaction_id,
            type=msg_type,
            tts=bool(body.get("tts")),
            message_reference=body.get("message_reference"),
            poll=body.get("poll"),
        )
        rec.interaction_meta = interaction_meta
        self._apply(rec, body, files or [], author_id)
        self.by_id[rec.id] = rec
        if not rec.ephemeral:
            self.by_channel.setdefault(channel.id, []).append(rec)
            channel.last_message_id = rec.id
            if channel.is_thread:
                channel.message_count += 1
        if rec.mention_everyone:
            self.sb.everyone_pings.append(rec)
        if dispatch and not rec.ephemeral:
            self.dispatch("MESSAGE_CREATE", rec)
        self.sb.notify()
        return rec

    def _apply(
        self, rec: MessageRecord, body: JSON, files: list[AttachmentRecord], author_id: int
    ) -> None:
        """Apply a create/edit body: only keys present change, as on Discord."""
        if "content" in body:
            rec.content = str(body["content"] or "")
        if "embeds" in body:
            rec.embeds = list(body["embeds"] or [])
        if "components" in body:
            rec.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            rec.flags = int(body["flags"]) | (rec.flags & (EPHEMERAL | LOADING))
        if "allowed_mentions" in body:
            rec.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body and body["attachments"] is not None:
            keep = {int(a["id"]) for a in body["attachments"] if int(a["id"]) > 10**10}
            rec.attachments = [a for a in rec.attachments if a.id in keep]
        rec.attachments += files
        self._mentions(rec, body.get("allowed_mentions", rec.allowed_mentions), author_id)

    def _mentions(self, rec: MessageRecord, allowed: JSON | None, author_id: int) -> None:
        content = rec.content
        users = [int(x) for x in _USER_MENTION.findall(content)]
        roles = [int(x) for x in _ROLE_MENTION.findall(content)]
        rec.mention_ids = _allowed_ids("users", users, allowed)
        rec.mention_role_ids = _allowed_ids("roles", roles, allowed)
        everyone = pings_everyone(content, allowed)
        if everyone and rec.guild_id is not None and not rec.interaction_id:
            guild = self.sb.guilds[rec.guild_id]
            perms = guild.permissions_for(author_id, rec.channel_id)
            everyone = bool(perms & perm.MENTION_EVERYONE)
        rec.mention_everyone = everyone

    # -- edits ----------------------------------------------------------------------------
    def edit(
        self, rec: MessageRecord, body: JSON, files: list[AttachmentRecord] | None = None
    ) -> MessageRecord:
        was_pinging = rec.mention_everyone
        self._apply(rec, body, files or [], rec.author_id)
        rec.flags &= ~LOADING
        rec.edits += 1
        rec.edited_at = datetime.now(UTC)
        if rec.mention_everyone and not was_pinging:
            self.sb.everyone_pings.append(rec)
        if not rec.ephemeral:
            self.dispatch("MESSAGE_UPDATE", rec)
        self.sb.notify()
        return rec

    def delete(self, rec: MessageRecord) -> None:
        rec.deleted = True
        if not rec.ephemeral:
            data: JSON = {"id": str(rec.id), "channel_id": str(rec.channel_id)}
            if rec.guild_id:
                data["guild_id"] = str(rec.guild_id)
            self.sb.dispatch(
                "MESSAGE_DELETE", data, rec.guild_id, intent=self._intent(rec, GUILD_MESSAGES)
            )
        self.sb.notify()

    # -- gateway --------------------------------------------------------------------------
    def _intent(self, rec: MessageRecord, guild_intent: int) -> int:
        if rec.guild_id is not None:
            return guild_intent
        return DIRECT_MESSAGES if guild_intent == GUILD_MESSAGES else DIRECT_MESSAGE_REACTIONS

    def dispatch(self, event: str, rec: MessageRecord) -> None:
        """MESSAGE_CREATE/UPDATE; content is blanked for sessions without message content,
        except where Discord keeps it (DMs, mentions of the bot, the bot's own messages)."""
        full = self.payload(rec)
        stripped = {**full, "content": "", "embeds": [], "attachments": [], "components": []}
        channel = self.sb.channels[rec.channel_id]
        only = [channel.recipient_bot_id or 0] if channel.type == 1 else None

        def choose(bot_user_id: int, intents: int) -> JSON:
            if (
                intents & MESSAGE_CONTENT
                or rec.guild_id is None
                or bot_user_id == rec.author_id
                or bot_user_id in rec.mention_ids
            ):
                return full
            return stripped

        self.sb.dispatch(
            event,
            full,
            rec.guild_id,
            intent=self._intent(rec, GUILD_MESSAGES),
            only_bots=only,
            choose=choose,
        )

    def payload(self, rec: MessageRecord, viewer_id: int | None = None) -> JSON:
        sb = self.sb
        author = sb.users[rec.author_id]
        base = sb.api_base.rsplit("/api", 1)[0]
        out: JSON = {
            "id": str(rec.id),
            "channel_id": str(rec.channel_id),
            "author": author.to_payload(),
            "content": rec.content,
            "timestamp": iso(rec.created_at),
            "edited_timestamp": iso(rec.edited_at) if rec.edited_at else None,
            "tts": rec.tts,
            "mention_everyone": rec.mention_everyone,
            "mentions": [self._mention_payload(rec, uid) for uid in rec.mention_ids],
            "mention_roles": [str(r) for r in rec.mention_role_ids],
            "attachments": [a.to_payload(base) for a in rec.attachments],
            "embeds": rec.embeds,
            "pinned": rec.pinned,
            "type": rec.type,
            "flags": rec.flags,
            "components": rec.components,
            "reactions": [
                {
                    "emoji": _emoji_payload(name),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": viewer_id in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for name, users in rec.reactions.items()
                if users
            ],
        }
        if rec.guild_id is not None:
            out["guild_id"] = str(rec.guild_id)
            member = sb.guilds[rec.guild_id].members.get(rec.author_id)
            if member is not None and not rec.webhook_id:
                out["member"] = member.to_payload(with_user=False)
        if rec.webhook_id:
            out["webhook_id"] = str(rec.webhook_id)
        if rec.application_id:
            out["application_id"] = str(rec.application_id)
        if rec.interaction_meta:
            out["interaction_metadata"] = rec.interaction_meta
        if rec.message_reference and rec.type == 19:
            ref_id = rec.message_reference.get("message_id")
            ref = self.by_id.get(int(ref_id)) if ref_id else None
            if ref is not None and not ref.deleted:
                nested = self.payload(ref, viewer_id)
                nested.pop("referenced_message", None)  # Discord nests one level only
                out["referenced_message"] = nested
        if rec.message_reference:
            out["message_reference"] = {
                "type": 0,
                "channel_id": str(rec.channel_id),
                **({"guild_id": str(rec.guild_id)} if rec.guild_id else {}),
                **rec.message_reference,
            }
        if rec.poll:
            out["poll"] = rec.poll
        return out

    def _mention_payload(self, rec: MessageRecord, user_id: int) -> JSON:
        user = self.sb.users.get(user_id)
        if user is None:
            return {"id": str(user_id), "username": "unknown", "discriminator": "0", "avatar": None}
        out = user.to_payload()
        if rec.guild_id is not None:
            member = self.sb.guilds[rec.guild_id].members.get(user_id)
            if member is not None:
                out["member"] = member.to_payload(with_user=False)
        return out


def _emoji_payload(name: str) -> JSON:
    """``"name:id"`` is a custom emoji, anything else a unicode one."""
    if ":" in name:
        ename, _, eid = name.rpartition(":")
        animated = ename.startswith("a:")
        return {"id": eid, "name": ename[2:] if animated else ename, "animated": animated}
    return {"id": None, "name": name}


def now_iso() -> str:
    return iso(datetime.now(UTC))


def coerce_body(body: Any) -> JSON:
    return body if isinstance(body, dict) else {}
