"""FHIR R4 for one CUP case: a Bundle out (export) and plain data back (import).

Pure functions: plain case-record data (:class:`CaseRecord`) in, a ``fhir.resources``
R4B ``Bundle`` out (:func:`case_bundle`); a Bundle's JSON in, the same plain data and the
problems found out (:func:`record_from_bundle`). No database and no Streamlit: reading
the case and writing an imported one are :mod:`cupboard.services.interop`'s job.

What goes where (HL7 mCODE where it applies, the MII "Molekulares Tumorboard" shape for
the board's decisions; codes in :mod:`cupboard.knowledge.fhir_codes`):

- Patient (mCODE Cancer Patient): MRN and name only when identifiers are included;
  otherwise the pseudonym and the year of birth.
- EpisodeOfCare: the CUP pathway (case status, stage, pathway start and end); the
  referral is a ServiceRequest (SNOMED 3457005) with the referrer and the presentation.
- Condition (mCODE Primary Cancer Condition): SNOMED 363346000 with ICD-10 C80.0/C80.9,
  ICD-O-3 topography C80.9 and the morphology in the histology extension; one mCODE
  Secondary Cancer Condition per metastatic site (ICD-10 C77-C79), with no related
  primary because there is none known.
- Observation: ECOG (LOINC 89247-1, the LA answer as interpretation), body weight,
  serum markers (mCODE Tumor Marker Test; LDH as a plain laboratory result), IHC.
- DiagnosticReport: the pathology report (with its specimen and IHC results) and the
  genomics report (mCODE Genomics Report: MSI, MMR, TMB, PD-L1, alterations, GEP).
- ServiceRequest per workup item (status as in ``WORKUP_STATUS_MAPPING``), a Procedure
  once done and a DiagnosticReport once reported.
- CarePlan per MDT decision, its RequestGroup of ranked recommendations and a CareTeam
  of the attendees.

Where no standard element holds a value exactly, a cupboard extension carries it, so
that an export imports back into cupboard without loss.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.careplan import CarePlan, CarePlanActivity, CarePlanActivityDetail
from fhir.resources.R4B.careteam import CareTeam, CareTeamParticipant
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.episodeofcare import EpisodeOfCare, EpisodeOfCareDiagnosis
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.observation import (
    Observation,
    ObservationComponent,
    ObservationReferenceRange,
)
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.requestgroup import RequestGroup, RequestGroupAction
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.specimen import Specimen, SpecimenCollection

from cupboard.errors import ValidationError
from cupboard.importing import Problem
from cupboard.knowledge import fhir_codes as fc
from cupboard.knowledge.decisions import DECISION_LABELS, DISCIPLINES, LOCAL_MODALITIES
from cupboard.knowledge.histology import DIFFERENTIATION, HISTOLOGY_CATEGORIES, SPECIMEN_TYPES
from cupboard.knowledge.investigations import INVESTIGATION_STATUS_LABELS, INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import CASE_STATUS_LABELS, CLOSING_REASONS, DIAGNOSTIC_STAGES
from cupboard.knowledge.performance import ECOG_GRADES, ECOG_LOINC_ANSWERS
from cupboard.knowledge.referrals import REFERRAL_KIND_LABELS, REFERRAL_STATUS_LABELS
from cupboard.knowledge.sites import BONE_PATTERNS, METASTATIC_SITES, PRIMARY_SITES
from cupboard.validation import json_document

# --------------------------------------------------------------------------------------
# The plain case record: what the export reads and the import produces.


@dataclass(frozen=True)
class PatientData:
    pseudonym: str | None
    mrn: str | None  # None in a pseudonymised bundle
    name: str | None
    sex: str | None
    date_of_birth: dt.date | None  # None when only the year is known
    phone: str | None = None
    referrer_name: str | None = None
    referrer_phone: str | None = None
    prior_malignancy: str | None = None
    birth_year: int | None = None


@dataclass(frozen=True)
class CaseData:
    status: str
    diagnostic_stage: str
    pathway_start: dt.date | None
    referral_date: dt.date | None
    presentation: str | None = None
    metastatic_sites: tuple[str, ...] = ()
    lesion_count: int | None = None
    bone_pattern: str | None = None
    primary_found_site: str | None = None
    primary_found_by: str | None = None
    primary_found_on: dt.date | None = None
    closing_reason: str | None = None
    closed_on: dt.date | None = None


@dataclass(frozen=True)
class InvestigationData:
    code: str
    status: str
    requested_on: dt.date | None = None
    booked_for: dt.date | None = None
    done_on: dt.date | None = None
    reported_on: dt.date | None = None
    result_text: str | None = None
    responsible: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class IhcData:
    marker: str
    result: str
    reported_on: dt.date | None
    percentage: float | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class PathologyData:
    histology: str
    reported_on: dt.date | None
    differentiation: str | None = None
    biopsy_site: str | None = None
    specimen_type: str | None = None
    pathologist: str | None = None
    comment: str | None = None
    ihc: tuple[IhcData, ...] = ()
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class MolecularData:
    reported_on: dt.date | None
    msi_status: str | None = None
    mmr_status: str | None = None
    tmb: float | None = None
    pdl1_tps: float | None = None
    pdl1_cps: float | None = None
    alterations: tuple[str, ...] = ()
    tissue_of_origin_site: str | None = None
    tissue_of_origin_confidence: float | None = None
    lab: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class SerumData:
    marker: str
    value: float | None
    unit: str | None
    measured_on: dt.date | None
    upper_limit_normal: float | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class EcogData:
    score: int | None
    observed_on: dt.date | None
    weight_kg: float | None = None
    note: str | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class MeetingData:
    meeting_date: dt.date
    title: str


@dataclass(frozen=True)
class AgendaData:
    """The case on one MDT meeting's agenda."""

    meeting: MeetingData
    question: str | None = None


@dataclass(frozen=True)
class DecisionData:
    code: str
    rationale: str | None
    decided_on: dt.date | None
    presumed_primary: str | None = None
    regimen: str | None = None
    biomarker: str | None = None
    alteration: str | None = None
    target_site: str | None = None
    local_modality: str | None = None
    workup_requested: str | None = None
    plan: str | None = None
    ecog_at_decision: int | None = None
    attendees: tuple[dict[str, str], ...] = ()
    meeting: MeetingData | None = None
    superseded: bool = False
    amends: int | None = None  # index of the amended decision in CaseRecord.decisions
    treatment_started_on: dt.date | None = None
    follow_up_due: dt.date | None = None
    follow_up_done_on: dt.date | None = None
    where: str = field(default="", compare=False)


@dataclass(frozen=True)
class CareReferralData:
    """A referral beside the decision (issue 21): palliative care, genetics, ..."""

    kind: str  # knowledge/referrals.py REFERRAL_KIND_CODES
    status: str  # knowledge/referrals.py REFERRAL_STATUS_CODES
    reason: str
    requested_on: dt.date
    detail: str | None = None  # the centre of a second opinion, the service of "other"
    status_on: dt.date | None = None  # the date of the current status


# The fields of a decision that name what it is about (knowledge/decisions.py).
DECISION_DETAIL_FIELDS: tuple[str, ...] = (
    "presumed_primary",
    "regimen",
    "biomarker",
    "alteration",
    "target_site",
    "local_modality",
    "workup_requested",
)
_CODED_DETAILS: dict[str, tuple[str, dict[str, str]]] = {
    "presumed_primary": (fc.CS_PRIMARY_SITE, PRIMARY_SITES),
    "local_modality": (fc.CS_LOCAL_MODALITY, LOCAL_MODALITIES),
}


@dataclass(frozen=True)
class CaseRecord:
    """One case with everything the board knows about it, as plain values."""

    patient: PatientData
    case: CaseData
    investigations: tuple[InvestigationData, ...] = ()
    pathology_reports: tuple[PathologyData, ...] = ()
    ihc_without_report: tuple[IhcData, ...] = ()
    molecular_reports: tuple[MolecularData, ...] = ()
    serum_markers: tuple[SerumData, ...] = ()
    ecog: tuple[EcogData, ...] = ()
    decisions: tuple[DecisionData, ...] = ()
    agenda: tuple[AgendaData, ...] = ()
    case_id: int | None = field(default=None, compare=False)
    care_referrals: tuple[CareReferralData, ...] = ()


# --------------------------------------------------------------------------------------
# Small builders


def _coding(code: fc.Code) -> Coding:
    return Coding(system=code.system, code=code.code, display=code.display)


def _local(system: str, code: str, labels: dict[str, str] | None = None) -> Coding:
    display = labels.get(code, code) if labels else code
    return Coding(system=system, code=code, display=display)


def _concept(*codings: Coding, text: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=list(codings) or None, text=text)


def _ref(url: str, display: str | None = None) -> Reference:
    return Reference(reference=url, display=display)


def _named(display: str) -> Reference:
    """A reference that only names someone (cupboard keeps no practitioner registry)."""
    return Reference(display=display)


def _ext(url: str, **value: Any) -> Extension:
    return Extension(url=url, **value)


