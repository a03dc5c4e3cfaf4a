"""Invite, guild, channel, role, member and scheduled-event handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import permissions as perm
from .errors import (
    UNKNOWN_CHANNEL,
    UNKNOWN_INVITE,
    UNKNOWN_ROLE,
    UNKNOWN_SCHEDULED_EVENT,
    ApiError,
    form_error,
    missing_permissions,
    not_found,
)
from .rest_base import MEMBERS_INTENT, SCHEDULED_EVENTS_INTENT, Ctx, RestBase
from .state import CHANNEL_TYPES, JSON, MemberRecord, RoleRecord, ScheduledEventRecord

if TYPE_CHECKING:
    from .guild import Guild


class GuildRoutes(RestBase):
    """Handlers for invites, guilds, channels, roles, members and scheduled events."""

    # -- invites --------------------------------------------------------------------------
    async def create_invite(self, ctx: Ctx) -> JSON:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        if ch.guild_id is None:
            raise not_found(UNKNOWN_CHANNEL, "Channel")
        self.require(ctx, self.sb.guilds[ch.guild_id], perm.CREATE_INSTANT_INVITE, ch)
        inv = self.sb.create_invite(ch, ctx.me.user_id, ctx.json)
        return self.sb.invite_payload(inv)

    async def channel_invites(self, ctx: Ctx) -> list[JSON]:
        ch = self.channel(ctx.params["channel_id"], ctx.me)
        return [
            self.sb.invite_payload(i)
            for i in self.sb.invites.values()
            if i.channel_id == ch.id and not i.deleted
        ]

    async def guild_invites(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        self.require(ctx, g, perm.MANAGE_GUILD)
        return [
            self.sb.invite_payload(i)
            for i in self.sb.invites.values()
            if i.guild_id == g.id and not i.deleted
        ]

    def _invite(self, code: str) -> Any:
        inv = self.sb.invites.get(code)
        if inv is None or inv.deleted:
            raise not_found(UNKNOWN_INVITE, "Invite")
        return inv

    async def get_invite(self, ctx: Ctx) -> JSON:
        return self.sb.invite_payload(self._invite(ctx.params["code"]))

    async def delete_invite(self, ctx: Ctx) -> JSON:
        inv = self._invite(ctx.params["code"])
        self.require(ctx, self.guild(inv.guild_id, ctx.me), perm.MANAGE_CHANNELS)
        self.sb.delete_invite(inv)
        return self.sb.invite_payload(inv)

    # -- guild, channels, roles, members --------------------------------------------------
    async def get_guild(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        data = g.to_payload(with_members=False)
        for key in (
            "members",
            "channels",
            "voice_states",
            "threads",
            "presences",
            "joined_at",
            "large",
            "member_count",
            "guild_scheduled_events",
            "stage_instances",
        ):
            data.pop(key, None)
        if ctx.query("with_counts") in ("true", "1"):
            data["approximate_member_count"] = len(g.members)
            data["approximate_presence_count"] = 0
        return data

    async def get_channels(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        return [g.channel_payload(c) for c in g.channels.values()]

    async def create_channel(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        self.require(ctx, g, perm.MANAGE_CHANNELS)
        body = ctx.json
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise form_error(
                [("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            )
        types = {v: k for k, v in CHANNEL_TYPES.items()}
        parent = self.sb.channels.get(int(body["parent_id"])) if body.get("parent_id") else None
        ch = g.create_channel(
            name,
            types.get(int(body.get("type", 0)), "text"),
            parent=parent,
            overwrites=body.get("permission_overwrites") or [],
            topic=body.get("topic"),
        )
        return g.channel_payload(ch)

    async def get_roles(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        return [r.to_payload() for r in g.roles.values()]

    async def create_role(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        self.require(ctx, g, perm.MANAGE_ROLES)
        body = ctx.json
        perms = int(body.get("permissions") or 0)
        if perms & ~g.permissions_for(ctx.me.user_id):
            raise missing_permissions()
        role = g.create_role(
            str(body.get("name") or "new role"),
            perms,
            color=int(body.get("color") or 0),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        return role.to_payload()

    def _check_role_editable(self, ctx: Ctx, g: Guild, role_id: int) -> RoleRecord:
        role = g.roles.get(role_id)
        if role is None:
            raise not_found(UNKNOWN_ROLE, "Role")
        self.require(ctx, g, perm.MANAGE_ROLES)
        if ctx.me.user_id != g.owner_id and role.position >= g.top_role_position(ctx.me.user_id):
            raise missing_permissions()
        return role

    async def edit_role(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        role = self._check_role_editable(ctx, g, ctx.params["role_id"])
        body = ctx.json
        if "permissions" in body and body["permissions"] is not None:
            perms = int(body["permissions"])
            if perms & ~g.permissions_for(ctx.me.user_id):
                raise missing_permissions()
            role.permissions = perms
        for key in ("name", "color", "hoist", "mentionable"):
            if key in body and body[key] is not None:
                setattr(role, key, body[key])
        self.sb.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(g.id), "role": role.to_payload()}, g.id, intent=1
        )
        return role.to_payload()

    async def delete_role(self, ctx: Ctx) -> None:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        role = self._check_role_editable(ctx, g, ctx.params["role_id"])
        if role.bot_id is not None or role.id == g.id:
            raise ApiError(400, 50028, "Invalid Role")
        g.delete_role(role)

    async def edit_me(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        m = self.member(g, ctx.me.user_id)
        if "nick" in ctx.json:
            m.nick = ctx.json["nick"]
        self._member_update(g, m)
        return m.to_payload()

    async def list_members(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        if "members" not in ctx.me.privileged_intents:
            raise ApiError(403, 50001, "Missing Access")
        after = int(ctx.query("after", "0") or 0)
        limit = int(ctx.query("limit", "1") or 1)
        ms = sorted((m for m in g.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return [m.to_payload() for m in ms[:limit]]

    async def get_member(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        return self.member(g, ctx.params["user_id"]).to_payload()

    def _check_role_assignable(self, ctx: Ctx, g: Guild, role_id: int) -> None:
        role = g.roles.get(role_id)
        if role is None:
            raise not_found(UNKNOWN_ROLE, "Role")
        self.require(ctx, g, perm.MANAGE_ROLES)
        if ctx.me.user_id != g.owner_id and role.position >= g.top_role_position(ctx.me.user_id):
            raise missing_permissions()
        if role.bot_id is not None or role.id == g.id:
            raise ApiError(400, 50028, "Invalid Role")

    def _member_update(self, g: Guild, m: MemberRecord) -> None:
        self.sb.dispatch(
            "GUILD_MEMBER_UPDATE",
            {**m.to_payload(), "guild_id": str(g.id)},
            g.id,
            intent=MEMBERS_INTENT,
        )

    async def add_role(self, ctx: Ctx) -> None:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        m = self.member(g, ctx.params["user_id"])
        rid = ctx.params["role_id"]
        self._check_role_assignable(ctx, g, rid)
        if rid not in m.roles:
            m.roles.append(rid)
            self.sb.record_role_change(g.id, m.user.id, rid, True)
            self._member_update(g, m)

    async def remove_role(self, ctx: Ctx) -> None:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        m = self.member(g, ctx.params["user_id"])
        rid = ctx.params["role_id"]
        self._check_role_assignable(ctx, g, rid)
        if rid in m.roles:
            m.roles.remove(rid)
            self.sb.record_role_change(g.id, m.user.id, rid, False)
            self._member_update(g, m)

    async def edit_member(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        m = self.member(g, ctx.params["user_id"])
        body = ctx.json
        if "roles" in body:
            new = [int(r) for r in body["roles"] or []]
            for rid in set(new) ^ set(m.roles):
                self._check_role_assignable(ctx, g, rid)
            for rid in set(new) - set(m.roles):
                self.sb.record_role_change(g.id, m.user.id, rid, True)
            for rid in set(m.roles) - set(new):
                self.sb.record_role_change(g.id, m.user.id, rid, False)
            m.roles = new
        if "nick" in body:
            m.nick = body["nick"]
        self._member_update(g, m)
        return m.to_payload()

    async def kick_member(self, ctx: Ctx) -> None:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        m = self.member(g, ctx.params["user_id"])
        self.require(ctx, g, perm.KICK_MEMBERS)
        if m.user.id == g.owner_id or g.top_role_position(m.user.id) >= g.top_role_position(
            ctx.me.user_id
        ):
            raise missing_permissions()
        await g.member(m.user.id).leave()

    # -- scheduled events -----------------------------------------------------------------
    def _event(self, g: Guild, event_id: int) -> ScheduledEventRecord:
        e = next(
            (
                e
                for e in self.sb.scheduled_events
                if e.id == event_id and e.guild_id == g.id and not e.deleted
            ),
            None,
        )
        if e is None:
            raise not_found(UNKNOWN_SCHEDULED_EVENT, "Guild Scheduled Event")
        return e

    def _validate_event(self, body: JSON, creating: bool) -> None:
        problems = []
        if creating or "name" in body:
            name = str(body.get("name") or "")
            if not 1 <= len(name) <= 100:
                problems.append(
                    ("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
                )
        if len(str(body.get("description") or "")) > 1000:
            problems.append(
                ("description", "BASE_TYPE_MAX_LENGTH", "Must be 1000 or fewer in length.")
            )
        if creating and not body.get("scheduled_start_time"):
            problems.append(
                ("scheduled_start_time", "BASE_TYPE_REQUIRED", "This field is required")
            )
        etype = int(body.get("entity_type") or 0)
        if creating and etype == 3 and not (body.get("entity_metadata") or {}).get("location"):
            problems.append(
                ("entity_metadata.location", "BASE_TYPE_REQUIRED", "This field is required")
            )
        if creating and etype == 3 and not body.get("scheduled_end_time"):
            problems.append(("scheduled_end_time", "BASE_TYPE_REQUIRED", "This field is required"))
        if problems:
            raise form_error(problems)

    def _event_dispatch(self, event: str, e: ScheduledEventRecord) -> None:
        self.sb.dispatch(
            event, self.sb.scheduled_event_payload(e), e.guild_id, intent=SCHEDULED_EVENTS_INTENT
        )

    async def list_events(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        return [
            self.sb.scheduled_event_payload(e)
            for e in self.sb.scheduled_events
            if e.guild_id == g.id and not e.deleted
        ]

    async def get_event(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        return self.sb.scheduled_event_payload(self._event(g, ctx.params["event_id"]))

    async def create_event(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        if not (
            self.sb.can(ctx.me.user_id, g, perm.CREATE_EVENTS)
            or self.sb.can(ctx.me.user_id, g, perm.MANAGE_EVENTS)
        ):
            raise missing_permissions()
        body = ctx.json
        self._validate_event(body, creating=True)
        active = [
            e
            for e in self.sb.scheduled_events
            if e.guild_id == g.id and not e.deleted and e.status in (1, 2)
        ]
        if len(active) >= 100:
            raise ApiError(400, 30038, "Maximum number of guild scheduled events reached (100)")
        e = ScheduledEventRecord(
            id=self.sb.ids.next(),
            guild_id=g.id,
            name=body["name"],
            creator_id=ctx.me.user_id,
            scheduled_start_time=body["scheduled_start_time"],
            scheduled_end_time=body.get("scheduled_end_time"),
            description=body.get("description"),
            channel_id=int(body["channel_id"]) if body.get("channel_id") else None,
            entity_type=int(body.get("entity_type") or 3),
            entity_metadata=body.get("entity_metadata"),
            privacy_level=int(body.get("privacy_level") or 2),
            image=body.get("image"),
            recurrence_rule=body.get("recurrence_rule"),
        )
        self.sb.scheduled_events.append(e)
        self._event_dispatch("GUILD_SCHEDULED_EVENT_CREATE", e)
        return self.sb.scheduled_event_payload(e)

    async def edit_event(self, ctx: Ctx) -> JSON:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        self.require(ctx, g, perm.MANAGE_EVENTS)
        e = self._event(g, ctx.params["event_id"])
        body = ctx.json
        self._validate_event(body, creating=False)
        for key in (
            "name",
            "description",
            "scheduled_start_time",
            "scheduled_end_time",
            "entity_metadata",
            "privacy_level",
            "image",
            "recurrence_rule",
        ):
            if key in body:
                setattr(e, key, body[key])
        if "status" in body:
            e.status = int(body["status"])
        if "entity_type" in body:
            e.entity_type = int(body["entity_type"])
        if "channel_id" in body:
            e.channel_id = int(body["channel_id"]) if body["channel_id"] else None
        self._event_dispatch("GUILD_SCHEDULED_EVENT_UPDATE", e)
        return self.sb.scheduled_event_payload(e)

    async def delete_event(self, ctx: Ctx) -> None:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        self.require(ctx, g, perm.MANAGE_EVENTS)
        e = self._event(g, ctx.params["event_id"])
        e.deleted = True
        self._event_dispatch("GUILD_SCHEDULED_EVENT_DELETE", e)

    async def event_users(self, ctx: Ctx) -> list[JSON]:
        g = self.guild(ctx.params["guild_id"], ctx.me)
        e = self._event(g, ctx.params["event_id"])
        limit = int(ctx.query("limit", "100") or 100)
        after = int(ctx.query("after", "0") or 0)
        before = int(ctx.query("before", "0") or 0)
        ids = sorted(u for u in e.interested if u > after and (not before or u < before))
        out = []
        for uid in ids[:limit]:
            entry: JSON = {
                "guild_scheduled_event_id": str(e.id),
                "user": self.sb.users[uid].to_payload(),
            }
            if ctx.query("with_member") in ("true", "1") and uid in g.members:
                entry["member"] = g.members[uid].to_payload()
            out.append(entry)
        return out
