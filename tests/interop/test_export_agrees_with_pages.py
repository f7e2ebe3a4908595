"""The audit exports show what the pages show, on the seeded demo cohort.

The cohort export's histology, latest ECOG and favourable subtype must be what the case
page reads (``case_record.case_record`` and ``case_record.guidance_for``), and the
agenda export's rows what the MDT queue page lists (``queue.meeting_queue``), case by
case. Beside the demo cohort, two cases whose facts the old export read its own way:

- a legacy IHC row spelled "cdx-2" (the forms store "CDX2"; rows from older imports
  and other systems may not) beside an uncatalogued marker ("Ki-67"), which the pages
  leave out of the guidance's profile;
- a man who turned 50 after his pathway started: the pages assess him at his age
  today, so he is past the age of the midline germ-cell subtype (under 50).

The agenda export has no workup or missing-workup column (its format is pinned by
test_exports.py), so those are compared where the export has them: not at all.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.knowledge.histology import HISTOLOGY_CATEGORIES
from cupboard.models import Case, IhcResult, MdtMeeting, Patient
from cupboard.services import case_record, queue
from cupboard.services.context import ServiceContext
from cupboard.services.findings import IhcEntry, add_pathology_report
from cupboard.services.interop import export_cohort, export_queue
from cupboard.services.meetings import add_to_agenda
from db.demo_cohort import seed_demo_cohort

TODAY = dt.date.today()


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@pytest.fixture
def seeded(
    database_url: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> dict[str, int]:
    seed_demo_cohort(database_url, cases=30, today=TODAY)
    with unit_of_work(database_url) as session:
        meeting = session.scalar(
            select(MdtMeeting.id)
            .where(MdtMeeting.meeting_date >= TODAY)
            .order_by(MdtMeeting.meeting_date, MdtMeeting.id)
            .limit(1)
        )
    assert meeting is not None

    # CK7-/CK20+/CDX2+ adenocarcinoma: the colorectal profile, with CDX2 on a legacy row.
    colorectal = make_case(sex="male", sites=("liver",), lesion_count=3)
    reported = TODAY - dt.timedelta(days=3)
    report = add_pathology_report(
        contexts["pathologist"],
        colorectal,
        histology="adenocarcinoma",
        reported_on=reported,
        ihc=[IhcEntry("CK7", "negative"), IhcEntry("CK20", "positive")],
    )
    with unit_of_work(database_url) as session:
        for marker, result in (("cdx-2", "positive"), ("Ki-67", "positive")):
            session.add(
                IhcResult(
                    case_id=colorectal,
                    pathology_report_id=report,
                    marker=marker,
                    result=result,
                    reported_on=reported,
                )
            )

    # Poorly differentiated carcinoma in mediastinal nodes, SALL4+ OCT3/4+: the midline
    # germ-cell subtype at 49 (when his pathway started), not at 50 (today).
    germ_cell = make_case(
        sex="male",
        date_of_birth=_years_before(TODAY - dt.timedelta(days=30), 50),
        sites=("mediastinal_nodes",),
        referral_date=TODAY - dt.timedelta(days=60),
        lesion_count=2,
    )
    add_pathology_report(
        contexts["pathologist"],
        germ_cell,
        histology="poorly_differentiated_carcinoma",
        reported_on=TODAY - dt.timedelta(days=50),
        ihc=[IhcEntry("SALL4", "positive"), IhcEntry("OCT3/4", "positive")],
    )
    add_to_agenda(contexts["navigator"], meeting, colorectal, presented_by="Dr Legacy")
    add_to_agenda(contexts["navigator"], meeting, germ_cell)
    return {"meeting": meeting, "colorectal": colorectal, "germ_cell": germ_cell}


def _csv(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _text(value: object) -> str:
    """A value as the CSV export writes it (empty when missing)."""
    return "" if value is None else str(value)


def _histology(code: str | None) -> str:
    return HISTOLOGY_CATEGORIES.get(code, code) if code else ""


def _case_page(ctx: ServiceContext, case_id: int) -> dict[str, str]:
    """Histology, favourable subtype and latest ECOG as the case page reads them."""
    record = case_record.case_record(ctx, case_id, TODAY, timeline=False)
    subtype = case_record.guidance_for(record.profile).favourable_subtype
    latest = record.latest_ecog
    return {
        "histology": _histology(record.profile.histology),
        "favourable_subtype": subtype.code if subtype else "",
        "latest_ecog": _text(latest.score if latest else None),
    }


def test_cohort_export_agrees_with_the_case_page(
    contexts: dict[str, ServiceContext], seeded: dict[str, int], database_url: str
) -> None:
    ctx = contexts["navigator"]
    frame = _csv(export_cohort(ctx, "csv", today=TODAY).content).set_index("case_id")
    with unit_of_work(database_url) as session:
        case_ids = list(session.scalars(select(Case.id).order_by(Case.id)))
    assert list(frame.index) == [str(i) for i in case_ids]
    columns = ["histology", "favourable_subtype", "latest_ecog"]
    exported = {i: frame.loc[str(i), columns].to_dict() for i in case_ids}
    shown = {i: _case_page(ctx, i) for i in case_ids}
    assert exported == shown

    # Not vacuous: the demo cohort has favourable subtypes and ECOG scores.
    assert sum(1 for row in shown.values() if row["favourable_subtype"]) >= 3
    assert sum(1 for row in shown.values() if row["latest_ecog"]) >= 20
    assert exported[seeded["colorectal"]]["favourable_subtype"] == "colorectal_profile"
    germ_cell = frame.loc[str(seeded["germ_cell"])]
    assert germ_cell["age_at_pathway_start"] == "49"  # the column keeps its meaning
    assert germ_cell["favourable_subtype"] == ""  # assessed at 50, as on the pages

    # The queue service's profiles (load_profiles) give the same subtypes.
    profiles = case_record.case_profiles(ctx, case_ids, TODAY)
    for case_id, profile in profiles.items():
        subtype = case_record.guidance_for(profile).favourable_subtype
        assert exported[case_id]["favourable_subtype"] == (subtype.code if subtype else "")


def test_agenda_export_agrees_with_the_queue_page(
    contexts: dict[str, ServiceContext], seeded: dict[str, int], database_url: str
) -> None:
    ctx = contexts["navigator"]
    meeting = seeded["meeting"]
    rows = queue.meeting_queue(ctx, meeting, today=TODAY)
    assert len(rows) >= 5 and {seeded["colorectal"], seeded["germ_cell"]} <= {
        r.case_id for r in rows
    }
    assert any(r.favourable_subtype for r in rows) and any(r.missing_before_mdt for r in rows)
    frame = _csv(export_queue(ctx, meeting, "csv", today=TODAY).content)

    exported = frame[
        [
            "position",
            "case_id",
            "pseudonym",
            "age",
            "sex",
            "status",
            "days_since_pathway_start",
            "favourable_subtype",
            "latest_ecog",
            "question",
        ]
    ].to_dict("records")
    shown = [
        {
            "position": _text(r.position),
            "case_id": str(r.case_id),
            "pseudonym": r.pseudonym,
            "age": str(r.age),
            "sex": r.sex,
            "status": r.status,
            "days_since_pathway_start": str(r.days_on_pathway),
            "favourable_subtype": _text(r.favourable_subtype),
            "latest_ecog": _text(r.ecog),
            "question": _text(r.question),
        }
        for r in rows
    ]
    assert exported == shown
    flagged = {r.case_id: r.favourable_subtype for r in rows}
    assert flagged[seeded["colorectal"]] == "colorectal_profile"
    assert flagged[seeded["germ_cell"]] is None

    # The columns the queue page does not show: histology as the case page reads it,
    # identifiers and the presenter for the right case.
    for r, histology in zip(rows, frame["histology"], strict=True):
        assert histology == _case_page(ctx, r.case_id)["histology"]
    with_ids = _csv(
        export_queue(ctx, meeting, "csv", include_identifiers=True, today=TODAY).content
    )
    with unit_of_work(database_url) as session:
        mrns = {i: mrn for i, mrn in session.execute(select(Case.id, Patient.mrn).join(Patient))}
    assert list(with_ids["mrn"]) == [mrns[r.case_id] for r in rows]
    presenters = dict(zip(with_ids["case_id"], with_ids["presented_by"], strict=True))
    assert presenters[str(seeded["colorectal"])] == "Dr Legacy"