def _midnight(day: dt.date) -> dt.datetime:
    """cupboard records report dates; FHIR's ``issued`` is an instant."""
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def _quantity(value: float, unit: str | None) -> Quantity:
    ucum = fc.UCUM_UNITS.get(unit or "")
    return Quantity(
        value=Decimal(repr(float(value))),
        unit=unit,
        system=fc.UCUM if ucum else None,
        code=ucum,
    )


def morphology(histology: str, behaviour: str) -> Coding:
    code, display = fc.HISTOLOGY_MORPHOLOGY[histology]
    return Coding(system=fc.ICDO3, code=f"{code}/{behaviour}", display=display)


def _histology_extension(histology: str | None, behaviour: str) -> list[Extension]:
    if histology is None:
        return []
    value = _concept(
        morphology(histology, behaviour),
        _local(fc.CS_HISTOLOGY, histology, HISTOLOGY_CATEGORIES),
        text=HISTOLOGY_CATEGORIES.get(histology, histology),
    )
    return [_ext(fc.EXT_HISTOLOGY_MORPHOLOGY_BEHAVIOR, valueCodeableConcept=value)]


# --------------------------------------------------------------------------------------
# Export


class _Entries:
    """Bundle entries with urn:uuid full URLs, random for each export: two exports of one
    case (pseudonymised and identified) share no id a receiver could link, and two sites
    never give different patients the same id. Within one export a (kind, key) always
    names the same resource, so references resolve."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self.entries: list[BundleEntry] = []

    def url(self, kind: str, key: object = 0) -> str:
        return f"urn:uuid:{self.id(kind, key)}"

    def id(self, kind: str, key: object = 0) -> str:
        return self._ids.setdefault((kind, str(key)), str(uuid.uuid4()))

    def add(self, kind: str, key: object, resource: Resource) -> str:
        resource.id = self.id(kind, key)
        url = self.url(kind, key)
        self.entries.append(BundleEntry(fullUrl=url, resource=resource))
        return url


def _latest_histology(record: CaseRecord) -> str | None:
    reports = [r for r in record.pathology_reports if r.reported_on is not None]
    if not reports:
        return record.pathology_reports[-1].histology if record.pathology_reports else None
    return max(enumerate(reports), key=lambda item: (item[1].reported_on, item[0]))[1].histology


def _human_name(name: str) -> HumanName:
    """US Core (us-core-6) wants family or given, not only text: the last word is the
    family name, the words before it given names, as cupboard's one name field is
    written; the text keeps the name as the clinic wrote it."""
    words = name.split()
    if len(words) < 2:
        return HumanName(text=name, family=name)
    return HumanName(text=name, family=words[-1], given=words[:-1])


def _patient(record: CaseRecord, include_identifiers: bool) -> Patient:
    p = record.patient
    identifiers = []
    if p.pseudonym:
        identifiers.append(Identifier(system=fc.pseudonym_system(), value=p.pseudonym))
    birth: str | None = None
    if p.date_of_birth is not None:
        birth = p.date_of_birth.isoformat() if include_identifiers else str(p.date_of_birth.year)
    patient = Patient(gender=p.sex, birthDate=birth, identifier=identifiers or None)
    if include_identifiers:
        if p.mrn:
            identifiers.insert(
                0,
                Identifier(
                    use="usual",
                    type=_concept(_coding(fc.MRN_TYPE)),
                    system=fc.mrn_system(),
                    value=p.mrn,
                ),
            )
            patient.identifier = identifiers
        if p.name and p.name.strip():
            patient.name = [_human_name(p.name.strip())]
        if p.phone:
            patient.telecom = [ContactPoint(system="phone", value=p.phone)]
        # mCODE Cancer Patient (on US Core Patient) needs an identifier, a name and a
        # gender; a pseudonymised patient has no name, so it claims no profile.
        if patient.identifier and patient.name and patient.gender:
            patient.meta = Meta(profile=[fc.PROFILE_CANCER_PATIENT])
    c = record.case
    if c.closing_reason == "deceased":
        if include_identifiers and c.closed_on is not None:
            patient.deceasedDateTime = c.closed_on
        else:
            patient.deceasedBoolean = True
    return patient


def _referral(record: CaseRecord, patient_url: str, include_identifiers: bool) -> ServiceRequest:
    p, c = record.patient, record.case
    request = ServiceRequest(
        status="completed",
        intent="order",
        code=_concept(_coding(fc.PATIENT_REFERRAL), text="Referral on well-founded suspicion"),
        subject=_ref(patient_url),
        authoredOn=c.referral_date,
    )
    if c.presentation:
        request.reasonCode = [_concept(text=c.presentation)]
    if p.prior_malignancy:
        request.extension = [_ext(fc.EXT_PRIOR_MALIGNANCY, valueString=p.prior_malignancy)]
    if include_identifiers and (p.referrer_name or p.referrer_phone):
        referrer = Practitioner(id="referrer")
        if p.referrer_name:
            referrer.name = [HumanName(text=p.referrer_name)]
        if p.referrer_phone:
            referrer.telecom = [ContactPoint(system="phone", value=p.referrer_phone)]
        request.contained = [referrer]
        request.requester = _ref("#referrer", p.referrer_name)
    return request


def _episode_extensions(c: CaseData) -> list[Extension]:
    extensions = [
        _ext(
            fc.EXT_CASE_STATUS,
            valueCoding=_local(fc.CS_CASE_STATUS, c.status, CASE_STATUS_LABELS),
        ),
        _ext(
            fc.EXT_DIAGNOSTIC_STAGE,
            valueCoding=_local(fc.CS_DIAGNOSTIC_STAGE, c.diagnostic_stage, DIAGNOSTIC_STAGES),
        ),
    ]
    if c.closing_reason:
        extensions.append(
            _ext(
                fc.EXT_CLOSING_REASON,
                valueCoding=_local(fc.CS_CLOSING_REASON, c.closing_reason, CLOSING_REASONS),
            )
        )
    if c.primary_found_site or c.primary_found_by or c.primary_found_on:
        parts = []
        if c.primary_found_site:
            parts.append(
                _ext(
                    "site",
                    valueCoding=_local(fc.CS_PRIMARY_SITE, c.primary_found_site, PRIMARY_SITES),
                )
            )
        if c.primary_found_by:
            parts.append(_ext("foundBy", valueString=c.primary_found_by))
        if c.primary_found_on:
            parts.append(_ext("foundOn", valueDate=c.primary_found_on))
        extensions.append(Extension(url=fc.EXT_PRIMARY_FOUND, extension=parts))
    if c.lesion_count is not None:
        extensions.append(_ext(fc.EXT_LESION_COUNT, valueInteger=c.lesion_count))
    if c.bone_pattern:
        extensions.append(
            _ext(
                fc.EXT_BONE_PATTERN,
                valueCoding=_local(fc.CS_BONE_PATTERN, c.bone_pattern, BONE_PATTERNS),
            )
        )
    return extensions


def _agenda_extensions(record: CaseRecord) -> list[Extension]:
    extensions = []
    for entry in record.agenda:
        parts = [
            _ext("date", valueDate=entry.meeting.meeting_date),
            _ext("title", valueString=entry.meeting.title),
        ]
        if entry.question:
            parts.append(_ext("question", valueString=entry.question))
        extensions.append(Extension(url=fc.EXT_MDT_AGENDA, extension=parts))
    return extensions


def _episode(
    record: CaseRecord, patient_url: str, referral_url: str, condition_url: str
) -> EpisodeOfCare:
    c = record.case
    period = Period(start=c.pathway_start, end=c.closed_on) if c.pathway_start else None
    return EpisodeOfCare(
        status=fc.EPISODE_STATUS_BY_CASE_STATUS.get(c.status, "active"),
        type=[_concept(_coding(fc.CUP_PATHWAY), text=fc.CUP_PATHWAY.display)],
        patient=_ref(patient_url),
        period=period,
        referralRequest=[_ref(referral_url)],
        diagnosis=[EpisodeOfCareDiagnosis(condition=_ref(condition_url), rank=1)],
        extension=_episode_extensions(c) + _agenda_extensions(record),
    )


def _condition_status(stage: str) -> dict[str, CodeableConcept]:
    verification = fc.VERIFICATION_BY_DIAGNOSTIC_STAGE.get(stage, "provisional")
    return {
        "clinicalStatus": _concept(Coding(system=fc.CONDITION_CLINICAL, code="active")),
        "verificationStatus": _concept(Coding(system=fc.CONDITION_VERIFICATION, code=verification)),
    }


def _primary_condition(record: CaseRecord, patient_url: str) -> Condition:
    c = record.case
    histology = _latest_histology(record)
    if c.primary_found_site and c.diagnostic_stage == "primary_found":
        label = PRIMARY_SITES.get(c.primary_found_site, c.primary_found_site)
        code = _concept(_coding(fc.MALIGNANT_NEOPLASTIC_DISEASE), text=f"Primary found: {label}")
        structure = fc.PRIMARY_SITE_BODY_STRUCTURES.get(c.primary_found_site)
        site = _concept(
            *([_coding(structure)] if structure else []),
            _local(fc.CS_PRIMARY_SITE, c.primary_found_site, PRIMARY_SITES),
            text=label,
        )
    else:
        icd10 = fc.ICD10_BY_DIAGNOSTIC_STAGE.get(c.diagnostic_stage, fc.ICD10_UNSPECIFIED)
        code = _concept(
            _coding(fc.MALIGNANT_NEOPLASTIC_DISEASE),
            _coding(icd10),
            text="Cancer of unknown primary",
        )
        site = _concept(_coding(fc.UNKNOWN_PRIMARY_TOPOGRAPHY))
    return Condition(
        meta=Meta(profile=[fc.PROFILE_PRIMARY_CANCER_CONDITION]),
        extension=_histology_extension(histology, fc.BEHAVIOUR_PRIMARY) or None,
        category=[_concept(_coding(fc.CATEGORY_PROBLEM_LIST))],
        code=code,
        bodySite=[site],
        subject=_ref(patient_url),
        recordedDate=c.pathway_start,
        **_condition_status(c.diagnostic_stage),
    )


def _secondary_condition(record: CaseRecord, site: str, patient_url: str) -> Condition:
    codes = fc.METASTATIC_SITE_CODES[site]
    label = METASTATIC_SITES[site]
    histology = _latest_histology(record)
    return Condition(
        meta=Meta(profile=[fc.PROFILE_SECONDARY_CANCER_CONDITION]),
        extension=_histology_extension(histology, fc.BEHAVIOUR_METASTATIC) or None,
        category=[_concept(_coding(fc.CATEGORY_PROBLEM_LIST))],
        code=_concept(
            _coding(fc.SECONDARY_MALIGNANT_NEOPLASTIC_DISEASE),
            _coding(codes.icd10),
            text=f"Metastasis: {label}",
        ),
        bodySite=[
            _concept(
                *([_coding(codes.body_structure)] if codes.body_structure else []),
                _coding(codes.topography),
                _local(fc.CS_METASTATIC_SITE, site, METASTATIC_SITES),
                text=label,
            )
        ],
        subject=_ref(patient_url),
        recordedDate=record.case.pathway_start,
        clinicalStatus=_concept(Coding(system=fc.CONDITION_CLINICAL, code="active")),
        verificationStatus=_concept(Coding(system=fc.CONDITION_VERIFICATION, code="confirmed")),
    )


def _investigation_code(code: str) -> CodeableConcept:
    item = INVESTIGATIONS_BY_CODE.get(code)
    label = item.label if item else code
    return _concept(Coding(system=fc.CS_INVESTIGATION, code=code, display=label), text=label)


def _add_investigation(out: _Entries, item: InvestigationData, patient_url: str) -> None:
    mapping = fc.WORKUP_STATUS_MAPPING[item.status]
    request = ServiceRequest(
        status=mapping.request_status,
        intent=mapping.request_intent,
        doNotPerform=True if mapping.do_not_perform else None,
        code=_investigation_code(item.code),
        subject=_ref(patient_url),
        authoredOn=item.requested_on,
        occurrenceDateTime=item.booked_for,
        performer=[_named(item.responsible)] if item.responsible else None,
        extension=[
            _ext(
                fc.EXT_WORKUP_STATUS,
                valueCoding=_local(
                    fc.CS_INVESTIGATION_STATUS, item.status, INVESTIGATION_STATUS_LABELS
                ),
            )
        ],
    )
    request_url = out.add("investigation", item.code, request)
    if mapping.procedure_status or item.done_on:
        out.add(
            "procedure",
            item.code,
            Procedure(
                status=mapping.procedure_status or "completed",
                code=_investigation_code(item.code),
                subject=_ref(patient_url),
                basedOn=[_ref(request_url)],
                performedDateTime=item.done_on,
            ),
        )
    if item.reported_on or item.result_text:
        out.add(
            "investigation-report",
            item.code,
            DiagnosticReport(
                status="final" if item.reported_on else "preliminary",
                code=_investigation_code(item.code),
                subject=_ref(patient_url),
                basedOn=[_ref(request_url)],
                effectiveDateTime=item.done_on,
                issued=_midnight(item.reported_on) if item.reported_on else None,
                conclusion=item.result_text,
            ),
        )


# A referral's status as a ServiceRequest's: still with the receiving service is active;
# closed is completed; declined by the patient is revoked (the request withdrawn).
_CARE_REFERRAL_REQUEST_STATUS = {
    "requested": "active",
    "accepted": "active",
    "seen": "active",
    "closed": "completed",
    "declined_by_patient": "revoked",
}


def _add_care_referral(out: _Entries, n: int, referral: CareReferralData, patient_url: str) -> None:
    """A referral beside the decision as a ServiceRequest: the kind in cupboard's code
    system, the reason, who receives it (the centre of a second opinion) and the
    navigator's status with its date as an extension."""
    status = [
        _ext(
            fc.EXT_CARE_REFERRAL_STATUS,
            valueCoding=_local(fc.CS_CARE_REFERRAL_STATUS, referral.status, REFERRAL_STATUS_LABELS),
        )
    ]
    if referral.status_on is not None:
        status.append(_ext(fc.EXT_CARE_REFERRAL_STATUS_DATE, valueDate=referral.status_on))
    request = ServiceRequest(
        status=_CARE_REFERRAL_REQUEST_STATUS[referral.status],
        intent="order",
        category=[_concept(text="Referral beside the MDT decision")],
        code=_concept(
            _local(fc.CS_CARE_REFERRAL, referral.kind, REFERRAL_KIND_LABELS),
            text=REFERRAL_KIND_LABELS.get(referral.kind, referral.kind),
        ),
        subject=_ref(patient_url),
        authoredOn=referral.requested_on,
        reasonCode=[_concept(text=referral.reason)],
        performer=[_named(referral.detail)] if referral.detail else None,
        extension=status,
    )
    out.add("care-referral", n, request)


