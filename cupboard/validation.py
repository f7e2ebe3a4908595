"""Boundary validation shared by forms, imports and the CLI: pure, no database.

Each function returns the cleaned value or raises ValidationError naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from typing import Any

from cupboard.errors import ValidationError

MAX_SHORT_TEXT = 200
MAX_LONG_TEXT = 10_000
MAX_SHOWN = 60


def shown(value: object) -> str:
    """A refused value as a message quotes it: a pasted page of text or a number of
    thousands of digits is cut, so that the message stays one readable line."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def choice(field: str, value: object, allowed: Collection[str] | Mapping[str, str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(list(allowed)[:12])
        more = " …" if len(allowed) > 12 else ""
        raise ValidationError(field, f"must be one of {options}{more}; got {shown(value)}")
    return value


def optional_choice(
    field: str, value: object, allowed: Collection[str] | Mapping[str, str]
) -> str | None:
    if value is None or value == "":
        return None
    return choice(field, value, allowed)


def integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be a whole number {low}-{high}; got {shown(value)}")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}; got {value}")
    return value


def optional_integer(field: str, value: object, low: int, high: int) -> int | None:
    return None if value is None else integer(field, value, low, high)


def number(field: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be a number; got {shown(value)}")
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


def _invisible(value: str) -> str | None:
    """The first invisible formatting character in ``value`` (Unicode category Cf:
    right-to-left override and the other bidi controls, zero-width space and joiners,
    soft hyphen, byte-order mark), or None."""
    return next((c for c in value if unicodedata.category(c) == "Cf"), None)


def identity_text(field: str, value: object, max_length: int = MAX_SHORT_TEXT) -> str:
    """A name or identifier that says who someone is (patient, clinician, account, MRN).

    Invisible formatting characters are refused: a right-to-left override makes a name
    read differently from how it sorts and matches, and a zero-width character makes
    two records of one person look like the same name while they are not."""
    cleaned = text(field, value, max_length)
    found = _invisible(cleaned)
    if found is not None:
        raise ValidationError(
            field,
            f"contains an invisible formatting character (U+{ord(found):04X} "
            f"{unicodedata.name(found, 'format character')}); type the name without it",
        )
    return cleaned


def optional_identity_text(
    field: str, value: object, max_length: int = MAX_SHORT_TEXT
) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return identity_text(field, value, max_length)


# The largest id the database holds (PostgreSQL ``integer``): a larger number in a link
# or on the command line names no record, and must not reach the database as a query.
MAX_RECORD_ID = 2**31 - 1


def record_id(field: str, value: object) -> int:
    """A record's id from a link or an argument: a whole number 1..MAX_RECORD_ID."""
    if isinstance(value, str):
        raw = value.strip()
        # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
        if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_RECORD_ID)):
            raise ValidationError(field, f"must be a whole number 1-{MAX_RECORD_ID}")
        value = int(raw)
    return integer(field, value, 1, MAX_RECORD_ID)


def optional_record_id(field: str, value: object) -> int | None:
    """:func:`record_id`, or None for a missing or unusable one (a hand-edited link)."""
    try:
        return record_id(field, value)
    except ValidationError:
        return None


# Limits for an uploaded JSON document. A cupboard export nests about a dozen levels and
# its numbers are scores, percentages and years; far deeper nesting or a number of
# thousands of digits is not a case record, and would exhaust the parser instead.
MAX_JSON_DEPTH = 64
MAX_JSON_NUMBER_DIGITS = 30
_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _json_depth(document: str) -> int:
    brackets = _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", document))
    depth = deepest = 0
    for bracket in brackets:
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _json_integer(raw: str) -> int:
    if len(raw.lstrip("-")) > MAX_JSON_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(raw.lstrip('-'))} digits")
    return int(raw)


def _json_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or len(raw) > 2 * MAX_JSON_NUMBER_DIGITS:
        raise ValueError(f"the number {raw[:20]}… is out of range")
    return value


def _json_constant(raw: str) -> float:
    raise ValueError(f"{raw} is not a JSON number")


def json_document(field: str, content: bytes | str, max_bytes: int) -> Any:
    """Parse an uploaded JSON document within limits (size, nesting, number size);
    anything else is a ValidationError naming ``field``, never a parser's crash."""
    if len(content) > max_bytes:
        raise ValidationError(
            field, f"is too large ({len(content) / 1e6:.1f} MB; at most {max_bytes / 1e6:.0f} MB)"
        )
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(field, "is not UTF-8 text") from None
    if _json_depth(content) > MAX_JSON_DEPTH:
        raise ValidationError(field, f"is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(
            content,
            parse_int=_json_integer,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except json.JSONDecodeError as error:
        raise ValidationError(
            field, f"is not valid JSON (line {error.lineno}: {error.msg})"
        ) from None
    except (ValueError, RecursionError) as error:
        raise ValidationError(field, f"is not valid JSON ({error})") from None


EARLIEST_CLINICAL_DATE = dt.date(1900, 1, 1)


def date(field: str, value: object, *, not_after: dt.date | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(field, f"must be a date YYYY-MM-DD; got {shown(value)}") from None
    if not isinstance(value, dt.date):
        raise ValidationError(field, f"must be a date; got {shown(value)}")
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
        raise ValidationError(field, f"is not a phone number: {shown(cleaned)}")
    return cleaned
