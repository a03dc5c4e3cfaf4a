"""The REST API under ``/api/v10``: routing, auth, recording, faults, and the handlers.

Every response is JSON with Content-Type exactly ``application/json`` (discord.py only parses
that), errors use Discord's ``{"code", "message", "errors"}`` shape, and every request is
recorded in ``sb.requests`` with its route template so tests can assert on what the bot did.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from .errors import ApiError
from .rest_apps import AppRoutes
from .rest_base import Ctx, Handler, RouteDef, compile_route, json_response
from .rest_guilds import GuildRoutes
from .rest_messages import MessageRoutes
from .state import AttachmentRecord, BotApp, RequestRecord

if TYPE_CHECKING:
    from .server import Sandbox


class RestApi(AppRoutes, GuildRoutes, MessageRoutes):
    """Routing, auth, recording and faults (one per sandbox); handlers live in the mixins."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.routes: list[RouteDef] = []
        self._register()

    def add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        self.routes.append(RouteDef(method, template, compile_route(template), handler, auth))

    # -- plumbing -------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        raw_path = request.raw_path.split("?", 1)[0].split("/api/v10", 1)[1]
        route, params = self._match(request.method, path)
        rec = RequestRecord(
            request.method, route.template if route else path, raw_path, query=dict(request.query)
        )
        self.sb.requests.append(rec)
        try:
            body, files = await self._read_body(request)
            rec.json, rec.files = body, files
            delay, fault = self.sb.faults.pick(request.method, rec.route, raw_path)
            if delay:
                await asyncio.sleep(delay)
            if fault is not None:
                return self._finish(rec, self._fault_response(fault))
            if route is None:
                raise ApiError(404, 0, "404: Not Found")
            ctx = Ctx(request, params, body, files)
            if route.auth:
                ctx.bot = self._auth(request)
                rec.bot_user_id = ctx.bot.user_id
            result = await route.handler(ctx)
            if result is None:
                response = web.Response(status=204)
            elif isinstance(result, web.Response):
                response = result
            else:
                response = json_response(result)
        except ApiError as e:
            response = json_response(e.body(), e.status)
        return self._finish(rec, response)

    def _finish(self, rec: RequestRecord, response: web.Response) -> web.Response:
        rec.status = response.status
        response.headers.setdefault("X-RateLimit-Limit", "50")
        response.headers.setdefault("X-RateLimit-Remaining", "49")
        response.headers.setdefault("X-RateLimit-Reset-After", "1.0")
        response.headers.setdefault(
            "X-RateLimit-Bucket", "sandbox-" + str(abs(hash(rec.route)) % 10**8)
        )
        self.sb.notify()
        return response

    def _fault_response(self, fault: Any) -> web.Response:
        if fault.kind == "rate_limit":
            body = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": fault.global_,
                "code": 0,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, int(fault.retry_after + 0.999))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(fault.retry_after),
                "X-RateLimit-Scope": "global" if fault.global_ else "user",
            }
            if fault.global_:
                headers["X-RateLimit-Global"] = "true"
            return json_response(body, 429, headers)
        return json_response({"message": "500: Internal Server Error", "code": 0}, fault.status)

    def _match(self, method: str, path: str) -> tuple[RouteDef | None, dict[str, Any]]:
        for r in self.routes:
            if r.method != method:
                continue
            m = r.regex.match(path)
            if m:
                params: dict[str, Any] = {}
                for k, v in m.groupdict().items():
                    params[k] = int(v) if k.endswith("_id") else unquote(v)
                return r, params
        return None, {}

    def _auth(self, request: web.Request) -> BotApp:
        header = request.headers.get("Authorization", "")
        bot = self.sb.bots.get(header.removeprefix("Bot ")) if header.startswith("Bot ") else None
        if bot is None:
            raise ApiError(401, 0, "401: Unauthorized")
        return bot

    async def _read_body(self, request: web.Request) -> tuple[Any, list[AttachmentRecord]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype == "multipart/form-data":
            payload: Any = {}
            raw_files: dict[int, tuple[str, bytes, str | None]] = {}
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                elif part.name and part.name.startswith("files["):
                    idx = int(part.name[6:-1])
                    data = await part.read()
                    raw_files[idx] = (
                        part.filename or f"file{idx}",
                        bytes(data),
                        part.headers.get("Content-Type"),
                    )
            # interaction callbacks nest the message (and its attachment list) under "data"
            listed = payload.get("attachments") or (payload.get("data") or {}).get("attachments")
            meta = {
                int(a["id"]): a
                for a in (listed or [])
                if str(a.get("id", "")).isdigit() and int(a["id"]) < 10**6
            }
            files = []
            for idx in sorted(raw_files):
                name, data, ct = raw_files[idx]
                info = meta.get(idx, {})
                att = AttachmentRecord(
                    self.sb.ids.next(),
                    info.get("filename") or name,
                    data,
                    ct,
                    info.get("description"),
                )
                self.sb.attachments[att.id] = att
                files.append(att)
            return payload, files
        text = await request.text()
        if not text:
            return None, []
        try:
            return json.loads(text), []
        except json.JSONDecodeError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def attachment(self, request: web.Request) -> web.Response:
        att = self.sb.attachments.get(int(request.match_info["id"]))
        if att is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=att.data, content_type=att.content_type or "application/octet-stream"
        )

    # -- registration ---------------------------------------------------------------------
    def _register(self) -> None:
        a = self.add
        a("GET", "/gateway", self.get_gateway, auth=False)
        a("GET", "/gateway/bot", self.get_gateway_bot)
        a("GET", "/users/@me", self.get_me)
        a("GET", "/oauth2/applications/@me", self.get_application)
        a("GET", "/applications/@me", self.get_application)
        a("GET", "/users/{user_id}", self.get_user)
        a("POST", "/users/@me/channels", self.create_dm)
        a("GET", "/users/@me/guilds", self.my_guilds)
        a("GET", "/channels/{channel_id}", self.get_channel)
        a("PATCH", "/channels/{channel_id}", self.edit_channel)
        a("DELETE", "/channels/{channel_id}", self.delete_channel)
        a("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message)
        a("POST", "/channels/{channel_id}/threads", self.thread_without_message)
        a("PUT", "/channels/{channel_id}/thread-members/@me", self.join_thread)
        a("DELETE", "/channels/{channel_id}/thread-members/@me", self.leave_thread)
        a("PUT", "/channels/{channel_id}/thread-members/{user_id}", self.add_thread_member)
        a("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self.remove_thread_member)
        a("GET", "/channels/{channel_id}/thread-members", self.thread_members)
        a("GET", "/guilds/{guild_id}/threads/active", self.active_threads)
        a("POST", "/channels/{channel_id}/typing", self.typing)
        a("GET", "/channels/{channel_id}/messages/pins", self.get_pins)
        a("GET", "/channels/{channel_id}/pins", self.get_pins)
        a("PUT", "/channels/{channel_id}/messages/pins/{message_id}", self.pin)
        a("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", self.unpin)
        a("PUT", "/channels/{channel_id}/pins/{message_id}", self.pin)
        a("DELETE", "/channels/{channel_id}/pins/{message_id}", self.unpin)
        a("POST", "/channels/{channel_id}/messages", self.create_message)
        a("GET", "/channels/{channel_id}/messages", self.get_messages)
        a("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        a("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        a("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        a("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete)
        reactions = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"
        a("PUT", reactions + "/@me", self.add_reaction)
        a("DELETE", reactions + "/@me", self.remove_own_reaction)
        a("DELETE", reactions + "/{user_id}", self.remove_reaction)
        a("GET", reactions, self.get_reactions)
        a("POST", "/channels/{channel_id}/invites", self.create_invite)
        a("GET", "/channels/{channel_id}/invites", self.channel_invites)
        a("GET", "/guilds/{guild_id}/invites", self.guild_invites)
        a("GET", "/invites/{code}", self.get_invite)
        a("DELETE", "/invites/{code}", self.delete_invite)
        a("GET", "/guilds/{guild_id}", self.get_guild)
        a("GET", "/guilds/{guild_id}/channels", self.get_channels)
        a("POST", "/guilds/{guild_id}/channels", self.create_channel)
        a("GET", "/guilds/{guild_id}/roles", self.get_roles)
        a("POST", "/guilds/{guild_id}/roles", self.create_role)
        a("PATCH", "/guilds/{guild_id}/roles/{role_id}", self.edit_role)
        a("DELETE", "/guilds/{guild_id}/roles/{role_id}", self.delete_role)
        a("GET", "/guilds/{guild_id}/members", self.list_members)
        a("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        a("PATCH", "/guilds/{guild_id}/members/@me", self.edit_me)
        a("PATCH", "/guilds/{guild_id}/members/{user_id}", self.edit_member)
        a("DELETE", "/guilds/{guild_id}/members/{user_id}", self.kick_member)
        a("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_role)
        a("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_role)
        events = "/guilds/{guild_id}/scheduled-events"
        a("GET", events, self.list_events)
        a("POST", events, self.create_event)
        a("GET", events + "/{event_id}", self.get_event)
        a("PATCH", events + "/{event_id}", self.edit_event)
        a("DELETE", events + "/{event_id}", self.delete_event)
        a("GET", events + "/{event_id}/users", self.event_users)
        cmds = "/applications/{application_id}"
        a("GET", cmds + "/commands", self.get_commands)
        a("PUT", cmds + "/commands", self.put_commands)
        a("POST", cmds + "/commands", self.upsert_command)
        a("GET", cmds + "/guilds/{guild_id}/commands", self.get_commands)
        a("PUT", cmds + "/guilds/{guild_id}/commands", self.put_commands)
        a("POST", cmds + "/guilds/{guild_id}/commands", self.upsert_command)
        a("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, auth=False)
        hook = "/webhooks/{application_id}/{token}"
        a("POST", hook, self.followup, auth=False)
        a("GET", hook + "/messages/{message_ref}", self.get_webhook_message, auth=False)
        a("PATCH", hook + "/messages/{message_ref}", self.edit_webhook_message, auth=False)
        a("DELETE", hook + "/messages/{message_ref}", self.delete_webhook_message, auth=False)