def _ihc_observation(ihc: IhcData, patient_url: str, specimen_url: str | None) -> Observation:
    result = fc.IHC_RESULT_CODES[ihc.result]
    observation = Observation(
        status="final",
        category=[_concept(_coding(fc.LABORATORY_CATEGORY))],
        code=_concept(
            Coding(system=fc.CS_IHC_MARKER, code=ihc.marker, display=f"{ihc.marker} (IHC)"),
            text=f"{ihc.marker} by immunohistochemistry",
        ),
        method=_concept(_coding(fc.IHC_METHOD)),
        subject=_ref(patient_url),
        effectiveDateTime=ihc.reported_on,
        valueCodeableConcept=_concept(_coding(result), text=ihc.result),
        specimen=_ref(specimen_url) if specimen_url else None,
    )
    if ihc.percentage is not None:
        observation.component = [
            ObservationComponent(
                code=_concept(_coding(fc.IHC_PERCENTAGE)),
                valueQuantity=_quantity(ihc.percentage, "%"),
            )
        ]
    return observation


def _add_pathology(out: _Entries, n: int, report: PathologyData, patient_url: str) -> None:
    specimen_url = None
    if report.specimen_type or report.biopsy_site:
        specimen = Specimen(subject=_ref(patient_url))
        if report.specimen_type:
            specimen.type = _concept(
                _local(fc.CS_SPECIMEN_TYPE, report.specimen_type, SPECIMEN_TYPES)
            )
        if report.biopsy_site:
            codings = [_local(fc.CS_METASTATIC_SITE, report.biopsy_site, METASTATIC_SITES)]
            site_codes = fc.METASTATIC_SITE_CODES.get(report.biopsy_site)
            if site_codes:
                codings.insert(0, _coding(site_codes.topography))
                if site_codes.body_structure:
                    codings.insert(0, _coding(site_codes.body_structure))
            specimen.collection = SpecimenCollection(bodySite=_concept(*codings))
        specimen_url = out.add("specimen", n, specimen)
    results = [
        out.add("ihc", f"{n}-{i}", _ihc_observation(ihc, patient_url, specimen_url))
        for i, ihc in enumerate(report.ihc)
    ]
    histology_label = HISTOLOGY_CATEGORIES.get(report.histology, report.histology)
    diagnostic = DiagnosticReport(
        status="final",
        category=[_concept(_coding(fc.PATHOLOGY_SECTION))],
        code=_concept(_coding(fc.PATHOLOGY_REPORT), text="Histopathology with IHC"),
        subject=_ref(patient_url),
        issued=_midnight(report.reported_on) if report.reported_on else None,
        resultsInterpreter=[_named(report.pathologist)] if report.pathologist else None,
        specimen=[_ref(specimen_url)] if specimen_url else None,
        result=[_ref(url) for url in results] or None,
        conclusion=report.comment,
        conclusionCode=[
            _concept(
                morphology(report.histology, fc.BEHAVIOUR_PRIMARY),
                _local(fc.CS_HISTOLOGY, report.histology, HISTOLOGY_CATEGORIES),
                text=histology_label,
            )
        ],
    )
    if report.differentiation:
        diagnostic.extension = [
            _ext(
                fc.EXT_DIFFERENTIATION,
                valueCoding=_local(fc.CS_DIFFERENTIATION, report.differentiation, DIFFERENTIATION),
            )
        ]
    out.add("pathology", n, diagnostic)


