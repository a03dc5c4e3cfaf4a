"""``python bot.py demo``: a small community in the sandbox, Hearth running against it, and a
scripted story printed as a transcript. No token, no network; about half a minute.

Each feature adds its scene here, so the demo always shows what Hearth can do today.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox import ChannelRecord, InteractionResult, MessageRecord, Sandbox, ScriptedMember
from sandbox.hearth_runner import MovableClock, running_hearth, sandbox_settings

COMMUNITY = "The Pottery Nook"
CREATOR = "maya"
MODERATOR = "sam"
MEMBERS = [
    "alice",
    "bruno",
    "chen",
    "dara",
    "eli",
    "fatima",
    "gus",
    "hana",
    "ivan",
    "jo",
    "kofi",
    "lena",
    "marco",
    "nia",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "umar",
    "vera",
    "wen",
    "xavi",
    "yara",
    "zane",
    "amara",
    "ben",
    "cleo",
    "dev",
    "emma",
    "finn",
    "gia",
    "hugo",
    "isla",
    "jamal",
    "kira",
    "liam",
]
WIDTH = 96


class Transcript:
    """Prints the story as it happens: who did what, and what Hearth answered."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _out(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def scene(self, title: str) -> None:
        self._out()
        self._out(f"── {title} " + "─" * max(0, WIDTH - len(title) - 4))

    def note(self, text: str) -> None:
        for line in textwrap.wrap(text, WIDTH - 4):
            self._out(f"   {line}")

    def act(self, who: ScriptedMember, what: str) -> None:
        self._out(f" ▸ {who.name}: {what}")

    def show(self, what: str, msg: MessageRecord) -> None:
        self._out(f"   {what} (everyone sees this):")
        for line in render(msg.content, msg.embeds):
            self._out(f"     {line}")
        buttons = [c.get("label") for row in msg.components for c in row.get("components", [])]
        if any(buttons):
            disabled = all(c.get("disabled") for row in msg.components for c in row["components"])
            state = " (disabled)" if disabled else ""
            self._out(f"     [ {' ] [ '.join(b for b in buttons if b)} ]{state}")
        for attachment in msg.attachments:
            self._out(f"     📎 {attachment.filename} ({len(attachment.data):,} bytes)")

    def answer(self, who: ScriptedMember, result: InteractionResult) -> None:
        audience = f"only {who.name} sees this" if result.ephemeral else "everyone sees this"
        self._out(f"   Hearth ({audience}):")
        for line in render(result.content, result.embeds):
            self._out(f"     {line}")


# Mentions shown by name, as a Discord client shows them (filled in by run_demo).
NAMES: dict[str, str] = {}


def _plain(text: str) -> str:
    text = re.sub(r"<t:(\d+):[a-zA-Z]>", lambda m: _ts(int(m.group(1))), text)
    text = re.sub(r"<(@&|@|#)(\d+)>", lambda m: NAMES.get(m.group(2), m.group(0)), text)
    return text.replace("**", "")


