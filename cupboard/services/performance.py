"""Performance status (ECOG) observations [ECOG]."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cupboard import validation as v
from cupboard.models import EcogObservation
from cupboard.services.audit import record_creation
from cupboard.services.cases import get_case
from cupboard.services.context import ServiceContext
from cupboard.services.workup_follows import request_newly_required


def validate_ecog(
    *,
    score: object,
    observed_on: object,
    weight_kg: object = None,
    note: object = None,
    today: dt.date,
) -> dict[str, Any]:
    """The cleaned column values of an ECOG observation, or ValidationError [ECOG]."""
    return {
        "score": v.integer("ecog", score, 0, 5),
        "observed_on": v.date("observed_on", observed_on, not_after=today),
        "weight_kg": v.optional_number("weight_kg", weight_kg, 1, 400),
        "note": v.optional_text("note", note, v.MAX_LONG_TEXT),
    }


def record_ecog(
    ctx: ServiceContext,
    case_id: int,
    *,
    score: int,
    observed_on: dt.date | str,
    weight_kg: float | None = None,
    note: str | None = None,
    today: dt.date | None = None,
) -> int:
    """Record an ECOG score 0-5 on a date (and weight, if measured)."""
    today = today or dt.date.today()
    values = validate_ecog(
        score=score,
        observed_on=observed_on,
        weight_kg=weight_kg,
        note=note,
        today=today,
    )
    with ctx.writing("record_ecog") as session:
        get_case(session, case_id)
        row = EcogObservation(case_id=case_id, recorded_by_id=ctx.actor.user_id, **values)
        session.add(row)
        record_creation(session, ctx.actor, row)
        # A fitter patient can make an investigation required (NGS at ECOG 0-1).
        cause = f"ECOG {values['score']} of {values['observed_on'].isoformat()}"
        request_newly_required(session, ctx.actor, case_id, today, cause)
        return row.id