def _lab_observation(
    code: CodeableConcept, patient_url: str, day: dt.date | None, **value: Any
) -> Observation:
    return Observation(
        status="final",
        category=[_concept(_coding(fc.LABORATORY_CATEGORY))],
        code=code,
        subject=_ref(patient_url),
        effectiveDateTime=day,
        **value,
    )


def _molecular_observations(
    report: MolecularData, patient_url: str
) -> list[tuple[str, Observation]]:
    day = report.reported_on
    found: list[tuple[str, Observation]] = []

    def add(key: str, code: fc.Code, **value: Any) -> None:
        found.append((key, _lab_observation(_concept(_coding(code)), patient_url, day, **value)))

    molecular = fc.CS_MOLECULAR
    if report.msi_status:
        add("msi", fc.MSI, valueCodeableConcept=_concept(_local(molecular, report.msi_status)))
    if report.mmr_status:
        add(
            "mmr",
            fc.MMR_STATUS,
            valueCodeableConcept=_concept(_local(molecular, report.mmr_status)),
        )
    if report.tmb is not None:
        add("tmb", fc.TMB, valueQuantity=_quantity(report.tmb, "mut/Mb"))
    if report.pdl1_tps is not None:
        add("pdl1-tps", fc.PDL1_TPS, valueQuantity=_quantity(report.pdl1_tps, "%"))
    if report.pdl1_cps is not None:
        add("pdl1-cps", fc.PDL1_CPS, valueQuantity=_quantity(report.pdl1_cps, None))
    for i, alteration in enumerate(report.alterations):
        add(
            f"alteration-{i}",
            fc.VARIANT_ASSESSMENT,
            valueCodeableConcept=_concept(_coding(fc.VARIANT_PRESENT)),
            component=[
                ObservationComponent(
                    code=_concept(_coding(fc.ALTERATION_DESCRIPTION)), valueString=alteration
                )
            ],
        )
    if report.tissue_of_origin_site:
        components = None
        if report.tissue_of_origin_confidence is not None:
            components = [
                ObservationComponent(
                    code=_concept(_coding(fc.TISSUE_OF_ORIGIN_CONFIDENCE)),
                    valueQuantity=_quantity(report.tissue_of_origin_confidence, None),
                )
            ]
        add(
            "tissue-of-origin",
            fc.TISSUE_OF_ORIGIN,
            valueCodeableConcept=_concept(
                _local(fc.CS_PRIMARY_SITE, report.tissue_of_origin_site, PRIMARY_SITES)
            ),
            component=components,
        )
    return found


def _add_molecular(out: _Entries, n: int, report: MolecularData, patient_url: str) -> None:
    results = [
        out.add("molecular-result", f"{n}-{key}", observation)
        for key, observation in _molecular_observations(report, patient_url)
    ]
    out.add(
        "molecular",
        n,
        DiagnosticReport(
            meta=Meta(profile=[fc.PROFILE_GENOMICS_REPORT]),
            status="final",
            category=[_concept(_coding(fc.GENETICS_SECTION))],
            code=_concept(_coding(fc.GENOMICS_REPORT), text="Molecular profile"),
            subject=_ref(patient_url),
            effectiveDateTime=report.reported_on,
            issued=_midnight(report.reported_on) if report.reported_on else None,
            performer=[_named(report.lab)] if report.lab else None,
            result=[_ref(url) for url in results] or None,
        ),
    )


def _serum_observation(marker: SerumData, patient_url: str) -> Observation:
    codings = [Coding(system=fc.CS_SERUM_MARKER, code=marker.marker, display=marker.marker)]
    loinc = fc.SERUM_MARKER_LOINC.get(marker.marker)
    if loinc:
        codings.insert(0, _coding(loinc))
    observation = _lab_observation(
        _concept(*codings, text=marker.marker),
        patient_url,
        marker.measured_on,
        valueQuantity=_quantity(marker.value, marker.unit) if marker.value is not None else None,
    )
    if marker.marker not in fc.NOT_TUMOUR_MARKERS:
        observation.meta = Meta(profile=[fc.PROFILE_TUMOR_MARKER_TEST])
    if marker.upper_limit_normal is not None:
        observation.referenceRange = [
            ObservationReferenceRange(high=_quantity(marker.upper_limit_normal, marker.unit))
        ]
        if marker.value is not None and marker.value > marker.upper_limit_normal:
            observation.interpretation = [_concept(_coding(fc.INTERPRETATION_HIGH))]
    return observation


def _add_ecog(out: _Entries, n: int, ecog: EcogData, patient_url: str) -> None:
    score = ecog.score if ecog.score is not None else -1
    answer = ECOG_LOINC_ANSWERS.get(score)
    out.add(
        "ecog",
        n,
        Observation(
            meta=Meta(profile=[fc.PROFILE_ECOG]),
            status="final",
            category=[_concept(_coding(fc.ECOG_CATEGORY))],
            code=_concept(_coding(fc.ECOG_CODE)),
            subject=_ref(patient_url),
            effectiveDateTime=ecog.observed_on,
            valueInteger=ecog.score,
            interpretation=[
                _concept(
                    Coding(system=fc.LOINC, code=answer, display=ECOG_GRADES[score]),
                    text=ECOG_GRADES[score],
                )
            ]
            if answer
            else None,
            note=[Annotation(text=ecog.note)] if ecog.note else None,
        ),
    )
    if ecog.weight_kg is not None:
        # Weighed at the same assessment: the importer pairs it with the ECOG of that date.
        out.add(
            "weight",
            n,
            Observation(
                status="final",
                category=[_concept(Coding(system=fc.OBSERVATION_CATEGORY, code="vital-signs"))],
                code=_concept(_coding(fc.BODY_WEIGHT)),
                subject=_ref(patient_url),
                effectiveDateTime=ecog.observed_on,
                valueQuantity=_quantity(ecog.weight_kg, "kg"),
            ),
        )


def _detail_text(decision: DecisionData) -> str | None:
    parts = []
    for name in DECISION_DETAIL_FIELDS:
        value = getattr(decision, name)
        if value:
            labels = _CODED_DETAILS.get(name, ("", {}))[1]
            parts.append(f"{name.replace('_', ' ')}: {labels.get(value, value)}")
    return "; ".join(parts) or None


def _detail_extension(decision: DecisionData) -> list[Extension]:
    parts = []
    for name in DECISION_DETAIL_FIELDS:
        value = getattr(decision, name)
        if not value:
            continue
        if name in _CODED_DETAILS:
            system, labels = _CODED_DETAILS[name]
            parts.append(_ext(name, valueCoding=_local(system, value, labels)))
        else:
            parts.append(_ext(name, valueString=value))
    return [Extension(url=fc.EXT_DECISION_DETAIL, extension=parts)] if parts else []


def _decision_coding(code: str) -> Coding:
    return _local(fc.CS_DECISION, code, DECISION_LABELS)


def _add_decision(
    out: _Entries, n: int, decision: DecisionData, patient_url: str, condition_url: str
) -> None:
    status = "revoked" if decision.superseded else "active"
    label = DECISION_LABELS.get(decision.code, decision.code)
    # What the board recommends, as a proposal a receiving system can act on: FHIR's
    # RequestGroup wants every action to point at a request (invariant rqg-1).
    proposal_url = out.add(
        "recommended",
        n,
        ServiceRequest(
            status=status,
            intent="proposal",
            code=_concept(_decision_coding(decision.code), text=label),
            subject=_ref(patient_url),
            authoredOn=decision.decided_on,
            reasonReference=[_ref(condition_url)],
            note=[Annotation(text=text)] if (text := _detail_text(decision)) else None,
        ),
    )
    recommendation_url = out.add(
        "recommendation",
        n,
        RequestGroup(
            status=status,
            intent="proposal",
            code=_concept(_decision_coding(decision.code), text=label),
            subject=_ref(patient_url),
            authoredOn=decision.decided_on,
            # The board's first (here: only) ranked recommendation [MII_MTB].
            extension=[_ext(fc.EXT_MII_RECOMMENDATION_PRIORITY, valuePositiveInt=1)],
            action=[
                RequestGroupAction(
                    prefix="1",
                    title=label,
                    description=_detail_text(decision),
                    code=[_concept(_decision_coding(decision.code))],
                    extension=_detail_extension(decision) or None,
                    resource=_ref(proposal_url),
                )
            ],
        ),
    )
    care_team_url = None
    if decision.attendees:
        care_team_url = out.add(
            "care-team",
            n,
            CareTeam(
                status="active",
                name="MDT attendees",
                subject=_ref(patient_url),
                participant=[
                    CareTeamParticipant(
                        role=[
                            _concept(_local(fc.CS_DISCIPLINE, attendee["discipline"], DISCIPLINES))
                        ],
                        member=_named(attendee["name"]),
                    )
                    for attendee in decision.attendees
                ],
            ),
        )
    activities = [CarePlanActivity(reference=_ref(recommendation_url))]
    if decision.follow_up_due or decision.follow_up_done_on:
        follow_up = CarePlanActivity(
            detail=CarePlanActivityDetail(
                code=_concept(text="Follow-up"),
                status="completed" if decision.follow_up_done_on else "scheduled",
                scheduledPeriod=Period(start=decision.follow_up_due)
                if decision.follow_up_due
                else None,
            )
        )
        if decision.follow_up_done_on:
            follow_up.progress = [
                Annotation(time=decision.follow_up_done_on, text="Follow-up done")
            ]
        activities.append(follow_up)
    extensions = []
    if decision.ecog_at_decision is not None:
        extensions.append(_ext(fc.EXT_ECOG_AT_DECISION, valueInteger=decision.ecog_at_decision))
    if decision.meeting is not None:
        extensions.append(
            Extension(
                url=fc.EXT_MDT_MEETING,
                extension=[
                    _ext("date", valueDate=decision.meeting.meeting_date),
                    _ext("title", valueString=decision.meeting.title),
                ],
            )
        )
    care_plan = CarePlan(
        status=status,
        intent="plan",
        category=[_concept(text="Tumour board decision")],
        title=label,
        description=decision.plan,
        subject=_ref(patient_url),
        created=decision.decided_on,
        period=Period(start=decision.treatment_started_on)
        if decision.treatment_started_on
        else None,
        careTeam=[_ref(care_team_url)] if care_team_url else None,
        addresses=[_ref(condition_url)],
        activity=activities,
        note=[Annotation(text=decision.rationale)] if decision.rationale else None,
        replaces=[_ref(out.url("decision", decision.amends))]
        if decision.amends is not None
        else None,
        extension=extensions or None,
    )
    out.add("decision", n, care_plan)


