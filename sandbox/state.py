"""Plain records of everything the sandbox knows, and their Discord JSON shapes.

Records are what tests assert on (``sb.messages(ch)[0].content``); ``to_payload`` methods are
the single place where a record becomes the JSON discord.py parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .snowflakes import iso, snowflake_time

JSON = dict[str, Any]

CHANNEL_TYPES = {
    "text": 0,
    "dm": 1,
    "voice": 2,
    "category": 4,
    "news": 5,
    "news_thread": 10,
    "public_thread": 11,
    "private_thread": 12,
    "stage": 13,
    "forum": 15,
}
THREAD_TYPES = (10, 11, 12)


@dataclass
class UserRecord:
    id: int
    username: str
    bot: bool = False
    accepts_dms: bool = True
    global_name: str | None = None

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name if not self.bot else None,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
            "collectibles": None,
        }


@dataclass
class BotApp:
    """An application with its bot user; what ``sb.create_bot`` returns."""

    token: str
    user: UserRecord
    application_id: int
    name: str
    privileged_intents: frozenset[str]
    global_commands: list[JSON] = field(default_factory=list)
    guild_commands: dict[int, list[JSON]] = field(default_factory=dict)

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def id(self) -> int:
        return self.user.id

    def application_payload(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.name,
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.user.to_payload(),
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "owner": {**self.user.to_payload(), "bot": False, "username": f"{self.name}-owner"},
            "summary": "",
            "verify_key": "0" * 64,
            "team": None,
            "guild_id": None,
            "primary_sku_id": None,
            "slug": None,
            "cover_image": None,
            "flags": self.flags,
            "approximate_guild_count": 0,
            "approximate_user_install_count": 0,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": None,
            "integration_types_config": {},
            "custom_install_url": None,
        }

    @property
    def flags(self) -> int:
        # GATEWAY_PRESENCE_LIMITED 1<<13, GUILD_MEMBERS_LIMITED 1<<15, MESSAGE_CONTENT_LIMITED 1<<19
        flags = 0
        if "presences" in self.privileged_intents:
            flags |= 1 << 13
        if "members" in self.privileged_intents:
            flags |= 1 << 15
        if "message_content" in self.privileged_intents:
            flags |= 1 << 19
        return flags


@dataclass
class RoleRecord:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def to_payload(self) -> JSON:
        out: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            out["tags"] = {"bot_id": str(self.bot_id)}
        return out


@dataclass
class ChannelRecord:
    id: int
    type: int
    name: str
    guild_id: int | None
    position: int = 0
    parent_id: int | None = None
    overwrites: list[JSON] = field(default_factory=list)
    topic: str | None = None
    bot_can_send: bool = True
    recipient_id: int | None = None
    recipient_bot_id: int | None = None
    last_message_id: int | None = None
    # threads only
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    message_count: int = 0
    member_ids: list[int] = field(default_factory=list)
    created_at: datetime | None = None
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_payload(self, bot_ids: list[int] | None = None) -> JSON:
        if self.is_thread:
            created = iso(self.created_at or datetime.now(UTC))
            return {
                "id": str(self.id),
                "type": self.type,
                "guild_id": str(self.guild_id),
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id),
                "name": self.name,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "message_count": self.message_count,
                "total_message_sent": self.message_count,
                "member_count": len(self.member_ids),
                "rate_limit_per_user": 0,
                "flags": 0,
                "thread_metadata": {
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": created,
                    "locked": self.locked,
                    "invitable": True,
                    "create_timestamp": created,
                },
            }
        if self.type == 1:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "recipients": [],
                "flags": 0,
            }
        out: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": self.effective_overwrites(bot_ids or []),
            "nsfw": False,
            "flags": 0,
        }
        if self.type in (0, 5, 15):
            out.update(topic=self.topic, rate_limit_per_user=0, last_message_id=None)
        if self.type in (2, 13):
            out.update(bitrate=64000, user_limit=0, rtc_region=None)
        return out

    def effective_overwrites(self, bot_ids: list[int]) -> list[JSON]:
        """Explicit overwrites plus, for ``bot_can_send=False``, a deny for every bot member."""
        ows = list(self.overwrites)
        if not self.bot_can_send:
            ows += [{"id": str(b), "type": 1, "allow": "0", "deny": str(1 << 11)} for b in bot_ids]
        return ows


@dataclass
class MemberRecord:
    user: UserRecord
    roles: list[int]
    joined_at: datetime
    pending: bool = False
    nick: str | None = None
    flags: int = 0

    def to_payload(self, *, with_user: bool = True) -> JSON:
        out: JSON = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": self.pending,
            "flags": self.flags,
            "communication_disabled_until": None,
            "avatar_decoration_data": None,
        }
        if with_user:
            out["user"] = self.user.to_payload()
        return out


@dataclass
class AttachmentRecord:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @property
    def bytes(self) -> bytes:
        """Reads naturally in tests: ``att.bytes``."""
        return self.data

    def to_payload(self, base_url: str) -> JSON:
        url = f"{base_url}/attachments/{self.id}/{self.filename}"
        out: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class MessageRecord:
    """A message as the sandbox stores it; ``.edits`` counts edits, ``.deleted`` is sticky."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[AttachmentRecord] = field(default_factory=list)
    flags: int = 0
    edits: int = 0
    deleted: bool = False
    pinned: bool = False
    ephemeral: bool = False
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    message_reference: JSON | None = None
    allowed_mentions: JSON | None = None
    mention_everyone: bool = False
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    reactions: dict[str, list[int]] = field(default_factory=dict)
    edited_at: datetime | None = None
    poll: JSON | None = None
    tts: bool = False
    type: int = 0
    interaction_meta: JSON | None = None

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    @property
    def files(self) -> list[AttachmentRecord]:
        return self.attachments


@dataclass
class RequestRecord:
    method: str
    route: str
    path: str
    status: int = 0
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    files: list[AttachmentRecord] = field(default_factory=list)
    bot_user_id: int | None = None


@dataclass
class RoleChange:
    guild_id: int
    member_id: int
    role_id: int
    added: bool

    @property
    def removed(self) -> bool:
        return not self.added


@dataclass
class InviteRecord:
    code: str
    guild_id: int
    channel_id: int
    inviter_id: int | None
    max_age: int = 86400
    max_uses: int = 0
    temporary: bool = False
    uses: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    deleted: bool = False


@dataclass
class ScheduledEventRecord:
    id: int
    guild_id: int
    name: str
    creator_id: int
    scheduled_start_time: str
    scheduled_end_time: str | None = None
    description: str | None = None
    channel_id: int | None = None
    entity_type: int = 3
    entity_metadata: JSON | None = None
    privacy_level: int = 2
    status: int = 1
    image: str | None = None
    user_count: int = 0
    deleted: bool = False
    interested: list[int] = field(default_factory=list)
    recurrence_rule: JSON | None = None


@dataclass
class InteractionResponseRecord:
    interaction_id: int
    type: int
    data: JSON
    ephemeral: bool
    files: list[AttachmentRecord] = field(default_factory=list)
