"""The database tables, as typed SQLAlchemy 2.x models.

Every editable clinical row carries ``version`` (SQLAlchemy's ``version_id_col``):
an UPDATE only succeeds when the row still has the version the user saw, so two
people editing the same row cannot silently overwrite each other. ``audit_events``
is append-only (database triggers refuse UPDATE and DELETE; see the migrations).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cupboard.search_keys import fold_text, patient_search_id

# A naming convention so that Alembic's batch mode on SQLite can find constraints.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[dict[str, Any]]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    discipline: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "role IN ('navigator','oncologist','chair','pathologist','viewer','admin')",
            name="role",
        ),
    )


class SignInThrottle(Base):
    """Failed local sign-ins per username and source address, with or without an
    account, so a stranger's guesses slow down the stranger, not the account's owner,
    and the answers do not tell which usernames exist. The key is built from SHA-256
    digests of the normalised username and of the username with the address, never the
    text itself: people type passwords into the username field. Rows quiet for a day
    are deleted (cupboard/services/accounts.py: throttle_key).
    """

    __tablename__ = "sign_in_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_digest: Mapped[str] = mapped_column(String(64), unique=True)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


# The case finder's keys are written with the patient by every writer (the referral
# form, an import, the demo cohort's bulk insert): defaults computed from the row.
def _search_name(context: Any) -> str:
    return fold_text(context.get_current_parameters().get("name") or "")


def _search_id(context: Any) -> str:
    row = context.get_current_parameters()
    return patient_search_id(row.get("mrn") or "", row.get("pseudonym") or "")


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str] = mapped_column(String(8))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    referrer_name: Mapped[str | None] = mapped_column(String(200))
    referrer_phone: Mapped[str | None] = mapped_column(String(40))
    prior_malignancy: Mapped[str | None] = mapped_column(Text)
    # The name and the numbers (MRN or personal number, pseudonym) as the case finder
    # compares them, folded by cupboard/search_keys.py whenever the patient is written
    # (migration 0007): "asa" finds Åsa on every database engine.
    search_name: Mapped[str] = mapped_column(String(200), index=True, default=_search_name)
    search_id: Mapped[str] = mapped_column(String(80), index=True, default=_search_id)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    cases: Mapped[list[Case]] = relationship(back_populates="patient")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("sex IN ('female','male')", name="sex"),)


@event.listens_for(Patient, "before_update")
def _fold_search_keys(_mapper: Any, _connection: Any, patient: Patient) -> None:
    # A corrected name or MRN is found by its new spelling.
    patient.search_name = fold_text(patient.name or "")
    patient.search_id = patient_search_id(patient.mrn or "", patient.pseudonym or "")


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    diagnostic_stage: Mapped[str] = mapped_column(String(32), default="muo")
    pathway_start: Mapped[dt.date] = mapped_column(Date, index=True)
    referral_date: Mapped[dt.date] = mapped_column(Date)
    oncologist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    navigator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    presentation: Mapped[str | None] = mapped_column(Text)
    metastatic_sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    lesion_count: Mapped[int | None] = mapped_column(Integer)
    bone_pattern: Mapped[str | None] = mapped_column(String(16))
    # Symptom codes (knowledge/sites.py SYMPTOMS) that direct the workup; null or empty:
    # none recorded. Pregnancy: null when not recorded (migration 0005).
    symptoms: Mapped[list[str] | None] = mapped_column(JSON)
    pregnant: Mapped[bool | None] = mapped_column(Boolean)
    primary_found_site: Mapped[str | None] = mapped_column(String(32))
    primary_found_by: Mapped[str | None] = mapped_column(String(32))
    primary_found_on: Mapped[dt.date | None] = mapped_column(Date)
    closing_reason: Mapped[str | None] = mapped_column(String(32))
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    patient: Mapped[Patient] = relationship(back_populates="cases")
    oncologist: Mapped[User | None] = relationship(foreign_keys=[oncologist_id])
    navigator: Mapped[User | None] = relationship(foreign_keys=[navigator_id])
    investigations: Mapped[list[Investigation]] = relationship(back_populates="case")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("lesion_count IS NULL OR lesion_count >= 0", name="lesion_count"),
    )


class Investigation(Base):
    __tablename__ = "investigations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_on: Mapped[dt.date | None] = mapped_column(Date)
    booked_for: Mapped[dt.date | None] = mapped_column(Date)
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    result_text: Mapped[str | None] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(120))
    reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    case: Mapped[Case] = relationship(back_populates="investigations")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("case_id", "code", name="uq_investigations_case_code"),
        # The worklist's "result not reviewed" (migration 0002).
        Index("ix_investigations_status_reviewed_on", "status", "reviewed_on"),
    )


class PathologyReport(Base):
    __tablename__ = "pathology_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    histology: Mapped[str] = mapped_column(String(40))
    differentiation: Mapped[str | None] = mapped_column(String(20))
    biopsy_site: Mapped[str | None] = mapped_column(String(32))
    specimen_type: Mapped[str | None] = mapped_column(String(16))
    reported_on: Mapped[dt.date] = mapped_column(Date)
    pathologist: Mapped[str | None] = mapped_column(String(120))
    comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class IhcResult(Base):
    __tablename__ = "ihc_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    pathology_report_id: Mapped[int | None] = mapped_column(ForeignKey("pathology_reports.id"))
    marker: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))
    percentage: Mapped[float | None] = mapped_column(Float)
    reported_on: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("result IN ('positive','negative','equivocal')", name="result"),
        CheckConstraint(
            "percentage IS NULL OR (percentage >= 0 AND percentage <= 100)", name="percentage"
        ),
    )


class MolecularReport(Base):
    __tablename__ = "molecular_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    msi_status: Mapped[str | None] = mapped_column(String(8))
    mmr_status: Mapped[str | None] = mapped_column(String(12))
    tmb: Mapped[float | None] = mapped_column(Float)
    pdl1_tps: Mapped[float | None] = mapped_column(Float)
    pdl1_cps: Mapped[float | None] = mapped_column(Float)
    alterations: Mapped[list[str]] = mapped_column(JSON, default=list)
    tissue_of_origin_site: Mapped[str | None] = mapped_column(String(32))
    tissue_of_origin_confidence: Mapped[float | None] = mapped_column(Float)
    reported_on: Mapped[dt.date] = mapped_column(Date)
    lab: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class SerumMarkerResult(Base):
    __tablename__ = "serum_marker_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    marker: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    upper_limit_normal: Mapped[float | None] = mapped_column(Float)
    measured_on: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class EcogObservation(Base):
    __tablename__ = "ecog_observations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    observed_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    weight_kg: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 5", name="score"),
        Index("ix_ecog_case_date", "case_id", "observed_on"),
    )


class MdtMeeting(Base):
    __tablename__ = "mdt_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_date: Mapped[dt.date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # [{"name": ..., "discipline": ...}], disciplines from knowledge.decisions.DISCIPLINES
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    chair: Mapped[User | None] = relationship()
    agenda_items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", order_by="AgendaItem.position"
    )

    __mapper_args__ = {"version_id_col": version}


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("mdt_meetings.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str | None] = mapped_column(Text)
    presented_by: Mapped[str | None] = mapped_column(String(120))
    discussion_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    discussion_ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    meeting: Mapped[MdtMeeting] = relationship(back_populates="agenda_items")
    case: Mapped[Case] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id", name="uq_agenda_items_meeting_case"),
    )


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("mdt_meetings.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    presumed_primary: Mapped[str | None] = mapped_column(String(32))
    regimen: Mapped[str | None] = mapped_column(String(200))
    biomarker: Mapped[str | None] = mapped_column(String(60))
    alteration: Mapped[str | None] = mapped_column(String(120))
    target_site: Mapped[str | None] = mapped_column(String(120))
    local_modality: Mapped[str | None] = mapped_column(String(20))
    workup_requested: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str | None] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    ecog_at_decision: Mapped[int | None] = mapped_column(Integer)
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_on: Mapped[dt.date] = mapped_column(Date, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An amendment is a new row pointing at the one it amends; the old row is
    # marked superseded but never rewritten (21 CFR Part 11 spirit).
    amends_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    treatment_started_on: Mapped[dt.date | None] = mapped_column(Date)
    follow_up_due: Mapped[dt.date | None] = mapped_column(Date)
    follow_up_done_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "ecog_at_decision IS NULL OR (ecog_at_decision >= 0 AND ecog_at_decision <= 5)",
            name="ecog_at_decision",
        ),
        # The worklist's "treatment start not recorded" (migration 0002).
        Index("ix_decisions_treatment_start", "code", "treatment_started_on", "decided_on"),
        # One current decision per case and meeting, and per case and day for a decision
        # taken outside a meeting: two people deciding at once cannot both stand, even
        # when their saves race (migration 0004; services/decisions.py says who won).
        Index(
            "uq_decisions_current_per_meeting",
            "case_id",
            "meeting_id",
            unique=True,
            sqlite_where=text("superseded = 0 AND meeting_id IS NOT NULL"),
            postgresql_where=text("superseded = false AND meeting_id IS NOT NULL"),
        ),
        Index(
            "uq_decisions_current_outside_meeting",
            "case_id",
            "decided_on",
            unique=True,
            sqlite_where=text("superseded = 0 AND meeting_id IS NULL"),
            postgresql_where=text("superseded = false AND meeting_id IS NULL"),
        ),
    )


class Setting(Base):
    """Service settings such as pathway lead-time targets (values are JSON)."""

    __tablename__ = "settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class Installation(Base):
    """What this database is for, decided once: ``demo`` (synthetic patients and the
    published demo accounts) or ``production``. One row at most (id 1).

    A database that has ever held a real account or data not made by the demo seed or
    a demo account is production for good; demo mode never seeds it and never lets a
    demo account in (cupboard/services/installation.py, migration 0004).
    """

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("kind IN ('demo','production')", name="kind"),
    )


class AuditEvent(Base):
    """Append-only: who changed what, when, from what to what."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.current_timestamp()
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create | update | sign_in | ...
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    # The row's version after this change: a conflict shows the events the user missed.
    entity_version: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)  # JSON text
    after: Mapped[str | None] = mapped_column(Text)  # JSON text
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)


