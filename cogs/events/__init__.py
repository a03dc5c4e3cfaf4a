"""Events: RSVPs with capacity and waitlist, reminders, real attendance (cog.py: commands,
buttons, voice attendance and scheduled actions; views.py: persistent buttons; render.py: how
an event looks)."""

from __future__ import annotations

from cogs._bot import Hearth
from cogs.events.cog import EventsCog


async def setup(bot: Hearth) -> None:
    await bot.add_cog(EventsCog(bot))
