"""Synthetic trials for the demo register (issue 19): a handful that, against the demo
cohort, show every match state — eligible, possibly eligible with what would decide it,
not eligible with why — and one closed trial that is never matched. The identifiers are
made up (NCT0999....); no real trial is described.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.models import Trial
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services.audit import record_creation
from cupboard.services.installation import SEED_REASON
from cupboard.trials import criteria_from_json, criteria_to_json

CONTACT = "Clinical trials unit (synthetic), ext 4000"

DEMO_TRIALS: tuple[dict[str, Any], ...] = (
    {
        "identifier": "NCT09990101",
        "title": "Synthetic demo: TRK inhibitor basket for solid tumours with an NTRK fusion",
        "phase": "Phase 2",
        "conditions": ["NTRK gene fusion", "Carcinoma of unknown primary"],
        "criteria": {
            "required_biomarkers": ["NTRK fusion"],
            "scope": "tumour_agnostic",
            "ecog_max": 2,
            "age_min": 18,
        },
        "eligibility_text": "Inclusion: NTRK1/2/3 fusion by NGS; ECOG 0-2; adults.",
    },
    {
        "identifier": "NCT09990102",
        "title": "Synthetic demo: molecularly guided therapy versus platinum chemotherapy "
        "in unfavourable CUP",
        "phase": "Phase 2",
        "conditions": ["Carcinoma of unknown primary"],
        "criteria": {
            "histologies": ["adenocarcinoma", "poorly_differentiated_carcinoma"],
            "scope": "unknown_primary",
            "ecog_max": 1,
            "age_min": 18,
            "max_prior_lines": 0,
        },
        "eligibility_text": "Inclusion: unfavourable CUP, untreated; ECOG 0-1. "
        "Exclusion: a favourable subtype; a primary identified.",
    },
    {
        "identifier": "NCT09990103",
        "title": "Synthetic demo: PD-1 inhibitor for MSI-high or mismatch-repair-deficient "
        "solid tumours",
        "phase": "Phase 2",
        "conditions": ["MSI-H", "dMMR"],
        "criteria": {"required_biomarkers": ["MSI-H", "dMMR"], "ecog_max": 2, "age_min": 18},
        "eligibility_text": "Inclusion: MSI-H or dMMR; ECOG 0-2.",
    },
    {
        "identifier": "NCT09990104",
        "title": "Synthetic demo: endocrine-based therapy in CUP with a breast-like profile",
        "phase": "Phase 3",
        "conditions": ["Carcinoma of unknown primary", "Breast cancer"],
        "criteria": {
            "scope": "sites",
            "sites": ["breast"],
            "sex": "female",
            "ecog_max": 2,
            "brain_metastases_allowed": False,
        },
        "eligibility_text": "Inclusion: women; CUP with a breast-like profile. "
        "Exclusion: brain metastases.",
    },
    {
        "identifier": "NCT09990105",
        "title": "Synthetic demo: a closed trial (never matched)",
        "phase": "Phase 1",
        "status": "closed",
        "conditions": ["Solid tumours"],
        "criteria": {},
        "eligibility_text": None,
    },
)


def seed_demo_trials(url: str) -> int:
    """Add the demo trials not yet in the register; returns how many were added. Written
    as the seed (system actor, the seed's reason) so the database stays a demo."""
    added = 0
    with unit_of_work(url) as session:
        present = set(session.scalars(select(Trial.identifier)))
        for trial in DEMO_TRIALS:
            if trial["identifier"] in present:
                continue
            criteria = criteria_to_json(criteria_from_json(trial["criteria"]))
            row = Trial(
                identifier=trial["identifier"],
                title=trial["title"],
                phase=trial["phase"],
                site_contact=CONTACT,
                status=trial.get("status", "recruiting"),
                conditions=list(trial["conditions"]),
                criteria=criteria,
                eligibility_text=trial["eligibility_text"],
            )
            session.add(row)
            record_creation(session, SYSTEM_ACTOR, row, reason=SEED_REASON)
            added += 1
    return added
