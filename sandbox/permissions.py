"""Discord permission bits and the overwrite algorithm, enough to reject what Discord rejects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_EVENTS = 1 << 33
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
CREATE_EVENTS = 1 << 44
ALL = (1 << 51) - 1

#: What @everyone gets in a fresh guild (Discord's default set, roughly).
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)

#: What a bot's managed role gets unless the test says otherwise: what Hearth asks for on invite.
DEFAULT_BOT = (
    DEFAULT_EVERYONE
    | MANAGE_ROLES
    | MANAGE_GUILD
    | MANAGE_MESSAGES
    | MANAGE_EVENTS
    | CREATE_EVENTS
    | MANAGE_CHANNELS
    | MANAGE_THREADS
    | CREATE_PRIVATE_THREADS
    | KICK_MEMBERS
)


def base_permissions(everyone: int, role_perms: Iterable[int], is_owner: bool) -> int:
    """Guild-level permissions: owner and administrators get everything."""
    if is_owner:
        return ALL
    perms = everyone
    for p in role_perms:
        perms |= p
    if perms & ADMINISTRATOR:
        return ALL
    return perms


def apply_overwrites(
    base: int,
    overwrites: Iterable[dict[str, Any]],
    *,
    guild_id: int,
    role_ids: Iterable[int],
    member_id: int,
) -> int:
    """Discord's documented order: @everyone overwrite, then role overwrites, then member's."""
    if base & ADMINISTRATOR or base == ALL:
        return ALL
    ows = list(overwrites)
    roles = set(role_ids)
    perms = base
    for ow in ows:
        if int(ow["id"]) == guild_id and int(ow["type"]) == 0:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    allow = deny = 0
    for ow in ows:
        if int(ow["type"]) == 0 and int(ow["id"]) in roles:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    for ow in ows:
        if int(ow["type"]) == 1 and int(ow["id"]) == member_id:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    return perms
