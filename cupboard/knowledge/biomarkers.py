"""Tumour-agnostic biomarkers and actionable targets, docs/clinical-rules.md section 7 [TA],
[ESCAT].

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


# ---------------------------------------------------------------------------------
# Reading an NGS report's text. A report line may hold several findings separated by
# "," or ";" ("BRAF V600E, TP53 WT"); each is read on its own, so a negation negates
# only its own finding (assess contract version 2).

ALTERATION_SEPARATORS = re.compile(r"[;,]")

# A finding written as absent ("NTRK fusion not detected", "EML4-ALK negative").
NEGATED_ALTERATION = re.compile(
    r"\bNEG(ATIVE)?\b|NOT DETECTED|\bNO\b|\bNONE\b|ABSENT|WILD.?TYPE|\bWT\b|\bNOT FOUND\b"
)

# How the kind of a finding is written. A fusion is named as such, or as two genes
# joined ("KIF5B-RET", "ETV6::NTRK3"); "pan-TRK IHC" or "NTRK1-positive" is a protein
# stain, not a fusion, and "RET-mutant (M918T)" is a point mutation.
FUSION_WORDS = re.compile(r"FUSION|REARRANGE|TRANSLOCATION|::")
GENE_PAIR = re.compile(r"\b([A-Z][A-Z0-9]{1,9})-([A-Z][A-Z0-9]{1,9})\b")
AMPLIFICATION_WORDS = re.compile(r"\bAMP(LIFI(ED|CATION))?\b|COPY.?NUMBER GAIN")
DELETION_WORDS = re.compile(r"\bDEL(ETION|ETED)?\b|\bLOSS\b")
IHC_WORDS = re.compile(r"\bIHC\b|IMMUNOHISTO|PAN-?TRK|\bSTAIN")
MUTATION_WORDS = re.compile(r"MUT(ANT|ATION|ATED)?\b|\bEXON\b|\bSKIPPING\b|\bINDEL\b")
# A protein change: V600E, G12C, p.V600E, Val600Glu, L858R, exon 19 deletion.
VARIANT = re.compile(
    r"\b(?:P\.)?("
    r"[A-Z]\d{1,4}(?:[A-Z]|\*|FS|DEL)"  # one-letter amino acids
    r"|[A-Z]{3}\d{1,4}[A-Z]{3}"  # three-letter amino acids
    r"|EXON ?\d{1,2}\w*)"
)
GENE_TOKEN = re.compile(r"\b([A-Z][A-Z0-9]{1,9})\b")
# Words that look like gene symbols but are not.
NOT_GENES: frozenset[str] = frozenset(
    {
        "FUSION", "MUTANT", "MUTATION", "MUTATED", "AMP", "AMPLIFICATION", "AMPLIFIED",
        "DELETION", "DEL", "LOSS", "POSITIVE", "NEGATIVE", "NEG", "POS", "NOT", "DETECTED",
        "NO", "NONE", "ABSENT", "WT", "WILD", "TYPE", "IHC", "PAN", "TRK", "EXON", "VARIANT",
        "REARRANGEMENT", "GAIN", "COPY", "NUMBER", "SKIPPING", "STAIN", "FOUND", "HIGH", "LOW",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ActionableTarget:
    """An alteration ESCAT tier I-II ranks as a target (the contract's list) [ESCAT]."""

    gene: str  # gene symbol; "NTRK" stands for NTRK1/2/3
    kinds: frozenset[str]  # alteration kinds that count
    variant: re.Pattern[str] | None  # and this variant, when the target is one variant
    therapy: str
    tier: str


def _target(
    gene: str, kinds: str, therapy: str, tier: str = "I", variant: str | None = None
) -> ActionableTarget:
    return ActionableTarget(
        gene, frozenset(kinds.split()), re.compile(variant) if variant else None, therapy, tier
    )


# Targets for molecularly guided therapy, assess contract version 2 [ESMO23],
# [CUPISCO], tiers [ESCAT]. Only the kind of alteration that makes the drug work
# counts: an EGFR amplification or a KRAS G12D is not one of these.
ACTIONABLE_TARGETS: tuple[ActionableTarget, ...] = (
    _target("EGFR", "mutation deletion", "EGFR tyrosine kinase inhibitor (e.g. osimertinib)"),
    _target("ALK", "fusion", "ALK inhibitor (e.g. alectinib, lorlatinib)"),
    _target("ROS1", "fusion", "ROS1 inhibitor (e.g. crizotinib, entrectinib)"),
    _target(
        "BRAF",
        "mutation",
        "BRAF + MEK inhibitor (dabrafenib + trametinib)",
        variant=r"V600E|VAL600GLU",
    ),
    _target("KRAS", "mutation", "KRAS G12C inhibitor (sotorasib, adagrasib)", variant=r"G12C"),
    _target(
        "ERBB2", "mutation amplification", "HER2-directed therapy (e.g. trastuzumab deruxtecan)"
    ),
    _target("NRG1", "fusion", "NRG1 fusion: HER2/HER3-directed therapy (e.g. zenocutuzumab)", "II"),
    _target("FGFR2", "fusion", "FGFR inhibitor (e.g. pemigatinib)"),
    _target("IDH1", "mutation", "IDH1 inhibitor (ivosidenib)"),
    _target("RET", "fusion", "RET inhibitor (selpercatinib)"),
    _target("NTRK", "fusion", "TRK inhibitor (larotrectinib or entrectinib)"),
    _target(
        "MET", "mutation deletion", "MET inhibitor (capmatinib, tepotinib)", variant=r"EXON ?14"
    ),
)
# HER2 is also written ERBB2 in NGS reports.
GENE_ALIASES: dict[str, str] = {"HER2": "ERBB2", "NTRK1": "NTRK", "NTRK2": "NTRK", "NTRK3": "NTRK"}

# In colorectal cancer BRAF V600E is treated with encorafenib + cetuximab; the
# tumour-agnostic dabrafenib + trametinib label excludes colorectal cancer [TA].
BRAF_COLORECTAL_THERAPY = "encorafenib + cetuximab (colorectal label)"
