"""The profile the guidance reads: the newest result per marker, whatever spelling each
result was recorded under (imports and FHIR bring "cdx-2" beside the catalogue's "CDX2")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cupboard.services.case_record import CaseProfile, Findings, IhcRow, SerumRow, build_picture


def _profile(ihc: Sequence[IhcRow] = (), serum: Sequence[SerumRow] = ()) -> CaseProfile:
    # Findings hold each list newest first, as the case record reads them.
    newest_first_ihc = sorted(ihc, key=lambda r: (r.reported_on, r.id), reverse=True)
    newest_first_serum = sorted(serum, key=lambda r: (r.measured_on, r.id), reverse=True)
    return build_picture(
        sex="female",
        age=61,
        sites=("liver",),
        bone_pattern=None,
        lesions=None,
        findings=Findings((), tuple(newest_first_ihc), (), tuple(newest_first_serum)),
        ecog=(1, dt.date(2026, 1, 1)),
        workup_statuses={},
    ).profile


def _ihc(row_id: int, marker: str, result: str, month: int) -> IhcRow:
    return IhcRow(row_id, marker, result, None, dt.date(2026, month, 1), None)


def _serum(
    row_id: int, marker: str, value: float, month: int, uln: float | None = None
) -> SerumRow:
    return SerumRow(row_id, marker, value, "U/L", uln, dt.date(2026, month, 1))


def test_the_newest_ihc_result_wins_across_spellings() -> None:
    # CDX2 first reported in January; a February result spelt "cdx-2"; March's CDX2
    # again, and it is the newest.
    rows = [
        _ihc(1, "CDX2", "negative", 1),
        _ihc(2, "cdx-2", "positive", 2),
        _ihc(3, "CDX2", "negative", 3),
    ]
    assert _profile(ihc=rows).ihc == {"CDX2": "negative"}


def test_a_newer_result_under_another_spelling_replaces_the_older() -> None:
    rows = [_ihc(1, "CK7", "negative", 1), _ihc(2, "ck 7", "positive", 2)]
    assert _profile(ihc=rows).ihc == {"CK7": "positive"}


def test_same_day_results_are_ordered_by_entry() -> None:
    rows = [_ihc(5, "TTF-1", "negative", 4), _ihc(6, "ttf1", "positive", 4)]
    assert _profile(ihc=rows).ihc == {"TTF-1": "positive"}


def test_markers_outside_the_catalogue_are_left_out() -> None:
    assert _profile(ihc=[_ihc(1, "not-a-marker", "positive", 1)]).ihc == {}


def test_the_newest_serum_value_wins_across_spellings() -> None:
    rows = [_serum(1, "CA-125", 400.0, 1), _serum(2, "ca125", 35.0, 2)]
    assert _profile(serum=rows).serum == {"CA-125": 35.0}


def test_ldh_is_read_from_its_newest_result_against_that_result_s_own_limit() -> None:
    raised_then = [_serum(1, "LDH", 600.0, 1, uln=250.0), _serum(2, "ldh", 200.0, 2, uln=250.0)]
    assert _profile(serum=raised_then).serum == {"LDH": "normal"}
    # The newest has no recorded limit: it cannot be read, and an older reading is not
    # passed off as the current one.
    no_limit_now = [_serum(1, "LDH", 600.0, 1, uln=250.0), _serum(2, "LDH", 200.0, 2)]
    assert _profile(serum=no_limit_now).serum == {}
