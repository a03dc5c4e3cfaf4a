"""A guild the test scripts: channels, roles, members, and the bots that live in it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import permissions as perm
from .errors import SandboxError
from .snowflakes import iso
from .state import (
    CHANNEL_TYPES,
    JSON,
    BotApp,
    ChannelRecord,
    MemberRecord,
    RoleRecord,
    ScheduledEventRecord,
)

if TYPE_CHECKING:
    from .members import ScriptedMember
    from .server import Sandbox

GUILD_INTENT = 1 << 0
MEMBERS_INTENT = 1 << 1
SCHEDULED_EVENTS_INTENT = 1 << 16


class Guild:
    """Scripting handle and state for one guild.

    Mutating methods dispatch the matching gateway event to connected bots immediately, so
    ``guild.add_member(...)`` during a test is a real GUILD_MEMBER_ADD for the bot.
    """

    def __init__(self, sb: Sandbox, guild_id: int, name: str) -> None:
        self.sb = sb
        self.id = guild_id
        self.name = name
        self.roles: dict[int, RoleRecord] = {
            guild_id: RoleRecord(guild_id, guild_id, "@everyone", perm.DEFAULT_EVERYONE, 0)
        }
        self.channels: dict[int, ChannelRecord] = {}
        self.threads: dict[int, ChannelRecord] = {}
        self.members: dict[int, MemberRecord] = {}
        self.voice_states: dict[int, JSON] = {}
        self.bot_ids: list[int] = []
        self.owner_id = 0
        self.created_at = datetime.now(UTC)
        self.system_channel_id: int | None = None
        self.rules_channel_id: int | None = None
        self.verification_level = 0

    # -- lookups --------------------------------------------------------------------------
    @property
    def owner(self) -> ScriptedMember:
        return self.member(self.owner_id)

    @property
    def everyone_role(self) -> RoleRecord:
        return self.roles[self.id]

    def member(self, user_id_or_name: int | str) -> ScriptedMember:
        """The scripted member by id or username (raises if absent)."""
        from .members import ScriptedMember

        for m in self.members.values():
            if m.user.id == user_id_or_name or m.user.username == user_id_or_name:
                return ScriptedMember(self.sb, self, m.user)
        raise SandboxError(f"no member {user_id_or_name!r} in guild {self.name!r}")

    def channel(self, name_or_id: int | str) -> ChannelRecord:
        for ch in [*self.channels.values(), *self.threads.values()]:
            if ch.id == name_or_id or ch.name == name_or_id:
                return ch
        raise SandboxError(f"no channel {name_or_id!r} in guild {self.name!r}")

    def role(self, name_or_id: int | str) -> RoleRecord:
        for r in self.roles.values():
            if r.id == name_or_id or r.name == name_or_id:
                return r
        raise SandboxError(f"no role {name_or_id!r} in guild {self.name!r}")

    def bot_role(self, bot_user_id: int) -> RoleRecord | None:
        return next((r for r in self.roles.values() if r.bot_id == bot_user_id), None)

    # -- permissions ----------------------------------------------------------------------
    def base_permissions(self, user_id: int) -> int:
        member = self.members.get(user_id)
        if member is None:
            return 0
        return perm.base_permissions(
            self.everyone_role.permissions,
            (self.roles[r].permissions for r in member.roles if r in self.roles),
            user_id == self.owner_id,
        )

    def permissions_for(self, user_id: int, channel: ChannelRecord | int | None = None) -> int:
        """Effective permissions, applying channel overwrites when a channel is given."""
        base = self.base_permissions(user_id)
        if channel is None:
            return base
        ch = channel if isinstance(channel, ChannelRecord) else self.sb.channels[channel]
        thread = ch.is_thread
        if thread:  # threads inherit the parent's overwrites
            ch = self.sb.channels[ch.parent_id or 0]
        member = self.members.get(user_id)
        perms = perm.apply_overwrites(
            base,
            ch.effective_overwrites(self.bot_ids),
            guild_id=self.id,
            role_ids=member.roles if member else [],
            member_id=user_id,
        )
        if thread:  # in a thread, "send" means Send Messages in Threads
            perms &= ~perm.SEND_MESSAGES
            if perms & perm.SEND_MESSAGES_IN_THREADS:
                perms |= perm.SEND_MESSAGES
        return perms

    def top_role_position(self, user_id: int) -> int:
        member = self.members.get(user_id)
        if member is None:
            return -1
        return max((self.roles[r].position for r in member.roles if r in self.roles), default=0)

    # -- scripting ------------------------------------------------------------------------
    def create_channel(
        self,
        name: str,
        type: str = "text",
        *,
        parent: ChannelRecord | None = None,
        bot_can_send: bool = True,
        overwrites: Iterable[JSON] = (),
        topic: str | None = None,
    ) -> ChannelRecord:
        """Create a channel; ``bot_can_send=False`` denies Send Messages to every bot here."""
        if type not in CHANNEL_TYPES or type == "dm" or type.endswith("thread"):
            raise SandboxError(
                f"unknown channel type {type!r} (threads: guild.create_thread); "
                f"use one of text, voice, stage, category, news, forum"
            )
        ch = ChannelRecord(
            id=self.sb.ids.next(),
            type=CHANNEL_TYPES[type],
            name=name,
            guild_id=self.id,
            position=len(self.channels),
            parent_id=parent.id if parent else None,
            overwrites=list(overwrites),
            topic=topic,
            bot_can_send=bot_can_send,
        )
        self.channels[ch.id] = ch
        self.sb.channels[ch.id] = ch
        if self.system_channel_id is None and ch.type == 0:
            self.system_channel_id = ch.id
        self.sb.dispatch("CHANNEL_CREATE", self.channel_payload(ch), guild_id=self.id)
        return ch

    def channel_payload(self, ch: ChannelRecord) -> JSON:
        return ch.to_payload(self.bot_ids)

    def create_thread(
        self,
        parent: ChannelRecord,
        name: str,
        *,
        owner_id: int | None = None,
        message: Any = None,
        private: bool = False,
        auto_archive_duration: int = 1440,
    ) -> ChannelRecord:
        """Start a thread (from ``message`` if given); dispatches THREAD_CREATE."""
        if parent.guild_id != self.id or parent.type not in (0, 5, 15):
            raise SandboxError(f"cannot start a thread in {parent.name!r}")
        ttype = 10 if parent.type == 5 else 12 if private else 11
        owner = owner_id if owner_id is not None else self.owner_id
        thread = ChannelRecord(
            id=message.id if message is not None else self.sb.ids.next(),
            type=ttype,
            name=name,
            guild_id=self.id,
            parent_id=parent.id,
            owner_id=owner,
            auto_archive_duration=auto_archive_duration,
            member_ids=[owner],
            created_at=datetime.now(UTC),
        )
        self.threads[thread.id] = thread
        self.sb.channels[thread.id] = thread
        data = {**thread.to_payload(), "newly_created": True}
        if owner in self.bot_ids:
            data["member"] = self.thread_member_payload(thread, owner)
        self.sb.dispatch("THREAD_CREATE", data, self.id, intent=GUILD_INTENT)
        return thread

    def thread_member_payload(self, thread: ChannelRecord, user_id: int) -> JSON:
        return {
            "id": str(thread.id),
            "user_id": str(user_id),
            "join_timestamp": iso(thread.created_at or datetime.now(UTC)),
            "flags": 0,
        }

    def create_role(
        self,
        name: str,
        permissions: int = 0,
        position: int | None = None,
        *,
        color: int = 0,
        hoist: bool = False,
        mentionable: bool = False,
        bot_id: int | None = None,
    ) -> RoleRecord:
        """New roles go to position 1 (just above @everyone) like on Discord, unless given.

        ``permissions`` is an int or anything with ``.value`` (``discord.Permissions``).
        """
        permissions = int(getattr(permissions, "value", permissions))
        if position is None:
            position = 1
        for r in self.roles.values():
            if r.id != self.id and r.position >= position:
                r.position += 1
        role = RoleRecord(
            id=self.sb.ids.next(),
            guild_id=self.id,
            name=name,
            permissions=permissions,
            position=position,
            color=color,
            hoist=hoist,
            mentionable=mentionable,
            bot_id=bot_id,
        )
        self.roles[role.id] = role
        self.sb.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.to_payload()}, self.id
        )
        return role

    def delete_role(self, role: RoleRecord) -> None:
        """Delete a role; members lose it silently, as on Discord (only GUILD_ROLE_DELETE)."""
        self.roles.pop(role.id, None)
        for m in self.members.values():
            if role.id in m.roles:
                m.roles.remove(role.id)
        data = {"guild_id": str(self.id), "role_id": str(role.id)}
        self.sb.dispatch("GUILD_ROLE_DELETE", data, self.id, intent=GUILD_INTENT)

    def _new_member(
        self,
        name: str,
        *,
        roles: Iterable[RoleRecord | int] = (),
        pending: bool = False,
        accepts_dms: bool = True,
        bot: bool = False,
        joined_at: datetime | None = None,
    ) -> MemberRecord:
        user = self.sb.create_user(name, bot=bot, accepts_dms=accepts_dms)
        role_ids = [r.id if isinstance(r, RoleRecord) else int(r) for r in roles]
        member = MemberRecord(user, role_ids, joined_at or datetime.now(UTC), pending=pending)
        self.members[user.id] = member
        return member

    def add_member(
        self,
        name: str,
        roles: Iterable[RoleRecord | int] = (),
        pending: bool = False,
        accepts_dms: bool = True,
        bot: bool = False,
        *,
        joined_at: datetime | None = None,
    ) -> ScriptedMember:
        """A new member joins: GUILD_MEMBER_ADD goes to bots with the members intent."""
        from .members import ScriptedMember

        member = self._new_member(
            name,
            roles=roles,
            pending=pending,
            accepts_dms=accepts_dms,
            bot=bot,
            joined_at=joined_at,
        )
        self.sb.dispatch(
            "GUILD_MEMBER_ADD",
            {**member.to_payload(), "guild_id": str(self.id)},
            self.id,
            intent=MEMBERS_INTENT,
        )
        return ScriptedMember(self.sb, self, member.user)

    async def join(self, name: str, invite: str | None = None, **kwargs: Any) -> ScriptedMember:
        """Join through an invite code: bumps ``uses`` like Discord, then GUILD_MEMBER_ADD."""
        if invite is not None:
            inv = self.sb.invites.get(invite)
            if inv is None or inv.deleted or inv.guild_id != self.id:
                raise SandboxError(f"invite {invite!r} is not valid for {self.name!r}")
            if inv.max_uses and inv.uses >= inv.max_uses:
                raise SandboxError(f"invite {invite!r} is used up")
            inv.uses += 1
        m = self.add_member(name, **kwargs)
        self.sb.notify()
        return m

    def create_scheduled_event(
        self,
        name: str,
        start: datetime,
        end: datetime | None = None,
        *,
        creator: Any = None,
        location: str | None = "Online",
        channel: ChannelRecord | None = None,
        description: str | None = None,
    ) -> ScheduledEventRecord:
        """A member creates an event in Discord's UI (GUILD_SCHEDULED_EVENT_CREATE).

        With ``channel`` (voice/stage) it is a channel event, otherwise an external one at
        ``location``; external events need an end, as on Discord.
        """
        creator_id = getattr(creator, "id", creator) or self.owner_id
        if channel is None and end is None:
            raise SandboxError("external events need an end time")
        event = ScheduledEventRecord(
            id=self.sb.ids.next(),
            guild_id=self.id,
            name=name,
            creator_id=int(creator_id),
            scheduled_start_time=iso(start),
            scheduled_end_time=iso(end) if end else None,
            description=description,
            channel_id=channel.id if channel else None,
            entity_type=(1 if channel.type == 13 else 2) if channel else 3,
            entity_metadata=None if channel else {"location": location},
        )
        self.sb.scheduled_events.append(event)
        self.sb.dispatch(
            "GUILD_SCHEDULED_EVENT_CREATE",
            self.sb.scheduled_event_payload(event),
            self.id,
            intent=SCHEDULED_EVENTS_INTENT,
        )
        return event

    def set_event_status(self, event: ScheduledEventRecord, status: int) -> None:
        """Start (2), complete (3) or cancel (4) an event, as its creator would."""
        event.status = status
        self.sb.dispatch(
            "GUILD_SCHEDULED_EVENT_UPDATE",
            self.sb.scheduled_event_payload(event),
            self.id,
            intent=SCHEDULED_EVENTS_INTENT,
        )

    def add_bot(self, bot: BotApp, permissions: int = perm.DEFAULT_BOT) -> RoleRecord:
        """Install ``bot`` here with a managed role on top; calling again updates its perms."""
        permissions = int(getattr(permissions, "value", permissions))
        role = self.bot_role(bot.user_id)
        if role is not None:
            role.permissions = permissions
            self.sb.dispatch(
                "GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": role.to_payload()}, self.id
            )
            return role
        top = max((r.position for r in self.roles.values()), default=0)
        # The role is created before the bot counts as present: Discord's first event for a
        # newly joined guild is its GUILD_CREATE, not the bot role's GUILD_ROLE_CREATE.
        role = self.create_role(bot.name, permissions, top + 1, bot_id=bot.user_id)
        self.members[bot.user_id] = MemberRecord(bot.user, [role.id], datetime.now(UTC))
        self.bot_ids.append(bot.user_id)
        self.sb.dispatch_guild_create(self, bot)
        return role

    # -- payloads -------------------------------------------------------------------------
    def to_payload(self, *, with_members: bool) -> JSON:
        members = [
            m.to_payload()
            for m in self.members.values()
            if with_members or m.user.bot or m.user.id in self.voice_states
        ]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": self.verification_level,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY"] if self.rules_channel_id else [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.system_channel_id) if self.system_channel_id else None,
            "system_channel_flags": 0,
            "rules_channel_id": str(self.rules_channel_id) if self.rules_channel_id else None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": iso(self.created_at),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": list(self.voice_states.values()),
            "members": members,
            "channels": [self.channel_payload(c) for c in self.channels.values()],
            "threads": [
                t.to_payload() for t in self.threads.values() if not t.archived and not t.deleted
            ],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [
                self.sb.scheduled_event_payload(e)
                for e in self.sb.scheduled_events
                if e.guild_id == self.id and not e.deleted
            ],
            "soundboard_sounds": [],
        }
