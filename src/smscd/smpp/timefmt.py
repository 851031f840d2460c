"""SMPP 3.4 §7.1.1 time format: `YYMMDDhhmmsstnnp`, absolute (p = '+'/'-') or relative ('R').

Times are epoch seconds (floats) so the caller decides which clock they belong to.
"""

from __future__ import annotations

import datetime as dt

_UTC = dt.UTC


class TimeFormatError(ValueError):
    """The value is not a valid SMPP time string."""


def format_absolute(epoch: float) -> str:
    """An absolute SMPP time in UTC, e.g. `261123170502300+`."""
    moment = dt.datetime.fromtimestamp(epoch, _UTC)
    tenths = moment.microsecond // 100_000
    return moment.strftime("%y%m%d%H%M%S") + f"{tenths}00+"


def parse(value: str, now: float) -> float | None:
    """The epoch time an SMPP time string denotes; None for the empty string.

    Args:
        value: 16 characters, absolute (offset in quarter hours, `+`/`-`) or relative (`R`).
        now: the epoch time a relative value counts from.
    Raises:
        TimeFormatError: the value is malformed or out of range.
    """
    if not value:
        return None
    digits = value[:15]
    # isascii too: str.isdigit() takes '¹' (latin-1 0xB9), which int() refuses.
    if len(value) != 16 or not (digits.isascii() and digits.isdigit()):
        raise TimeFormatError(f"not an SMPP time: {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths = int(value[12])
    quarters = int(value[13:15])
    kind = value[15]
    if kind == "R":
        # Relative: YY years, MM months ... from now; months and years as 30/365 days,
        # the approximation SMSCs use since the spec gives no calendar.
        seconds = (((yy * 365 + mo * 30 + dd) * 24 + hh) * 60 + mi) * 60 + ss + tenths / 10
        return now + seconds
    if kind not in "+-" or quarters > 48:
        raise TimeFormatError(f"bad UTC offset in SMPP time: {value!r}")
    try:
        local = dt.datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=_UTC)
    except ValueError as exc:
        raise TimeFormatError(f"not a calendar time: {value!r}") from exc
    offset = dt.timedelta(minutes=15 * quarters)
    utc = local - offset if kind == "+" else local + offset
    return utc.timestamp()
