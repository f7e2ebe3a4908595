"""Service settings: the pathway lead-time targets [SVF].

The SVF lead times are defaults (``knowledge.pathway.DEFAULT_LEAD_TIMES``); a centre may
set its own without a release. Only an administrator may change them; a change is
validated, version-checked against what the administrator saw, and audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cupboard import validation as v
from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, ValidationError
from cupboard.knowledge.pathway import DEFAULT_LEAD_TIMES, LeadTime
from cupboard.models import Setting
from cupboard.services.audit import apply_update, record_creation
from cupboard.services.context import ServiceContext

LEAD_TIME_KEY = "lead_time_targets"
TREATMENT_CLASSES: tuple[str, ...] = tuple(t.first_treatment for t in DEFAULT_LEAD_TIMES)
# A lead time longer than a year is a typing error, not a target.
MAX_TARGET_DAYS = 365
# The version of targets nobody has saved yet (the SVF defaults).
DEFAULT_VERSION = 0


@dataclass(frozen=True)
class LeadTimeTargets:
    lead_times: tuple[LeadTime, ...]
    version: int  # 0 while the SVF defaults apply; carry it to set_lead_time_targets

    @property
    def configured(self) -> bool:
        return self.version != DEFAULT_VERSION

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            t.first_treatment: {"basic": t.basic_workup_days, "extended": t.extended_workup_days}
            for t in self.lead_times
        }


def _days(field: str, value: object) -> int:
    return v.integer(field, value, 1, MAX_TARGET_DAYS)


def _class_targets(default: LeadTime, days: object) -> LeadTime:
    name = default.first_treatment
    if not isinstance(days, Mapping):
        raise ValidationError(name, "give the basic and the extended workup days")
    basic = _days(f"{name}.basic", days.get("basic"))
    extended = _days(f"{name}.extended", days.get("extended"))
    if extended < basic:
        raise ValidationError(
            f"{name}.extended",
            f"({extended} days) must not be shorter than the basic workup ({basic} days)",
        )
    return LeadTime(name, basic, extended, default.source)


def validate_lead_time_targets(targets: Mapping[str, Mapping[str, object]]) -> tuple[LeadTime, ...]:
    """Every first-treatment class once: positive whole days, extended ≥ basic."""
    if not isinstance(targets, Mapping):
        raise ValidationError("targets", "must map each first-treatment class to its days")
    unknown = sorted(str(k) for k in targets if k not in TREATMENT_CLASSES)
    if unknown:
        raise ValidationError(
            unknown[0], f"is not a first-treatment class ({', '.join(TREATMENT_CLASSES)})"
        )
    return tuple(_class_targets(d, targets.get(d.first_treatment)) for d in DEFAULT_LEAD_TIMES)


def _stored(value: object) -> tuple[LeadTime, ...]:
    """The saved targets; a class missing or unreadable (edited by hand in the
    database) falls back to its SVF default rather than breaking the page."""
    lead_times = []
    for default in DEFAULT_LEAD_TIMES:
        days = value.get(default.first_treatment) if isinstance(value, Mapping) else None
        try:
            lead_times.append(_class_targets(default, days))
        except ValidationError:
            lead_times.append(default)
    return tuple(lead_times)


def get_lead_time_targets(url: str) -> LeadTimeTargets:
    """The configured lead-time targets, or the SVF defaults when none are saved."""
    with unit_of_work(url) as session:
        row = session.scalar(select(Setting).where(Setting.key == LEAD_TIME_KEY))
        if row is None:
            return LeadTimeTargets(DEFAULT_LEAD_TIMES, DEFAULT_VERSION)
        return LeadTimeTargets(_stored(row.value), row.version)


def set_lead_time_targets(
    ctx: ServiceContext, targets: Mapping[str, Mapping[str, object]], seen_version: int
) -> LeadTimeTargets:
    """Save new targets (administrators only) if they are still the version the user
    saw; ``seen_version`` is 0 when the user saw the defaults. Audited."""
    lead_times = validate_lead_time_targets(targets)
    value = LeadTimeTargets(lead_times, DEFAULT_VERSION).as_dict()
    with ctx.writing("manage_settings") as session:
        row = session.scalar(select(Setting).where(Setting.key == LEAD_TIME_KEY))
        if row is None:
            if seen_version != DEFAULT_VERSION:
                raise ConflictError("setting", 0)
            row = Setting(key=LEAD_TIME_KEY, value=value)
            session.add(row)
            try:
                record_creation(session, ctx.actor, row, reason="lead-time targets")
            except IntegrityError:  # another administrator saved the first version first
                raise ConflictError("setting", 0) from None
        else:
            apply_update(
                session, ctx.actor, row, {"value": value}, seen_version, "lead-time targets"
            )
        return LeadTimeTargets(lead_times, row.version)
