"""Small helpers shared by the read services (``queue``, ``case_record``,
``meeting_mode``, ``analytics``, ``interop``)."""

from __future__ import annotations

import datetime as dt


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    years = day.year - date_of_birth.year
    return years - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
