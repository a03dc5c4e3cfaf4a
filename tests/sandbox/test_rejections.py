"""Table-driven: what Discord rejects, the sandbox rejects with the same status and code, and
discord.py raises the matching exception class with that ``.code``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
import discord.webhook.async_ as webhook_async
import pytest
from discord import app_commands
from discord.http import MultipartParameters, Route

from sandbox import InteractionTimeout, RecordingClient, run_client

World = Any


@dataclass
class Case:
    name: str
    action: Callable[[World, RecordingClient], Awaitable[Any]]
    exc: type[discord.HTTPException]
    status: int
    code: int


def _post(client: RecordingClient, channel_id: int, payload: dict[str, Any]) -> Awaitable[Any]:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    return client.http.request(route, json=payload)


def _send(**kwargs: Any) -> Callable[[World, RecordingClient], Awaitable[Any]]:
    async def act(world: World, client: RecordingClient) -> Any:
        channel = client.get_channel(world.general.id)
        return await channel.send(**kwargs)  # type: ignore[union-attr]

    return act


def _raw(payload: dict[str, Any]) -> Callable[[World, RecordingClient], Awaitable[Any]]:
    async def act(world: World, client: RecordingClient) -> Any:
        return await _post(client, world.general.id, payload)

    return act


def _button(cid: str) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "x", "custom_id": cid}


def _rows(n_rows: int, per_row: int) -> dict[str, Any]:
    rows = [
        {"type": 1, "components": [_button(f"b{r}-{i}") for i in range(per_row)]}
        for r in range(n_rows)
    ]
    return {"content": "x", "components": rows}


async def _role_above_bot(world: World, client: RecordingClient) -> Any:
    admin = world.guild.create_role("Admin", permissions=0, position=99)
    await client.http.add_role(world.guild.id, world.alice.id, admin.id)


async def _no_manage_roles(world: World, client: RecordingClient) -> Any:
    world.guild.add_bot(world.app, permissions=discord.Permissions.text().value)
    await client.http.add_role(world.guild.id, world.alice.id, world.mod.id)


async def _no_send(world: World, client: RecordingClient) -> Any:
    ch = world.guild.create_channel("announcements", bot_can_send=False)
    await world.sb.wait_for(lambda: client.get_channel(ch.id))
    await client.get_channel(ch.id).send("hello")  # type: ignore[union-attr]


async def _dm_closed(world: World, client: RecordingClient) -> Any:
    shy = world.guild.add_member("shy", accepts_dms=False)
    user = await client.fetch_user(shy.id)
    await user.send("hi")


async def _unknown_channel(world: World, client: RecordingClient) -> Any:
    await client.fetch_channel(12345678901234567)


async def _unknown_message(world: World, client: RecordingClient) -> Any:
    await client.get_channel(world.general.id).fetch_message(12345678901234567)  # type: ignore[union-attr]


async def _unknown_member(world: World, client: RecordingClient) -> Any:
    await client.get_guild(world.guild.id).fetch_member(12345678901234567)  # type: ignore[union-attr]


def _embed(**kw: Any) -> discord.Embed:
    return discord.Embed(**kw)


def _fields(n: int, name: str = "n", value: str = "v") -> discord.Embed:
    e = discord.Embed(title="t")
    for _ in range(n):
        e.add_field(name=name, value=value)
    return e


def _poll(answers: int = 2, hours: int = 24) -> Callable[[World, RecordingClient], Awaitable[Any]]:
    poll = discord.Poll("Tea or coffee?", duration=dt.timedelta(hours=hours))
    for i in range(answers):
        poll.add_answer(text=f"answer {i}")
    return _send(poll=poll)


async def _event_name_too_long(world: World, client: RecordingClient) -> Any:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    await client.get_guild(world.guild.id).create_scheduled_event(  # type: ignore[union-attr]
        name="n" * 101,
        start_time=start,
        end_time=start + dt.timedelta(hours=1),
        entity_type=discord.EntityType.external,
        location="Online",
        privacy_level=discord.PrivacyLevel.guild_only,
    )


FORM = (discord.HTTPException, 400, 50035)
CASES = [
    Case("content>2000", _send(content="x" * 2001), *FORM),
    Case("embeds>10", _raw({"embeds": [{"title": "t"}] * 11}), *FORM),
    Case("title>256", _send(embed=_embed(title="t" * 257)), *FORM),
    Case("description>4096", _send(embed=_embed(description="d" * 4097)), *FORM),
    Case("fields>25", _send(embed=_fields(26)), *FORM),
    Case("field name>256", _send(embed=_fields(1, name="n" * 257)), *FORM),
    Case("field value>1024", _send(embed=_fields(1, value="v" * 1025)), *FORM),
    Case("footer>2048", _send(embed=_embed(title="t").set_footer(text="f" * 2049)), *FORM),
    Case("author>256", _send(embed=_embed(title="t").set_author(name="a" * 257)), *FORM),
    Case("embed total>6000", _send(embeds=[_embed(description="d" * 3500)] * 2), *FORM),
    Case(
        "custom_id>100",
        _raw({"components": [{"type": 1, "components": [_button("c" * 101)]}]}),
        *FORM,
    ),
    Case(
        "select options>25",
        _raw(
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {
                                "type": 3,
                                "custom_id": "s",
                                "options": [{"label": str(i), "value": str(i)} for i in range(26)],
                            }
                        ],
                    }
                ]
            }
        ),
        *FORM,
    ),
    Case("action rows>5", _raw(_rows(6, 1)), *FORM),
    Case("buttons per row>5", _raw(_rows(1, 6)), *FORM),
    Case("poll answers>10", _poll(answers=11), *FORM),
    Case("poll duration>768h", _poll(hours=769), *FORM),
    Case("event name>100", _event_name_too_long, *FORM),
    Case("empty message", _raw({}), discord.HTTPException, 400, 50006),
    Case("role at/above bot", _role_above_bot, discord.Forbidden, 403, 50013),
    Case("no Manage Roles", _no_manage_roles, discord.Forbidden, 403, 50013),
    Case("no Send Messages", _no_send, discord.Forbidden, 403, 50013),
    Case("DMs closed", _dm_closed, discord.Forbidden, 403, 50007),
    Case("unknown channel", _unknown_channel, discord.NotFound, 404, 10003),
    Case("unknown message", _unknown_message, discord.NotFound, 404, 10008),
    Case("unknown member", _unknown_member, discord.NotFound, 404, 10007),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_rest_rejections(world: World, client: RecordingClient, case: Case) -> None:
    with pytest.raises(case.exc) as info:
        await case.action(world, client)
    assert info.value.status == case.status and info.value.code == case.code
    assert world.sb.requests[-1].status == case.status


# -- interaction rejections: the bot's handler attempts the bad answer and records the error --


async def raw_callback(interaction: discord.Interaction, payload: dict[str, Any]) -> None:
    """Post a callback body discord.py itself would refuse to build (limits it doesn't check)."""
    adapter = webhook_async.async_context.get()
    await adapter.create_interaction_response(
        interaction.id,
        interaction.token,
        session=interaction._session,
        proxy=None,
        proxy_auth=None,
        params=MultipartParameters(payload=payload, multipart=None, files=None),
    )


def _text_input(i: int) -> dict[str, Any]:
    return {"type": 1, "components": [{"type": 4, "custom_id": f"t{i}", "label": "l", "style": 1}]}


@pytest.fixture
async def probe_bot(world: World) -> AsyncIterator[tuple[RecordingClient, dict[str, Exception]]]:
    client = RecordingClient()
    errors: dict[str, Exception] = {}
    sb = world.sb

    async def attempt(interaction: discord.Interaction, case: str) -> None:
        if case == "late":
            sb.advance_clock(3.5)
            await interaction.response.send_message("too late")
        elif case == "twice":
            await interaction.response.send_message("first")
            interaction.response._response_type = None
            await interaction.response.send_message("second")
        elif case == "modal title>45":
            await raw_callback(
                interaction,
                {
                    "type": 9,
                    "data": {"custom_id": "m", "title": "t" * 46, "components": [_text_input(0)]},
                },
            )
        elif case == "modal components>5":
            await raw_callback(
                interaction,
                {
                    "type": 9,
                    "data": {
                        "custom_id": "m",
                        "title": "t",
                        "components": [_text_input(i) for i in range(6)],
                    },
                },
            )
        elif case == "token expired":
            await interaction.response.defer()
            sb.advance_clock(15 * 60 + 1)
            await interaction.followup.send("hours later")

    @client.tree.command(name="probe", description="p", guild=discord.Object(world.guild.id))
    async def probe(interaction: discord.Interaction, case: str) -> None:
        try:
            await attempt(interaction, case)
        except discord.HTTPException as e:
            errors[case] = e
            if not interaction.response.is_done() and case != "twice":
                await interaction.response.send_message("recovered", ephemeral=True)

    @probe.autocomplete("case")
    async def auto(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            choices = [{"name": str(i), "value": str(i)} for i in range(26)]
            await raw_callback(interaction, {"type": 8, "data": {"choices": choices}})
        except discord.HTTPException as e:
            errors["autocomplete>25"] = e
        return []

    async with run_client(sb, client, world.app.token):
        await client.tree.sync(guild=discord.Object(world.guild.id))
        yield client, errors


INTERACTION_CASES = [
    ("late", discord.NotFound, 404, 10062),
    ("twice", discord.HTTPException, 400, 40060),
    ("modal title>45", discord.HTTPException, 400, 50035),
    ("modal components>5", discord.HTTPException, 400, 50035),
    ("token expired", discord.HTTPException, 401, 50027),
]


@pytest.mark.parametrize(
    ("case", "exc", "status", "code"), INTERACTION_CASES, ids=[c[0] for c in INTERACTION_CASES]
)
async def test_interaction_rejections(
    world: World,
    probe_bot: tuple[RecordingClient, dict[str, Exception]],
    case: str,
    exc: type[Exception],
    status: int,
    code: int,
) -> None:
    _, errors = probe_bot
    with contextlib.suppress(InteractionTimeout):
        await world.alice.slash("probe", case=case, answer_timeout=0.3)
    err = await world.sb.wait_for(lambda: errors.get(case), timeout=3)
    assert type(err) is exc
    assert isinstance(err, discord.HTTPException) and (err.status, err.code) == (status, code)


async def test_autocomplete_too_many_choices(
    world: World, probe_bot: tuple[RecordingClient, dict[str, Exception]]
) -> None:
    _, errors = probe_bot
    with contextlib.suppress(Exception):
        await world.alice.autocomplete("probe", "case", "x", answer_timeout=0.3)
    err = await world.sb.wait_for(lambda: errors.get("autocomplete>25"), timeout=3)
    assert isinstance(err, discord.HTTPException) and (err.status, err.code) == (400, 50035)


async def test_everyone_pings_recorded(world: World, client: RecordingClient) -> None:
    channel = client.get_channel(world.general.id)
    await channel.send("@everyone party!")  # type: ignore[union-attr]
    await channel.send("@here quiet", allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
    await channel.send("@here loud", allowed_mentions=discord.AllowedMentions(everyone=True))  # type: ignore[union-attr]
    await world.alice.say(world.general, "@everyone from a member")
    assert [m.content for m in world.sb.everyone_pings] == [
        "@everyone party!",
        "@here loud",
        "@everyone from a member",
    ]
