"""Names and identifiers refuse invisible formatting characters, naming the field.

A right-to-left override makes "Ann\u202eeb" display as "Annbe"; a zero-width space
makes two MRNs look alike. Both are refused wherever a person is named: the referral
form and imports (one rule, services/cases.validate_referral), accounts, attendees.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cupboard import validation as v
from cupboard.errors import ValidationError
from cupboard.importing import read_referral_csv
from cupboard.services.cases import Referral, validate_referral

TODAY = dt.date(2026, 11, 20)
INVISIBLE = {
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "right-to-left isolate": "\u2067",
    "right-to-left mark": "\u200f",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte-order mark": "\ufeff",
    "soft hyphen": "\u00ad",
}


def _referral(**changes: object) -> Referral:
    values: dict[str, object] = {
        "mrn": "ID-1",
        "name": "Åsa Öberg-Nyström",
        "sex": "female",
        "date_of_birth": "1958-03-14",
        "referral_date": "2026-11-02",
        "referrer_name": "Dr José Núñez",
        **changes,
    }
    return Referral(**values)  # type: ignore[arg-type]


def test_names_in_any_script_are_accepted() -> None:
    for name in ("Åsa Öberg-Nyström", "José Núñez", "Zoë O'Brien", "王小明", "محمد علي"):
        assert v.identity_text("name", name) == name
    assert validate_referral(_referral(), TODAY)["name"] == "Åsa Öberg-Nyström"


@pytest.mark.parametrize("character", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("field", ["mrn", "name", "referrer_name"])
def test_an_invisible_character_in_a_name_or_mrn_is_refused_by_field(
    field: str, character: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_referral(_referral(**{field: f"Ann{character}eb"}), TODAY)
    assert refused.value.field == field
    assert f"U+{ord(character):04X}" in refused.value.message


def test_an_imported_row_with_an_override_is_refused_on_its_line() -> None:
    content = (
        "mrn,name,sex,date_of_birth,referral_date\n"
        "ID-1,Anna Exempel,female,1958-03-14,2026-11-02\n"
        "ID-2,Ann\u202eeb,female,1958-03-14,2026-11-02\n"
    ).encode()
    checked = read_referral_csv(content, TODAY)
    assert [r.referral.mrn for r in checked.rows] == ["ID-1"]
    assert [(p.where, p.field) for p in checked.problems] == [("line 3", "name")]


def test_free_text_keeps_its_marks() -> None:
    """Clinical free text may carry a right-to-left mark in Arabic or Hebrew script;
    only the fields that identify a person are strict."""
    referral = _referral(presentation="\u200fכבד\u200f lesions")
    assert validate_referral(referral, TODAY)["presentation"].startswith("\u200f")
