"""A clock a test moves by hand (`clock.at += timedelta(...)`), for code that takes `now=`."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at
