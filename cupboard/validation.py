"""Boundary validation shared by forms, imports and the CLI: pure, no database.

Each function returns the cleaned value or raises ValidationError naming the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Collection, Mapping

from cupboard.errors import ValidationError

MAX_SHORT_TEXT = 200
MAX_LONG_TEXT = 10_000


def choice(field: str, value: object, allowed: Collection[str] | Mapping[str, str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(list(allowed)[:12])
        more = " …" if len(allowed) > 12 else ""
        raise ValidationError(field, f"must be one of {options}{more}; got {value!r}")
    return value


def optional_choice(
    field: str, value: object, allowed: Collection[str] | Mapping[str, str]
) -> str | None:
    if value is None or value == "":
        return None
    return choice(field, value, allowed)


def integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be a whole number {low}-{high}; got {value!r}")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}; got {value}")
    return value


def optional_integer(field: str, value: object, low: int, high: int) -> int | None:
    return None if value is None else integer(field, value, low, high)


def number(field: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be a number; got {value!r}")
    result = float(value)
    if not math.isfinite(result) or not low <= result <= high:
        raise ValidationError(field, f"must be between {low:g} and {high:g}; got {value}")
    return result


def optional_number(field: str, value: object, low: float, high: float) -> float | None:
    return None if value is None else number(field, value, low, high)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(field: str, value: object, max_length: int = MAX_SHORT_TEXT) -> str:
    """Plain text: stripped, NFC-normalised, no control characters, bounded length."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be text; got {type(value).__name__}")
    cleaned = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(cleaned):
        raise ValidationError(field, "contains control characters")
    if not cleaned:
        raise ValidationError(field, "must not be empty")
    if len(cleaned) > max_length:
        raise ValidationError(field, f"is too long ({len(cleaned)} characters, max {max_length})")
    return cleaned


def optional_text(field: str, value: object, max_length: int = MAX_SHORT_TEXT) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(field, value, max_length)


EARLIEST_CLINICAL_DATE = dt.date(1900, 1, 1)


def date(field: str, value: object, *, not_after: dt.date | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(field, f"must be a date YYYY-MM-DD; got {value!r}") from None
    if not isinstance(value, dt.date):
        raise ValidationError(field, f"must be a date; got {value!r}")
    if value < EARLIEST_CLINICAL_DATE:
        raise ValidationError(field, f"is before {EARLIEST_CLINICAL_DATE.isoformat()}")
    if not_after is not None and value > not_after:
        raise ValidationError(field, f"must not be after {not_after.isoformat()}; got {value}")
    return value


def optional_date(field: str, value: object, *, not_after: dt.date | None = None) -> dt.date | None:
    if value is None or value == "":
        return None
    return date(field, value, not_after=not_after)


def not_before(
    later_field: str, later: dt.date | None, earlier_field: str, earlier: dt.date | None
) -> None:
    """Refuse e.g. a reported date before the requested date."""
    if later is not None and earlier is not None and later < earlier:
        raise ValidationError(
            later_field, f"({later}) must not be before {earlier_field} ({earlier})"
        )


PHONE = re.compile(r"^\+?[0-9 ()\-]{5,25}$")


def optional_phone(field: str, value: object) -> str | None:
    cleaned = optional_text(field, value, 40)
    if cleaned is not None and not PHONE.match(cleaned):
        raise ValidationError(field, f"is not a phone number: {cleaned!r}")
    return cleaned
