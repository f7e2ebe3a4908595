"""The workup follows the record: what a recorded finding or ECOG means for the
investigations, applied in the same transaction as the finding itself.

- A histopathology report or an IHC panel proves the biopsy was taken and the tissue
  examined: ``biopsy`` becomes done and ``histopathology_ihc`` reported, so neither
  stays "to request" and missing before the MDT.
- A finding can make an investigation required that was not before (NGS once the
  patient is fit, PET-CT before local therapy, AFP/β-hCG for a midline presentation:
  whatever :mod:`cupboard.guidance` requires of the whole picture). One stored as "not
  indicated" then becomes "to request", so it is flagged as missing; an investigation
  the case has no row for yet is added. The navigator sees why in the audit reason and
  in the workup row's "Before MDT" reason.

Every change is audited with a reason naming the finding it follows from. Nothing is
ever moved backwards: a done or reported investigation stays so, and a declined one
is the patient's choice and is left alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cupboard.knowledge.investigations import INVESTIGATIONS_BY_CODE, MISSING_STATUSES
from cupboard.models import Investigation
from cupboard.permissions import Actor
from cupboard.services.audit import apply_update, record_creation
from cupboard.services.case_record import load_profiles, requirements_for

# The investigations a tissue report proves done, and the status it proves.
TISSUE_WORKUP: dict[str, str] = {"biopsy": "done", "histopathology_ihc": "reported"}


def _rows(session: Session, case_id: int) -> dict[str, Investigation]:
    """The case's investigations, locked until this transaction ends.

    Two colleagues recording findings or ECOG on one case at once would otherwise both
    turn the same "not indicated" row to "to request", and the second would be refused
    as a conflict over a change neither of them made by hand. With the rows locked the
    second waits, then reads the row as the first left it and has nothing to change.
    (SQLite takes its write lock at the start of every write instead.)
    """
    query = (
        select(Investigation)
        .where(Investigation.case_id == case_id)
        .order_by(Investigation.id)
        .with_for_update()
    )
    return {row.code: row for row in session.scalars(query)}


def mark_tissue_workup_done(
    session: Session, actor: Actor, case_id: int, reported_on: dt.date, cause: str
) -> list[str]:
    """``biopsy`` done and ``histopathology_ihc`` reported on the report's date, unless
    already so; returns the codes changed. ``cause`` names the finding ("the
    histopathology report of 2026-03-02")."""
    changed: list[str] = []
    rows = _rows(session, case_id)
    for code, status in TISSUE_WORKUP.items():
        row = rows.get(code)
        reason = f"{cause} was recorded: consequence of that finding"
        if row is None:
            row = Investigation(
                case_id=case_id,
                code=code,
                status=status,
                done_on=reported_on,
                reported_on=reported_on if status == "reported" else None,
            )
            session.add(row)
            record_creation(session, actor, row, reason=reason)
            changed.append(code)
            continue
        if row.status not in MISSING_STATUSES and row.status != "not_indicated":
            continue  # done, reported or declined already: never moved backwards
        changes: dict[str, object] = {"status": status}
        _set_dates(changes, row, status, reported_on)
        apply_update(session, actor, row, changes, row.version, reason=reason)
        changed.append(code)
    return changed


def _set_dates(changes: dict[str, object], row: Investigation, status: str, on: dt.date) -> None:
    if row.done_on is None:
        changes["done_on"] = on
    if status == "reported" and row.reported_on is None:
        changes["reported_on"] = on


def request_newly_required(
    session: Session, actor: Actor, case_id: int, today: dt.date, cause: str
) -> list[str]:
    """Investigations the guidance now requires of the case's whole picture that are
    stored as "not indicated" (or not stored at all) become "to request"; returns the
    codes changed. ``cause`` names what was recorded ("ECOG 1 of 2026-03-02")."""
    profile = load_profiles(session, [case_id], today).profiles.get(case_id)
    if profile is None:
        return []
    rows = _rows(session, case_id)
    changed: list[str] = []
    for required in requirements_for(profile):
        reason = f"required now that {cause} is recorded: {required.reason}"
        row = rows.get(required.code)
        if row is None and required.code in INVESTIGATIONS_BY_CODE:
            row = Investigation(case_id=case_id, code=required.code, status="to_request")
            session.add(row)
            record_creation(session, actor, row, reason=reason)
            changed.append(required.code)
        elif row is not None and row.status == "not_indicated":
            apply_update(session, actor, row, {"status": "to_request"}, row.version, reason)
            changed.append(required.code)
    return changed
