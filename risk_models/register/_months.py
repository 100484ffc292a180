"""Month windows shared by disclosure and assessment (private)."""

from __future__ import annotations

import re
from datetime import date, datetime

import pandas as pd

from .errors import RegisterError

__all__ = ["Month", "month_of"]


class Month:
    """A calendar month: ``start`` (inclusive), ``end`` (exclusive), ``last`` (its last instant)."""

    def __init__(self, period: pd.Period, tz: object = None) -> None:
        self.period = period
        self.start = pd.Timestamp(period.start_time.date())
        self.end = pd.Timestamp((period + 1).start_time.date())
        if tz is not None:
            self.start = self.start.tz_localize(tz)
            self.end = self.end.tz_localize(tz)
        self.last = self.end - pd.Timedelta(1, "ns")
        self.day = self.last.date()

    def __str__(self) -> str:
        return str(self.period)

    def contains(self, times: pd.Series) -> pd.Series:
        """Whether each time lies in the month (NaT: False)."""
        return (times >= self.start) & (times < self.end)

    def previous(self, n: int) -> list[Month]:
        """The ``n`` months ending with this one, oldest first."""
        tz = self.start.tz
        return [Month(self.period - k, tz) for k in range(n - 1, -1, -1)]


def month_of(month: str | date | datetime | pd.Period, events: pd.DataFrame) -> Month:
    """The month ``"YYYY-MM"`` (or of a date), in the time zone of the events' ``at``."""
    try:
        if isinstance(month, str) and not re.fullmatch(r"\d{4}-\d{2}", month.strip()):
            raise ValueError(month)
        period = month if isinstance(month, pd.Period) else pd.Period(month, freq="M")
    except (ValueError, TypeError):
        msg = f"Month {month!r} is not a month. Fix: give it as 'YYYY-MM'."
        raise RegisterError(msg) from None
    at = pd.to_datetime(events["at"]) if "at" in events else pd.Series(dtype="datetime64[ns]")
    return Month(period.asfreq("M"), at.dt.tz)
