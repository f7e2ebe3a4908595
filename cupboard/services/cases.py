"""Referrals and cases: register, update status and presentation, read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cupboard import validation as v
from cupboard.errors import NotFoundError, ValidationError
from cupboard.guidance import required_investigations
from cupboard.knowledge.investigations import INVESTIGATIONS
from cupboard.knowledge.pathway import CASE_STATUS_CODES, CLOSING_REASONS, DIAGNOSTIC_STAGES
from cupboard.knowledge.sites import BONE_PATTERNS, METASTATIC_SITES, PRIMARY_SITES, SYMPTOMS
from cupboard.models import Case, Investigation, Patient, User
from cupboard.permissions import Actor
from cupboard.services.audit import apply_update, record_creation
from cupboard.services.context import ServiceContext
from cupboard.services.workup_follows import request_newly_required

SEXES = ("female", "male")
MAX_AGE_YEARS = 130


@dataclass(frozen=True)
class Referral:
    """What a referral on well-founded suspicion must contain [SVF]."""

    mrn: str
    name: str
    sex: str
    date_of_birth: dt.date | str
    referral_date: dt.date | str
    pathway_start: dt.date | str | None = None
    phone: str | None = None
    referrer_name: str | None = None
    referrer_phone: str | None = None
    prior_malignancy: str | None = None
    presentation: str | None = None
    metastatic_sites: tuple[str, ...] = ()
    lesion_count: int | None = None
    bone_pattern: str | None = None
    oncologist_id: int | None = None
    navigator_id: int | None = None


def validate_sites(field: str, sites: object) -> list[str]:
    if not isinstance(sites, list | tuple):
        raise ValidationError(field, "must be a list of site codes")
    cleaned: list[str] = []
    for site in sites:
        v.choice(field, site, METASTATIC_SITES)
        if site not in cleaned:
            cleaned.append(site)
    return cleaned


def validate_symptoms(field: str, symptoms: object) -> list[str]:
    """Symptom codes that direct the workup (knowledge/sites.py SYMPTOMS), each once."""
    if not isinstance(symptoms, list | tuple):
        raise ValidationError(field, "must be a list of symptom codes")
    return list(dict.fromkeys(v.choice(field, s, SYMPTOMS) for s in symptoms))


def _optional_bool(field: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(field, "must be yes, no or not recorded")
    return value


def validate_referral(referral: Referral, today: dt.date) -> dict[str, Any]:
    dob = v.date("date_of_birth", referral.date_of_birth, not_after=today)
    if (today - dob).days > MAX_AGE_YEARS * 366:
        raise ValidationError("date_of_birth", f"gives an age over {MAX_AGE_YEARS} years")
    referral_date = v.date("referral_date", referral.referral_date, not_after=today)
    v.not_before("referral_date", referral_date, "date_of_birth", dob)
    pathway_start = v.optional_date("pathway_start", referral.pathway_start, not_after=today)
    return {
        "mrn": v.identity_text("mrn", referral.mrn, 32),
        "name": v.identity_text("name", referral.name, 200),
        "sex": v.choice("sex", referral.sex, SEXES),
        "date_of_birth": dob,
        "referral_date": referral_date,
        "pathway_start": pathway_start or referral_date,
        "phone": v.optional_phone("phone", referral.phone),
        "referrer_name": v.optional_identity_text("referrer_name", referral.referrer_name),
        "referrer_phone": v.optional_phone("referrer_phone", referral.referrer_phone),
        "prior_malignancy": v.optional_text(
            "prior_malignancy", referral.prior_malignancy, v.MAX_LONG_TEXT
        ),
        "presentation": v.optional_text("presentation", referral.presentation, v.MAX_LONG_TEXT),
        "metastatic_sites": validate_sites("metastatic_sites", referral.metastatic_sites),
        "lesion_count": v.optional_integer("lesion_count", referral.lesion_count, 0, 1000),
        "bone_pattern": v.optional_choice("bone_pattern", referral.bone_pattern, BONE_PATTERNS),
    }


def initial_workup_statuses(
    sex: str, sites: Sequence[str], lesions: int | None = None
) -> dict[str, str]:
    """Investigations required for this sex and presentation start 'to request';
    the others 'not indicated' until the presentation calls for them (the rules and
    their sources are in :func:`cupboard.guidance.required_investigations`)."""
    required = set(required_investigations(sex, sites, lesions=lesions))
    return {
        item.code: "to_request" if item.code in required else "not_indicated"
        for item in INVESTIGATIONS
    }


def next_pseudonym(session: Session) -> str:
    last = session.scalar(select(Patient.pseudonym).order_by(Patient.id.desc()).limit(1))
    number = int(last.split("-")[1]) + 1 if last else 1
    return f"CUP-{number:05d}"


def register_referral(ctx: ServiceContext, referral: Referral, today: dt.date | None = None) -> int:
    """A new patient and case with one investigation row per workup item; returns case id."""
    today = today or dt.date.today()
    data = validate_referral(referral, today)
    staff = {
        "navigator_id": v.optional_integer("navigator_id", referral.navigator_id, 1, 2**31),
        "oncologist_id": v.optional_integer("oncologist_id", referral.oncologist_id, 1, 2**31),
    }
    with ctx.writing("register_referral") as session:
        if session.scalar(select(Patient.id).where(Patient.mrn == data["mrn"])) is not None:
            raise ValidationError("mrn", f"a patient with MRN {data['mrn']} already exists")
        check_responsible_staff(session, staff)
        _, case = add_referral(session, ctx.actor, data, case_fields=staff)
        statuses = initial_workup_statuses(
            data["sex"], data["metastatic_sites"], data["lesion_count"]
        )
        for code, status in statuses.items():
            investigation = Investigation(case_id=case.id, code=code, status=status)
            session.add(investigation)
            record_creation(session, ctx.actor, investigation)
        return case.id


def add_referral(
    session: Session,
    actor: Actor,
    data: dict[str, Any],
    reason: str | None = None,
    case_fields: dict[str, Any] | None = None,
) -> tuple[Patient, Case]:
    """Create and audit the patient and case of a validated referral (``data`` from
    :func:`validate_referral`); ``case_fields`` sets what an imported case already has
    (status, stage, outcome, responsible staff). The caller adds the workup."""
    patient = Patient(
        pseudonym=next_pseudonym(session),
        **{k: data[k] for k in ("mrn", "name", "sex", "date_of_birth", "phone")},
        referrer_name=data["referrer_name"],
        referrer_phone=data["referrer_phone"],
        prior_malignancy=data["prior_malignancy"],
    )
    session.add(patient)
    record_creation(session, actor, patient, reason=reason)
    case = Case(
        patient_id=patient.id,
        status="referred",
        diagnostic_stage="muo",
        pathway_start=data["pathway_start"],
        referral_date=data["referral_date"],
        presentation=data["presentation"],
        metastatic_sites=data["metastatic_sites"],
        lesion_count=data["lesion_count"],
        bone_pattern=data["bone_pattern"],
    )
    for key, value in (case_fields or {}).items():
        setattr(case, key, value)
    session.add(case)
    record_creation(session, actor, case, reason=reason)
    return patient, case


# Fields of a case a navigator or oncologist may change, with their validators.
def validate_case_changes(changes: dict[str, Any], today: dt.date) -> dict[str, Any]:
    validators = {
        "status": lambda x: v.choice("status", x, CASE_STATUS_CODES),
        "diagnostic_stage": lambda x: v.choice("diagnostic_stage", x, DIAGNOSTIC_STAGES),
        "presentation": lambda x: v.optional_text("presentation", x, v.MAX_LONG_TEXT),
        "metastatic_sites": lambda x: validate_sites("metastatic_sites", x),
        "lesion_count": lambda x: v.optional_integer("lesion_count", x, 0, 1000),
        "bone_pattern": lambda x: v.optional_choice("bone_pattern", x, BONE_PATTERNS),
        "primary_found_site": lambda x: v.optional_choice("primary_found_site", x, PRIMARY_SITES),
        "primary_found_by": lambda x: v.optional_text("primary_found_by", x, 32),
        "primary_found_on": lambda x: v.optional_date("primary_found_on", x, not_after=today),
        "closing_reason": lambda x: v.optional_choice("closing_reason", x, CLOSING_REASONS),
        "closed_on": lambda x: v.optional_date("closed_on", x, not_after=today),
        "oncologist_id": lambda x: v.optional_integer("oncologist_id", x, 1, 2**31),
        "navigator_id": lambda x: v.optional_integer("navigator_id", x, 1, 2**31),
        "pathway_start": lambda x: v.date("pathway_start", x, not_after=today),
        "symptoms": lambda x: validate_symptoms("symptoms", x),
        "pregnant": lambda x: _optional_bool("pregnant", x),
    }
    cleaned: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in validators:
            raise ValidationError(key, "is not a field of a case that can be changed here")
        cleaned[key] = validators[key](value)
    return cleaned


# Who may answer for a case: its navigator is a nurse navigator, its oncologist an
# oncologist or the chair (the chair is an oncologist who also runs the board).
RESPONSIBLE_ROLES = {"navigator_id": ("navigator",), "oncologist_id": ("oncologist", "chair")}


def check_responsible_staff(session: Session, staff: dict[str, int | None]) -> None:
    for field, user_id in staff.items():
        if user_id is None:
            continue
        row = session.execute(
            select(User.role, User.is_active).where(User.id == user_id)
        ).one_or_none()
        roles = RESPONSIBLE_ROLES[field]
        if row is None or not row.is_active or row.role not in roles:
            raise ValidationError(field, f"must be an active {' or '.join(roles)}")


def update_case(
    ctx: ServiceContext,
    case_id: int,
    seen_version: int,
    changes: dict[str, Any],
    reason: str | None = None,
    today: dt.date | None = None,
    *,
    seen_patient_version: int | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Change a case's status, presentation or responsible staff; closing needs a
    reason [SVF]. The previous malignancy belongs to the patient (every case of the
    patient shares it): it is changed with ``seen_patient_version``, checked like the
    case's."""
    today = today or dt.date.today()
    changes = dict(changes)
    patient_changes: dict[str, Any] = {}
    if "prior_malignancy" in changes:
        patient_changes["prior_malignancy"] = v.optional_text(
            "prior_malignancy", changes.pop("prior_malignancy"), v.MAX_LONG_TEXT
        )
        if seen_patient_version is None:
            raise ValidationError("prior_malignancy", "needs the patient's version you saw")
    cleaned = validate_case_changes(changes, today)
    if "diagnostic_stage" in changes:
        # Only through set_diagnostic_stage's permission: a status change must not
        # become a way round it.
        ctx.require(STAGE_ACTION)
    with ctx.writing("update_case") as session:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFoundError("case", case_id)
        status = cleaned.get("status", case.status)
        if status == "closed":
            reason_code = cleaned.get("closing_reason", case.closing_reason)
            if reason_code is None:
                raise ValidationError("closing_reason", "is required to close a case")
            cleaned.setdefault("closed_on", case.closed_on or today)
        if cleaned.get("closing_reason") == "primary_found" or cleaned.get("primary_found_site"):
            site = cleaned.get("primary_found_site", case.primary_found_site)
            if site is None:
                raise ValidationError("primary_found_site", "name the primary that was found")
            cleaned.setdefault("diagnostic_stage", "primary_found")
            cleaned.setdefault("primary_found_on", case.primary_found_on or today)
        check_responsible_staff(
            session, {f: cleaned[f] for f in RESPONSIBLE_ROLES if cleaned.get(f) is not None}
        )
        changed = apply_update(session, ctx.actor, case, cleaned, seen_version, reason)
        if patient_changes:
            assert seen_patient_version is not None  # refused above
            changed.update(
                apply_update(
                    session, ctx.actor, case.patient, patient_changes, seen_patient_version, reason
                )
            )
        if cleaned.get("pregnant") and case.patient.sex != "female":
            raise ValidationError("pregnant", "is recorded for women only")
        if {"metastatic_sites", "lesion_count", "symptoms", "pregnant"} & set(changed):
            # A changed presentation can make an investigation required (axillary nodes
            # in a woman call for breast MRI [ESMO23]).
            request_newly_required(session, ctx.actor, case_id, today, "the changed presentation")
        return changed


