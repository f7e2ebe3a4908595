"""A click after deactivation, demotion or idle time-out writes and exports nothing.

Streamlit runs a widget's callback with the context of the run before it, so the
service layer re-reads the account (and checks the idle time) in the transaction of
every write and export (issue 14 point 1). Each refusal leaves a "refused" audit row;
so does the loser of a conflict.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.errors import (
    ConflictError,
    CupboardError,
    PermissionDeniedError,
    SessionExpiredError,
)
from cupboard.models import AuditEvent, EcogObservation, Investigation, User
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services import case_record
from cupboard.services.accounts import update_user
from cupboard.services.context import ServiceContext
from cupboard.services.interop import export_case_fhir
from cupboard.services.performance import record_ecog
from cupboard.services.workup import InvestigationEdit, save_workup_edits, update_investigation


def _ct(ctx: ServiceContext, case_id: int) -> case_record.WorkupRow:
    [row] = [r for r in case_record.workup(ctx, case_id) if r.code == "ct_cap"]
    return row


def _change_account(admin: ServiceContext, user_id: int, **changes: object) -> None:
    with unit_of_work(admin.database_url) as session:
        user = session.get(User, user_id)
        assert user is not None
        version = user.version
    update_user(admin, user_id, version, dict(changes))


def _refusals(url: str, username: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "refused", AuditEvent.actor_username == username)
                .order_by(AuditEvent.id)
            )
        )


def _exports(url: str) -> int:
    with unit_of_work(url) as session:
        return session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export")
        )


def _ecogs(url: str, case_id: int) -> int:
    with unit_of_work(url) as session:
        return session.scalar(
            select(func.count())
            .select_from(EcogObservation)
            .where(EcogObservation.case_id == case_id)
        )


def _attempt_write_and_export(
    ctx: ServiceContext, case_id: int, ct: case_record.WorkupRow, expected: type[CupboardError]
) -> None:
    """A workup save, an ECOG record and an identifiable export: each refused."""
    with pytest.raises(expected) as refused_save:
        save_workup_edits(
            ctx, case_id, [InvestigationEdit(ct.investigation_id, ct.version, {"status": "done"})]
        )
    with pytest.raises(expected):
        record_ecog(ctx, case_id, score=1, observed_on="2024-01-02")
    with pytest.raises(expected):
        export_case_fhir(ctx, case_id, include_identifiers=True)
    assert "nothing was saved" in str(refused_save.value) or "Not allowed" in str(
        refused_save.value
    )


def _assert_nothing_changed(
    ctx: ServiceContext, case_id: int, ct: case_record.WorkupRow, exports_before: int
) -> None:
    with unit_of_work(ctx.database_url) as session:
        row = session.get(Investigation, ct.investigation_id)
        assert row is not None
        assert (row.status, row.version) == (ct.status, ct.version)
    assert _ecogs(ctx.database_url, case_id) == 0
    assert _exports(ctx.database_url) == exports_before


def test_a_deactivated_users_write_and_export_are_refused_and_audited(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse, admin = contexts["navigator"], contexts["admin"]
    case_id = make_case()
    ct = _ct(nurse, case_id)
    exports_before = _exports(nurse.database_url)
    assert nurse.actor.user_id is not None
    _change_account(admin, nurse.actor.user_id, is_active=False)

    _attempt_write_and_export(nurse, case_id, ct, SessionExpiredError)

    _assert_nothing_changed(nurse, case_id, ct, exports_before)
    refusals = _refusals(nurse.database_url, "test-navigator")
    assert [r.entity for r in refusals] == ["update_investigation", "record_ecog", "export_data"]
    assert all("no longer active" in (r.reason or "") for r in refusals)


def test_a_demoted_users_write_and_export_are_refused_under_the_new_role(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse, admin = contexts["navigator"], contexts["admin"]
    case_id = make_case()
    ct = _ct(nurse, case_id)
    exports_before = _exports(nurse.database_url)
    assert nurse.actor.user_id is not None
    _change_account(admin, nurse.actor.user_id, role="viewer")

    # The context still says "navigator", as the page's last run left it.
    assert nurse.actor.role == "navigator"
    _attempt_write_and_export(nurse, case_id, ct, PermissionDeniedError)

    _assert_nothing_changed(nurse, case_id, ct, exports_before)
    refusals = _refusals(nurse.database_url, "test-navigator")
    assert len(refusals) == 3
    assert all("a viewer may not" in (r.reason or "") for r in refusals)
    # Reading the board is still allowed to a viewer.
    assert _ct(nurse, case_id).version == ct.version


def test_an_idle_sessions_write_and_export_are_refused_and_audited(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse = contexts["navigator"]
    case_id = make_case()
    ct = _ct(nurse, case_id)
    exports_before = _exports(nurse.database_url)
    # The page last ran 31 minutes ago; the limit is 30.
    idle = ServiceContext(
        nurse.database_url, nurse.actor, last_activity=time.time() - 31 * 60, idle_minutes=30
    )

    _attempt_write_and_export(idle, case_id, ct, SessionExpiredError)

    _assert_nothing_changed(nurse, case_id, ct, exports_before)
    refusals = _refusals(nurse.database_url, "test-navigator")
    assert len(refusals) == 3
    assert all("30 minutes without activity" in (r.reason or "") for r in refusals)


def test_a_session_within_the_idle_limit_writes(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse = contexts["navigator"]
    case_id = make_case()
    active = ServiceContext(
        nurse.database_url, nurse.actor, last_activity=time.time() - 29 * 60, idle_minutes=30
    )
    record_ecog(active, case_id, score=1, observed_on="2024-01-02")
    assert _ecogs(nurse.database_url, case_id) == 1
    assert _refusals(nurse.database_url, "test-navigator") == []


def test_a_demo_account_outside_demo_mode_may_not_write(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nurse = contexts["navigator"]
    case_id = make_case()
    with unit_of_work(nurse.database_url) as session:
        user = session.get(User, nurse.actor.user_id)
        assert user is not None
        user.is_demo = True
    monkeypatch.setenv("CUPBOARD_DEMO", "0")
    with pytest.raises(SessionExpiredError):
        record_ecog(nurse, case_id, score=1, observed_on="2024-01-02")
    # This database holds real accounts, so it is production: asking for demo mode does
    # not let a demo account in either (the check reads the database the call writes to).
    monkeypatch.setenv("CUPBOARD_DEMO", "1")
    with pytest.raises(SessionExpiredError):
        record_ecog(nurse, case_id, score=1, observed_on="2024-01-02")
    assert _ecogs(nurse.database_url, case_id) == 0
    # A real account on the same database still writes.
    record_ecog(contexts["oncologist"], case_id, score=1, observed_on="2024-01-02")
    assert _ecogs(nurse.database_url, case_id) == 1


def test_the_system_actor_still_writes(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    system = ServiceContext(contexts["navigator"].database_url, SYSTEM_ACTOR)
    # The system actor is an administrator: it may read, and is refused clinical writes
    # by role alone (it has no account to re-read).
    assert _ct(system, case_id).code == "ct_cap"
    with pytest.raises(PermissionDeniedError):
        record_ecog(system, case_id, score=1, observed_on="2024-01-02")


def test_a_conflicts_loser_leaves_one_refused_row_naming_the_investigation(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse, chair = contexts["navigator"], contexts["chair"]
    case_id = make_case()
    seen = _ct(nurse, case_id)
    update_investigation(nurse, seen.investigation_id, seen.version, {"result_text": "A"})
    with pytest.raises(ConflictError):
        update_investigation(chair, seen.investigation_id, seen.version, {"result_text": "B"})

    [refusal] = _refusals(chair.database_url, "test-chair")
    assert (refusal.entity, refusal.entity_id) == ("investigation", seen.investigation_id)
    assert "update_investigation: Conflict" in (refusal.reason or "")
    assert _refusals(nurse.database_url, "test-navigator") == []


def test_a_conflict_in_a_several_row_workup_save_is_audited_once(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    nurse, chair = contexts["navigator"], contexts["chair"]
    case_id = make_case()
    rows = {r.code: r for r in case_record.workup(nurse, case_id)}
    ct, histology = rows["ct_cap"], rows["histopathology_ihc"]
    update_investigation(nurse, ct.investigation_id, ct.version, {"result_text": "A"})

    result = save_workup_edits(
        chair,
        case_id,
        [
            InvestigationEdit(ct.investigation_id, ct.version, {"result_text": "B"}),
            InvestigationEdit(
                histology.investigation_id, histology.version, {"status": "requested"}
            ),
        ],
    )
    assert result.saved == (histology.investigation_id,)
    [refusal] = _refusals(chair.database_url, "test-chair")
    assert (refusal.entity, refusal.entity_id) == ("investigation", ct.investigation_id)
