"""Business time: "today" is the date in Asia/Ho_Chi_Minh, whatever the server's zone."""

import datetime as dt
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> dt.datetime:
    """Aware current time (UTC)."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in Viet Nam."""
    return dt.datetime.now(VIETNAM).date()
