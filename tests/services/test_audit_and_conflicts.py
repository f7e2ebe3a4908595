"""Every write leaves an audit row; a stale write is a clear conflict and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, ValidationError
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.models import AuditEvent, Investigation
from cupboard.services.context import ServiceContext
from cupboard.services.performance import record_ecog
from cupboard.services.workup import update_investigation


def _investigation(url: str, case_id: int, code: str) -> Investigation:
    with unit_of_work(url) as session:
        row = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        )
        assert row is not None
        return row


def _audit(url: str, entity: str, entity_id: int) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.id)
            )
        )


def test_referral_creates_audited_patient_case_and_workup(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case(sex="male")
    url = contexts["navigator"].database_url
    with unit_of_work(url) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id)).all()
        codes = {
            r.code: r.status
            for r in session.scalars(select(Investigation).where(Investigation.case_id == case_id))
        }
    entities = [e.entity for e in events]
    assert entities.count("case") == 1
    assert entities.count("investigation") == len(INVESTIGATIONS)
    assert all(e.actor_username == "test-navigator" for e in events)
    assert codes["psa"] == "to_request" and codes["mammography"] == "not_indicated"


def test_status_change_is_audited_with_before_and_after(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case()
    ct = _investigation(navigator.database_url, case_id, "ct_cap")
    changes = update_investigation(navigator, ct.id, ct.version, {"status": "requested"})
    assert changes["status"] == ("to_request", "requested")
    updates = [
        e for e in _audit(navigator.database_url, "investigation", ct.id) if e.action == "update"
    ]
    by_field = {e.field: e for e in updates}
    assert json.loads(by_field["status"].before) == "to_request"
    assert json.loads(by_field["status"].after) == "requested"
    # One click stamps the request date too.
    assert json.loads(by_field["requested_on"].after) == dt.date.today().isoformat()
    assert by_field["status"].actor_username == "test-navigator"


def test_stale_write_is_refused_and_changes_nothing(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    first, second = contexts["navigator"], contexts["chair"]
    case_id = make_case()
    seen = _investigation(first.database_url, case_id, "ct_cap")
    update_investigation(first, seen.id, seen.version, {"status": "requested"})
    audit_before = len(_audit(first.database_url, "investigation", seen.id))
    with pytest.raises(ConflictError) as conflict:
        update_investigation(second, seen.id, seen.version, {"status": "declined"})
    message = str(conflict.value)
    assert "changed by someone else" in message and "test-navigator" in message
    assert "status" in message
    after = _investigation(first.database_url, case_id, "ct_cap")
    assert after.status == "requested" and after.version == seen.version + 1
    # The loser's attempt is kept as one "refused" row; nothing else was written.
    rows = _audit(first.database_url, "investigation", seen.id)
    assert len(rows) == audit_before + 1
    assert (rows[-1].action, rows[-1].actor_username) == ("refused", "test-chair")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"code": "xray_of_everything"}, "code"),
        ({"requested_on": "2026-01-10", "reported_on": "2026-01-05"}, "reported_on"),
        ({"requested_on": "not a date"}, "requested_on"),
        ({"done_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "done_on"),
        ({"status": "booked"}, "booked_for"),
        ({"result_text": "x" * 20_000}, "result_text"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_investigation_values_are_refused_naming_the_field(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    changes: dict[str, object],
    field: str,
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case()
    row = _investigation(navigator.database_url, case_id, "ct_cap")
    with pytest.raises(ValidationError) as refused:
        update_investigation(navigator, row.id, row.version, changes)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}:")
    unchanged = _investigation(navigator.database_url, case_id, "ct_cap")
    assert (unchanged.status, unchanged.version) == (row.status, row.version)


@pytest.mark.parametrize("score", [7, -1, 2.5, True, "2"])
def test_ecog_out_of_range_is_refused(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], score: object
) -> None:
    case_id = make_case()
    with pytest.raises(ValidationError, match=r"^ecog:"):
        record_ecog(contexts["oncologist"], case_id, score=score, observed_on=dt.date.today())  # type: ignore[arg-type]
    with unit_of_work(contexts["oncologist"].database_url) as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.entity == "ecog_observation")).all()
            == []
        )


def test_ecog_recorded_is_audited(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    ecog_id = record_ecog(contexts["oncologist"], case_id, score=2, observed_on=dt.date.today())
    events = _audit(contexts["oncologist"].database_url, "ecog_observation", ecog_id)
    assert [e.action for e in events] == ["create"]
    assert json.loads(events[0].after)["score"] == 2


def test_changed_presentation_requests_newly_required_workup(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    from cupboard.models import Case
    from cupboard.services.cases import update_case

    navigator = contexts["navigator"]
    case_id = make_case(sex="female", sites=("liver",))
    assert _investigation(navigator.database_url, case_id, "breast_mri").status == "not_indicated"
    with unit_of_work(navigator.database_url) as session:
        version = session.get(Case, case_id).version  # type: ignore[union-attr]
    update_case(navigator, case_id, version, {"metastatic_sites": ["liver", "axillary_nodes"]})
    mri = _investigation(navigator.database_url, case_id, "breast_mri")
    assert mri.status == "to_request"
    reasons = [
        e.reason
        for e in _audit(navigator.database_url, "investigation", mri.id)
        if e.action == "update"
    ]
    # The reason says what was recorded and why the guidance now requires it.
    assert reasons == [
        "required now that the changed presentation is recorded: woman with axillary nodes"
    ]
