"""Decisions a tumour board records [docs/clinical-rules.md section 9, ESMO23]."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DecisionKind:
    code: str
    label: str
    # Which detail must be named, e.g. "presumed_primary" for site-specific therapy.
    required_detail: str | None
    detail_label: str | None
    source: str
    # First-treatment class for the lead-time targets [SVF], None when no treatment.
    treatment_class: str | None


DECISION_KINDS: tuple[DecisionKind, ...] = (
    DecisionKind(
        "site_specific",
        "Site-specific therapy",
        "presumed_primary",
        "Presumed primary",
        "ESMO23",
        "drug_therapy",
    ),
    DecisionKind(
        "empiric_platinum_taxane",
        "Empiric platinum–taxane",
        "regimen",
        "Regimen (e.g. carboplatin + paclitaxel)",
        "ESMO23",
        "drug_therapy",
    ),
    DecisionKind(
        "immunotherapy",
        "Immunotherapy (checkpoint inhibitor)",
        "biomarker",
        "Biomarker",
        "TA",
        "drug_therapy",
    ),
    DecisionKind(
        "targeted_therapy",
        "Targeted therapy",
        "alteration",
        "Alteration",
        "CUPISCO",
        "drug_therapy",
    ),
    DecisionKind(
        "local_therapy",
        "Local therapy (surgery / radiotherapy / SBRT)",
        "target_site",
        "Target site",
        "GHANNAM",
        "radiotherapy",
    ),
    DecisionKind(
        "best_supportive_care",
        "Best supportive care",
        None,
        None,
        "ESMO23",
        "best_supportive_care",
    ),
    DecisionKind(
        "further_workup", "Further workup", "workup_requested", "What workup", "SVF", None
    ),
    DecisionKind("clinical_trial", "Clinical trial", None, None, "ESMO23", None),
)
DECISION_CODES: tuple[str, ...] = tuple(d.code for d in DECISION_KINDS)
DECISION_KINDS_BY_CODE: dict[str, DecisionKind] = {d.code: d for d in DECISION_KINDS}
DECISION_LABELS: dict[str, str] = {d.code: d.label for d in DECISION_KINDS}

LOCAL_MODALITIES: dict[str, str] = {
    "surgery": "Surgery",
    "radiotherapy": "Radiotherapy",
    "sbrt": "SBRT",
}

# MDT disciplines [SVF care programme ch. 8], [NICE].
DISCIPLINES: dict[str, str] = {
    "oncology": "Oncologist",
    "pathology": "Pathologist",
    "radiology": "Radiologist",
    "palliative_care": "Palliative medicine",
    "surgery": "Surgeon",
    "investigating_physician": "Investigating physician",
    "nursing": "Contact nurse / CUP key worker",
    "coordination": "MDT coordinator",
}
