"""The trial register (issue 19): the clinical trials this centre can offer.

The navigator (as trial coordinator) or the chair adds, edits and closes trials; every
change is validated here, version-checked against what the user saw, and audited. A
trial can be started from a ClinicalTrials.gov study record saved to a file (the server
needs no internet): identification, status, phase, conditions, age, sex and the free
eligibility text come from the record; the structured criteria are completed by hand,
since the registry's eligibility is prose.

Matching itself is pure (cupboard/trials.py); :func:`trial_matches` reads the recruiting
trials and matches one case's profile on view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cupboard import validation as v
from cupboard.errors import NotFoundError, ValidationError
from cupboard.guidance import CaseProfile, Guidance
from cupboard.models import Trial
from cupboard.services.audit import apply_update, record_creation
from cupboard.services.context import ServiceContext
from cupboard.trials import (
    CriteriaError,
    RankedMatch,
    RegisteredTrial,
    TrialCriteria,
    best_matches,
    criteria_from_json,
    criteria_to_json,
    rank_matches,
)

TRIAL_STATUSES: tuple[str, ...] = ("recruiting", "closed")
# NCT number (ClinicalTrials.gov) or EU CT number (CTIS, e.g. 2023-503456-12-00).
_IDENTIFIER = re.compile(r"NCT\d{8}|\d{4}-\d{6}-\d{2}-\d{2}")
MAX_TITLE = 300
MAX_CONDITIONS = 50
# A study record is a few tens of kilobytes; a file far larger is not one.
MAX_STUDY_BYTES = 2_000_000


@dataclass(frozen=True)
class TrialDraft:
    """What a user (or an imported study record) gives for a new trial."""

    identifier: str
    title: str
    criteria: Mapping[str, Any] = field(default_factory=dict)  # cupboard/trials.py JSON
    phase: str | None = None
    site_contact: str | None = None
    status: str = "recruiting"
    conditions: tuple[str, ...] = ()
    eligibility_text: str | None = None


@dataclass(frozen=True)
class TrialView:
    id: int
    identifier: str
    title: str
    phase: str | None
    site_contact: str | None
    status: str
    conditions: tuple[str, ...]
    criteria: TrialCriteria
    eligibility_text: str | None
    version: int  # carry to update_trial / close_trial

    def registered(self) -> RegisteredTrial:
        return RegisteredTrial(
            self.identifier, self.title, self.criteria, self.phase, self.status, self.site_contact
        )


# ---------------------------------------------------------------------------------
# Validation at the boundary


def _identifier(value: object) -> str:
    identifier = v.text("identifier", value, 40).upper()
    if not _IDENTIFIER.fullmatch(identifier):
        raise ValidationError(
            "identifier",
            "must be an NCT number (NCT12345678) or an EU CT number (2023-503456-12-00)",
        )
    return identifier


def _criteria(value: object) -> dict[str, Any]:
    """Structured criteria checked and stored in their normal form: a misspelt key or
    an unknown code is refused, never stored to admit everyone."""
    try:
        return criteria_to_json(
            criteria_from_json(dict(value) if isinstance(value, Mapping) else value)
        )
    except CriteriaError as error:
        raise ValidationError(error.field, error.message) from None


def _conditions(value: object) -> list[str]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_CONDITIONS:
        raise ValidationError("conditions", f"must be a list of at most {MAX_CONDITIONS} names")
    return [v.text(f"conditions[{i}]", c) for i, c in enumerate(value)]


_FIELDS = {
    "title": lambda value: v.text("title", value, MAX_TITLE),
    "phase": lambda value: v.optional_text("phase", value, 40),
    "site_contact": lambda value: v.optional_text("site_contact", value),
    "status": lambda value: v.choice("status", value, TRIAL_STATUSES),
    "conditions": _conditions,
    "criteria": _criteria,
    "eligibility_text": lambda value: v.optional_text("eligibility_text", value, v.MAX_LONG_TEXT),
}


def _clean(changes: Mapping[str, object]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(_FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "is not a field of a trial")
    return {key: _FIELDS[key](value) for key, value in changes.items()}


def _view(row: Trial) -> TrialView:
    return TrialView(
        id=row.id,
        identifier=row.identifier,
        title=row.title,
        phase=row.phase,
        site_contact=row.site_contact,
        status=row.status,
        conditions=tuple(row.conditions or ()),
        criteria=criteria_from_json(row.criteria),
        eligibility_text=row.eligibility_text,
        version=row.version,
    )


# ---------------------------------------------------------------------------------
# Use cases


def add_trial(ctx: ServiceContext, draft: TrialDraft) -> int:
    """Register a trial; returns its id. The identifier is unique in the register."""
    identifier = _identifier(draft.identifier)
    values = _clean(
        {
            "title": draft.title,
            "phase": draft.phase,
            "site_contact": draft.site_contact,
            "status": draft.status,
            "conditions": list(draft.conditions),
            "criteria": draft.criteria,
            "eligibility_text": draft.eligibility_text,
        }
    )
    with ctx.writing("manage_trials") as session:
        if session.scalar(select(Trial.id).where(Trial.identifier == identifier)) is not None:
            raise ValidationError("identifier", f"{identifier} is already in the register")
        row = Trial(identifier=identifier, **values)
        session.add(row)
        try:
            record_creation(session, ctx.actor, row, reason="trial registered")
        except IntegrityError:  # registered by someone else a moment ago
            raise ValidationError(
                "identifier", f"{identifier} is already in the register"
            ) from None
        return row.id


def update_trial(
    ctx: ServiceContext,
    trial_id: int,
    changes: Mapping[str, object],
    seen_version: int,
    reason: str | None = None,
) -> int:
    """Change a trial if it is still the version the user saw; returns the new version.
    Completing the structured criteria by hand is such a change."""
    values = _clean(changes)
    with ctx.writing("manage_trials") as session:
        row = session.get(Trial, trial_id)
        if row is None:
            raise NotFoundError("trial", trial_id)
        apply_update(session, ctx.actor, row, values, seen_version, reason)
        return row.version


def close_trial(
    ctx: ServiceContext, trial_id: int, seen_version: int, reason: str | None = None
) -> int:
    """Close a trial to recruitment: it is no longer matched. Returns the new version."""
    return update_trial(ctx, trial_id, {"status": "closed"}, seen_version, reason or "closed")


def list_trials(ctx: ServiceContext, *, recruiting_only: bool = False) -> tuple[TrialView, ...]:
    with ctx.reading("view_cases") as session:
        query = select(Trial).order_by(Trial.identifier)
        if recruiting_only:
            query = query.where(Trial.status == "recruiting")
        return tuple(_view(row) for row in session.scalars(query))


def get_trial(ctx: ServiceContext, trial_id: int) -> TrialView:
    with ctx.reading("view_cases") as session:
        row = session.get(Trial, trial_id)
        if row is None:
            raise NotFoundError("trial", trial_id)
        return _view(row)


def trial_matches(
    ctx: ServiceContext,
    profile: CaseProfile,
    guidance: Guidance,
    *,
    prior_lines: int | None = None,
    limit: int | None = 3,
) -> tuple[RankedMatch, ...]:
    """The recruiting trials this case could enter, best first: eligible, then possibly
    eligible with what would decide it. ``limit`` None: every recruiting trial, not
    eligible ones included (last). Run per case on view, never over the whole cohort."""
    ranked = rank_matches(
        profile,
        guidance,
        (t.registered() for t in list_trials(ctx, recruiting_only=True)),
        prior_lines,
    )
    return ranked if limit is None else best_matches(ranked, limit)


# ---------------------------------------------------------------------------------
# ClinicalTrials.gov study record (API v2 JSON), saved to a file

_AGE = re.compile(r"^\s*(\d+)\s*(year|month|week|day)s?\s*$", re.IGNORECASE)
_CTGOV_SEX = {"ALL": "all", "FEMALE": "female", "MALE": "male"}


def _ctgov_age(value: object, field_name: str) -> int | None:
    """ "18 Years" -> 18; months, weeks and days are under a year (0); absent -> None."""
    if value is None or value == "N/A":
        return None
    match = _AGE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(field_name, f"must read like '18 Years'; got {v.shown(value)}")
    number, unit = int(match.group(1)), match.group(2).lower()
    return min(number, 130) if unit == "year" else 0


def _ctgov_phase(phases: object) -> str | None:
    if not isinstance(phases, list) or not phases:
        return None
    names = [str(p).replace("EARLY_PHASE1", "early phase 1") for p in phases]
    numbers = [n.removeprefix("PHASE") for n in names if n.startswith("PHASE")]
    if numbers and len(numbers) == len(names):
        return "Phase " + "/".join(numbers)
    return ", ".join(n.replace("_", " ").lower() for n in names)


def _section(data: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    node: object = data
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def parse_ctgov_study(content: bytes | str) -> TrialDraft:
    """A trial draft from one ClinicalTrials.gov v2 study record. Only ``RECRUITING``
    counts as recruiting (not yet recruiting cannot enrol today). The age range and sex
    become structured criteria; everything else the record says in prose stays in
    ``eligibility_text`` for the coordinator to complete the criteria from."""
    data = v.json_document("study record", content, MAX_STUDY_BYTES)
    if not isinstance(data, Mapping) or "protocolSection" not in data:
        raise ValidationError(
            "study record", "is not a ClinicalTrials.gov study (no protocolSection)"
        )
    identification = _section(data, "protocolSection", "identificationModule")
    status = _section(data, "protocolSection", "statusModule")
    design = _section(data, "protocolSection", "designModule")
    conditions = _section(data, "protocolSection", "conditionsModule")
    eligibility = _section(data, "protocolSection", "eligibilityModule")
    nct_id = identification.get("nctId")
    if not isinstance(nct_id, str):
        raise ValidationError("identificationModule.nctId", "is missing")
    title = identification.get("briefTitle") or identification.get("officialTitle")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("identificationModule.briefTitle", "is missing")
    sex = _CTGOV_SEX.get(str(eligibility.get("sex", "ALL")).upper())
    if sex is None:
        raise ValidationError("eligibilityModule.sex", "must be ALL, FEMALE or MALE")
    criteria: dict[str, Any] = {
        "age_min": _ctgov_age(eligibility.get("minimumAge"), "eligibilityModule.minimumAge"),
        "age_max": _ctgov_age(eligibility.get("maximumAge"), "eligibilityModule.maximumAge"),
        "sex": sex,
    }
    names = conditions.get("conditions")
    text = eligibility.get("eligibilityCriteria")
    return TrialDraft(
        identifier=nct_id,
        title=title.strip()[:MAX_TITLE],
        criteria=criteria,
        phase=_ctgov_phase(design.get("phases")),
        status="recruiting" if status.get("overallStatus") == "RECRUITING" else "closed",
        conditions=tuple(str(c) for c in names) if isinstance(names, list) else (),
        eligibility_text=text if isinstance(text, str) else None,
    )


def import_ctgov_study(
    ctx: ServiceContext, content: bytes | str, site_contact: str | None = None
) -> int:
    """Register a trial from a saved ClinicalTrials.gov study record; returns its id.
    The structured criteria hold only age and sex until completed with update_trial."""
    ctx.require("manage_trials")
    draft = parse_ctgov_study(content)
    if site_contact is not None:
        draft = TrialDraft(**{**draft.__dict__, "site_contact": site_contact})
    return add_trial(ctx, draft)


def trial_json(view: TrialView) -> dict[str, Any]:
    """A trial as the offline ``--trials`` file of match-trials reads it."""
    return {
        "identifier": view.identifier,
        "title": view.title,
        "criteria": criteria_to_json(view.criteria),
    }
