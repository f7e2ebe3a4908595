"""The before-clinic page in AppTest, on a seeded demo cohort."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Case, Decision, EcogObservation, Patient

PAGE = "pages/summary.py"


@dataclass(frozen=True)
class SeededCase:
    case_id: int
    rationale: str
    ecog_scores: list[int]
    patient_name: str
    mrn: str


@pytest.fixture
def seeded_case(database_url: str) -> SeededCase:
    """A case of the demo cohort with a decision."""
    from db.demo_cohort import seed_demo_cohort

    seed_demo_cohort(database_url, cases=30)
    with unit_of_work(database_url) as session:
        decision = session.scalars(select(Decision).order_by(Decision.id)).first()
        assert decision is not None
        name, mrn = session.execute(
            select(Patient.name, Patient.mrn)
            .join(Case, Case.patient_id == Patient.id)
            .where(Case.id == decision.case_id)
        ).one()
        scores = session.scalars(
            select(EcogObservation.score)
            .where(EcogObservation.case_id == decision.case_id)
            .order_by(EcogObservation.observed_on, EcogObservation.id)
        )
        return SeededCase(decision.case_id, decision.rationale, list(scores), name, mrn)


def _texts(app: object) -> list[str]:
    return [t.value for t in app.text]  # type: ignore[attr-defined]


def test_renders_for_a_seeded_case_and_offers_the_letter(
    open_page: Callable[..., object], seeded_case: SeededCase
) -> None:
    app = open_page(PAGE, role="oncologist", query={"case_id": str(seeded_case.case_id)})
    assert not app.exception
    [title] = app.title
    assert title.value.startswith("Before clinic · CUP-")
    assert [h.value for h in app.header] == [
        "Decisions",
        "Referrals",
        "Performance status (ECOG)",
        "Latest findings",
        "Workup outstanding",
        "History",
    ]
    [download] = app.download_button
    assert download.label == "Download the outcome letter for the GP / referrer (PDF)"
    assert f"Rationale: {seeded_case.rationale}" in _texts(app)
    ecog_table = app.table[0].value
    assert [int(s) for s in ecog_table["ECOG"]] == seeded_case.ecog_scores
    assert len(app.table[-1].value) > 5  # the history
    # The screen is pseudonymous: the identifiers go only into the (audited) letter.
    rendered = repr(app.main)
    assert seeded_case.patient_name not in rendered and seeded_case.mrn not in rendered


def test_a_viewer_can_read_it_but_not_export(
    open_page: Callable[..., object], seeded_case: SeededCase
) -> None:
    app = open_page(PAGE, role="viewer", query={"case_id": str(seeded_case.case_id)})
    assert not app.exception
    assert f"Rationale: {seeded_case.rationale}" in _texts(app)
    assert [int(s) for s in app.table[0].value["ECOG"]] == seeded_case.ecog_scores
    assert len(app.download_button) == 0
    assert any("may read this summary but not export" in c.value for c in app.caption)


def test_without_a_case_it_offers_a_choice(
    open_page: Callable[..., object], seeded_case: SeededCase
) -> None:
    app = open_page(PAGE, role="chair")
    assert not app.exception
    picker = app.selectbox(key="summary_case")
    assert picker.options and all(o.startswith("CUP-") for o in picker.options)
    picker.select_index(0).run()
    assert not app.exception
    assert [t.value for t in app.title] == [f"Before clinic · {picker.options[0].split(' · ')[0]}"]
    assert app.query_params["case_id"]


def test_an_unknown_case_is_a_plain_error(
    open_page: Callable[..., object], seeded_case: SeededCase
) -> None:
    app = open_page(PAGE, role="oncologist", query={"case_id": "99999"})
    assert not app.exception
    assert [e.value for e in app.error] == ["case 99999 does not exist"]
