"""ScriptedMember: a guild member a test drives, so an end-to-end test reads like a story."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import SandboxError
from .interactions import InteractionResult, PendingInteraction
from .messages import DIRECT_MESSAGE_REACTIONS, GUILD_MESSAGE_REACTIONS
from .state import (
    JSON,
    BotApp,
    ChannelRecord,
    InviteRecord,
    MemberRecord,
    MessageRecord,
    RoleRecord,
    ScheduledEventRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from .guild import Guild
    from .server import Sandbox

MEMBERS_INTENT = 1 << 1
VOICE_INTENT = 1 << 7
SCHEDULED_EVENTS_INTENT = 1 << 16
SELECT_TYPES = (3, 5, 6, 7, 8)


class ScriptedMember:
    """Acts as one member of one guild; every action dispatches what Discord would."""

    def __init__(self, sb: Sandbox, guild: Guild, user: UserRecord) -> None:
        self.sb = sb
        self.guild = guild
        self.user = user

    def __repr__(self) -> str:
        return f"<ScriptedMember {self.user.username} id={self.id}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ScriptedMember) and other.id == self.id and other.guild is self.guild
        )

    def __hash__(self) -> int:
        return hash((self.id, self.guild.id))

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def member(self) -> MemberRecord:
        m = self.guild.members.get(self.id)
        if m is None:
            raise SandboxError(f"{self.name} is not a member of {self.guild.name!r} any more")
        return m

    @property
    def roles(self) -> list[RoleRecord]:
        return [self.guild.roles[r] for r in self.member.roles if r in self.guild.roles]

    def _member_payload(self) -> JSON:
        return {**self.member.to_payload(), "guild_id": str(self.guild.id)}

    def _channel(self, channel: ChannelRecord | None) -> ChannelRecord:
        if channel is None:
            text = [c for c in self.guild.channels.values() if c.type == 0]
            if not text:
                raise SandboxError(f"{self.guild.name!r} has no text channel to act in")
            return text[0]
        if channel.guild_id != self.guild.id:
            raise SandboxError(f"channel {channel.name!r} is not in {self.guild.name!r}")
        if channel.is_thread and channel.archived:
            if channel.locked:
                raise SandboxError(f"thread {channel.name!r} is locked")
            channel.archived = False
            self.sb.dispatch(
                "THREAD_UPDATE", self.guild.channel_payload(channel), self.guild.id, intent=1
            )
        return channel

    # -- messages -------------------------------------------------------------------------
    async def say(
        self,
        channel: ChannelRecord,
        content: str = "",
        at: datetime | None = None,
        *,
        embeds: list[JSON] | None = None,
        reply_to: MessageRecord | None = None,
        files: Iterable[tuple[str, bytes]] = (),
    ) -> MessageRecord:
        """Post a message (``at`` may be in the past: the snowflake carries that time)."""
        from .state import AttachmentRecord

        ch = self._channel(channel)
        body: JSON = {"content": content}
        if embeds:
            body["embeds"] = embeds
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id)}
        atts = [AttachmentRecord(self.sb.ids.next(), n, bytes(d)) for n, d in files]
        for a in atts:
            self.sb.attachments[a.id] = a
        self.member  # noqa: B018 - raises if the member left
        return self.sb.store.create(
            ch, self.id, body, atts, at=at, msg_type=19 if reply_to is not None else 0
        )

    async def edit(self, msg: MessageRecord, content: str) -> MessageRecord:
        if msg.author_id != self.id:
            raise SandboxError(f"{self.name} cannot edit someone else's message")
        return self.sb.store.edit(msg, {"content": content})

    async def delete(self, msg: MessageRecord) -> None:
        self.sb.store.delete(msg)

    def _reaction(self, msg: MessageRecord, emoji: str) -> JSON:
        from .messages import _emoji_payload

        data: JSON = {
            "user_id": str(self.id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": _emoji_payload(emoji),
            "burst": False,
            "type": 0,
        }
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        return data

    async def react(self, msg: MessageRecord, emoji: str) -> None:
        users = msg.reactions.setdefault(emoji, [])
        if self.id in users:
            return
        users.append(self.id)
        data = self._reaction(msg, emoji)
        data["member"] = self.member.to_payload()
        data["message_author_id"] = str(msg.author_id)
        data["burst_colors"] = []
        intent = GUILD_MESSAGE_REACTIONS if msg.guild_id else DIRECT_MESSAGE_REACTIONS
        self.sb.dispatch("MESSAGE_REACTION_ADD", data, msg.guild_id, intent=intent)

    async def unreact(self, msg: MessageRecord, emoji: str) -> None:
        users = msg.reactions.get(emoji, [])
        if self.id not in users:
            return
        users.remove(self.id)
        intent = GUILD_MESSAGE_REACTIONS if msg.guild_id else DIRECT_MESSAGE_REACTIONS
        self.sb.dispatch(
            "MESSAGE_REACTION_REMOVE", self._reaction(msg, emoji), msg.guild_id, intent=intent
        )

    async def start_thread(
        self, where: MessageRecord | ChannelRecord, name: str, *, private: bool = False
    ) -> ChannelRecord:
        """Start a thread on a message or in a channel (THREAD_CREATE)."""
        if isinstance(where, MessageRecord):
            parent = self.sb.channels[where.channel_id]
            return self.guild.create_thread(parent, name, owner_id=self.id, message=where)
        return self.guild.create_thread(where, name, owner_id=self.id, private=private)

    async def mark_interested(self, event: ScheduledEventRecord) -> None:
        """Click "Interested" on a scheduled event (GUILD_SCHEDULED_EVENT_USER_ADD)."""
        if self.id not in event.interested:
            event.interested.append(self.id)
            self._event_user("GUILD_SCHEDULED_EVENT_USER_ADD", event)

    async def unmark_interested(self, event: ScheduledEventRecord) -> None:
        if self.id in event.interested:
            event.interested.remove(self.id)
            self._event_user("GUILD_SCHEDULED_EVENT_USER_REMOVE", event)

    def _event_user(self, name: str, event: ScheduledEventRecord) -> None:
        data = {
            "guild_scheduled_event_id": str(event.id),
            "user_id": str(self.id),
            "guild_id": str(self.guild.id),
        }
        self.sb.dispatch(name, data, self.guild.id, intent=SCHEDULED_EVENTS_INTENT)

    async def dm(self, bot: BotApp, content: str) -> MessageRecord:
        """Write to ``bot`` in DMs (MESSAGE_CREATE on shard 0, DIRECT_MESSAGES intent)."""
        channel = self.sb.dm_channel(bot.user_id, self.id)
        return self.sb.store.create(channel, self.id, {"content": content})

    def dms(self) -> list[MessageRecord]:
        """Messages bots sent this member by DM, oldest first."""
        out: list[MessageRecord] = []
        for (_bot_id, user_id), ch in self.sb.dm_channels.items():
            if user_id == self.id:
                out += [m for m in self.sb.messages(ch) if m.author_id != self.id]
        return sorted(out, key=lambda m: m.id)

    # -- interactions ---------------------------------------------------------------------
    async def slash(
        self,
        command: str,
        /,
        *,
        in_channel: ChannelRecord | None = None,
        answer_timeout: float | None = None,
        **options: Any,
    ) -> InteractionResult:
        """Run ``/command [group] [sub]`` with typed options built from the registered schema."""
        pending = self.sb.interactions.command(
            self.guild, self._channel(in_channel), self.id, command, options
        )
        return await self.sb.interactions.run(pending, answer_timeout)

    async def autocomplete(
        self,
        command: str,
        option: str,
        value: str,
        /,
        *,
        in_channel: ChannelRecord | None = None,
        answer_timeout: float | None = None,
        **options: Any,
    ) -> list[JSON]:
        """Type ``value`` into ``option`` and return the bot's choices."""
        options = {**options, option: value}
        pending = self.sb.interactions.command(
            self.guild, self._channel(in_channel), self.id, command, options, focused=option
        )
        result = await self.sb.interactions.run(pending, answer_timeout)
        return result.choices

    async def user_command(
        self,
        name: str,
        target: ScriptedMember | UserRecord,
        *,
        in_channel: ChannelRecord | None = None,
        answer_timeout: float | None = None,
    ) -> InteractionResult:
        """Right-click ``target`` -> Apps -> ``name``."""
        user = target.user if isinstance(target, ScriptedMember) else target
        pending = self.sb.interactions.context_menu(
            self.guild, self._channel(in_channel), self.id, name, target_user=user
        )
        return await self.sb.interactions.run(pending, answer_timeout)

    async def message_command(
        self, name: str, target: MessageRecord, *, answer_timeout: float | None = None
    ) -> InteractionResult:
        """Right-click a message -> Apps -> ``name``."""
        channel = self.sb.channels[target.channel_id]
        pending = self.sb.interactions.context_menu(
            self.guild, self._channel(channel), self.id, name, target_message=target
        )
        return await self.sb.interactions.run(pending, answer_timeout)

    async def click(
        self, msg: MessageRecord, label_or_custom_id: str, *, answer_timeout: float | None = None
    ) -> InteractionResult:
        comp = _find_component(msg.components, label_or_custom_id, types=(2,))
        if comp.get("style") == 5 or "custom_id" not in comp:
            raise SandboxError(f"button {label_or_custom_id!r} is a link button, nothing to click")
        if comp.get("disabled"):
            raise SandboxError(f"button {label_or_custom_id!r} is disabled")
        data = {"custom_id": comp["custom_id"], "component_type": 2}
        return await self._component(msg, data, answer_timeout)

    async def select(
        self,
        msg: MessageRecord,
        values: list[Any],
        custom_id: str | None = None,
        *,
        answer_timeout: float | None = None,
    ) -> InteractionResult:
        """Choose ``values`` in a select menu (the first select unless ``custom_id``)."""
        comp = _find_component(msg.components, custom_id, types=SELECT_TYPES)
        ctype = comp["type"]
        data: JSON = {"custom_id": comp["custom_id"], "component_type": ctype}
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options") or []]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise SandboxError(
                    f"{bad} are not options of select {comp['custom_id']!r}: {allowed}"
                )
            data["values"] = [str(v) for v in values]
        else:
            data["values"], data["resolved"] = self._resolve_select(values)
        return await self._component(msg, data, answer_timeout)

    def _resolve_select(self, values: list[Any]) -> tuple[list[str], JSON]:
        resolved: JSON = {}
        ids: list[str] = []
        for v in values:
            if isinstance(v, RoleRecord):
                resolved.setdefault("roles", {})[str(v.id)] = v.to_payload()
                ids.append(str(v.id))
            elif isinstance(v, ChannelRecord):
                resolved.setdefault("channels", {})[str(v.id)] = {
                    **self.guild.channel_payload(v),
                    "permissions": "0",
                }
                ids.append(str(v.id))
            else:
                user = v.user if isinstance(v, ScriptedMember) else self.guild.member(v).user
                resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
                m = self.guild.members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = {
                    **m.to_payload(with_user=False),
                    "permissions": str(self.guild.permissions_for(user.id)),
                }
                ids.append(str(user.id))
        return ids, resolved

    async def _component(
        self, msg: MessageRecord, data: JSON, answer_timeout: float | None
    ) -> InteractionResult:
        if msg.deleted:
            raise SandboxError("the message was deleted")
        pending = self.sb.interactions.component(self.guild, msg, self.id, data)
        return await self.sb.interactions.run(pending, answer_timeout)

    async def submit_modal(
        self,
        shown: InteractionResult,
        values: Mapping[str, Any],
        *,
        answer_timeout: float | None = None,
    ) -> InteractionResult:
        """Fill the modal the bot showed in ``shown`` (values by component custom_id)."""
        modal = shown.modal
        if modal is None:
            raise SandboxError("that interaction did not answer with a modal")
        known: list[str] = []
        components = [_submitted(c, values, known) for c in modal.get("components") or []]
        unknown = set(values) - set(known)
        if unknown:
            raise SandboxError(f"modal has no inputs {sorted(unknown)}; it has {known}")
        data = {"custom_id": modal["custom_id"], "components": components}
        origin: PendingInteraction = shown.pending
        pending = self.sb.interactions.modal_submit(origin, self.id, data)
        return await self.sb.interactions.run(pending, answer_timeout)

    # -- membership -----------------------------------------------------------------------
    async def accept_rules_screening(self) -> None:
        """Membership screening done: pending true -> false (GUILD_MEMBER_UPDATE)."""
        self.member.pending = False
        self._member_update()

    def _member_update(self) -> None:
        self.sb.dispatch(
            "GUILD_MEMBER_UPDATE", self._member_payload(), self.guild.id, intent=MEMBERS_INTENT
        )

    async def add_role(self, role: RoleRecord) -> None:
        """Someone (a moderator, not the bot) gives this member ``role``."""
        if role.id not in self.member.roles:
            self.member.roles.append(role.id)
            self._member_update()

    async def remove_role(self, role: RoleRecord) -> None:
        if role.id in self.member.roles:
            self.member.roles.remove(role.id)
            self._member_update()

    async def set_nick(self, nick: str | None) -> None:
        self.member.nick = nick
        self._member_update()

    async def leave(self) -> None:
        """GUILD_MEMBER_REMOVE; the member's voice state goes too."""
        if self.id in self.guild.voice_states:
            await self.leave_voice()
        self.guild.members.pop(self.id, None)
        self.sb.dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(self.guild.id), "user": self.user.to_payload()},
            self.guild.id,
            intent=MEMBERS_INTENT,
        )

    async def create_invite(self, channel: ChannelRecord, **options: Any) -> InviteRecord:
        return self.sb.create_invite(self._channel(channel), self.id, options)

    async def join_voice(
        self, channel: ChannelRecord, self_deaf: bool = False, self_mute: bool = False
    ) -> None:
        if channel.type not in (2, 13):
            raise SandboxError(f"{channel.name!r} is not a voice or stage channel")
        state = {
            "guild_id": str(self.guild.id),
            "channel_id": str(channel.id),
            "user_id": str(self.id),
            "member": self.member.to_payload(),
            "session_id": f"voice-{self.id}",
            "deaf": False,
            "mute": False,
            "self_deaf": self_deaf,
            "self_mute": self_mute,
            "self_video": False,
            "self_stream": False,
            "suppress": channel.type == 13,
            "request_to_speak_timestamp": None,
        }
        self.guild.voice_states[self.id] = state
        self.sb.dispatch("VOICE_STATE_UPDATE", state, self.guild.id, intent=VOICE_INTENT)

    async def leave_voice(self) -> None:
        state = self.guild.voice_states.pop(self.id, None)
        if state is None:
            return
        self.sb.dispatch(
            "VOICE_STATE_UPDATE", {**state, "channel_id": None}, self.guild.id, intent=VOICE_INTENT
        )


