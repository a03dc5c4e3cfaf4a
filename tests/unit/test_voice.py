"""Voice minutes: alone and deafened time do not count; moves and shutdown end sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.voice import VoiceTracker

G, VC, VC2 = 1, 10, 20
T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def move(
    t: VoiceTracker, user: int, channel: int | None, m: float, deaf: bool = False, bot: bool = False
) -> dict[int, int]:
    records = t.update(
        guild_id=G, user_id=user, channel_id=channel, deafened=deaf, is_bot=bot, at=at(m)
    )
    return {r.user_id: r.amount for r in records}


def test_time_alone_does_not_count() -> None:
    t = VoiceTracker()
    assert move(t, 1, VC, 0) == {}
    move(t, 2, VC, 10)  # alice alone for 10 minutes: not counted
    assert move(t, 2, None, 40) == {2: 30 * 60}  # together 10 -> 40
    assert move(t, 1, None, 50) == {1: 30 * 60}  # alone again 40 -> 50: not counted


def test_deafened_time_and_bots_do_not_count() -> None:
    t = VoiceTracker()
    move(t, 1, VC, 0)
    move(t, 99, VC, 0, bot=True)  # a music bot is not company
    move(t, 2, VC, 5)
    move(t, 2, VC, 15, deaf=True)  # bob deafens at 15
    move(t, 2, VC, 25, deaf=False)  # and comes back at 25
    ended = move(t, 1, None, 30)
    assert ended == {1: 30 * 60 - 5 * 60}  # alice counted 5 -> 30 while bob was there
    assert move(t, 2, None, 30) == {2: (10 + 5) * 60}  # bob: 5-15 and 25-30
    assert move(t, 99, None, 30) == {}


def test_moving_channels_ends_a_session_and_shutdown_flushes() -> None:
    t = VoiceTracker()
    move(t, 1, VC, 0)
    move(t, 2, VC, 0)
    move(t, 3, VC2, 0)
    assert move(t, 1, VC2, 20) == {1: 20 * 60}  # moved: session in VC ends
    records = t.close_all(at(30))
    # bob was with alice 0 -> 20 then alone; alice and carol together in VC2 20 -> 30
    assert sorted((r.user_id, r.amount) for r in records) == [(1, 600), (2, 1200), (3, 600)]