def case_bundle(
    record: CaseRecord, *, include_identifiers: bool = False, generated_at: dt.datetime
) -> Bundle:
    """The case as a FHIR R4 collection Bundle (validated by the R4B models).

    Without identifiers the patient is known by pseudonym and year of birth only, the
    referrer is left out, and the Bundle is labelled pseudonymised (PSEUDED). Free text
    (presentation, results, rationale) is exported as written.
    """
    out = _Entries()
    patient_url = out.add("patient", 0, _patient(record, include_identifiers))
    condition_url = out.url("primary-condition")
    referral_url = out.add("referral", 0, _referral(record, patient_url, include_identifiers))
    out.add("episode", 0, _episode(record, patient_url, referral_url, condition_url))
    out.add("primary-condition", 0, _primary_condition(record, patient_url))
    for site in record.case.metastatic_sites:
        out.add("secondary-condition", site, _secondary_condition(record, site, patient_url))
    for item in record.investigations:
        _add_investigation(out, item, patient_url)
    for n, report in enumerate(record.pathology_reports):
        _add_pathology(out, n, report, patient_url)
    for n, ihc in enumerate(record.ihc_without_report):
        out.add("ihc-unlinked", n, _ihc_observation(ihc, patient_url, None))
    for n, molecular in enumerate(record.molecular_reports):
        _add_molecular(out, n, molecular, patient_url)
    for n, marker in enumerate(record.serum_markers):
        out.add("serum", n, _serum_observation(marker, patient_url))
    for n, ecog in enumerate(record.ecog):
        _add_ecog(out, n, ecog, patient_url)
    for n, decision in enumerate(record.decisions):
        _add_decision(out, n, decision, patient_url, condition_url)
    for n, referral in enumerate(record.care_referrals):
        _add_care_referral(out, n, referral, patient_url)
    meta = None
    if not include_identifiers:
        meta = Meta(security=[_coding(fc.PSEUDONYMISED)])
        # mCODE's resources are about an mCODE Cancer Patient, which a patient without
        # a name cannot be: a pseudonymised bundle claims no mCODE profile at all.
        for entry in out.entries:
            if entry.resource.meta is not None and entry.resource.meta.profile:
                entry.resource.meta = None
    return Bundle(
        meta=meta,
        identifier=Identifier(system=fc.bundle_identifier_system(), value=out.id("bundle")),
        type="collection",
        timestamp=generated_at,
        entry=out.entries,
    )


def bundle_json(bundle: Bundle) -> str:
    return bundle.model_dump_json(exclude_none=True, indent=2)


# --------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class ParsedBundle:
    record: CaseRecord | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()


class _Index:
    """The entries of a Bundle, findable by full URL and by Type/id."""

    def __init__(self, bundle: Bundle) -> None:
        self.resources: list[tuple[int, Any]] = []
        self._by_ref: dict[str, Any] = {}
        self._where: dict[int, str] = {}
        for n, entry in enumerate(bundle.entry or [], start=1):
            resource = entry.resource
            if resource is None:
                continue
            self.resources.append((n, resource))
            rtype = resource.get_resource_type()
            self._where[id(resource)] = f"entry {n} ({rtype})"
            if entry.fullUrl:
                self._by_ref[entry.fullUrl] = resource
            if resource.id:
                self._by_ref[f"{rtype}/{resource.id}"] = resource

    def by_reference(self) -> list[tuple[str, Any]]:
        return list(self._by_ref.items())

    def of_type(self, rtype: str) -> list[Any]:
        return [r for _, r in self.resources if r.get_resource_type() == rtype]

    def get(self, reference: Reference | None) -> Any:
        if reference is None or not reference.reference:
            return None
        return self._by_ref.get(reference.reference)

    def where(self, resource: Any) -> str:
        return self._where.get(id(resource), resource.get_resource_type())


def _codes(concept: CodeableConcept | None) -> list[Coding]:
    return list(concept.coding or []) if concept is not None else []


def _code_in(concept: CodeableConcept | None, system: str) -> str | None:
    for coding in _codes(concept):
        if coding.system == system and coding.code:
            return str(coding.code)
    return None


def _has_code(concept: CodeableConcept | None, code: fc.Code) -> bool:
    return any(c.system == code.system and c.code == code.code for c in _codes(concept))


def _extension(resource: Any, url: str) -> Extension | None:
    for extension in getattr(resource, "extension", None) or []:
        if extension.url == url:
            return extension  # type: ignore[no-any-return]
    return None


def _sub(extension: Extension | None, url: str) -> Extension | None:
    for part in (extension.extension or []) if extension is not None else []:
        if part.url == url:
            return part  # type: ignore[no-any-return]
    return None


def _ext_code(resource: Any, url: str) -> str | None:
    extension = _extension(resource, url)
    if extension is None or extension.valueCoding is None:
        return None
    return str(extension.valueCoding.code) if extension.valueCoding.code else None


def _day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _number(value: object) -> float | None:
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _identifier(patient: Patient, system: str) -> str | None:
    for identifier in patient.identifier or []:
        if identifier.system == system and identifier.value:
            return str(identifier.value)
    return None


def _mrn(patient: Patient) -> str | None:
    mrn = _identifier(patient, fc.mrn_system()) or _identifier(patient, fc.MRN_SYSTEM)
    if mrn:
        return mrn
    for identifier in patient.identifier or []:
        if _has_code(identifier.type, fc.MRN_TYPE) and identifier.value:
            return str(identifier.value)
    # A bundle from elsewhere (IPS, Synthea, US Core) often types no identifier: the
    # first usual (else first) identifier with a system is the record number.
    named = [
        i
        for i in patient.identifier or []
        if i.system and i.value and not str(i.system).endswith("/sid/pseudonym")
    ]
    usual = [i for i in named if i.use == "usual"]
    chosen = (usual or [i for i in named if i.use != "old"] or [None])[0]
    return str(chosen.value) if chosen is not None else None


def _patient_data(index: _Index, problems: list[Problem]) -> Patient | None:
    patients = index.of_type("Patient")
    if len(patients) != 1:
        problems.append(
            Problem(
                "bundle",
                "Patient",
                f"one Patient is needed (one case per bundle); found {len(patients)}",
            )
        )
        return None
    return patients[0]  # type: ignore[no-any-return]


def _referral_request(index: _Index, episode: EpisodeOfCare | None) -> ServiceRequest | None:
    if episode is not None:
        for reference in episode.referralRequest or []:
            found = index.get(reference)
            if found is not None:
                return found  # type: ignore[no-any-return]
    for request in index.of_type("ServiceRequest"):
        if _has_code(request.code, fc.PATIENT_REFERRAL):
            return request  # type: ignore[no-any-return]
    return None


def _patient_record(
    patient: Patient, referral: ServiceRequest | None, index: _Index
) -> PatientData:
    name = None
    for human in patient.name or []:
        name = human.text or " ".join([*(human.given or []), human.family or ""]).strip()
        if name:
            break
    phone = next((t.value for t in patient.telecom or [] if t.system == "phone"), None)
    referrer_name = referrer_phone = prior = None
    if referral is not None:
        prior_ext = _extension(referral, fc.EXT_PRIOR_MALIGNANCY)
        prior = prior_ext.valueString if prior_ext is not None else None
        if referral.requester is not None:
            referrer_name = referral.requester.display
            for contained in referral.contained or []:
                if f"#{contained.id}" == referral.requester.reference:
                    names = getattr(contained, "name", None) or []
                    referrer_name = referrer_name or (names[0].text if names else None)
                    referrer_phone = next(
                        (t.value for t in contained.telecom or [] if t.system == "phone"), None
                    )
    birth = patient.birthDate
    return PatientData(
        pseudonym=_identifier(patient, fc.pseudonym_system())
        or _identifier(patient, fc.PSEUDONYM_SYSTEM),
        mrn=_mrn(patient),
        name=name or None,
        sex=patient.gender,
        date_of_birth=birth if isinstance(birth, dt.date) else None,
        birth_year=int(str(birth)[:4]) if birth is not None else None,
        phone=phone,
        referrer_name=referrer_name,
        referrer_phone=referrer_phone,
        prior_malignancy=prior,
    )


