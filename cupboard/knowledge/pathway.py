"""The CUP pathway: case statuses, diagnostic stages and lead-time targets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseStatus:
    code: str
    label: str
    source: str
    is_open: bool = True


# Suggested navigator statuses, docs/clinical-rules.md section 1 [SVF], [NICE].
CASE_STATUSES: tuple[CaseStatus, ...] = (
    CaseStatus("referred", "Referred", "SVF"),
    CaseStatus("workup_in_progress", "Workup in progress", "SVF"),
    CaseStatus("ready_for_mdt", "Ready for MDT", "SVF"),
    CaseStatus("discussed_at_mdt", "Discussed at MDT", "SVF"),
    CaseStatus("decision_recorded", "Decision recorded", "SVF"),
    CaseStatus("in_treatment", "In treatment / follow-up", "SVF"),
    CaseStatus("closed", "Closed", "SVF", is_open=False),
)
CASE_STATUS_CODES: tuple[str, ...] = tuple(s.code for s in CASE_STATUSES)
CASE_STATUS_LABELS: dict[str, str] = {s.code: s.label for s in CASE_STATUSES}

# Why a case was closed [SVF]: a found primary leaves CUP but keeps its history.
CLOSING_REASONS: dict[str, str] = {
    "primary_found": "Primary found",
    "cup_confirmed_treated": "CUP confirmed and treated",
    "deceased": "Deceased",
    "transferred": "Transferred",
}

# NICE's stages of a case [NICE].
DIAGNOSTIC_STAGES: dict[str, str] = {
    "muo": "Metastatic malignancy of unknown origin (MUO)",
    "provisional_cup": "Provisional CUP",
    "confirmed_cup": "Confirmed CUP",
    "primary_found": "Primary found",
}

# Adults only: under 18 goes to paediatric oncology, not this pathway [SVF].
ADULT_AGE = 18


@dataclass(frozen=True)
class LeadTime:
    first_treatment: str
    basic_workup_days: int
    extended_workup_days: int
    source: str = "SVF"


# Default lead times, day 0 = well-founded suspicion to start of first treatment [SVF]
# (2015 version). These are *defaults*: the service reads the configured values from
# the settings table so that a centre can change them without a release.
DEFAULT_LEAD_TIMES: tuple[LeadTime, ...] = (
    LeadTime("drug_therapy", 28, 48),
    LeadTime("radiotherapy", 35, 55),
    LeadTime("surgery", 35, 55),
    LeadTime("best_supportive_care", 24, 44),
)

# Partial lead times [SVF].
DEFAULT_PARTIAL_LEAD_TIMES: dict[str, int] = {
    "block_a_to_b": 5,
    "mdt_to_decision": 21,
    "decision_to_radiotherapy": 14,
}

# National goal: 80 % of patients within the lead time [SVF].
LEAD_TIME_GOAL_SHARE = 0.80

# NICE: an outpatient with MUO is assessed by the CUP team within 2 weeks [NICE].
NICE_FIRST_ASSESSMENT_DAYS = 14
