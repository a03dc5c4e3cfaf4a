"""Identity, gateway discovery, application commands, interaction callbacks and webhooks."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .errors import UNKNOWN_USER, ApiError, form_error, not_found
from .rest_base import Ctx, RestBase, json_response
from .state import JSON


class AppRoutes(RestBase):
    """Handlers for who-am-I, /gateway, app commands, interaction callbacks and webhooks."""

    # -- gateway / identity ---------------------------------------------------------------
    async def get_gateway(self, ctx: Ctx) -> JSON:
        return {"url": self.sb.gateway_url}

    async def get_gateway_bot(self, ctx: Ctx) -> JSON:
        return {
            "url": self.sb.gateway_url,
            "shards": self.sb.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def get_me(self, ctx: Ctx) -> JSON:
        return {
            **ctx.me.user.to_payload(),
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
        }

    async def get_application(self, ctx: Ctx) -> JSON:
        return ctx.me.application_payload()

    async def get_user(self, ctx: Ctx) -> JSON:
        user = self.sb.users.get(ctx.params["user_id"])
        if user is None:
            raise not_found(UNKNOWN_USER, "User")
        return user.to_payload()

    async def my_guilds(self, ctx: Ctx) -> list[JSON]:
        return [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "owner": False,
                "permissions": str(g.permissions_for(ctx.me.user_id)),
                "features": [],
            }
            for g in self.sb.guilds.values()
            if ctx.me.user_id in g.bot_ids
        ]

    async def create_dm(self, ctx: Ctx) -> JSON:
        uid = int(ctx.json.get("recipient_id", 0))
        if uid not in self.sb.users:
            raise form_error(
                [("recipient_id", "NUMBER_TYPE_COERCE", f'Value "{uid}" is not snowflake.')]
            )
        return self.sb.channel_payload(self.sb.dm_channel(ctx.me.user_id, uid))

    # -- application commands -------------------------------------------------------------
    def _command_list(self, ctx: Ctx) -> list[JSON]:
        bot = ctx.me
        if ctx.params["application_id"] != bot.application_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = ctx.params.get("guild_id")
        if gid is None:
            return bot.global_commands
        self.guild(gid, bot)
        return bot.guild_commands.setdefault(gid, [])

    async def get_commands(self, ctx: Ctx) -> list[JSON]:
        return self._command_list(ctx)

    def _validate_commands(self, cmds: list[JSON]) -> None:
        problems = []
        for i, c in enumerate(cmds):
            name = str(c.get("name") or "")
            chat_input = int(c.get("type", 1)) == 1
            valid = (
                re.fullmatch(r"[-_'\w]{1,32}", name) is not None and name == name.lower()
                if chat_input
                else 1 <= len(name) <= 32
            )
            if not valid:
                problems.append(
                    (f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
                )
            if int(c.get("type", 1)) == 1 and not 1 <= len(str(c.get("description") or "")) <= 100:
                problems.append(
                    (
                        f"{i}.description",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                )
            if len(c.get("options") or []) > 25:
                problems.append(
                    (f"{i}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                )
        if len(cmds) > 100:
            problems.append(("_", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
        if problems:
            raise form_error(problems)

    async def put_commands(self, ctx: Ctx) -> list[JSON]:
        current = self._command_list(ctx)
        body = ctx.body if isinstance(ctx.body, list) else []
        self._validate_commands(body)
        gid = ctx.params.get("guild_id")
        new = [self.sb.interactions.normalize_command(ctx.me, c, gid, current) for c in body]
        current[:] = new
        self.sb.notify()
        return new

    async def upsert_command(self, ctx: Ctx) -> web.Response:
        current = self._command_list(ctx)
        self._validate_commands([ctx.json])
        gid = ctx.params.get("guild_id")
        cmd = self.sb.interactions.normalize_command(ctx.me, ctx.json, gid, current)
        existed = any(c["id"] == cmd["id"] for c in current)
        current[:] = [c for c in current if c["id"] != cmd["id"]] + [cmd]
        return json_response(cmd, 200 if existed else 201)

    # -- interactions & webhooks ----------------------------------------------------------
    async def callback(self, ctx: Ctx) -> Any:
        result = self.sb.interactions.callback(
            ctx.params["interaction_id"], ctx.params["token"], ctx.json, ctx.files
        )
        if ctx.query("with_response") in ("true", "1", "True"):
            return result
        return None

    async def followup(self, ctx: Ctx) -> Any:
        pending = self.sb.interactions.webhook(ctx.params["application_id"], ctx.params["token"])
        rec = self.sb.interactions.followup(pending, ctx.json, ctx.files)
        if ctx.query("wait") in ("true", "1", "True"):
            return self.sb.store.payload(rec)
        return None

    async def get_webhook_message(self, ctx: Ctx) -> JSON:
        pending = self.sb.interactions.webhook(ctx.params["application_id"], ctx.params["token"])
        return self.sb.store.payload(
            self.sb.interactions.target(pending, ctx.params["message_ref"])
        )

    async def edit_webhook_message(self, ctx: Ctx) -> JSON:
        pending = self.sb.interactions.webhook(ctx.params["application_id"], ctx.params["token"])
        rec = self.sb.interactions.edit(pending, ctx.params["message_ref"], ctx.json, ctx.files)
        return self.sb.store.payload(rec)

    async def delete_webhook_message(self, ctx: Ctx) -> None:
        pending = self.sb.interactions.webhook(ctx.params["application_id"], ctx.params["token"])
        self.sb.store.delete(self.sb.interactions.target(pending, ctx.params["message_ref"]))