_SITE_BY_TOPOGRAPHY = {
    codes.topography.code: site for site, codes in fc.METASTATIC_SITE_CODES.items()
}
_SITE_BY_ICD10 = {codes.icd10.code: site for site, codes in fc.METASTATIC_SITE_CODES.items()}
_SITE_BY_BODY_STRUCTURE = {
    codes.body_structure.code: site
    for site, codes in fc.METASTATIC_SITE_CODES.items()
    if codes.body_structure is not None
}


def _secondary_site(condition: Condition) -> str | None:
    for concept in condition.bodySite or []:
        site = _code_in(concept, fc.CS_METASTATIC_SITE)
        if site:
            return site
    for concept in condition.bodySite or []:
        topography = _code_in(concept, fc.ICDO3)
        if topography in _SITE_BY_TOPOGRAPHY:
            return _SITE_BY_TOPOGRAPHY[topography]
        structure = _code_in(concept, fc.SNOMED)
        if structure in _SITE_BY_BODY_STRUCTURE:
            return _SITE_BY_BODY_STRUCTURE[structure]
    icd10 = _code_in(condition.code, fc.ICD10)
    return _SITE_BY_ICD10.get(icd10 or "")


def _case_record(
    index: _Index,
    episode: EpisodeOfCare | None,
    referral: ServiceRequest | None,
    problems: list[Problem],
) -> CaseData:
    sites: list[str] = []
    for condition in index.of_type("Condition"):
        if not _has_code(condition.code, fc.SECONDARY_MALIGNANT_NEOPLASTIC_DISEASE):
            continue
        site = _secondary_site(condition)
        if site is None:
            problems.append(
                Problem(
                    index.where(condition), "bodySite", "names no metastatic site cupboard knows"
                )
            )
        elif site not in sites:
            sites.append(site)
    found = _extension(episode, fc.EXT_PRIMARY_FOUND) if episode is not None else None
    found_site = _sub(found, "site")
    found_by = _sub(found, "foundBy")
    found_on = _sub(found, "foundOn")
    lesions = _extension(episode, fc.EXT_LESION_COUNT) if episode is not None else None
    period = episode.period if episode is not None else None
    referral_date = _day(referral.authoredOn) if referral is not None else None
    pathway_start = _day(period.start) if period is not None else None
    presentation = None
    if referral is not None and referral.reasonCode:
        presentation = referral.reasonCode[0].text
    return CaseData(
        status=(_ext_code(episode, fc.EXT_CASE_STATUS) if episode else None) or "referred",
        diagnostic_stage=(_ext_code(episode, fc.EXT_DIAGNOSTIC_STAGE) if episode else None)
        or "muo",
        pathway_start=pathway_start or referral_date,
        referral_date=referral_date or pathway_start,
        presentation=presentation,
        metastatic_sites=tuple(sites),
        lesion_count=lesions.valueInteger if lesions is not None else None,
        bone_pattern=_ext_code(episode, fc.EXT_BONE_PATTERN) if episode else None,
        primary_found_site=str(found_site.valueCoding.code)
        if found_site is not None and found_site.valueCoding is not None
        else None,
        primary_found_by=found_by.valueString if found_by is not None else None,
        primary_found_on=_day(found_on.valueDate) if found_on is not None else None,
        closing_reason=_ext_code(episode, fc.EXT_CLOSING_REASON) if episode else None,
        closed_on=_day(period.end) if period is not None else None,
    )


def _agenda(episode: EpisodeOfCare | None) -> tuple[AgendaData, ...]:
    entries = []
    for extension in (episode.extension or []) if episode is not None else []:
        if extension.url != fc.EXT_MDT_AGENDA:
            continue
        date, title, question = (_sub(extension, k) for k in ("date", "title", "question"))
        day = _day(date.valueDate) if date is not None else None
        if day is None:
            continue
        entries.append(
            AgendaData(
                MeetingData(day, title.valueString if title is not None else "CUP MDT"),
                question.valueString if question is not None else None,
            )
        )
    return tuple(entries)


def _based_on(index: _Index, rtype: str) -> dict[int, Any]:
    """Resources of a type by the id() of the request they are based on."""
    found: dict[int, Any] = {}
    for resource in index.of_type(rtype):
        for reference in resource.basedOn or []:
            request = index.get(reference)
            if request is not None:
                found[id(request)] = resource
    return found


def _workup_status(
    request: ServiceRequest, procedure: Procedure | None, report: DiagnosticReport | None
) -> str | None:
    explicit = _ext_code(request, fc.EXT_WORKUP_STATUS)
    if explicit:
        return explicit
    # A request from elsewhere: read the status from FHIR's own elements.
    if request.doNotPerform:
        return "not_indicated"
    if request.status == "revoked":
        return "declined"
    if report is not None and report.status in ("final", "amended", "corrected"):
        return "reported"
    if procedure is not None or request.status == "completed":
        return "done"
    if request.status == "draft" or request.intent == "proposal":
        return "to_request"
    return "booked" if request.occurrenceDateTime else "requested"


def _investigations(index: _Index) -> tuple[InvestigationData, ...]:
    procedures = _based_on(index, "Procedure")
    reports = _based_on(index, "DiagnosticReport")
    items = []
    for request in index.of_type("ServiceRequest"):
        code = _code_in(request.code, fc.CS_INVESTIGATION)
        if code is None:
            continue
        procedure = procedures.get(id(request))
        report = reports.get(id(request))
        items.append(
            InvestigationData(
                code=code,
                status=_workup_status(request, procedure, report) or "to_request",
                requested_on=_day(request.authoredOn),
                booked_for=_day(request.occurrenceDateTime),
                done_on=_day(procedure.performedDateTime) if procedure is not None else None,
                reported_on=_day(report.issued) if report is not None else None,
                result_text=report.conclusion if report is not None else None,
                responsible=request.performer[0].display if request.performer else None,
                where=index.where(request),
            )
        )
    return tuple(items)


def _ihc(index: _Index, observation: Observation) -> IhcData:
    result = None
    for name, code in fc.IHC_RESULT_CODES.items():
        if _has_code(observation.valueCodeableConcept, code):
            result = name
    if result is None and observation.valueCodeableConcept is not None:
        result = observation.valueCodeableConcept.text
    percentage = None
    for component in observation.component or []:
        if _has_code(component.code, fc.IHC_PERCENTAGE) and component.valueQuantity:
            percentage = _number(component.valueQuantity.value)
    return IhcData(
        marker=_code_in(observation.code, fc.CS_IHC_MARKER) or "",
        result=result or "",
        reported_on=_day(observation.effectiveDateTime),
        percentage=percentage,
        where=index.where(observation),
    )


_HISTOLOGY_BY_MORPHOLOGY = {
    code: histology for histology, (code, _) in reversed(fc.HISTOLOGY_MORPHOLOGY.items())
}


def _histology(concepts: Sequence[CodeableConcept] | None) -> str | None:
    for concept in concepts or []:
        code = _code_in(concept, fc.CS_HISTOLOGY)
        if code:
            return code
    for concept in concepts or []:
        morphology_code = _code_in(concept, fc.ICDO3)
        if morphology_code:
            return _HISTOLOGY_BY_MORPHOLOGY.get(morphology_code.split("/")[0])
    return None


def _pathology(index: _Index, used: set[int]) -> tuple[PathologyData, ...]:
    reports = []
    for report in index.of_type("DiagnosticReport"):
        if not _has_code(report.code, fc.PATHOLOGY_REPORT):
            continue
        ihc = []
        for reference in report.result or []:
            observation = index.get(reference)
            if observation is not None and _code_in(observation.code, fc.CS_IHC_MARKER):
                used.add(id(observation))
                ihc.append(_ihc(index, observation))
        specimen = index.get(report.specimen[0]) if report.specimen else None
        biopsy_site = specimen_type = None
        if specimen is not None:
            specimen_type = _code_in(specimen.type, fc.CS_SPECIMEN_TYPE)
            if specimen.collection is not None:
                biopsy_site = _code_in(specimen.collection.bodySite, fc.CS_METASTATIC_SITE)
        reports.append(
            PathologyData(
                histology=_histology(report.conclusionCode) or "",
                reported_on=_day(report.issued) or _day(report.effectiveDateTime),
                differentiation=_ext_code(report, fc.EXT_DIFFERENTIATION),
                biopsy_site=biopsy_site,
                specimen_type=specimen_type,
                pathologist=report.resultsInterpreter[0].display
                if report.resultsInterpreter
                else None,
                comment=report.conclusion,
                ihc=tuple(ihc),
                where=index.where(report),
            )
        )
    return tuple(reports)


def _value_code(observation: Observation, system: str) -> str | None:
    return _code_in(observation.valueCodeableConcept, system)


