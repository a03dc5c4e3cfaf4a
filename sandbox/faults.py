"""Fault injection: 429s, 5xx and latency on chosen REST routes.

Rules match a method (or ``"*"``) and either the route template (``/channels/{channel_id}/
messages``) or a substring of the concrete path, and fire a limited number of times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FaultRule:
    kind: str  # "rate_limit" | "server_error" | "latency"
    method: str
    match: str | None
    times: int | None
    retry_after: float = 0.0
    global_: bool = False
    status: int = 500
    seconds: float = 0.0
    fired: int = 0

    def matches(self, method: str, route: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.match is None or self.match == route or self.match in path


class Faults:
    """Per-sandbox fault rules.

    ``sb.faults.rate_limit("POST", "/channels/{channel_id}/messages")``
    """

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def rate_limit(
        self,
        method: str,
        route: str,
        times: int = 1,
        retry_after: float = 0.2,
        global_: bool = False,
    ) -> FaultRule:
        """Answer the next ``times`` matching requests with 429 (with ``Via``, so discord.py
        retries after ``retry_after``)."""
        rule = FaultRule(
            "rate_limit", method, route, times, retry_after=retry_after, global_=global_
        )
        self.rules.append(rule)
        return rule

    def server_error(self, method: str, route: str, times: int = 1, status: int = 500) -> FaultRule:
        rule = FaultRule("server_error", method, route, times, status=status)
        self.rules.append(rule)
        return rule

    def latency(self, seconds: float, match: str | None = None, method: str = "*") -> FaultRule:
        """Delay matching requests (all, if ``match`` is None) by ``seconds``, indefinitely."""
        rule = FaultRule("latency", method, match, None, seconds=seconds)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, method: str, route: str, path: str) -> tuple[float, FaultRule | None]:
        """Total latency to add, and the first error rule that fires (counted as fired)."""
        delay = 0.0
        error: FaultRule | None = None
        for rule in self.rules:
            if not rule.matches(method, route, path):
                continue
            if rule.kind == "latency":
                delay += rule.seconds
            elif error is None:
                rule.fired += 1
                error = rule
        return delay, error
