"""/poll create | close | results | list | export, the vote buttons, and the scheduled close.

Glue only: parse the interaction, one transaction through services.polls, then talk to
Discord. The public message is edited at most once per poll every 2 seconds while votes
arrive (DebouncedRefresher); the close always writes the exact final result.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from cogs._bot import Hearth, moderator_only
from cogs._checks import guild_member, require_bot_can_post
from cogs._refresh import DebouncedRefresher
from cogs.polls import render
from cogs.polls.views import DYNAMIC_ITEMS
from models import ActivityKind
from services import polls
from services.activity import ActivityRecord
from services.errors import InvalidInputError, NotFoundError
from services.scheduling import Action, LatePolicy

log = logging.getLogger(__name__)

EDIT_INTERVAL = 2.0  # seconds between edits of one poll message (Discord's rate limits)
RESULTS = [
    app_commands.Choice(name="live: tallies visible while open", value="live"),
    app_commands.Choice(name="at close: hidden until it closes (no herding)", value="at_close"),
]
POSTING_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "attach_files")


def eligible_count(guild: discord.Guild | None, role_id: int | None) -> int | None:
    """Members (not bots) who may vote: everyone, or holders of the poll's role."""
    if guild is None:
        return None
    if role_id is None:
        return sum(1 for m in guild.members if not m.bot)
    role = guild.get_role(role_id)
    return 0 if role is None else sum(1 for m in role.members if not m.bot)


