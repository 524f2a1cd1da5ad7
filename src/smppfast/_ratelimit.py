"""Warnings a peer can trigger at wire speed, logged at most once per kind per interval.

A hostile or broken SMSC can send stray responses or malformed PDUs as fast as the link
carries them; one log line each would flood the logs. ``LogLimiter`` logs the first of a
kind, counts the rest for ``interval`` seconds, and says how many it held back in the
next line of that kind. Time comes from the caller (``now``), so the sans-IO session can
use it with its own clock.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LogLimiter"]


class LogLimiter:
    """Rate-limits log lines by kind (a short string naming what happened)."""

    __slots__ = ("logger", "interval", "_next", "_held")

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def log(self, level: int, kind: str, now: float, message: str, *args: Any) -> None:
        if not self.logger.isEnabledFor(level):
            return
        if now < self._next.get(kind, float("-inf")):
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        if held:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, held, self.interval)
        self._next[kind] = now + self.interval
        self.logger.log(level, message, *args)
