"""Interactions: building INTERACTION_CREATE payloads from registered commands, and the
callback/webhook side where the bot answers.

Timing rules are Discord's: acknowledge within 3 s (else 10062 Unknown interaction), only once
(else 40060), and the token works for 15 minutes for followups and edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import (
    ALREADY_ACKNOWLEDGED,
    UNKNOWN_INTERACTION,
    UNKNOWN_WEBHOOK,
    ApiError,
    InteractionTimeout,
    SandboxError,
)
from .messages import EPHEMERAL, LOADING
from .state import (
    JSON,
    AttachmentRecord,
    BotApp,
    ChannelRecord,
    InteractionResponseRecord,
    MessageRecord,
    RoleRecord,
    UserRecord,
)

if TYPE_CHECKING:
    from .guild import Guild
    from .server import Sandbox

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
OPTION_TYPES = {
    1: "subcommand",
    2: "group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass
class PendingInteraction:
    id: int
    token: str
    type: int
    bot: BotApp
    guild_id: int | None
    channel_id: int
    user_id: int
    created: float
    payload: JSON
    source_message_id: int | None = None
    acked: bool = False
    response_type: int | None = None
    ephemeral: bool = False
    original_message_id: int | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    choices: list[JSON] | None = None
    modal: JSON | None = None
    edits_before: int = 0
    responded: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class InteractionResult:
    """What the member saw: read-only, live view over the bot's answer to one interaction."""

    def __init__(self, sb: Sandbox, pending: PendingInteraction) -> None:
        self._sb = sb
        self.pending = pending

    def __repr__(self) -> str:
        return (
            f"<InteractionResult type={self.type} ephemeral={self.ephemeral} "
            f"content={self.content!r} followups={len(self.followups)}>"
        )

    @property
    def interaction_id(self) -> int:
        return self.pending.id

    @property
    def type(self) -> int | None:
        return self.pending.response_type

    @property
    def deferred(self) -> bool:
        return self.pending.response_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE)

    @property
    def ephemeral(self) -> bool:
        return self.pending.ephemeral

    @property
    def original(self) -> MessageRecord | None:
        mid = self.pending.original_message_id
        return self._sb.store.by_id.get(mid) if mid else None

    @property
    def message(self) -> MessageRecord | None:
        """The public message this produced (None for ephemeral answers)."""
        orig = self.original
        return orig if orig is not None and not orig.ephemeral else None

    @property
    def followups(self) -> list[MessageRecord]:
        return list(self.pending.followups)

    @property
    def _primary(self) -> MessageRecord | None:
        orig = self.original
        edited_here = orig is not None and orig.edits > self.pending.edits_before
        if (
            orig is not None
            and not orig.flags & LOADING
            and (self.pending.response_type != DEFERRED_UPDATE or edited_here)
        ):
            return orig
        return self.pending.followups[0] if self.pending.followups else orig

    @property
    def content(self) -> str:
        m = self._primary
        return m.content if m else ""

    @property
    def embeds(self) -> list[JSON]:
        m = self._primary
        return m.embeds if m else []

    @property
    def components(self) -> list[JSON]:
        if self.modal is not None:
            return list(self.modal.get("components") or [])
        m = self._primary
        return m.components if m else []

    @property
    def attachments(self) -> list[AttachmentRecord]:
        m = self._primary
        return m.attachments if m else []

    files = attachments

    @property
    def choices(self) -> list[JSON]:
        return list(self.pending.choices or [])

    @property
    def modal(self) -> JSON | None:
        return self.pending.modal

    async def wait_followups(
        self,
        n: int = 1,
        timeout: float | None = None,  # noqa: ASYNC109 - bounded wait on sandbox state
    ) -> list[MessageRecord]:
        """Wait until at least ``n`` followups exist (for bots that keep talking)."""
        return await self._sb.wait_for(
            lambda: self.followups if len(self.pending.followups) >= n else None,
            timeout or self._sb.interaction_timeout,
        )