def _molecular(index: _Index) -> tuple[MolecularData, ...]:
    reports = []
    for report in index.of_type("DiagnosticReport"):
        if not _has_code(report.code, fc.GENOMICS_REPORT):
            continue
        values: dict[str, Any] = {"alterations": []}
        for reference in report.result or []:
            observation = index.get(reference)
            if observation is None:
                continue
            code = observation.code
            quantity = (
                _number(observation.valueQuantity.value) if observation.valueQuantity else None
            )
            if _has_code(code, fc.MSI):
                values["msi_status"] = _value_code(observation, fc.CS_MOLECULAR) or (
                    observation.valueCodeableConcept.text
                    if observation.valueCodeableConcept
                    else None
                )
            elif _has_code(code, fc.MMR_STATUS):
                values["mmr_status"] = _value_code(observation, fc.CS_MOLECULAR)
            elif _has_code(code, fc.TMB):
                values["tmb"] = quantity
            elif _has_code(code, fc.PDL1_TPS):
                values["pdl1_tps"] = quantity
            elif _has_code(code, fc.PDL1_CPS):
                values["pdl1_cps"] = quantity
            elif _has_code(code, fc.VARIANT_ASSESSMENT):
                for component in observation.component or []:
                    if (
                        _has_code(component.code, fc.ALTERATION_DESCRIPTION)
                        and component.valueString
                    ):
                        values["alterations"].append(component.valueString)
            elif _has_code(code, fc.TISSUE_OF_ORIGIN):
                values["tissue_of_origin_site"] = _value_code(observation, fc.CS_PRIMARY_SITE)
                for component in observation.component or []:
                    if (
                        _has_code(component.code, fc.TISSUE_OF_ORIGIN_CONFIDENCE)
                        and component.valueQuantity
                    ):
                        values["tissue_of_origin_confidence"] = _number(
                            component.valueQuantity.value
                        )
        values["alterations"] = tuple(values["alterations"])
        reports.append(
            MolecularData(
                reported_on=_day(report.issued) or _day(report.effectiveDateTime),
                lab=report.performer[0].display if report.performer else None,
                where=index.where(report),
                **values,
            )
        )
    return tuple(reports)


_SERUM_BY_LOINC = {code.code: marker for marker, code in fc.SERUM_MARKER_LOINC.items()}


def _serum(index: _Index) -> tuple[SerumData, ...]:
    markers = []
    for observation in index.of_type("Observation"):
        marker = _code_in(observation.code, fc.CS_SERUM_MARKER)
        if marker is None:
            marker = _SERUM_BY_LOINC.get(_code_in(observation.code, fc.LOINC) or "")
        if marker is None:
            continue
        quantity = observation.valueQuantity
        high = None
        if observation.referenceRange and observation.referenceRange[0].high is not None:
            high = _number(observation.referenceRange[0].high.value)
        markers.append(
            SerumData(
                marker=marker,
                value=_number(quantity.value) if quantity is not None else None,
                unit=quantity.unit if quantity is not None else None,
                measured_on=_day(observation.effectiveDateTime),
                upper_limit_normal=high,
                where=index.where(observation),
            )
        )
    return tuple(markers)


_SCORE_BY_ANSWER = {answer: score for score, answer in ECOG_LOINC_ANSWERS.items()}


def _ecog_score(observation: Observation) -> int | None:
    if observation.valueInteger is not None:
        return int(observation.valueInteger)
    concepts = [observation.valueCodeableConcept, *(observation.interpretation or [])]
    for concept in concepts:
        answer = _code_in(concept, fc.LOINC)
        if answer in _SCORE_BY_ANSWER:
            return _SCORE_BY_ANSWER[answer]
    return None


def _ecog(index: _Index) -> tuple[EcogData, ...]:
    observations = index.of_type("Observation")
    scores: list[EcogData] = []
    for observation in observations:
        if _has_code(observation.code, fc.ECOG_CODE):
            scores.append(
                EcogData(
                    score=_ecog_score(observation),
                    observed_on=_day(observation.effectiveDateTime),
                    note=observation.note[0].text if observation.note else None,
                    where=index.where(observation),
                )
            )
    # Each weight joins the ECOG assessed on the same day (the export writes them so).
    for observation in observations:
        if not _has_code(observation.code, fc.BODY_WEIGHT) or observation.valueQuantity is None:
            continue
        day = _day(observation.effectiveDateTime)
        for i, ecog in enumerate(scores):
            if ecog.observed_on == day and ecog.weight_kg is None:
                weight = _number(observation.valueQuantity.value)
                scores[i] = EcogData(ecog.score, ecog.observed_on, weight, ecog.note, ecog.where)
                break
    return tuple(scores)


def _decision_details(action: RequestGroupAction | None) -> dict[str, str | None]:
    details: dict[str, str | None] = dict.fromkeys(DECISION_DETAIL_FIELDS)
    extension = _extension(action, fc.EXT_DECISION_DETAIL) if action is not None else None
    for name in DECISION_DETAIL_FIELDS:
        part = _sub(extension, name)
        if part is None:
            continue
        if part.valueCoding is not None:
            details[name] = part.valueCoding.code
        else:
            details[name] = part.valueString
    return details


def _replaced_first(plans: list[Any], index: _Index) -> list[Any]:
    """The board's decisions in the order their ``replaces`` references give (an amended
    decision after the one it amends), not the order of the file; otherwise as listed."""
    ordered: list[Any] = []
    placed: set[int] = set()
    visiting: set[int] = set()
    own = {id(plan) for plan in plans}

    def place(plan: Any) -> None:
        if id(plan) in placed or id(plan) in visiting:
            return  # a cycle of amendments is left in file order; the import refuses it
        visiting.add(id(plan))
        for reference in plan.replaces or []:
            replaced = index.get(reference)
            if replaced is not None and id(replaced) in own:
                place(replaced)
        visiting.discard(id(plan))
        placed.add(id(plan))
        ordered.append(plan)

    for plan in plans:
        place(plan)
    return ordered


def _decisions(index: _Index) -> tuple[DecisionData, ...]:
    plans = [
        plan
        for plan in index.of_type("CarePlan")
        if any(
            index.get(activity.reference) is not None
            and index.get(activity.reference).get_resource_type() == "RequestGroup"
            for activity in plan.activity or []
        )
    ]
    plans = _replaced_first(plans, index)
    position = {id(plan): n for n, plan in enumerate(plans)}
    decisions = []
    for plan in plans:
        group = next(
            index.get(a.reference)
            for a in plan.activity or []
            if index.get(a.reference) is not None
            and index.get(a.reference).get_resource_type() == "RequestGroup"
        )
        action = group.action[0] if group.action else None
        code = _code_in(group.code, fc.CS_DECISION) or (
            _code_in(action.code[0], fc.CS_DECISION) if action and action.code else None
        )
        follow_up_due = follow_up_done = None
        for activity in plan.activity or []:
            if activity.detail is not None and activity.detail.scheduledPeriod is not None:
                follow_up_due = _day(activity.detail.scheduledPeriod.start)
            if activity.detail is not None and activity.progress:
                follow_up_done = _day(activity.progress[0].time)
        attendees: list[dict[str, str]] = []
        for reference in plan.careTeam or []:
            team = index.get(reference)
            for participant in (team.participant or []) if team is not None else []:
                discipline = (
                    _code_in(participant.role[0], fc.CS_DISCIPLINE) if participant.role else None
                )
                name = participant.member.display if participant.member else None
                attendees.append({"name": name or "", "discipline": discipline or ""})
        meeting = _extension(plan, fc.EXT_MDT_MEETING)
        meeting_date = _sub(meeting, "date")
        meeting_title = _sub(meeting, "title")
        ecog = _extension(plan, fc.EXT_ECOG_AT_DECISION)
        amends = None
        for reference in plan.replaces or []:
            replaced = index.get(reference)
            if replaced is not None and id(replaced) in position:
                amends = position[id(replaced)]
        decisions.append(
            DecisionData(
                code=code or "",
                rationale=plan.note[0].text if plan.note else None,
                decided_on=_day(plan.created),
                plan=plan.description,
                ecog_at_decision=ecog.valueInteger if ecog is not None else None,
                attendees=tuple(attendees),
                meeting=MeetingData(
                    _day(meeting_date.valueDate),  # type: ignore[arg-type]
                    meeting_title.valueString if meeting_title is not None else "CUP MDT",
                )
                if meeting_date is not None and _day(meeting_date.valueDate) is not None
                else None,
                superseded=plan.status == "revoked",
                amends=amends,
                treatment_started_on=_day(plan.period.start) if plan.period else None,
                follow_up_due=follow_up_due,
                follow_up_done_on=follow_up_done,
                where=index.where(plan),
                **_decision_details(action),
            )
        )
    return tuple(decisions)


def _pydantic_problems(error: pydantic.ValidationError) -> list[Problem]:
    problems = []
    for detail in error.errors()[:20]:
        location = ".".join(str(part) for part in detail.get("loc", ()) if part != "__root__")
        message = detail.get("msg", "is not valid").removeprefix("Value error, ")
        if detail.get("type") == "json_invalid":
            return [
                Problem(
                    "file",
                    "json",
                    f"is not valid JSON ({detail.get('ctx', {}).get('error', message)})",
                )
            ]
        problems.append(Problem("bundle", location or "resource", message))
    return problems


