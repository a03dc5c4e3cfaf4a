"""`python bot.py ...` as an operator runs it, against the sandbox instead of Discord."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sandbox import Sandbox
from sandbox.state import BotApp

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(sb: Sandbox, app: BotApp, *args: str, cwd: Path, **env: str) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    environ |= {
        "DISCORD_TOKEN": app.token,
        "DISCORD_API_BASE": sb.api_base,
        "DISCORD_GATEWAY_URL": sb.gateway_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'hearth.db'}",
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        *args,
        cwd=cwd,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, (out + err).decode()


async def test_members_intent_switched_off_exits_with_the_portal_switch_named(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app = sandbox.create_bot("Hearth", privileged_intents=())
    sandbox.create_guild("G")
    code, output = await run_cli(sandbox, app, "run", cwd=tmp_path)
    assert code == 3
    assert "Server Members Intent" in output and "Traceback" not in output
    assert app.token not in output


async def test_a_refused_token_exits_2_without_showing_it(sandbox: Sandbox, tmp_path: Path) -> None:
    app = sandbox.create_bot("Hearth")
    code, output = await run_cli(
        sandbox, app, "run", cwd=tmp_path, DISCORD_TOKEN="not.the.right-token"
    )
    assert code == 2 and "DISCORD_TOKEN was refused" in output
    assert "not.the.right-token" not in output and "Traceback" not in output


async def test_sync_global_registers_every_command(sandbox: Sandbox, tmp_path: Path) -> None:
    app = sandbox.create_bot("Hearth")
    sandbox.create_guild("G")
    code, output = await run_cli(sandbox, app, "sync", "--global", cwd=tmp_path)
    assert code == 0, output
    names = {c["name"] for c in app.global_commands}
    assert "hearth" in names