def set_diagnostic_stage(
    ctx: ServiceContext,
    case_id: int,
    seen_version: int,
    stage: str,
    *,
    primary_site: str | None = None,
    reason: str | None = None,
    today: dt.date | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Change the working diagnosis: MUO → provisional CUP → confirmed CUP → primary
    found (naming the primary) [NICE]. It is a clinical judgement, made by the people
    who record the board's decisions (oncologist, chair), audited and version-checked
    like every change; the GP letter and the FHIR export carry it."""
    today = today or dt.date.today()
    stage = v.choice("diagnostic_stage", stage, DIAGNOSTIC_STAGES)
    site = v.optional_choice("primary_found_site", primary_site, PRIMARY_SITES)
    reason = v.optional_text("reason", reason, v.MAX_LONG_TEXT)
    changes: dict[str, Any] = {"diagnostic_stage": stage}
    if stage == "primary_found":
        if site is None:
            raise ValidationError("primary_found_site", "name the primary that was found")
        changes["primary_found_site"] = site
    elif site is not None:
        raise ValidationError("primary_found_site", "is given only when the primary is found")
    with ctx.writing(STAGE_ACTION) as session:
        case = get_case(session, case_id)
        if stage == "primary_found":
            if case.primary_found_site != site or case.primary_found_on is None:
                changes["primary_found_on"] = today
        else:
            if case.closing_reason == "primary_found":
                raise ValidationError(
                    "diagnostic_stage",
                    "the case was closed because its primary was found; reopen it first",
                )
            # Back from "primary found" (a wrong call): the site named no longer holds.
            changes.update(primary_found_site=None, primary_found_on=None)
        return apply_update(session, ctx.actor, case, changes, seen_version, reason)


# The working diagnosis is the oncologist's and the board's call, the same people who
# record decisions: a navigator keeps the pathway moving but does not diagnose.
STAGE_ACTION = "record_decision"


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError("case", case_id)
    return case


@dataclass(frozen=True)
class CaseDetails:
    """What was registered about a case, as its editor shows it, with the versions the
    save is checked against."""

    case_id: int
    version: int
    patient_version: int
    presentation: str | None
    metastatic_sites: tuple[str, ...]
    lesion_count: int | None
    bone_pattern: str | None
    prior_malignancy: str | None
    navigator_id: int | None
    oncologist_id: int | None


def case_details(ctx: ServiceContext, case_id: int) -> CaseDetails:
    with ctx.reading("view_cases") as session:
        case = get_case(session, case_id)
        return CaseDetails(
            case_id=case.id,
            version=case.version,
            patient_version=case.patient.version,
            presentation=case.presentation,
            metastatic_sites=tuple(case.metastatic_sites or ()),
            lesion_count=case.lesion_count,
            bone_pattern=case.bone_pattern,
            prior_malignancy=case.patient.prior_malignancy,
            navigator_id=case.navigator_id,
            oncologist_id=case.oncologist_id,
        )
