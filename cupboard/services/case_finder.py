"""Find any patient's case: by name, MRN or personal number, or pseudonym; open or closed.

One query, whatever the size of the register: the patient's folded keys
(cupboard/search_keys.py, migration 0007) are compared with the folded term, the
matches ranked in the database (the exact number first, then a number or name that
starts with the term, then one that contains it; the newest referral first within a
rank) and at most ``limit`` returned. A case that is not on any agenda, or closed long
ago, is found the same way as today's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, or_, select

from cupboard import validation as v
from cupboard.knowledge.pathway import CASE_STATUS_LABELS
from cupboard.models import Case, Patient
from cupboard.search_keys import compact_id, fold_text
from cupboard.services.context import ServiceContext

MAX_TERM = 100
DEFAULT_LIMIT = 20

# How well a case matched, best first.
EXACT, STARTS_WITH, CONTAINS = 0, 1, 2
MATCH_LABELS = {EXACT: "exact number", STARTS_WITH: "starts with", CONTAINS: "contains"}


@dataclass(frozen=True)
class FoundCase:
    """One case the finder offers. ``name`` and ``mrn`` are None when the search was
    de-identified (a projected meeting): the pseudonym is then all it shows."""

    case_id: int
    pseudonym: str
    status: str
    status_label: str
    referral_date: dt.date
    sex: str
    date_of_birth: dt.date | None
    name: str | None
    mrn: str | None
    match: int

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    @property
    def label(self) -> str:
        """One line for a list of choices: who, which case, how far along."""
        who = f" · {self.name} · MRN {self.mrn}" if self.name is not None else ""
        return (
            f"{self.pseudonym}{who} · {self.status_label} · "
            f"referred {self.referral_date.isoformat()}"
        )


def find_cases(
    ctx: ServiceContext,
    term: str,
    *,
    deidentified: bool = False,
    include_closed: bool = True,
    limit: int = DEFAULT_LIMIT,
) -> tuple[FoundCase, ...]:
    """Cases whose patient matches ``term``, best match first, at most ``limit``.

    ``deidentified``: search and show pseudonyms only, so that neither the results nor
    which pseudonyms a name finds tell who the patients are.
    """
    typed = v.optional_text("search", term, MAX_TERM) or ""
    words, number = fold_text(typed), compact_id(typed)
    limit = v.integer("limit", limit, 1, 200)
    if not number:
        return ()
    key = Patient.search_id  # "|<mrn>|<pseudonym>|", neither part holding a "|"
    if deidentified:
        # The pseudonym is the part after the second "|": anchored so, the patterns
        # never look at the MRN.
        exact, starts = key.like(f"%|{number}|"), key.like(f"|%|{number}%|")
        conditions = [key.like(f"|%|%{number}%|")]
    else:
        exact = key.like(f"%|{number}|%")
        starts = (
            key.like(f"%|{number}%")
            | Patient.search_name.like(f"{words}%")
            | Patient.search_name.like(f"% {words}%")
        )
        conditions = [key.like(f"%{number}%"), Patient.search_name.like(f"%{words}%")]
    rank = case((exact, EXACT), (starts, STARTS_WITH), else_=CONTAINS)
    query = (
        select(
            Case.id,
            Case.status,
            Case.referral_date,
            Patient.pseudonym,
            Patient.sex,
            Patient.date_of_birth,
            Patient.name,
            Patient.mrn,
            rank.label("match"),
        )
        .join(Patient, Case.patient_id == Patient.id)
        .where(or_(*conditions))
        .order_by(rank, Case.referral_date.desc(), Case.id.desc())
        .limit(limit)
    )
    if not include_closed:
        query = query.where(Case.status != "closed")
    with ctx.reading("view_cases") as session:
        rows = session.execute(query).all()
    return tuple(
        FoundCase(
            case_id=row.id,
            pseudonym=row.pseudonym,
            status=row.status,
            status_label=CASE_STATUS_LABELS.get(row.status, row.status),
            referral_date=row.referral_date,
            sex=row.sex,
            date_of_birth=None if deidentified else row.date_of_birth,
            name=None if deidentified else row.name,
            mrn=None if deidentified else row.mrn,
            match=row.match,
        )
        for row in rows
    )


def cases_named_by(ctx: ServiceContext, identifier: str) -> tuple[FoundCase, ...]:
    """The cases whose patient has exactly this pseudonym or MRN (or personal number,
    with or without its dash), newest referral first: for a filter that must name one
    patient, not offer a list of likely ones."""
    return tuple(f for f in find_cases(ctx, identifier) if f.match == EXACT)
