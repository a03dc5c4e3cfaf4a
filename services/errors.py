"""Domain errors: each carries the sentence the person sees, in plain words."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. ``message`` is shown to the member, ephemerally, as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(DomainError):
    """The thing asked for does not exist in this server."""


class PermissionDeniedError(DomainError):
    """The member may not do this (not a moderator, not the owner of the thing)."""


class InvalidInputError(DomainError):
    """The input cannot be used; the message says what to fix."""
