"""/hearth about and /hearth health, as members and moderators meet them."""

from __future__ import annotations

from tests.e2e.conftest import World


async def test_about_answers_ephemerally_with_version_and_backend(world: World) -> None:
    reply = await world.alice.slash("hearth about")
    assert reply.ephemeral
    embed = reply.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "Hearth"
    assert fields["Version"] == "0.1.0"
    assert fields["Database"] == world.db.backend


async def test_health_is_for_moderators_only(world: World) -> None:
    refused = await world.alice.slash("hearth health")
    assert refused.ephemeral and "moderators" in refused.content.lower()
    assert "This interaction failed" not in refused.content

    reply = await world.mod.slash("hearth health")
    assert reply.ephemeral
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert "reachable" in fields["Database"]
    assert "pending" in fields["Scheduled actions"]


async def test_owner_counts_as_moderator_and_sets_the_time_zone(world: World) -> None:
    bad = await world.owner.slash("hearth timezone", zone="Mars/Olympus")
    assert bad.ephemeral and "IANA" in bad.content
    ok = await world.owner.slash("hearth timezone", zone="Europe/Berlin")
    assert ok.ephemeral and "Europe/Berlin" in ok.content
    choices = await world.owner.autocomplete("hearth timezone", "zone", "berl")
    assert "Europe/Berlin" in [c["value"] for c in choices]


async def test_an_unexpected_error_gives_a_reference_not_a_failed_interaction(
    world: World,
    monkeypatch,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    from services import guilds

    async def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(guilds, "set_timezone", broken)
    reply = await world.owner.slash("hearth timezone", zone="Europe/Paris")
    assert reply.ephemeral
    assert "Something went wrong on my side" in reply.content
    reference = reply.content.split("`")[1]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert f"guild={world.guild.id}" in logged[0].getMessage()
    assert "command=hearth timezone" in logged[0].getMessage()


async def test_hearth_resumes_after_a_dropped_connection(world: World) -> None:
    session_before = world.bot.ws.session_id if world.bot.ws else None
    await world.sb.drop_gateway(world.app)
    # Something happens while Hearth is disconnected; it must arrive on resume.
    await world.alice.say(world.general, "did I miss anything?")
    await world.sb.wait_until_connected(world.app, timeout=15)
    await world.settle()
    assert world.bot.ws is not None and world.bot.ws.session_id == session_before
    from sqlalchemy import func, select

    from models import ActivityEvent

    async with world.db.reading() as s:
        count = await s.scalar(select(func.count()).where(ActivityEvent.user_id == world.alice.id))
    assert count == 1