class Trial(Base):
    """A clinical trial this centre can offer (issue 19): the register the board matches
    cases against. ``criteria`` holds the structured eligibility of cupboard/trials.py,
    validated before it is stored; ``eligibility_text`` keeps the registry's own wording
    for reading, since the structured criteria are completed by hand and may simplify it.
    """

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(40), unique=True)  # NCT or EU CT number
    title: Mapped[str] = mapped_column(String(300))
    phase: Mapped[str | None] = mapped_column(String(40))
    site_contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="recruiting")
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    eligibility_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("status IN ('recruiting','closed')", name="status"),)


class CareReferral(Base):
    """A referral the board makes beside its treatment decision (issue 21): palliative
    care, psycho-oncology, clinical genetics, dietitian, rehabilitation, a second opinion
    or another service. Not the inbound referral that registers a case. The navigator
    moves it on (requested -> accepted / seen -> closed, or declined by the patient);
    each step keeps its date, so the worklist can chase a referral that has stalled.
    """

    __tablename__ = "care_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # The MDT outcome it belongs to, when made beside a decision.
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("mdt_meetings.id"))
    kind: Mapped[str] = mapped_column(String(32))  # knowledge/referrals.py
    detail: Mapped[str | None] = mapped_column(String(200))  # which centre / service
    reason: Mapped[str] = mapped_column(Text)
    # Whether the guidance prompted this kind when it was requested.
    prompted: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24), default="requested")
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    seen_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)  # closed or declined
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "kind IN ('palliative_care','psycho_oncology','clinical_genetics','dietitian',"
            "'rehabilitation','second_opinion','other')",
            name="kind",
        ),
        CheckConstraint(
            "status IN ('requested','accepted','seen','closed','declined_by_patient')",
            name="status",
        ),
        Index("ix_care_referrals_status_requested_on", "status", "requested_on"),
    )


EDITABLE_TABLES: tuple[str, ...] = tuple(
    t.name for t in Base.metadata.sorted_tables if "version" in t.c
)