class InteractionHub:
    """Creates interactions for scripted members and answers the bot's callbacks."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.pending: dict[int, PendingInteraction] = {}
        self.by_token: dict[str, PendingInteraction] = {}

    # -- commands registry ----------------------------------------------------------------
    def normalize_command(
        self, bot: BotApp, data: JSON, guild_id: int | None, old: list[JSON]
    ) -> JSON:
        """Give a registered command the fields Discord adds (ids are kept for same name)."""
        ctype = int(data.get("type", 1))
        existing = next((c for c in old if c["name"] == data["name"] and c["type"] == ctype), None)
        cmd: JSON = {
            "id": existing["id"] if existing else str(self.sb.ids.next()),
            "application_id": str(bot.application_id),
            "version": str(self.sb.ids.next()),
            "type": ctype,
            "name": data["name"],
            "description": data.get("description", "") if ctype == 1 else "",
            "options": data.get("options") or [],
            "default_member_permissions": data.get("default_member_permissions"),
            "dm_permission": data.get("dm_permission", True),
            "nsfw": bool(data.get("nsfw", False)),
            "name_localizations": data.get("name_localizations"),
            "description_localizations": data.get("description_localizations"),
            "contexts": data.get("contexts"),
            "integration_types": data.get("integration_types", [0]),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    def commands_in(self, guild: Guild) -> list[tuple[BotApp, JSON]]:
        out: list[tuple[BotApp, JSON]] = []
        for uid in guild.bot_ids:
            bot = self.sb.bot_by_user(uid)
            if bot is None:
                continue
            out += [(bot, c) for c in bot.guild_commands.get(guild.id, [])]
            out += [(bot, c) for c in bot.global_commands]
        return out

    @staticmethod
    def command_paths(cmd: JSON) -> list[str]:
        paths = []
        subs = [o for o in cmd.get("options") or [] if o["type"] in (1, 2)]
        if not subs:
            return [cmd["name"]]
        for o in subs:
            if o["type"] == 1:
                paths.append(f"{cmd['name']} {o['name']}")
            else:
                paths += [f"{cmd['name']} {o['name']} {s['name']}" for s in o.get("options") or []]
        return paths

    def find_command(self, guild: Guild, path: str) -> tuple[BotApp, JSON, list[str], list[JSON]]:
        """Resolve ``"poll close"`` to (bot, command, [sub names], leaf option schemas)."""
        words = path.split()
        registered = self.commands_in(guild)
        for bot, cmd in registered:
            if cmd["type"] != 1 or cmd["name"] != words[0]:
                continue
            schema = cmd.get("options") or []
            subpath: list[str] = []
            ok = True
            for word in words[1:]:
                nxt = next((o for o in schema if o["type"] in (1, 2) and o["name"] == word), None)
                if nxt is None:
                    ok = False
                    break
                subpath.append(word)
                schema = nxt.get("options") or []
            if ok and not any(o["type"] in (1, 2) for o in schema):
                return bot, cmd, subpath, schema
        known = sorted(p for _, c in registered if c["type"] == 1 for p in self.command_paths(c))
        raise SandboxError(
            f"no application command /{path} registered in {guild.name!r}; registered: {known}"
        )

    # -- option conversion ----------------------------------------------------------------
    def _option_value(self, guild: Guild, schema: JSON, value: Any, resolved: JSON) -> Any:
        otype = schema["type"]
        name = schema["name"]
        if otype == 3:
            value = str(value)
        elif otype == 4:
            value = int(value)
        elif otype == 10:
            value = float(value)
        elif otype == 5:
            value = bool(value)
        elif otype in (6, 9) and not isinstance(value, RoleRecord):
            user = self._resolve_user(guild, value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            member = guild.members.get(user.id)
            if member is not None:
                resolved.setdefault("members", {})[str(user.id)] = {
                    **member.to_payload(with_user=False),
                    "permissions": str(guild.permissions_for(user.id)),
                }
            return str(user.id)
        elif otype in (8, 9):
            role = value if isinstance(value, RoleRecord) else guild.role(value)
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        elif otype == 7:
            ch = value if isinstance(value, ChannelRecord) else guild.channel(value)
            resolved.setdefault("channels", {})[str(ch.id)] = {
                **guild.channel_payload(ch),
                "permissions": str(guild.base_permissions(guild.owner_id)),
            }
            return str(ch.id)
        elif otype == 11:
            filename, data = value
            att = AttachmentRecord(self.sb.ids.next(), filename, bytes(data))
            self.sb.attachments[att.id] = att
            base = self.sb.base_url
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_payload(base)
            return str(att.id)
        choices = schema.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            allowed = [c["value"] for c in choices]
            raise SandboxError(f"option {name!r}: {value!r} is not one of the choices {allowed}")
        return value

    def _resolve_user(self, guild: Guild, value: Any) -> UserRecord:
        if isinstance(value, UserRecord):
            return value
        uid = getattr(value, "id", value)
        if isinstance(uid, int) and uid in self.sb.users:
            return self.sb.users[uid]
        return guild.member(uid).user

    def build_options(
        self, guild: Guild, schema: list[JSON], given: dict[str, Any], focused: str | None = None
    ) -> tuple[list[JSON], JSON]:
        resolved: JSON = {}
        by_name = {o["name"]: o for o in schema}
        unknown = set(given) - set(by_name)
        if unknown:
            raise SandboxError(
                f"unknown option(s) {sorted(unknown)}; the command takes {sorted(by_name)}"
            )
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
        if missing and focused is None:
            raise SandboxError(f"missing required option(s) {missing}")
        out = []
        for name, value in given.items():
            opt = by_name[name]
            if name == focused:
                out.append(
                    {"name": name, "type": opt["type"], "value": str(value), "focused": True}
                )
            else:
                v = self._option_value(guild, opt, value, resolved)
                out.append({"name": name, "type": opt["type"], "value": v})
        return out, resolved

    # -- creating interactions ------------------------------------------------------------
    def _base_payload(
        self,
        itype: int,
        bot: BotApp,
        guild: Guild,
        channel: ChannelRecord,
        user_id: int,
        data: JSON,
    ) -> PendingInteraction:
        member = guild.members[user_id]
        iid = self.sb.ids.next()
        token = f"aW50ZXJhY3Rpb246{iid}:{secrets.token_urlsafe(48)}"
        payload: JSON = {
            "id": str(iid),
            "application_id": str(bot.application_id),
            "type": itype,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": {
                **guild.channel_payload(channel),
                "permissions": str(guild.permissions_for(user_id, channel)),
            },
            "member": {
                **member.to_payload(),
                "permissions": str(guild.permissions_for(user_id, channel)),
            },
            "user": None,
            "token": token,
            "version": 1,
            "app_permissions": str(guild.permissions_for(bot.user_id, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        del payload["user"]
        pending = PendingInteraction(
            id=iid,
            token=token,
            type=itype,
            bot=bot,
            guild_id=guild.id,
            channel_id=channel.id,
            user_id=user_id,
            created=self.sb.now(),
            payload=payload,
        )
        self.pending[iid] = pending
        self.by_token[token] = pending
        return pending

    def command(
        self,
        guild: Guild,
        channel: ChannelRecord,
        user_id: int,
        path: str,
        options: dict[str, Any],
        *,
        focused: str | None = None,
    ) -> PendingInteraction:
        bot, cmd, subpath, schema = self.find_command(guild, path)
        leaf, resolved = self.build_options(guild, schema, options, focused)
        opts: list[JSON] = leaf
        if len(subpath) == 2:
            opts = [
                {
                    "name": subpath[0],
                    "type": 2,
                    "options": [{"name": subpath[1], "type": 1, "options": leaf}],
                }
            ]
        elif len(subpath) == 1:
            opts = [{"name": subpath[0], "type": 1, "options": leaf}]
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        itype = AUTOCOMPLETE if focused else APPLICATION_COMMAND
        return self._base_payload(itype, bot, guild, channel, user_id, data)

    def context_menu(
        self,
        guild: Guild,
        channel: ChannelRecord,
        user_id: int,
        name: str,
        *,
        target_user: UserRecord | None = None,
        target_message: MessageRecord | None = None,
    ) -> PendingInteraction:
        """A user (type 2) or message (type 3) context-menu command on ``target``."""
        ctype = 2 if target_user is not None else 3
        found = [
            (b, c) for b, c in self.commands_in(guild) if c["type"] == ctype and c["name"] == name
        ]
        if not found:
            known = sorted(c["name"] for _, c in self.commands_in(guild) if c["type"] == ctype)
            kind = "user" if ctype == 2 else "message"
            raise SandboxError(f"no {kind} command {name!r} registered; registered: {known}")
        bot, cmd = found[0]
        resolved: JSON = {}
        if target_user is not None:
            target_id = target_user.id
            resolved["users"] = {str(target_id): target_user.to_payload()}
            member = guild.members.get(target_id)
            if member is not None:
                resolved["members"] = {
                    str(target_id): {
                        **member.to_payload(with_user=False),
                        "permissions": str(guild.permissions_for(target_id)),
                    }
                }
        else:
            assert target_message is not None
            target_id = target_message.id
            resolved["messages"] = {str(target_id): self.sb.store.payload(target_message)}
        data: JSON = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": ctype,
            "target_id": str(target_id),
            "resolved": resolved,
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return self._base_payload(APPLICATION_COMMAND, bot, guild, channel, user_id, data)

    def component(
        self, guild: Guild, msg: MessageRecord, user_id: int, data: JSON
    ) -> PendingInteraction:
        bot = self.sb.bot_by_user(msg.author_id)
        if bot is None:
            raise SandboxError("components only work on messages sent by a bot")
        channel = self.sb.channels[msg.channel_id]
        pending = self._base_payload(MESSAGE_COMPONENT, bot, guild, channel, user_id, data)
        pending.payload["message"] = self.sb.store.payload(msg)
        pending.source_message_id = msg.id
        return pending

    def modal_submit(
        self, origin: PendingInteraction, user_id: int, data: JSON
    ) -> PendingInteraction:
        guild = self.sb.guilds[origin.guild_id or 0]
        channel = self.sb.channels[origin.channel_id]
        pending = self._base_payload(MODAL_SUBMIT, origin.bot, guild, channel, user_id, data)
        if origin.source_message_id is not None:
            msg = self.sb.store.by_id[origin.source_message_id]
            pending.payload["message"] = self.sb.store.payload(msg)
            pending.source_message_id = msg.id
        return pending

    async def run(
        self,
        pending: PendingInteraction,
        timeout: float | None = None,  # noqa: ASYNC109 - the documented answer timeout
    ) -> InteractionResult:
        """Dispatch INTERACTION_CREATE and wait until the member would see an answer."""
        guild_id = pending.guild_id
        n = self.sb.dispatch(
            "INTERACTION_CREATE", pending.payload, guild_id, only_bots=[pending.bot.user_id]
        )
        if n == 0:
            raise SandboxError(f"bot {pending.bot.name!r} has no gateway session to receive this")
        timeout = timeout if timeout is not None else self.sb.interaction_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        what = pending.payload["data"].get("name") or pending.payload["data"].get("custom_id")
        try:
            await asyncio.wait_for(pending.responded.wait(), timeout)
        except TimeoutError:
            raise InteractionTimeout(
                f"the bot did not respond to interaction {what!r} within {timeout}s "
                "(the member would see 'This interaction failed')"
            ) from None
        if pending.response_type == DEFERRED_UPDATE:
            grace = min(0.5, max(0.0, deadline - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending.settled.wait(), grace)
        elif not pending.settled.is_set():
            try:
                await asyncio.wait_for(pending.settled.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise InteractionTimeout(
                    f"the bot deferred {what!r} but never followed up within {timeout}s"
                ) from None
        return InteractionResult(self.sb, pending)

    # -- the bot's side -------------------------------------------------------------------
    def _get(self, interaction_id: int, token: str) -> PendingInteraction:
        pending = self.pending.get(interaction_id)
        if pending is None or pending.token != token:
            raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        return pending

    def webhook(self, application_id: int, token: str) -> PendingInteraction:
        pending = self.by_token.get(token)
        if pending is None or pending.bot.application_id != application_id or not pending.acked:
            raise ApiError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        if self.sb.now() - pending.created > self.sb.interaction_token_ttl:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return pending

    def callback(
        self, interaction_id: int, token: str, body: JSON, files: list[AttachmentRecord]
    ) -> JSON:
        pending = self._get(interaction_id, token)
        if pending.acked:
            raise ApiError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        if self.sb.now() - pending.created > self.sb.interaction_ack_deadline:
            raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        rtype = int(body.get("type", 0))
        data = body.get("data") or {}
        self._validate(pending, rtype, data, files)
        pending.acked = True
        pending.response_type = rtype
        flags = int(data.get("flags") or 0)
        pending.ephemeral = bool(flags & EPHEMERAL) and rtype in (CHANNEL_MESSAGE, DEFERRED_MESSAGE)
        channel = self.sb.channels[pending.channel_id]
        message: MessageRecord | None = None
        store = self.sb.store
        if rtype in (CHANNEL_MESSAGE, DEFERRED_MESSAGE):
            message = store.create(
                channel,
                pending.bot.user_id,
                data if rtype == CHANNEL_MESSAGE else {"flags": flags},
                files,
                application_id=pending.bot.application_id,
                interaction_id=pending.id,
                interaction_meta=self._metadata(pending),
                msg_type=20 if pending.type == APPLICATION_COMMAND else 0,
                extra_flags=LOADING if rtype == DEFERRED_MESSAGE else 0,
            )
            pending.original_message_id = message.id
            if rtype == CHANNEL_MESSAGE:
                pending.settled.set()
        elif rtype in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            pending.original_message_id = pending.source_message_id
            if pending.source_message_id is not None:
                pending.edits_before = store.by_id[pending.source_message_id].edits
            if rtype == UPDATE_MESSAGE and pending.source_message_id is not None:
                message = store.edit(store.by_id[pending.source_message_id], data, files)
                pending.settled.set()
        elif rtype == AUTOCOMPLETE_RESULT:
            pending.choices = list(data.get("choices") or [])
            pending.settled.set()
        elif rtype == MODAL:
            pending.modal = data
            pending.settled.set()
        self.sb.interaction_responses.append(
            InteractionResponseRecord(pending.id, rtype, data, pending.ephemeral, files)
        )
        pending.responded.set()
        self.sb.notify()
        callback: JSON = {
            "interaction": {
                "id": str(pending.id),
                "type": pending.type,
                "response_message_loading": rtype == DEFERRED_MESSAGE,
                "response_message_ephemeral": pending.ephemeral,
            }
        }
        if message is not None:
            callback["interaction"]["response_message_id"] = str(message.id)
            callback["resource"] = {"type": rtype, "message": store.payload(message)}
        else:
            callback["resource"] = {"type": rtype}
        return callback

    def _validate(self, p: PendingInteraction, rtype: int, data: JSON, files: list[Any]) -> None:
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_MESSAGE,
                DEFERRED_UPDATE,
                UPDATE_MESSAGE,
                MODAL,
            },
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
        }[p.type]
        if rtype not in allowed or (rtype in (6, 7) and p.source_message_id is None):
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": "Interaction response type is invalid for this interaction.",  # noqa: E501
                            }
                        ]
                    }
                },
            )
        if rtype == CHANNEL_MESSAGE:
            limits.check_message(data, prefix="data.")
            limits.check_not_empty(data, n_files=len(files))
        elif rtype == UPDATE_MESSAGE:
            limits.check_message(data, prefix="data.")
        elif rtype == AUTOCOMPLETE_RESULT:
            limits.check_autocomplete(data)
        elif rtype == MODAL:
            limits.check_modal(data)

    def _metadata(self, p: PendingInteraction) -> JSON:
        user = self.sb.users[p.user_id]
        meta: JSON = {
            "id": str(p.id),
            "type": p.type,
            "user": user.to_payload(),
            "authorizing_integration_owners": {"0": str(p.guild_id)},
        }
        name = p.payload["data"].get("name")
        if name:
            meta["name"] = name
        return meta

    # -- webhook side: followups and @original --------------------------------------------
    def followup(
        self, pending: PendingInteraction, body: JSON, files: list[AttachmentRecord]
    ) -> MessageRecord:
        limits.check_message(body)
        limits.check_not_empty(body, n_files=len(files))
        store = self.sb.store
        orig = store.by_id.get(pending.original_message_id or 0)
        if pending.response_type == DEFERRED_MESSAGE and orig is not None and orig.flags & LOADING:
            # Discord turns the first followup after a "thinking" defer into the original.
            rec = store.edit(orig, body, files)
        else:
            rec = store.create(
                self.sb.channels[pending.channel_id],
                pending.bot.user_id,
                body,
                files,
                application_id=pending.bot.application_id,
                interaction_id=pending.id,
                interaction_meta=self._metadata(pending),
                msg_type=19,
            )
            pending.followups.append(rec)
        pending.settled.set()
        self.sb.notify()
        return rec

    def target(self, pending: PendingInteraction, message_id: str) -> MessageRecord:
        mid = pending.original_message_id if message_id == "@original" else int(message_id)
        rec = self.sb.store.by_id.get(mid or 0)
        if rec is None or rec.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return rec

    def edit(
        self,
        pending: PendingInteraction,
        message_id: str,
        body: JSON,
        files: list[AttachmentRecord],
    ) -> MessageRecord:
        rec = self.target(pending, message_id)
        limits.check_message(body)
        out = self.sb.store.edit(rec, body, files)
        pending.settled.set()
        self.sb.notify()
        return out
