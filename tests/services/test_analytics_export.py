"""The analytics page's per-case CSV (lead times): an export like any other, so it
needs the export permission and leaves an audit row (issue 14)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import PermissionDeniedError
from cupboard.models import AuditEvent
from cupboard.services.analytics import AnalyticsFilter, export_lead_times
from cupboard.services.context import ServiceContext
from cupboard.services.settings import get_lead_time_targets

TODAY = dt.date.today()
LAST_YEAR = AnalyticsFilter(start=TODAY - dt.timedelta(days=365), end=TODAY)


def _exports(url: str) -> list[AuditEvent]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
            )
        )


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_roles_without_the_export_permission_get_no_per_case_csv(
    database_url: str,
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    role: str,
) -> None:
    make_case()
    targets = get_lead_time_targets(database_url).lead_times
    with pytest.raises(PermissionDeniedError, match="may not export data"):
        export_lead_times(contexts[role], LAST_YEAR, targets, today=TODAY)
    assert _exports(database_url) == []


@pytest.mark.parametrize("role", ["navigator", "oncologist", "chair", "pathologist"])
def test_the_per_case_csv_is_audited_as_an_export(
    database_url: str,
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    role: str,
) -> None:
    case_ids = [make_case(), make_case()]
    targets = get_lead_time_targets(database_url).lead_times

    exported = export_lead_times(contexts[role], LAST_YEAR, targets, "treatment", TODAY)

    frame = pd.read_csv(io.BytesIO(exported))
    assert sorted(frame["case_id"]) == sorted(case_ids)
    assert frame["pathway_start"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()  # days
    [row] = _exports(database_url)
    assert (row.actor_username, row.entity, row.entity_id) == (f"test-{role}", "cohort", None)
    assert row.reason == (
        f"lead times CSV, 2 cases, pathway start {LAST_YEAR.start.isoformat()} to "
        f"{TODAY.isoformat()}, navigator any, oncologist any, endpoint treatment"
    )
