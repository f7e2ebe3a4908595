"""How a typed search meets a stored name or number: folded the same way on both sides.

A navigator types "asa" for Åsa, "ostlund" for Östlund, "19580314" or "195803141234"
for the personal number 19580314-1234, "cup12" or "00012" for CUP-00012. The stored
keys (``patients.search_name``, ``patients.search_id``, migration 0007) are folded
once when the patient is written, so the database compares plain lower-case ASCII
on every engine: SQLite's ``lower()`` leaves Å as it is.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that carry no combining mark to strip (NFKD leaves them whole).
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def fold_text(value: str) -> str:
    """Lower case without accents, words separated by one space: "Åsa  Öberg" -> "asa oberg"."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


def compact_id(value: str) -> str:
    """An identifier without its separators: "19580314-1234" -> "195803141234",
    "CUP-00012" -> "cup00012"; people type them with and without the dash."""
    return fold_text(value).replace(" ", "")


def patient_search_id(mrn: str, pseudonym: str) -> str:
    """One key for the patient's numbers, both compacted, separated so that a search
    never matches across the two: "|195803141234|cup00012|"."""
    return f"|{compact_id(mrn)}|{compact_id(pseudonym)}|"
