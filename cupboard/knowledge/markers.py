"""IHC markers and serum tumour markers [docs/clinical-rules.md sections 2-3, SVF block A]."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class IhcMarker:
    name: str  # canonical spelling, as in docs/assess-contract.md
    points_to: str  # what a positive result suggests, in the clinic's words
    source: str


IHC_MARKERS: tuple[IhcMarker, ...] = (
    IhcMarker("CK7", "CK7/CK20 matrix", "CHU00"),
    IhcMarker("CK20", "CK7/CK20 matrix", "CHU00"),
    IhcMarker("TTF-1", "lung adenocarcinoma; thyroid", "ESMO23"),
    IhcMarker("Napsin A", "lung adenocarcinoma", "ESMO23"),
    IhcMarker("Thyroglobulin", "thyroid", "ESMO23"),
    IhcMarker("PAX8", "Müllerian, renal, thyroid", "ESMO23"),
    IhcMarker("GATA3", "breast; urothelial", "ESMO23"),
    IhcMarker("ER", "breast (also Müllerian)", "ESMO23"),
    IhcMarker("PR", "breast (also Müllerian)", "ESMO23"),
    IhcMarker("Mammaglobin", "breast", "ESMO23"),
    IhcMarker("GCDFP-15", "breast", "ESMO23"),
    IhcMarker("CDX2", "colorectal; upper GI", "ESMO23"),
    IhcMarker("SATB2", "colorectal", "ESMO23"),
    IhcMarker("WT1", "serous ovarian/peritoneal (with PAX8); mesothelioma", "ESMO23"),
    IhcMarker("PSA", "prostate", "ESMO23"),
    IhcMarker("NKX3.1", "prostate", "ESMO23"),
    IhcMarker("PSAP", "prostate", "ESMO23"),
    IhcMarker("HepPar-1", "hepatocellular", "ESMO23"),
    IhcMarker("Arginase-1", "hepatocellular", "ESMO23"),
    IhcMarker("Glypican-3", "hepatocellular", "ESMO23"),
    IhcMarker("SOX10", "melanoma", "ESMO23"),
    IhcMarker("S100", "melanoma", "ESMO23"),
    IhcMarker("HMB45", "melanoma", "ESMO23"),
    IhcMarker("Melan-A", "melanoma", "ESMO23"),
    IhcMarker("Chromogranin A", "neuroendocrine", "ESMO23"),
    IhcMarker("Synaptophysin", "neuroendocrine", "ESMO23"),
    IhcMarker("INSM1", "neuroendocrine", "ESMO23"),
    IhcMarker("p40", "squamous", "ESMO23"),
    IhcMarker("p63", "squamous; urothelial", "ESMO23"),
    IhcMarker("CK5/6", "squamous", "ESMO23"),
    IhcMarker("Calretinin", "mesothelioma", "ESMO23"),
    IhcMarker("D2-40", "mesothelioma", "ESMO23"),
    IhcMarker("SALL4", "germ cell", "ESMO23"),
    IhcMarker("OCT3/4", "germ cell", "ESMO23"),
    IhcMarker("PLAP", "germ cell", "ESMO23"),
    IhcMarker("CD45", "lymphoma", "ESMO23"),
    IhcMarker("Uroplakin", "urothelial", "ESMO23"),
    IhcMarker("CD10", "renal", "ESMO23"),
    IhcMarker("RCC", "renal", "ESMO23"),
    IhcMarker("p16", "HPV-related squamous (cervical nodes)", "ESMO23"),
    # HER2 is scored 0-3+; "positive" here means IHC 3+, the tumour-agnostic threshold [TA].
    IhcMarker("HER2", "HER2 3+ (tumour-agnostic T-DXd)", "TA"),
    # Version 2 of the assess contract adds these (docs/assess-contract.md).
    IhcMarker("AE1/AE3", "pan-keratin: carcinoma (epithelial lineage)", "ESMO23"),
    IhcMarker("CD138", "plasma cell (myeloma / plasmacytoma)", "ESMO23"),
    IhcMarker("kappa", "plasma cell / B-cell light chain", "ESMO23"),
    IhcMarker("lambda", "plasma cell / B-cell light chain", "ESMO23"),
    IhcMarker("TRPS1", "breast", "ESMO23"),
    IhcMarker("Calcitonin", "medullary thyroid carcinoma", "ESMO23"),
    IhcMarker("AR", "salivary duct carcinoma; prostate; apocrine breast", "ESMO23"),
    IhcMarker("NUT", "NUT carcinoma (midline)", "ESMO23"),
    IhcMarker("SMARCB1", "loss (negative) in SMARCB1-deficient tumours", "ESMO23"),
    IhcMarker("EBER", "EBV-related nasopharyngeal carcinoma", "ESMO23"),
    IhcMarker("Neurofilament", "Merkel cell carcinoma (with CK20 dot-like)", "ESMO23"),
    IhcMarker("HNF1B", "clear cell carcinoma (ovary, kidney)", "ESMO23"),
)

IHC_RESULTS: tuple[str, ...] = ("positive", "negative", "equivocal")


def marker_key(name: str) -> str:
    """Case- and punctuation-insensitive key: TTF-1 = TTF1 = ttf-1 (assess contract)."""
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("β", "beta"))


IHC_MARKERS_BY_KEY: dict[str, IhcMarker] = {marker_key(m.name): m for m in IHC_MARKERS}
# Other names a pathology report uses for the same stain.
IHC_ALIASES: dict[str, str] = {
    "pankeratin": "AE1/AE3",
    "ae1ae3": "AE1/AE3",
    "ini1": "SMARCB1",
    "thyroidtranscriptionfactor1": "TTF-1",
}

# Ki-67 is not positive or negative but a proliferation index, in percent of tumour
# nuclei (0-100). It grades neuroendocrine neoplasms [ESMO23].
KI67 = "Ki-67"


def is_ki67(name: str) -> bool:
    """Whether a marker name is Ki-67 (Ki67, ki-67, MIB-1)."""
    return marker_key(name) in ("ki67", "mib1")


def canonical_ihc_marker(name: str) -> str | None:
    """The canonical spelling of an IHC marker, or None if it is not in the catalogue."""
    key = marker_key(name)
    marker = IHC_MARKERS_BY_KEY.get(key) or IHC_MARKERS_BY_KEY.get(
        marker_key(IHC_ALIASES.get(key, ""))
    )
    return marker.name if marker else None


@dataclass(frozen=True)
class SerumMarker:
    code: str
    label: str
    default_unit: str
    indication: str
    source: str


# Serum markers by suspicion [SVF block A], [ESMO23].
SERUM_MARKERS: tuple[SerumMarker, ...] = (
    SerumMarker("PSA", "PSA", "ng/mL", "Men, esp. bone metastases", "ESMO23"),
    SerumMarker("AFP", "AFP", "ng/mL", "Midline tumours; isolated liver tumour", "SVF"),
    SerumMarker("beta-hCG", "β-hCG", "IU/L", "Midline tumours, young men", "SVF"),
    SerumMarker("CA-125", "CA-125", "U/mL", "Women with peritoneal / pelvic disease", "ESMO23"),
    SerumMarker("CEA", "CEA", "ng/mL", "Adenocarcinoma (supportive only)", "NCCN"),
    SerumMarker("CA19-9", "CA 19-9", "U/mL", "Pancreatobiliary (supportive only)", "NCCN"),
    SerumMarker("LDH", "LDH", "U/L", "Prognostic [CULINE]", "CULINE"),
    SerumMarker("Chromogranin A", "Chromogranin A", "ng/mL", "Neuroendocrine suspicion", "SVF"),
)
SERUM_MARKER_CODES: tuple[str, ...] = tuple(m.code for m in SERUM_MARKERS)
SERUM_MARKERS_BY_KEY: dict[str, SerumMarker] = {marker_key(m.code): m for m in SERUM_MARKERS}


def canonical_serum_marker(name: str) -> str | None:
    marker = SERUM_MARKERS_BY_KEY.get(marker_key(name))
    return marker.code if marker else None
