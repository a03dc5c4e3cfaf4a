"""Polls: the community as a focus group (cog.py: commands and scheduled close; views.py:
the persistent buttons; render.py: how a poll looks)."""

from __future__ import annotations

from cogs._bot import Hearth
from cogs.polls.cog import PollsCog


async def setup(bot: Hearth) -> None:
    await bot.add_cog(PollsCog(bot))