def _walk(components: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for c in components:
        out.append(c)
        out += _walk(c.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(c.get(key), dict):
                out += _walk([c[key]])
    return out


def _find_component(components: list[JSON], key: str | None, *, types: tuple[int, ...]) -> JSON:
    candidates = [c for c in _walk(components) if c.get("type") in types]
    for c in candidates:
        if key is None or c.get("custom_id") == key or c.get("label") == key:
            return c
    for c in candidates:
        if key is not None and c.get("placeholder") == key:
            return c
    seen = [c.get("label") or c.get("custom_id") for c in candidates]
    raise SandboxError(f"no component {key!r} on the message; it has {seen}")


def _submitted(comp: JSON, values: Mapping[str, Any], known: list[str]) -> JSON:
    """Mirror a modal's layout back with the member's values, as Discord does."""
    ctype = comp.get("type")
    if ctype == 1:
        return {"type": 1, "components": [_submitted(c, values, known) for c in comp["components"]]}
    if ctype == 18:
        return {
            "type": 18,
            "id": comp.get("id", 0),
            "component": _submitted(comp["component"], values, known),
        }
    cid = comp.get("custom_id")
    out: JSON = {"type": ctype, "id": comp.get("id", 0)}
    if cid is None:
        return out
    known.append(cid)
    out["custom_id"] = cid
    value = values.get(cid)
    if ctype == 4:
        out["value"] = "" if value is None else str(value)
    elif ctype in SELECT_TYPES:
        out["values"] = [str(getattr(v, "id", v)) for v in (value or [])]
    else:
        out["value"] = value
    return out
