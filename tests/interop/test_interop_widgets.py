"""The download widgets pages drop in: pseudonymised by default, nothing built on render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from cupboard.db import unit_of_work
from cupboard.models import AuditEvent
from cupboard.services.context import ServiceContext


def _widgets(ctx: "ServiceContext", case_id: int, meeting_id: int) -> None:  # noqa: UP037
    # AppTest runs this function's source on its own: no module-level names here.
    from cupboard.ui.interop_widgets import (
        cohort_download_buttons,
        fhir_download_button,
        queue_download_buttons,
    )

    fhir_download_button(ctx, case_id)
    cohort_download_buttons(ctx)
    queue_download_buttons(ctx, meeting_id)


def _exports(url: str) -> int:
    with unit_of_work(url) as session:
        query = select(func.count(AuditEvent.id)).where(AuditEvent.action == "export")
        return session.scalar(query) or 0


def _run(ctx: ServiceContext, case_id: int) -> Any:
    return AppTest.from_function(_widgets, args=(ctx, case_id, 1), default_timeout=30).run()


def test_buttons_render_unticked_and_build_nothing_until_clicked(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int], database_url: str
) -> None:
    case_id = make_case()
    app = _run(contexts["oncologist"], case_id)
    assert not app.exception
    assert [b.label for b in app.get("download_button")] == [
        "Download FHIR bundle (JSON)",
        "Download cohort",
        "Download agenda",
    ]
    assert [c.value for c in app.checkbox] == [False, False, False]
    assert all("identifiable" in c.label for c in app.checkbox)
    assert _exports(database_url) == 0  # rendering is not exporting


def test_roles_without_export_permission_see_no_buttons(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    app = _run(contexts["viewer"], make_case())
    assert not app.exception
    assert len(app.get("download_button")) == 0 and len(app.checkbox) == 0