def _ts(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%a %d %b %H:%M UTC")


def render(content: str, embeds: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    if content:
        lines += textwrap.wrap(_plain(content), WIDTH - 8)
    for embed in embeds:
        if embed.get("title"):
            lines.append(f"┃ {_plain(embed['title'])}")
        if embed.get("description"):
            for part in _plain(embed["description"]).splitlines():
                lines += [f"┃ {w}" for w in textwrap.wrap(part, WIDTH - 10) or [""]]
        for field in embed.get("fields", []):
            value = _plain(str(field["value"])).replace("\n", " · ")
            lines += [f"┃ {_plain(field['name'])}: {w}" for w in textwrap.wrap(value, WIDTH - 24)]
        if embed.get("footer", {}).get("text"):
            lines.append(f"┃ {_plain(embed['footer']['text'])}")
    return lines or ["(no visible answer)"]


async def replay_history(
    members: list[ScriptedMember], channels: list[Any], *, weeks: int, now: datetime, seed: int = 7
) -> int:
    """Weeks of uneven, realistic chatter replayed "in the past" in a second or two.

    A few regulars talk most days, many drop in now and then, some drift away in the last
    fortnight: the shape a real micro-community has.
    """
    rng = random.Random(seed)
    posted = 0
    start = now - timedelta(weeks=weeks)
    for index, member in enumerate(members):
        regular = index < 6
        drifting = 6 <= index < 10
        days_active = rng.randint(4, 6) if regular else rng.randint(0, 2)
        for week in range(weeks):
            if drifting and week >= weeks - 2:
                continue
            for _day in rng.sample(range(7), k=min(7, days_active)):
                at = start + timedelta(
                    weeks=week, days=_day, hours=rng.randint(8, 22), minutes=rng.randint(0, 59)
                )
                if at >= now or at < member.member.joined_at:
                    continue  # nobody talks before they join
                for burst in range(rng.randint(1, 4)):
                    await member.say(
                        rng.choice(channels), "…", at=at + timedelta(minutes=burst * 3)
                    )
                    posted += 1
    return posted


async def run_demo(output_dir: Path, *, database_url: str | None = None) -> int:
    """Play the story; returns the process exit status."""
    started = time.perf_counter()
    t = Transcript()
    with tempfile.TemporaryDirectory(prefix="hearth-demo-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
        async with Sandbox() as sb:
            app = sb.create_bot("Hearth")
            guild = sb.create_guild(COMMUNITY, owner_name=CREATOR)
            general = guild.create_channel("general")
            wip = guild.create_channel("works-in-progress")
            studio = guild.create_channel("Studio", type="voice")
            mod_role = guild.create_role("Moderator", permissions=1 << 5)  # Manage Server
            creator = guild.owner
            mod = guild.add_member(MODERATOR, roles=[mod_role])
            now = datetime.now(UTC)
            people = [
                guild.add_member(name, joined_at=now - timedelta(days=90 - i * 2))
                for i, name in enumerate(MEMBERS)
            ]
            alice, bruno, chen = people[0], people[1], people[2]
            clock = MovableClock()
            settings = sandbox_settings(sb, app, url, dev_guild=guild)
            NAMES.update({str(m.id): f"@{m.name}" for m in [creator, mod, *people]})
            NAMES.update({str(ch.id): f"#{ch.name}" for ch in (general, wip, studio)})
            NAMES[str(mod_role.id)] = "@Moderator"

            t.scene(f"{COMMUNITY}: a sandbox community of {len(people) + 2} people")
            t.note(
                f"{CREATOR} is the creator, {MODERATOR} a moderator, and {len(people)} members. "
                f"The sandbox is a Discord-compatible server on {sb.api_base}; Hearth connects to "
                "it exactly as it connects to Discord."
            )
            async with running_hearth(sb, settings, clock=clock) as bot:
                t.note(f"Hearth is connected ({bot.db.backend} database).")

                t.scene("A member asks what Hearth is")
                t.act(alice, "/hearth about")
                t.answer(alice, await alice.slash("hearth about"))

                t.scene("The creator sets the community's time zone")
                t.act(creator, "/hearth timezone zone:Mars/Olympus")
                t.answer(creator, await creator.slash("hearth timezone", zone="Mars/Olympus"))
                t.act(creator, "/hearth timezone zone:Europe/Berlin")
                t.answer(creator, await creator.slash("hearth timezone", zone="Europe/Berlin"))

                t.scene("Eight weeks of community life, replayed in seconds")
                posted = await replay_history(people, [general, wip], weeks=8, now=now)
                t.note(
                    f"{posted} messages from {len(people)} members over 8 weeks: six regulars, "
                    "many occasional voices, four who drifted away in the last two weeks. "
                    "Hearth counts who, where and when, never what was said."
                )
                first = await alice.say(general, "glaze test results are in!")
                for fan in (bruno, chen, mod):
                    await fan.react(first, "🔥")
                t.act(bruno, "reacts 🔥 to alice's post (so do chen and sam)")
                await alice.join_voice(studio)
                await bruno.join_voice(studio)
                clock.advance(minutes=45)
                await bruno.leave_voice()
                await alice.leave_voice()
                t.act(alice, "spends 45 minutes in the Studio voice channel with bruno")
                await settle(bot, creator)

                cast = Cast(sb, guild.id, creator, mod, people, general, clock, output_dir)
                for scene in EXTRA_SCENES:
                    await scene(t, bot, cast)

                await asyncio.sleep(0.5)  # the scheduler catches up with the story's clock
                t.scene("A member tries a moderator command")
                t.act(alice, "/hearth health")
                t.answer(alice, await alice.slash("hearth health"))
                t.act(mod, "/hearth health")
                t.answer(mod, await mod.slash("hearth health"))
            if sb.everyone_pings:
                t.note(f"WARNING: {len(sb.everyone_pings)} @everyone pings were recorded")
                return 1

    await asyncio.to_thread(_write, output_dir / "transcript.txt", "\n".join(t.lines) + "\n")
    t.scene("Done")
    t.note(
        f"The story took {time.perf_counter() - started:.1f} s. The transcript is in "
        f"{output_dir / 'transcript.txt'}."
    )
    return 0


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def settle(bot: Any, someone: ScriptedMember) -> None:
    """Wait until Hearth has handled everything so far and written its activity."""
    await someone.slash("hearth about")
    while bot.recorder.buffered:
        await bot.recorder.flush()


@dataclass
class Cast:
    """Who and what every scene can use."""

    sb: Sandbox
    sb_guild_id: int
    creator: ScriptedMember
    mod: ScriptedMember
    people: list[ScriptedMember]
    general: ChannelRecord
    clock: MovableClock
    output_dir: Path


async def _stats_scene(t: Transcript, bot: Any, c: Cast) -> None:
    if "cogs.stats" not in bot.extensions:
        return
    alice = c.people[0]
    t.scene("How is the community really doing?")
    t.act(c.creator, "/stats server")
    t.answer(c.creator, await c.creator.slash("stats server"))
    t.act(alice, "/stats me")
    t.answer(alice, await alice.slash("stats me"))


WORKSHOPS = ["Raku firing", "Wheel throwing basics", "Glaze chemistry", "Kintsugi repair"]


async def _poll_scene(t: Transcript, bot: Any, c: Cast) -> None:
    if "cogs.polls" not in bot.extensions:
        return
    alice, bruno = c.people[0], c.people[1]
    t.scene("The community as a focus group: an anonymous poll")
    options = " | ".join(WORKSHOPS)
    t.act(
        c.creator,
        f"/poll create question:Which workshop should we run in January? options:{options} "
        "duration:2d anonymous:True",
    )
    created = await c.creator.slash(
        "poll create",
        question="Which workshop should we run in January?",
        options=options,
        duration="2d",
        anonymous=True,
    )
    t.answer(c.creator, created)
    posted = c.sb.bot_messages(c.general)
    poll_msg = [m for m in posted if m.embeds and "Poll #" in m.embeds[0]["title"]][-1]
    t.show("The poll", poll_msg)

    t.act(alice, "clicks [ Kintsugi repair ]")
    t.answer(alice, await alice.click(poll_msg, "Kintsugi repair"))
    rng = random.Random(11)
    voters = c.people[2:26]
    clicks = [v.click(poll_msg, rng.choice(WORKSHOPS)) for v in voters]
    clicks += [bruno.click(poll_msg, "Raku firing") for _ in range(4)]
    await asyncio.gather(*clicks)
    t.note(
        f"{len(voters) + 1} more members vote within the same second; bruno clicks Raku firing "
        "four times in a row, and it counts once. Hearth edits the public message at most once "
        "every 2 seconds while votes pour in."
    )
    t.act(bruno, "changes his mind: clicks [ Kintsugi repair ]")
    t.answer(bruno, await bruno.click(poll_msg, "Kintsugi repair"))
    await asyncio.sleep(2.5)  # the debounced edit lands
    t.show("The poll, a few seconds later", poll_msg)

    poll_id = created.content.split("#", 1)[1].split(" ", 1)[0]
    t.act(alice, f"/poll close poll:{poll_id}")
    t.answer(alice, await alice.slash("poll close", poll=poll_id))
    t.act(c.creator, f"/poll close poll:{poll_id}")
    t.answer(c.creator, await c.creator.slash("poll close", poll=poll_id))
    t.show("The closed poll", poll_msg)
    for attachment in poll_msg.attachments:
        path = c.output_dir / attachment.filename
        await asyncio.to_thread(_write_bytes, path, attachment.data)
        t.note(f"The results chart is saved as {path}.")
    t.note(
        "Anonymous means anonymous: the votes were stored under keyed hashes while the poll was "
        "open, and at close only the totals were kept."
    )


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _event_scene(t: Transcript, bot: Any, c: Cast) -> None:
    if "cogs.events" not in bot.extensions:
        return
    alice, bruno, chen, dara = c.people[:4]
    studio = next(ch for ch in c.sb.channels.values() if ch.name == "Studio")
    t.scene("An event with a waitlist, and attendance that is real")
    t.act(
        c.creator,
        "/event create title:Raku firing night start:tomorrow 19:00 capacity:3 channel:Studio "
        "duration:90m",
    )
    created = await c.creator.slash(
        "event create",
        title="Raku firing night",
        start="tomorrow 19:00",
        capacity=3,
        channel=studio,
        duration="90m",
        description="Bring one bisque-fired piece. We fire in the yard, then talk it through.",
    )
    t.answer(c.creator, created)
    posted = c.sb.bot_messages(c.general)
    event_msg = [m for m in posted if m.embeds and "RSVPs" in str(m.embeds[0]["fields"])][-1]
    for who in (alice, bruno, chen):
        await who.click(event_msg, "Going")
    t.note("alice, bruno and chen click Going: the three seats are taken.")
    t.act(dara, "clicks [ Going ]")
    waiting = await dara.click(event_msg, "Going")
    t.answer(dara, waiting)
    t.act(dara, "clicks [ Yes, remind me by DM ]")
    t.answer(dara, await dara.click(waiting.original, "Yes, remind me by DM"))
    t.act(bruno, "clicks [ Can't go ]")
    t.answer(bruno, await bruno.click(event_msg, "Can't go"))
    dm = await c.sb.wait_for(lambda: dara.dms()[-1] if dara.dms() else None, 10)
    t.note(f"dara moves up from the waitlist at once, and Hearth DMs her: {_plain(dm.content)}")
    await asyncio.sleep(2.2)  # the debounced edit
    t.show("The event", event_msg)

    event_id = created.content.split("#", 1)[1].split(" ", 1)[0]
    async with bot.db.reading() as session:
        from services.events import get_event

        event = await get_event(session, guild_id=c.sb_guild_id, event_id=int(event_id))
    c.clock.advance(seconds=(event.starts_at - timedelta(minutes=5) - c.clock()).total_seconds())
    await asyncio.sleep(0.6)  # the attendance window opens 10 minutes before the start
    for who in (alice, dara, chen):
        await who.join_voice(studio)
    await settle(bot, c.creator)
    c.clock.advance(minutes=3)
    await chen.leave_voice()
    await settle(bot, c.creator)
    c.clock.advance(minutes=40)
    await alice.leave_voice()
    await dara.leave_voice()
    await settle(bot, c.creator)
    t.note(
        "The evening comes. alice and dara spend 40 minutes in the Studio voice channel; chen "
        "drops in for 3 minutes, which does not count as attending (10 minutes does)."
    )
    c.clock.advance(seconds=(event.ends_at + timedelta(minutes=31) - c.clock()).total_seconds())
    await c.sb.wait_for(lambda: event_msg.embeds[0]["title"].startswith("Ended") or None, 10)
    t.show("The event, after it ended", event_msg)
    t.act(c.mod, f"/event attendees event:{event_id}")
    t.answer(c.mod, await c.mod.slash("event attendees", event=event_id))
    t.act(alice, f"/event ics event:{event_id}")
    ics = await alice.slash("event ics", event=event_id)
    t.answer(alice, ics)
    for attachment in ics.attachments:
        path = c.output_dir / attachment.filename
        await asyncio.to_thread(_write_bytes, path, attachment.data)
        t.note(f"The calendar file is saved as {path}.")


async def _digest_scene(t: Transcript, bot: Any, c: Cast) -> None:
    if "cogs.digest" not in bot.extensions:
        return
    from services.digest import get_schedule, next_send

    t.scene("Monday morning: the creator's weekly digest")
    t.act(c.creator, "/digest preview")
    preview = await c.creator.slash("digest preview")
    t.note(
        f"Only {c.creator.name} sees the preview ({preview.embeds[0]['title']}); nothing is sent."
    )
    async with bot.db.reading() as session:
        schedule = await get_schedule(session, c.sb_guild_id)
    due, _week = next_send(schedule, c.clock())

    def digests() -> list[Any]:
        return [m for m in c.creator.dms() if m.embeds and "your week" in m.embeds[0]["title"]]

    if digests():
        t.note(
            "(While the story's clock moved through the week, last Monday's digest went out on "
            "time as well.)"
        )
    before = len(digests())
    posted = await replay_history(c.people, [c.general], weeks=1, now=due, seed=11)
    await settle(bot, c.creator)
    t.note(f"The rest of the week goes by: {posted} more messages, mostly from the regulars.")
    c.clock.advance(seconds=(due - c.clock()).total_seconds() + 60)
    t.note(f"The clock reaches {schedule.describe()}: the digest goes out by DM.")
    dm = (await c.sb.wait_for(lambda: digests() if len(digests()) > before else None, 20))[-1]
    t._out(f"   What {c.creator.name} receives (a DM):")
    for line in render(dm.content, dm.embeds):
        t._out(f"     {line}")
    markdown = _embed_markdown(dm.embeds[0])
    files = [(c.output_dir / "digest.md", markdown.encode())]
    for attachment in dm.attachments:
        files.append((c.output_dir / attachment.filename, attachment.data))
        markdown += f"\n![chart]({attachment.filename})\n"
        files[0] = (c.output_dir / "digest.md", markdown.encode())
    for path, data in files:
        await asyncio.to_thread(_write_bytes, path, data)
    t.note(
        "What the creator received is saved as "
        + " and ".join(str(path) for path, _ in files)
        + "."
    )


def _embed_markdown(embed: dict[str, Any]) -> str:
    """A received embed as Markdown, names and times as a reader sees them."""
    lines = [f"# {_plain(embed.get('title', ''))}", ""]
    if embed.get("description"):
        lines += [_plain(embed["description"]), ""]
    for field in embed.get("fields", []):
        lines += [
            f"**{_plain(field['name'])}**  ",
            _plain(str(field["value"])).replace("\n", "  \n"),
            "",
        ]
    if embed.get("footer", {}).get("text"):
        lines += [f"_{embed['footer']['text']}_", ""]
    return "\n".join(lines)


EXTRA_SCENES = [_stats_scene, _poll_scene, _event_scene, _digest_scene]