class PollsCog(commands.Cog):
    poll = app_commands.Group(
        name="poll",
        description="Ask the community: polls with live or hidden results",
        guild_only=True,
    )

    def __init__(self, bot: Hearth) -> None:
        self.bot = bot
        self.updater = DebouncedRefresher(self._live_poll, self.edit_message, EDIT_INTERVAL)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.actions.register(polls.CLOSE_ACTION, self._close_due, late_policy=LatePolicy.RUN)
        if not self.bot.settings.secret_key:
            log.warning("SECRET_KEY is not set: anonymous polls are refused until it is")

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.actions.unregister(polls.CLOSE_ACTION)
        await self.updater.close()

    @property
    def vote_secret(self) -> bytes | None:
        key = self.bot.settings.secret_key
        return key.reveal().encode() if key else None

    # -- reading and editing ---------------------------------------------------------------

    async def _live_poll(self, guild_id: int, poll_id: int) -> polls.PollSnapshot | None:
        """The poll to redraw, or None when a live update must not touch it (closed, gone)."""
        try:
            poll = await self.read_poll(guild_id, poll_id)
        except NotFoundError:
            return None
        return None if poll.is_closed or poll.message_id is None else poll

    async def read_poll(self, guild_id: int, poll_id: int) -> polls.PollSnapshot:
        async with self.bot.db.reading() as session:
            return await polls.get_poll(session, guild_id=guild_id, poll_id=poll_id)

    def _channel(self, poll: polls.PollSnapshot) -> discord.abc.Messageable | None:
        channel = self.bot.get_channel(poll.channel_id)
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def edit_message(self, poll: polls.PollSnapshot) -> None:
        """Show the poll as it is now (live tallies) on its public message."""
        channel = self._channel(poll)
        if channel is None or poll.message_id is None:
            return
        eligible = eligible_count(self.bot.get_guild(poll.guild_id), poll.voter_role_id)
        await channel.get_partial_message(poll.message_id).edit(  # type: ignore[attr-defined]
            embed=render.poll_embed(poll, eligible=eligible), view=render.poll_view(poll)
        )

    async def publish_final(self, poll: polls.PollSnapshot) -> bool:
        """The closed poll on its message: final counts, winner(s), chart, disabled buttons.

        Returns False when the message is gone or not editable (the poll is closed anyway).
        """
        channel = self._channel(poll)
        if channel is None or poll.message_id is None:
            return False
        png = await asyncio.to_thread(render.chart_png, poll)
        name = render.chart_filename(poll)
        async with self.updater.lock(poll.id):
            try:
                await channel.get_partial_message(poll.message_id).edit(  # type: ignore[attr-defined]
                    embed=render.poll_embed(poll, eligible=poll.eligible, chart_file=name),
                    view=render.poll_view(poll),
                    attachments=[discord.File(io.BytesIO(png), filename=name)],
                )
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("poll %s closed; its message could not be edited: %s", poll.id, exc)
                return False
        self.updater.forget(poll.id)
        return True

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Edits still waiting for their 2 s when the last process stopped were lost with it:
        # redraw every open poll once (debounced like any other update).
        async with self.bot.db.reading() as session:
            found = await polls.open_poll_ids(session, guild_ids=[g.id for g in self.bot.guilds])
        for guild_id, poll_id in found:
            self.updater.touch(guild_id, poll_id)

    # -- the scheduled close ---------------------------------------------------------------

    async def _close_due(self, action: Action) -> None:
        """Close a poll at its deadline; idempotent (a retry re-publishes the same result)."""
        if action.guild_id is None or action.entity_id is None:
            return
        try:
            current = await self.read_poll(action.guild_id, action.entity_id)
        except NotFoundError:
            return  # discarded before it was posted
        eligible = eligible_count(self.bot.get_guild(action.guild_id), current.voter_role_id)
        async with self.bot.db.writing() as session:
            closed, _ = await polls.close_poll(
                session,
                guild_id=action.guild_id,
                poll_id=action.entity_id,
                now=self.bot.clock(),
                eligible=eligible,
            )
        await self.publish_final(closed)

    # -- voting ------------------------------------------------------------------------------

    async def vote(
        self,
        interaction: discord.Interaction,
        poll_id: int,
        *,
        add: int | None = None,
        replace: Sequence[int] | None = None,
    ) -> None:
        guild_id, member = guild_member(interaction)
        async with self.bot.db.writing() as session:
            receipt = await polls.cast_vote(
                session,
                guild_id=guild_id,
                poll_id=poll_id,
                user_id=member.id,
                role_ids=[r.id for r in member.roles],
                now=self.bot.clock(),
                vote_secret=self.vote_secret,
                add=add,
                replace=replace,
            )
        await interaction.response.send_message(render.receipt_text(receipt), ephemeral=True)
        if receipt.changed:
            self.updater.touch(guild_id, poll_id)
        if receipt.first_vote:  # after the answer: a full buffer must not delay the receipt
            await self._record_vote(interaction, receipt.poll)

    async def _record_vote(
        self, interaction: discord.Interaction, poll: polls.PollSnapshot
    ) -> None:
        # An anonymous poll's vote is recorded without the poll's channel: the activity says
        # "voted in a poll", never in which.
        record = ActivityRecord(
            guild_id=poll.guild_id,
            user_id=interaction.user.id,
            kind=ActivityKind.POLL_VOTE,
            occurred_at=interaction.created_at,
            channel_id=None if poll.anonymous else poll.channel_id,
        )
        if not self.bot.recorder.offer(record):
            await self.bot.recorder.put(record)

    async def clear(self, interaction: discord.Interaction, poll_id: int) -> None:
        guild_id, member = guild_member(interaction)
        async with self.bot.db.writing() as session:
            _poll, had_vote = await polls.clear_vote(
                session,
                guild_id=guild_id,
                poll_id=poll_id,
                user_id=member.id,
                now=self.bot.clock(),
                vote_secret=self.vote_secret,
            )
        text = "Your vote is withdrawn." if had_vote else "You hadn't voted in this poll."
        await interaction.response.send_message(text, ephemeral=True)
        if had_vote:
            self.updater.touch(guild_id, poll_id)

    # -- commands ------------------------------------------------------------------------------

    @poll.command(name="create", description="Ask the community a question")
    @app_commands.describe(
        question="What you want to ask (up to 300 characters)",
        options="2 to 25 options separated by | like: Pizza | Tacos | Sushi",
        choices="How many options each member may pick (default 1)",
        duration="How long it stays open, like 30m, 2h, 3d or 1w (default 24h, at most 32d)",
        anonymous="Nobody can see who voted for what (default: no)",
        results="Show tallies while open, or only at close (default: live)",
        tier="Only members with this role may vote",
        channel="Where to post it (default: here)",
    )
    @app_commands.choices(results=RESULTS)
    async def create(
        self,
        interaction: discord.Interaction,
        question: str,
        options: str,
        choices: int | None = None,
        duration: str | None = None,
        anonymous: bool = False,
        results: app_commands.Choice[str] | None = None,
        tier: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        guild_id, member = guild_member(interaction)
        assert interaction.guild is not None
        role_id = None if tier is None or tier.is_default() else tier.id
        spec = polls.build_spec(
            question=question,
            options=options,
            choices=choices,
            duration=duration,
            anonymous=anonymous,
            hide_results=results is not None and results.value == "at_close",
            voter_role_id=role_id,
        )
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel | discord.Thread):
            raise InvalidInputError("Polls go in a server text channel: pick one with `channel`.")
        _check_can_post(target, interaction.guild.me, member)
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = self.bot.clock()
        async with self.bot.db.writing() as session:
            poll = await polls.create_poll(
                session,
                guild_id=guild_id,
                channel_id=target.id,
                creator_id=member.id,
                spec=spec,
                now=now,
                vote_secret=self.vote_secret,
            )
        eligible = eligible_count(interaction.guild, poll.voter_role_id)
        try:
            message = await target.send(
                embed=render.poll_embed(poll, eligible=eligible), view=render.poll_view(poll)
            )
        except discord.HTTPException:
            async with self.bot.db.writing() as session:
                await polls.discard_poll(session, poll_id=poll.id, now=now)
            raise
        async with self.bot.db.writing() as session:
            await polls.attach_message(session, poll_id=poll.id, message_id=message.id)
        await interaction.followup.send(
            f"Poll #{poll.id} is up in {target.mention}: {message.jump_url}\n"
            f"It closes {render.ts(poll.closes_at, 'R')}; you or a moderator can close it "
            f"earlier with `/poll close`.",
            ephemeral=True,
        )

    @poll.command(name="close", description="Close a poll now (its creator or a moderator)")
    @app_commands.describe(poll="The poll (type to search)")
    async def close(self, interaction: discord.Interaction, poll: str) -> None:
        guild_id, member = guild_member(interaction)
        poll_id = polls.parse_poll_reference(poll)
        current = await self.read_poll(guild_id, poll_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.db.writing() as session:
            closed, newly = await polls.close_poll(
                session,
                guild_id=guild_id,
                poll_id=poll_id,
                now=self.bot.clock(),
                closed_by=member.id,
                is_moderator=await self.bot.is_moderator(member),
                eligible=eligible_count(interaction.guild, current.voter_role_id),
            )
        if not newly:
            await interaction.followup.send(
                f"Poll #{poll_id} was already closed "
                f"{render.ts(closed.closed_at or closed.closes_at, 'R')}.",
                ephemeral=True,
            )
            return
        shown = await self.publish_final(closed)
        text = f"Poll #{poll_id} is closed. {render.winner_line(closed)}"
        if not shown:
            text += (
                "\nI couldn't update the poll message (deleted, or I lost access); "
                "`/poll results` shows the result."
            )
        await interaction.followup.send(text, ephemeral=True)

    @poll.command(name="results", description="See a poll's results")
    @app_commands.describe(poll="The poll (type to search)")
    async def results(self, interaction: discord.Interaction, poll: str) -> None:
        guild_id = guild_member(interaction)[0]
        current = await self.read_poll(guild_id, polls.parse_poll_reference(poll))
        if not current.results_visible:
            eligible = eligible_count(interaction.guild, current.voter_role_id)
            await interaction.response.send_message(
                f"Poll #{current.id}'s results are hidden until it closes "
                f"{render.ts(current.closes_at, 'R')}. So far: "
                f"{render.turnout(current, eligible)}.",
                ephemeral=True,
            )
            return
        eligible = (
            current.eligible
            if current.is_closed
            else eligible_count(interaction.guild, current.voter_role_id)
        )
        if not current.is_closed:
            await interaction.response.send_message(
                embed=render.poll_embed(current, eligible=eligible), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        png = await asyncio.to_thread(render.chart_png, current)
        name = render.chart_filename(current)
        await interaction.followup.send(
            embed=render.poll_embed(current, eligible=eligible, chart_file=name),
            file=discord.File(io.BytesIO(png), filename=name),
            ephemeral=True,
        )

    @poll.command(name="list", description="Open polls in this server")
    async def list_(self, interaction: discord.Interaction) -> None:
        guild_id = guild_member(interaction)[0]
        async with self.bot.db.reading() as session:
            open_polls = await polls.list_open_polls(session, guild_id=guild_id)
        if not open_polls:
            await interaction.response.send_message(
                "No polls are open right now. Start one with `/poll create`.", ephemeral=True
            )
            return
        lines = []
        for p in open_polls[:20]:
            link = f"https://discord.com/channels/{p.guild_id}/{p.channel_id}/{p.message_id}"
            question = discord.utils.escape_markdown(p.question)
            if len(question) > 90:
                question = question[:89] + "…"
            lines.append(
                f"**#{p.id}** [{question}]({link})\n"
                f"{render.plural(p.voters, 'voter')} · closes {render.ts(p.closes_at, 'R')}"
            )
        more = len(open_polls) - 20
        if more > 0:
            lines.append(f"…and {more} more.")
        embed = discord.Embed(
            title=f"Open polls ({len(open_polls)})",
            description="\n\n".join(lines)[:4096],
            colour=render.COLOUR_OPEN,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @poll.command(name="export", description="Moderators: a poll's results as CSV")
    @app_commands.describe(poll="The poll (type to search)")
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only()
    async def export(self, interaction: discord.Interaction, poll: str) -> None:
        guild_id = guild_member(interaction)[0]
        poll_id = polls.parse_poll_reference(poll)
        async with self.bot.db.reading() as session:
            current = await polls.get_poll(session, guild_id=guild_id, poll_id=poll_id)
            ballots = await polls.public_ballots(session, guild_id=guild_id, poll_id=poll_id)
        files = [
            discord.File(
                io.BytesIO(render.results_csv(current)), filename=f"poll-{poll_id}-results.csv"
            )
        ]
        note = "Totals per option."
        if current.anonymous:
            note += " This poll is anonymous: there is no list of who voted for what."
        else:
            guild = interaction.guild
            rows = []
            for b in ballots:
                m = guild.get_member(b.user_id) if guild else None
                rows.append((b.user_id, m.display_name if m else "(left the server)", b.picks))
            files.append(
                discord.File(
                    io.BytesIO(render.ballots_csv(current, rows)),
                    filename=f"poll-{poll_id}-ballots.csv",
                )
            )
            note += " And who picked what, one row per pick."
        await interaction.response.send_message(note, files=files, ephemeral=True)

    @close.autocomplete("poll")
    @results.autocomplete("poll")
    @export.autocomplete("poll")
    async def _poll_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        async with self.bot.db.reading() as session:
            found = await polls.search_polls(session, guild_id=interaction.guild_id, text=current)
        choices = []
        for p in found:
            state = "open" if p.open else "closed"
            name = f"#{p.id} · {p.question}"
            suffix = f" ({state})"
            if len(name) + len(suffix) > 100:
                name = name[: 99 - len(suffix)] + "…"
            choices.append(app_commands.Choice(name=name + suffix, value=str(p.id)))
        return choices


def _check_can_post(
    target: discord.TextChannel | discord.Thread, me: discord.Member, member: discord.Member
) -> None:
    require_bot_can_post(target, me, POSTING_PERMISSIONS, "polls")
    theirs = target.permissions_for(member)
    if not (theirs.view_channel and theirs.send_messages):
        raise InvalidInputError(
            f"You can't post in {target.mention} yourself, so you can't start a poll there."
        )