# A case comes as cupboard exports it (a ``collection``) or as others publish a patient:
# an IPS ``document``, a Synthea ``transaction``, a ``batch`` or a ``searchset`` of one
# patient. Their resources are read as data; no request in them is carried out. A
# ``history`` holds versions of resources, not one patient's record.
IMPORTED_BUNDLE_TYPES: tuple[str, ...] = (
    "collection",
    "document",
    "transaction",
    "batch",
    "searchset",
)
# The resources a case is read from; any other resource is listed in the report as not
# imported, with its reason.
IMPORTED_RESOURCE_TYPES: frozenset[str] = frozenset(
    {
        "CarePlan",
        "CareTeam",
        "Condition",
        "DiagnosticReport",
        "EpisodeOfCare",
        "Observation",
        "Patient",
        "Procedure",
        "RequestGroup",
        "ServiceRequest",
        "Specimen",
    }
)
MAX_BUNDLE_BYTES = 20_000_000


def _r4b_type(rtype: object) -> bool:
    try:
        get_fhir_model_class(str(rtype))
    except (KeyError, ValueError):
        return False
    return True


def _unknown_types(data: dict[str, Any]) -> list[Problem]:
    """Entries whose resource type R4B does not have (R4-only types such as
    MedicinalProduct, or none at all): refused by name, before the models see them."""
    problems = []
    entries = data.get("entry")
    for n, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("resourceType")
        if not _r4b_type(rtype):
            problems.append(
                Problem(
                    f"entry {n}",
                    "resourceType",
                    f"{rtype!r} is not a FHIR R4B resource type (R4-only types such as "
                    "MedicinalProduct were replaced in R4B); remove the entry or send it "
                    "as R4B",
                )
            )
    return problems


def parse_bundle(content: bytes | str) -> tuple[Bundle | None, list[Problem]]:
    """Parse and validate a Bundle with the R4B models; problems instead of exceptions."""
    try:
        data = json_document("json", content, MAX_BUNDLE_BYTES)
    except ValidationError as refused:
        return None, [Problem("file", refused.field, refused.message)]
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        return None, [Problem("file", "resourceType", f"must be Bundle; got {got!r}")]
    if data.get("type") not in IMPORTED_BUNDLE_TYPES:
        return None, [
            Problem(
                "file",
                "type",
                f"must be one of {', '.join(IMPORTED_BUNDLE_TYPES)} (one patient's "
                f"record); got {data.get('type')!r}: a {data.get('type')} bundle is not "
                "imported",
            )
        ]
    unknown = _unknown_types(data)
    if unknown:
        return None, unknown
    try:
        return Bundle.model_validate(data), []
    except pydantic.ValidationError as error:
        return None, _pydantic_problems(error)


def _entry_notes(bundle: Bundle) -> list[str]:
    """Entries the import does not read: each named in the report, never dropped unseen."""
    notes = []
    for n, entry in enumerate(bundle.entry or [], start=1):
        if entry.resource is None:
            notes.append(f"entry {n}: not imported: it holds no resource")
            continue
        rtype = entry.resource.get_resource_type()
        if rtype not in IMPORTED_RESOURCE_TYPES:
            notes.append(f"entry {n} ({rtype}): not imported: a case in cupboard keeps no {rtype}")
    return notes


def _other_patient_problems(index: _Index, patient: Patient) -> list[Problem]:
    """A resource about someone else must never join this patient's case."""
    own = {f"Patient/{patient.id}"} if patient.id else set()
    own |= {url for url, resource in index.by_reference() if resource is patient}
    problems = []
    for _, resource in index.resources:
        if resource is patient:
            continue
        for name in ("subject", "patient"):
            reference = getattr(resource, name, None)
            target = getattr(reference, "reference", None)
            if not target or target in own or target.startswith("#"):
                continue
            found = index.get(reference)
            if found is not None and found.get_resource_type() != "Patient":
                continue  # about a group, device or place, not a person
            if found is not None or target.startswith("urn:") or "Patient/" in target:
                problems.append(
                    Problem(
                        index.where(resource),
                        name,
                        f"is about another patient ({target}), not the bundle's Patient: refused",
                    )
                )
    return problems


def record_from_bundle(content: bytes | str) -> ParsedBundle:
    """A cupboard export (or a Bundle shaped like one) back to plain case data.

    Structural problems (not JSON, not a valid R4 Bundle, no single Patient) are
    returned, not raised; the values themselves are validated by the service that
    writes them, with the same rules as the forms.
    """
    bundle, problems = parse_bundle(content)
    if bundle is None:
        return ParsedBundle(None, tuple(problems))
    notes = _entry_notes(bundle)
    index = _Index(bundle)
    patient = _patient_data(index, problems)
    if patient is None:
        return ParsedBundle(None, tuple(problems))
    problems += _other_patient_problems(index, patient)
    episodes = index.of_type("EpisodeOfCare")
    episode = episodes[0] if episodes else None
    if len(episodes) > 1:
        problems.append(
            Problem("bundle", "EpisodeOfCare", f"one case per bundle; found {len(episodes)}")
        )
    if episode is None:
        notes.append("No EpisodeOfCare: the case starts as 'referred' at the MUO stage.")
    referral = _referral_request(index, episode)
    used: set[int] = set()
    pathology = _pathology(index, used)
    unlinked = tuple(
        _ihc(index, observation)
        for observation in index.of_type("Observation")
        if _code_in(observation.code, fc.CS_IHC_MARKER) and id(observation) not in used
    )
    record = CaseRecord(
        patient=_patient_record(patient, referral, index),
        case=_case_record(index, episode, referral, problems),
        investigations=_investigations(index),
        pathology_reports=pathology,
        ihc_without_report=unlinked,
        molecular_reports=_molecular(index),
        serum_markers=_serum(index),
        ecog=_ecog(index),
        decisions=_decisions(index),
        agenda=_agenda(episode),
    )
    notes += _unread_notes(index, _read_resources(index, record, patient))
    return ParsedBundle(record, tuple(problems), tuple(notes))


def _describe(concept: CodeableConcept | None) -> str:
    for coding in _codes(concept):
        if coding.code:
            label = f" {coding.display}" if coding.display else ""
            return f"{coding.system or 'no system'} {coding.code}{label}"
    return concept.text if concept is not None and concept.text else "no code"


def _read_resources(index: _Index, record: CaseRecord, patient: Any) -> set[int]:
    """The id() of every resource the case was read from (the report lists the rest)."""
    wheres = {
        item.where
        for item in (
            *record.investigations,
            *record.pathology_reports,
            *(i for r in record.pathology_reports for i in r.ihc),
            *record.ihc_without_report,
            *record.molecular_reports,
            *record.serum_markers,
            *record.ecog,
            *record.decisions,
        )
    }
    ecog_days = {e.observed_on for e in record.ecog}

    def read(resource: Any) -> bool:
        rtype = resource.get_resource_type()
        code = getattr(resource, "code", None)
        if rtype == "Condition":
            return _has_code(code, fc.MALIGNANT_NEOPLASTIC_DISEASE) or _has_code(
                code, fc.SECONDARY_MALIGNANT_NEOPLASTIC_DISEASE
            )
        if rtype == "ServiceRequest" and (
            _has_code(code, fc.PATIENT_REFERRAL) or _code_in(code, fc.CS_DECISION)
        ):
            return True
        if rtype == "Observation" and _has_code(code, fc.BODY_WEIGHT):
            return _day(resource.effectiveDateTime) in ecog_days
        return index.where(resource) in wheres or rtype in (
            "EpisodeOfCare",
            "Specimen",
            "CareTeam",
            "RequestGroup",
        )

    used = {id(patient)} | {id(r) for _, r in index.resources if read(r)}
    for _, resource in index.resources:
        # Results inside a report read above, and what an investigation's request led to.
        if id(resource) in used and resource.get_resource_type() == "DiagnosticReport":
            for reference in resource.result or []:
                found = index.get(reference)
                if found is not None:
                    used.add(id(found))
        for reference in getattr(resource, "basedOn", None) or []:
            request = index.get(reference)
            if request is not None and id(request) in used:
                used.add(id(resource))
    return used


def _unread_notes(index: _Index, used: set[int]) -> list[str]:
    notes = []
    for _, resource in index.resources:
        rtype = resource.get_resource_type()
        if id(resource) in used or rtype not in IMPORTED_RESOURCE_TYPES:
            continue
        code = getattr(resource, "code", None)
        what = _describe(code if isinstance(code, CodeableConcept) else None)
        notes.append(
            f"{index.where(resource)}: not imported: cupboard records no {rtype} "
            f"coded {what} (not a finding of its CUP case record)"
        )
    return notes


def resources_by_type(bundle: Bundle) -> dict[str, list[Any]]:
    """For tests and tools: the Bundle's resources grouped by resource type."""
    grouped: dict[str, list[Any]] = {}
    for entry in bundle.entry or []:
        if entry.resource is not None:
            grouped.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
    return grouped
