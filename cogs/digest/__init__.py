"""The weekly digest (cog.py: commands and delivery; render.py: the embed, chart and CSV)."""

from __future__ import annotations

from cogs._bot import Hearth
from cogs.digest.cog import DigestCog


async def setup(bot: Hearth) -> None:
    await bot.add_cog(DigestCog(bot))
