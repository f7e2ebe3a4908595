"""Tumour-agnostic biomarkers, cup-clinical.md section 5 [TA].

These are approved regardless of the primary site, so they apply to CUP. PD-L1 is
deliberately absent: it is not tumour-agnostic (nivolumab is approved for CUP in Japan
only, NivoCUP) [TA].
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TumourAgnosticBiomarker:
    name: str  # exactly as the assess contract spells it
    therapy: str
    decision: str  # decision code (knowledge/decisions.py) it makes worth discussing
    criterion: str  # how it is read from a case profile, for the screen
    source: str = "TA"


TUMOUR_AGNOSTIC_BIOMARKERS: tuple[TumourAgnosticBiomarker, ...] = (
    TumourAgnosticBiomarker(
        "MSI-H", "PD-1 inhibitor (pembrolizumab)", "immunotherapy", "MSI status MSI-H"
    ),
    TumourAgnosticBiomarker(
        "dMMR", "PD-1 inhibitor (pembrolizumab)", "immunotherapy", "MMR status deficient"
    ),
    TumourAgnosticBiomarker(
        "TMB-high", "PD-1 inhibitor (pembrolizumab)", "immunotherapy", "TMB >= 10 mut/Mb"
    ),
    TumourAgnosticBiomarker(
        "NTRK fusion",
        "TRK inhibitor (larotrectinib or entrectinib)",
        "targeted_therapy",
        "NTRK1/2/3 fusion among the NGS alterations",
    ),
    TumourAgnosticBiomarker(
        "BRAF V600E",
        "BRAF + MEK inhibitor (dabrafenib + trametinib)",
        "targeted_therapy",
        "BRAF V600E among the NGS alterations",
    ),
    TumourAgnosticBiomarker(
        "RET fusion",
        "RET inhibitor (selpercatinib)",
        "targeted_therapy",
        "RET fusion among the NGS alterations",
    ),
    TumourAgnosticBiomarker(
        "HER2 3+",
        "HER2 antibody-drug conjugate (trastuzumab deruxtecan)",
        "targeted_therapy",
        "HER2 IHC 3+ (recorded as HER2 positive)",
    ),
)
TUMOUR_AGNOSTIC_NAMES: tuple[str, ...] = tuple(b.name for b in TUMOUR_AGNOSTIC_BIOMARKERS)
TUMOUR_AGNOSTIC_BY_NAME: dict[str, TumourAgnosticBiomarker] = {
    b.name: b for b in TUMOUR_AGNOSTIC_BIOMARKERS
}
# Biomarkers whose therapy is a checkpoint inhibitor: the contract's
# immunotherapy_candidate is true when one of these is present [TA].
IMMUNOTHERAPY_BIOMARKERS: frozenset[str] = frozenset(
    b.name for b in TUMOUR_AGNOSTIC_BIOMARKERS if b.decision == "immunotherapy"
)

# TMB >= 10 mut/Mb -> pembrolizumab [TA].
TMB_HIGH_MIN = 10.0

# PD-L1 TPS or CPS >= 1 is the usual positivity cut-off; a positive PD-L1 without a
# tumour-agnostic biomarker earns a warning, never an immunotherapy flag [TA].
PDL1_POSITIVE_MIN = 1.0


@dataclass(frozen=True)
class AlterationPattern:
    """How a free-text NGS alteration ("ETV6::NTRK3 fusion") is read as a biomarker."""

    biomarker: str
    gene: re.Pattern[str]  # must match
    qualifier: re.Pattern[str]  # and so must this: a fusion, or the exact variant


_FUSION_WORDS = r"FUSION|REARRANGE|TRANSLOCATION"

# Only fusions and BRAF V600E are tumour-agnostic [TA]: an NTRK or RET point mutation
# (e.g. RET M918T) or BRAF V600K is not, so the qualifier is required.
ALTERATION_PATTERNS: tuple[AlterationPattern, ...] = (
    AlterationPattern(
        "NTRK fusion",
        re.compile(r"\bNTRK[123]?\b"),
        re.compile(rf"{_FUSION_WORDS}|(::|-)NTRK[123]?\b|\bNTRK[123]?(::|-)\w"),
    ),
    AlterationPattern(
        "BRAF V600E",
        re.compile(r"\bBRAF\b"),
        re.compile(r"\bV600E\b|\bVAL600GLU\b"),
    ),
    AlterationPattern(
        "RET fusion",
        re.compile(r"\bRET\b"),
        re.compile(rf"{_FUSION_WORDS}|(::|-)RET\b|\bRET(::|-)\w"),
    ),
)

# An alteration written as absent ("NTRK fusion not detected") is not a finding.
NEGATED_ALTERATION = re.compile(
    r"\bNEG(ATIVE)?\b|NOT DETECTED|\bNO\b|\bNONE\b|ABSENT|WILD.?TYPE|\bWT\b"
)
