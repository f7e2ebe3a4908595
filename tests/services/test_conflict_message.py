"""A conflict says what the other person changed in words, not in stored JSON, the
same way the audit trail page shows a change (cupboard/stored_values.py)."""

from __future__ import annotations

import json

import pytest

from cupboard.errors import ConflictError, MissedChange
from cupboard.stored_values import display_value


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (None, "(empty)"),
        (json.dumps(None), "(empty)"),
        (json.dumps(""), "(empty)"),
        (json.dumps("requested"), "requested"),
        (json.dumps("2026-11-20"), "2026-11-20"),
        (json.dumps(3), "3"),
        (json.dumps(True), "yes"),
        (json.dumps(["liver", "bone"]), "liver, bone"),
        (json.dumps({"basic": 40, "extended": None}), "basic: 40"),
        ("not json", "not json"),
    ],
)
def test_stored_values_read_as_words(stored: str | None, shown: str) -> None:
    assert display_value(stored) == shown


def test_the_conflict_names_who_changed_what_from_what_to_what() -> None:
    missed = (
        MissedChange("booked_for", None, json.dumps("2026-11-25"), "nurse.a", "2026-11-22 09:14"),
        MissedChange(
            "status", json.dumps("requested"), json.dumps("booked"), "nurse.a", "2026-11-22 09:14"
        ),
    )
    message = str(ConflictError("investigation", 7, missed))
    assert message.startswith("Conflict: this investigation was changed by someone else")
    assert "nurse.a changed booked for from (empty) to 2026-11-25 at 2026-11-22 09:14" in message
    assert "nurse.a changed status from requested to booked at 2026-11-22 09:14" in message
    assert '"' not in message and "None" not in message
