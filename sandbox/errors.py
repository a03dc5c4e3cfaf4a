"""Discord's JSON error shape, raised inside handlers and rendered by the REST layer."""

from __future__ import annotations

from typing import Any

UNKNOWN_GUILD = 10004
UNKNOWN_CHANNEL = 10003
UNKNOWN_INVITE = 10006
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_COMMAND = 10063
UNKNOWN_SCHEDULED_EVENT = 10070
ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_DM = 50007
MISSING_PERMISSIONS = 50013
EMPTY_MESSAGE = 50006
INVALID_FORM_BODY = 50035


class ApiError(Exception):
    """An error response: HTTP status plus Discord's ``{"code", "message", "errors"}`` body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        return out


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def missing_permissions() -> ApiError:
    return ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")


def form_error(problems: list[tuple[str, str, str]]) -> ApiError:
    """Build a 50035 from ``(dotted.path, ERROR_CODE, message)`` triples.

    Discord nests errors by path, e.g. ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``;
    discord.py flattens that back into ``"In embeds.0.title: ..."``.
    """
    errors: dict[str, Any] = {}
    for path, err_code, message in problems:
        node = errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": err_code, "message": message})
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


class SandboxError(Exception):
    """A scripted action could not be performed (bad test script, not a Discord error)."""


class InteractionTimeout(SandboxError, TimeoutError):
    """The bot never answered an interaction within the sandbox's timeout."""
