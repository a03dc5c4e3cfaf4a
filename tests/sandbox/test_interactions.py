"""Slash commands, autocomplete, buttons, selects and modals, driven by scripted members."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands

from sandbox import InteractionTimeout, RecordingClient, SandboxError, run_client

World = Any


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Your thoughts", custom_id="thoughts"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class Panel(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.going = 0

    @discord.ui.button(label="Going", custom_id="rsvp:going")
    async def going_button(
        self, interaction: discord.Interaction, _: discord.ui.Button[Any]
    ) -> None:
        self.going += 1
        await interaction.response.edit_message(content=f"{self.going} going")

    @discord.ui.button(label="Feedback", custom_id="feedback")
    async def feedback(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @discord.ui.button(label="Later", custom_id="later")
    async def later(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()
        await interaction.followup.send("noted for later", ephemeral=True)

    @discord.ui.select(
        custom_id="pick",
        placeholder="Pick",
        max_values=2,
        options=[discord.SelectOption(label=x, value=x) for x in ("a", "b", "c")],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        await interaction.response.send_message("picked " + ",".join(select.values), ephemeral=True)


def build_bot(guild_id: int) -> RecordingClient:
    bot = RecordingClient()
    guild = discord.Object(guild_id)
    tree = bot.tree
    hearth = app_commands.Group(name="hearth", description="Hearth things")

    @hearth.command(name="about", description="About")
    async def about(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Hearth: depth over reach")

    tree.add_command(hearth, guild=guild)

    @tree.command(name="echo", description="Echo typed options", guild=guild)
    async def echo(
        interaction: discord.Interaction,
        text: str,
        count: int,
        ratio: float,
        loud: bool,
        who: discord.Member,
        where: discord.TextChannel,
        role: discord.Role,
    ) -> None:
        parts = [text, str(count * 2), f"{ratio:.1f}", str(loud), who.name, where.name, role.name]
        await interaction.response.send_message(" ".join(parts), ephemeral=True)

    @tree.command(name="slow", description="Defers then follows up", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        data = io.BytesIO(b"chart-bytes")
        await interaction.followup.send("here is your chart", file=discord.File(data, "chart.png"))
        await interaction.followup.send("and one more thing")

    @tree.command(name="panel", description="Post the panel", guild=guild)
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("0 going", view=Panel())

    @tree.command(name="close", description="Close a poll", guild=guild)
    async def close(interaction: discord.Interaction, poll: str) -> None:
        await interaction.response.send_message(f"closed {poll}", ephemeral=True)

    @close.autocomplete("poll")
    async def close_auto(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["tea or coffee", "team names", "movie night"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @tree.context_menu(name="Wave at", guild=guild)
    async def wave(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"waved at {member.name}", ephemeral=True)

    @tree.context_menu(name="Quote", guild=guild)
    async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(
            f"quoted {message.id}", file=discord.File(io.BytesIO(b"q"), "quote.txt")
        )

    @tree.command(name="people", description="Pick people", guild=guild)
    async def people(interaction: discord.Interaction) -> None:
        view = discord.ui.View()
        select: discord.ui.UserSelect[Any] = discord.ui.UserSelect(custom_id="people", max_values=2)

        async def chosen(inter: discord.Interaction) -> None:
            names = sorted(u.name for u in select.values)
            await inter.response.send_message("chose " + ",".join(names), ephemeral=True)

        select.callback = chosen  # type: ignore[method-assign]
        view.add_item(select)
        await interaction.response.send_message("who?", view=view)

    @tree.command(name="lifecycle", description="Edits and deletes its answers", guild=guild)
    async def lifecycle(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="working...")
        original = await interaction.original_response()
        extra = await interaction.followup.send("temp", ephemeral=True, wait=True)
        await extra.edit(content="temp (edited)")
        await interaction.edit_original_response(
            content=f"done {original.id}", attachments=[discord.File(io.BytesIO(b"r"), "r.txt")]
        )

    bot.add_view(Panel())
    return bot


@pytest.fixture
async def bot(world: World) -> AsyncIterator[RecordingClient]:
    client = build_bot(world.guild.id)
    async with run_client(world.sb, client, world.app.token):
        await client.tree.sync(guild=discord.Object(world.guild.id))
        yield client


async def test_slash_group_public(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("hearth about")
    assert resp.type == 4 and not resp.ephemeral and not resp.deferred
    assert resp.content == "Hearth: depth over reach"
    assert resp.message is not None and resp.message in world.sb.messages(world.general)
    assert world.sb.interaction_responses[-1].type == 4


async def test_slash_typed_options_ephemeral(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash(
        "echo",
        text="hey",
        count=21,
        ratio=0.25,
        loud=True,
        who=world.bob,
        where=world.general,
        role=world.mod,
    )
    assert resp.ephemeral and resp.message is None
    assert resp.content == "hey 42 0.2 True bob general Moderator"
    assert not [m for m in world.sb.messages(world.general) if m.content.startswith("hey")]


async def test_deferred_followup_with_file(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("slow")
    assert resp.deferred and resp.type == 5
    assert resp.content == "here is your chart"
    assert [(f.filename, f.bytes) for f in resp.files] == [("chart.png", b"chart-bytes")]
    (extra,) = await resp.wait_followups(1)
    assert extra.content == "and one more thing"


async def test_autocomplete(world: World, bot: RecordingClient) -> None:
    choices = await world.alice.autocomplete("close", "poll", "te")
    assert [c["value"] for c in choices] == ["tea or coffee", "team names"]


async def test_button_select_modal(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("panel")
    msg = resp.message
    assert msg is not None
    clicked = await world.bob.click(msg, "Going")
    assert clicked.type == 7 and msg.content == "1 going" and msg.edits == 1
    picked = await world.alice.select(msg, ["a", "c"])
    assert picked.content == "picked a,c" and picked.ephemeral
    later = await world.alice.click(msg, "later")
    assert later.deferred and later.followups[0].content == "noted for later"
    shown = await world.alice.click(msg, "Feedback")
    assert shown.type == 9 and shown.modal is not None and shown.modal["title"] == "Feedback"
    done = await world.alice.submit_modal(shown, {"thoughts": "lovely"})
    assert done.content == "thanks: lovely"


async def test_unknown_command_lists_registered(world: World, bot: RecordingClient) -> None:
    with pytest.raises(SandboxError, match="hearth about"):
        await world.alice.slash("nope")
    with pytest.raises(SandboxError, match="unknown option"):
        await world.alice.slash("close", pole="x")


async def test_bot_that_never_answers_times_out(world: World, bot: RecordingClient) -> None:
    @bot.tree.command(
        name="mute", description="Never answers", guild=discord.Object(world.guild.id)
    )
    async def mute(interaction: discord.Interaction) -> None:
        return None

    await bot.tree.sync(guild=discord.Object(world.guild.id))
    with pytest.raises(InteractionTimeout):
        await world.alice.slash("mute", answer_timeout=0.3)


async def test_context_menus_and_file_in_initial_response(
    world: World, bot: RecordingClient
) -> None:
    waved = await world.alice.user_command("Wave at", world.bob)
    assert waved.content == "waved at bob" and waved.ephemeral
    msg = await world.bob.say(world.general, "quotable")
    quoted = await world.alice.message_command("Quote", msg)
    assert quoted.content == f"quoted {msg.id}" and not quoted.ephemeral
    assert [(f.filename, f.bytes) for f in quoted.files] == [("quote.txt", b"q")]


async def test_user_select(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("people")
    assert resp.message is not None
    chosen = await world.alice.select(resp.message, [world.bob, world.alice])
    assert chosen.content == "chose alice,bob"


async def test_concurrent_clicks_each_get_an_answer(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("panel")
    msg = resp.message
    assert msg is not None
    members = [world.guild.add_member(f"fan{i}") for i in range(8)]
    results = await asyncio.gather(*(m.click(msg, "Going") for m in members))
    assert all(r.type == 7 for r in results)
    assert msg.content == "8 going" and msg.edits == 8


async def test_original_response_lifecycle(world: World, bot: RecordingClient) -> None:
    resp = await world.alice.slash("lifecycle")
    assert resp.ephemeral and resp.deferred
    await world.sb.wait_for(lambda: resp.content.startswith("done"))
    original = resp.original
    assert original is not None and resp.content == f"done {original.id}"
    assert [f.filename for f in resp.files] == ["r.txt"]
    (extra,) = resp.followups
    assert extra.content == "temp (edited)" and extra.edits == 1 and extra.ephemeral
    assert world.sb.messages(world.general) == []  # ephemeral: nothing public
