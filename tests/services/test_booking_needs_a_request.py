"""A booking date belongs to a requested investigation (issue 16): a "to request" or
"not indicated" row with an appointment date is refused, and nothing changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import ValidationError
from cupboard.models import Investigation
from cupboard.services.context import ServiceContext
from cupboard.services.workup import update_investigation

NEXT_WEEK = dt.date.today() + dt.timedelta(days=7)


def _row(url: str, case_id: int, code: str) -> Investigation:
    with unit_of_work(url) as session:
        row = session.scalar(
            select(Investigation).where(
                Investigation.case_id == case_id, Investigation.code == code
            )
        )
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize("status", ["to_request", "not_indicated"])
def test_a_booking_date_without_a_request_is_refused(
    status: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case()
    row = _row(navigator.database_url, case_id, "ct_cap")
    with pytest.raises(ValidationError, match=r"^booked_for"):
        update_investigation(
            navigator, row.id, row.version, {"status": status, "booked_for": NEXT_WEEK}
        )
    after = _row(navigator.database_url, case_id, "ct_cap")
    assert (after.status, after.booked_for, after.version) == (row.status, None, row.version)


def test_booking_a_requested_investigation_keeps_its_date(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    navigator = contexts["navigator"]
    case_id = make_case()
    row = _row(navigator.database_url, case_id, "ct_cap")
    update_investigation(
        navigator,
        row.id,
        row.version,
        {"status": "booked", "requested_on": dt.date.today(), "booked_for": NEXT_WEEK},
    )
    assert _row(navigator.database_url, case_id, "ct_cap").booked_for == NEXT_WEEK
