"""The before-clinic read and the audited letter export, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import NotFoundError, PermissionDeniedError
from cupboard.models import AuditEvent
from cupboard.services.clinic_summary import clinic_summary, export_outcome_letter
from cupboard.services.context import ServiceContext
from cupboard.services.decisions import DecisionDraft, amend_decision, record_decision
from cupboard.services.findings import IhcEntry, add_pathology_report, add_serum_marker
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation

TODAY = dt.date.today()
ATTENDEES = [
    {"name": "Dr S. Holm", "discipline": "oncology"},
    {"name": "Dr P. Patolog", "discipline": "pathology"},
]


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def decided_case(contexts: dict[str, ServiceContext], make_case: Callable[..., int]) -> int:
    nav, onc = contexts["navigator"], contexts["oncologist"]
    case_id = make_case(
        sex="male",
        name="Åke Öberg",
        mrn="MRN-ÅÖ-1",
        referrer_name="Dr Göran Ärlig",
        referral_date=ago(40),
        sites=("mediastinal_nodes",),
    )
    for days, score in ((38, 0), (20, 1), (3, 2)):
        record_ecog(onc, case_id, score=score, observed_on=ago(days))
    add_pathology_report(
        onc,
        case_id,
        histology="poorly_differentiated_carcinoma",
        reported_on=ago(30),
        differentiation="poor",
        biopsy_site="mediastinal_nodes",
        ihc=[IhcEntry("SALL4", "positive"), IhcEntry("CK7", "negative")],
    )
    add_serum_marker(onc, case_id, marker="beta-hCG", value=8000, measured_on=ago(33))
    meeting = create_meeting(nav, meeting_date=ago(25), attendees=ATTENDEES)
    add_to_agenda(nav, meeting, case_id)
    first = record_decision(
        onc,
        case_id,
        DecisionDraft(
            code="further_workup",
            workup_requested="PET-CT",
            rationale="Apparent single site: stage before local therapy",
            decided_on=ago(25),
            meeting_id=meeting,
            attendees=ATTENDEES,
        ),
    )
    amend_decision(
        onc,
        first,
        1,
        DecisionDraft(
            code="site_specific",
            presumed_primary="germ_cell",
            rationale="Midline mass, β-hCG 8000 IU/L and SALL4+: extragonadal germ-cell tumour",
            plan="BEP × 3 cycles",
            decided_on=ago(25),
            meeting_id=meeting,
            ecog_at_decision=1,
            attendees=ATTENDEES,
        ),
        reason="Germ-cell markers came back on the day",
    )
    with unit_of_work(nav.database_url) as session:
        from cupboard.models import Investigation

        pet = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == "pet_ct"
            )
        )
        assert pet is not None
        pet_id, pet_version = pet.id, pet.version
    update_investigation(
        nav, pet_id, pet_version, {"status": "booked", "requested_on": ago(5), "booked_for": TODAY}
    )
    return case_id


def test_the_summary_reads_the_record_and_the_letter(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = decided_case(contexts, make_case)
    view = clinic_summary(contexts["viewer"], case_id)  # a viewer may read it
    assert [d.superseded for d in view.record.decisions] == [False, True]
    letter = view.letter
    assert (letter.patient_name, letter.mrn, letter.recipient) == (
        "Åke Öberg",
        "MRN-ÅÖ-1",
        "Dr Göran Ärlig",
    )
    # Only the decision that stands goes in the letter; the amended one does not.
    [decision] = letter.decisions
    assert decision.label == "Site-specific therapy"
    assert decision.detail == "Presumed primary: Germ cell"
    assert decision.meeting_date == ago(25)
    assert decision.attendees == ("Dr S. Holm (Oncologist)", "Dr P. Patolog (Pathologist)")
    assert letter.ecog == ((ago(38), 0), (ago(20), 1), (ago(3), 2))
    assert any(f.startswith("Histopathology") for f in letter.findings)
    assert "Immunohistochemistry: CK7−, SALL4+" in letter.findings
    assert any("β-hCG 8000 IU/L" in f for f in letter.findings)
    assert f"PET-CT: booked, booked for {TODAY.isoformat()}" in letter.outstanding
    assert letter.prepared_by == "Test Viewer"


def _exports(url: str, case_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "export", AuditEvent.case_id == case_id
                )
            )
        )


def test_every_letter_export_is_audited(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = decided_case(contexts, make_case)
    url = contexts["oncologist"].database_url
    pdf = export_outcome_letter(contexts["oncologist"], case_id)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Re: Åke Öberg" in text and "To: Dr Göran Ärlig" in text
    assert "Decision: Site-specific therapy (Presumed primary: Germ cell)" in text
    assert "Rationale: Midline mass, β-hCG 8000 IU/L and SALL4+" in text
    assert "Apparent single site" not in text  # the superseded decision
    assert f"ECOG recorded: {ago(38):%d %b %Y}: 0 · {ago(20):%d %b %Y}: 1" in text
    export_outcome_letter(contexts["navigator"], case_id)
    events = _exports(url, case_id)
    assert [(e.actor_username, e.entity, e.entity_id) for e in events] == [
        ("test-oncologist", "case", case_id),
        ("test-navigator", "case", case_id),
    ]
    assert all("outcome letter" in (e.reason or "") for e in events)


def test_a_viewer_may_not_export_and_nothing_is_recorded(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = decided_case(contexts, make_case)
    with pytest.raises(PermissionDeniedError, match="export data"):
        export_outcome_letter(contexts["viewer"], case_id)
    assert _exports(contexts["viewer"].database_url, case_id) == []
    with pytest.raises(NotFoundError):
        export_outcome_letter(contexts["oncologist"], 9999)
