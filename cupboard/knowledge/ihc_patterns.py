"""Diagnostic patterns that point to a primary site, or to an entity to rule out first.

cup-clinical.md section 3 [CHU00], [ESMO23], [SVF]. The guidance ranks primary sites
by adding the weights of every pattern a profile shows. Weights are ordinal, chosen so
that a specific marker outweighs the broad CK7/CK20 quadrant and a marker outweighs the
pattern of spread; they rank sites for the board's discussion and are not
probabilities. Every pattern carries the text shown as evidence and its source tag.

Marker names are the canonical spellings of :mod:`cupboard.knowledge.markers`; site
codes are those of :mod:`cupboard.knowledge.sites`.
"""

from __future__ import annotations

from dataclasses import dataclass

QUADRANT_WEIGHT = 1.0


@dataclass(frozen=True)
class CkQuadrant:
    ck7: str  # "positive" | "negative"
    ck20: str
    label: str  # evidence text, e.g. "CK7+/CK20-"
    sites: tuple[str, ...]
    source: str = "CHU00"


# The CK7/CK20 matrix [CHU00]. Cholangiocarcinoma and upper pancreatobiliary are
# "pancreatobiliary", salivary is "head_and_neck", gastric is "upper_gi", Merkel cell is
# "neuroendocrine". Squamous carcinoma (CK7-/CK20-) is a histology, not a site, so it
# adds no site here.
CK_QUADRANTS: tuple[CkQuadrant, ...] = (
    CkQuadrant(
        "positive",
        "negative",
        "CK7+/CK20-",
        (
            "lung",
            "breast",
            "thyroid",
            "endometrium",
            "ovary",
            "pancreatobiliary",
            "head_and_neck",
            "mesothelioma",
        ),
    ),
    CkQuadrant(
        "positive",
        "positive",
        "CK7+/CK20+",
        ("urothelial", "pancreatobiliary", "upper_gi", "ovary"),
    ),
    CkQuadrant("negative", "positive", "CK7-/CK20+", ("colorectal", "neuroendocrine")),
    CkQuadrant(
        "negative",
        "negative",
        "CK7-/CK20-",
        ("liver", "kidney", "prostate", "adrenal", "germ_cell", "neuroendocrine"),
    ),
)


@dataclass(frozen=True)
class MarkerPointer:
    marker: str  # canonical IHC marker name
    result: str  # "positive" | "negative"
    site: str
    weight: float  # negative weights lower a site
    source: str = "ESMO23"


def _pos(marker: str, site: str, weight: float, source: str = "ESMO23") -> MarkerPointer:
    return MarkerPointer(marker, "positive", site, weight, source)


def _neg(marker: str, site: str, weight: float, source: str = "ESMO23") -> MarkerPointer:
    return MarkerPointer(marker, "negative", site, weight, source)


# Site-specific markers, cup-clinical.md section 3 [ESMO23]. A marker specific to one
# lineage weighs 2-3; a marker shared by several lineages weighs 1 for the secondary
# ones (TTF-1 also thyroid, GATA3 also urothelial, CDX2 also upper GI). S100 is
# sensitive but not specific for melanoma, so it weighs 1. p40 and CK5/6 say squamous,
# a histology, not a site.
MARKER_POINTERS: tuple[MarkerPointer, ...] = (
    _pos("TTF-1", "lung", 2),
    _pos("TTF-1", "thyroid", 1),
    _pos("Napsin A", "lung", 2),
    _pos("Thyroglobulin", "thyroid", 3),
    _pos("PAX8", "ovary", 1),
    _pos("PAX8", "endometrium", 1),
    _pos("PAX8", "kidney", 1),
    _pos("PAX8", "thyroid", 1),
    _pos("GATA3", "breast", 2),
    _pos("GATA3", "urothelial", 1),
    _pos("ER", "breast", 2),
    _pos("ER", "ovary", 1),
    _pos("ER", "endometrium", 1),
    _pos("PR", "breast", 1),
    _pos("PR", "endometrium", 1),
    _pos("Mammaglobin", "breast", 2),
    _pos("GCDFP-15", "breast", 2),
    _pos("CDX2", "colorectal", 2),
    _pos("CDX2", "upper_gi", 1),
    _pos("SATB2", "colorectal", 2),
    _pos("WT1", "ovary", 1),
    _pos("WT1", "mesothelioma", 1),
    _pos("PSA", "prostate", 3),
    _pos("NKX3.1", "prostate", 3),
    _pos("PSAP", "prostate", 2),
    _pos("HepPar-1", "liver", 2),
    _pos("Arginase-1", "liver", 3),
    _pos("Glypican-3", "liver", 2),
    _pos("SOX10", "melanoma", 2),
    _pos("S100", "melanoma", 1),
    _pos("HMB45", "melanoma", 2),
    _pos("Melan-A", "melanoma", 2),
    _pos("Chromogranin A", "neuroendocrine", 2),
    _pos("Synaptophysin", "neuroendocrine", 2),
    _pos("INSM1", "neuroendocrine", 2),
    _pos("p63", "urothelial", 1),
    _pos("Calretinin", "mesothelioma", 2),
    _pos("D2-40", "mesothelioma", 2),
    _pos("SALL4", "germ_cell", 2),
    _pos("OCT3/4", "germ_cell", 3),
    _pos("PLAP", "germ_cell", 2),
    _pos("CD45", "lymphoma", 3),
    _pos("Uroplakin", "urothelial", 3),
    _pos("CD10", "kidney", 1),
    _pos("RCC", "kidney", 2),
)

# Key negatives: a sensitive marker that is negative, or a CK that the site almost
# never shows, lowers the site a little; never to the point of hiding strong positive
# evidence. Colorectal carcinoma is CK7- and lung adenocarcinoma CK20- in most cases
# [CHU00]; the others are the sensitive lineage markers of section 3 [ESMO23].
KEY_NEGATIVES: tuple[MarkerPointer, ...] = (
    _pos("CK7", "colorectal", -1, "CHU00"),
    _pos("CK20", "lung", -1, "CHU00"),
    _neg("TTF-1", "lung", -1),
    _neg("GATA3", "breast", -1),
    _neg("CDX2", "colorectal", -1),
    _neg("NKX3.1", "prostate", -1),
    _neg("PSA", "prostate", -1),
    _neg("PAX8", "kidney", -1),
    _neg("PAX8", "ovary", -1),
    _neg("Arginase-1", "liver", -1),
)


@dataclass(frozen=True)
class MarkerCombination:
    markers: tuple[str, ...]  # all positive
    site: str
    weight: float
    label: str
    source: str = "ESMO23"


# Pairs that say more than their parts, cup-clinical.md section 3 [ESMO23].
MARKER_COMBINATIONS: tuple[MarkerCombination, ...] = (
    MarkerCombination(("PAX8", "WT1"), "ovary", 2, "PAX8+ with WT1+ (serous)"),
    MarkerCombination(("PAX8", "CD10"), "kidney", 1, "PAX8+ with CD10+ (renal)"),
    MarkerCombination(("Thyroglobulin", "PAX8"), "thyroid", 1, "thyroglobulin+ with PAX8+"),
)


@dataclass(frozen=True)
class SerumPointer:
    marker: str  # serum marker code (knowledge/markers.py)
    # Raised above this value. Conventional adult upper reference limits, not from the
    # guidelines: the local laboratory's range should replace them.
    upper_limit: float
    unit: str
    site_weights: tuple[tuple[str, float], ...]
    sex: str | None  # only counts for this sex
    source: str


# Serum markers by suspicion [SVF block A], [ESMO23]. CA-125 is raised by any
# peritoneal disease, so it weighs little; beta-hCG is the most specific for germ cell.
SERUM_POINTERS: tuple[SerumPointer, ...] = (
    SerumPointer("PSA", 4.0, "ng/mL", (("prostate", 2),), "male", "ESMO23"),
    SerumPointer("AFP", 10.0, "ng/mL", (("germ_cell", 2), ("liver", 2)), None, "SVF"),
    SerumPointer("beta-hCG", 5.0, "IU/L", (("germ_cell", 3),), None, "SVF"),
    SerumPointer("CA-125", 35.0, "U/mL", (("ovary", 1),), "female", "ESMO23"),
)
SERUM_POINTERS_BY_MARKER: dict[str, SerumPointer] = {p.marker: p for p in SERUM_POINTERS}


@dataclass(frozen=True)
class PresentationPointer:
    metastatic_sites: frozenset[str]  # any of these
    site: str
    weight: float
    evidence: str
    source: str
    sex: str | None = None
    histologies: frozenset[str] | None = None  # None: any histology
    bone_pattern: str | None = None


# Patterns of spread [ESMO23], [SVF]: weak pointers, they only tip a balance.
PRESENTATION_POINTERS: tuple[PresentationPointer, ...] = (
    PresentationPointer(frozenset({"axillary_nodes"}), "breast", 1, "axillary nodes", "ESMO23"),
    PresentationPointer(
        frozenset({"cervical_nodes"}), "head_and_neck", 1, "cervical nodes", "ESMO23"
    ),
    PresentationPointer(
        frozenset({"cervical_nodes"}),
        "head_and_neck",
        1,
        "squamous carcinoma in cervical nodes",
        "ESMO23",
        histologies=frozenset({"squamous_cell_carcinoma"}),
    ),
    PresentationPointer(
        frozenset({"peritoneum"}), "ovary", 1, "peritoneal disease in a woman", "ESMO23", "female"
    ),
    PresentationPointer(
        frozenset({"bone"}),
        "prostate",
        1,
        "blastic bone metastases in a man",
        "ESMO23",
        "male",
        bone_pattern="blastic",
    ),
    PresentationPointer(
        frozenset({"mediastinal_nodes", "retroperitoneal_nodes"}),
        "germ_cell",
        1,
        "midline nodes in a man",
        "SVF",
        "male",
    ),
    PresentationPointer(frozenset({"pleura"}), "mesothelioma", 1, "pleural disease", "ESMO23"),
)


@dataclass(frozen=True)
class HistologyPointer:
    histology: str
    site: str
    weight: float
    evidence: str
    source: str = "ESMO23"


HISTOLOGY_POINTERS: tuple[HistologyPointer, ...] = (
    HistologyPointer("neuroendocrine_tumour", "neuroendocrine", 2, "histology NET"),
    HistologyPointer("neuroendocrine_carcinoma", "neuroendocrine", 2, "histology NEC"),
    HistologyPointer("melanoma", "melanoma", 3, "histology melanoma"),
)

# A tissue-of-origin (GEP) call adds up to this weight, scaled by its confidence: it
# supports, it does not decide; site-specific therapy guided by GEP alone did not
# improve survival [HAYASHI], [GEFCAPI04].
TOO_MAX_WEIGHT = 2.0

# Sites impossible for a sex (anatomy) [ESMO23 sex-specific workup].
SEX_EXCLUDED_SITES: dict[str, frozenset[str]] = {
    "female": frozenset({"prostate"}),
    "male": frozenset({"ovary", "endometrium"}),
}

# Male breast cancer exists, but in a man breast ranks first only on a positive breast
# marker, never on CK pattern, spread or GEP alone [ESMO23].
BREAST_MARKERS: tuple[str, ...] = ("GATA3", "ER", "PR", "Mammaglobin", "GCDFP-15")


@dataclass(frozen=True)
class ExclusionEntity:
    code: str  # also a primary-site code
    label: str
    markers: tuple[str, ...]  # a positive result means: rule this out first
    serum_markers: tuple[str, ...] = ()  # a raised value means the same
    source: str = "ESMO23"


# "Always exclude lymphoma (CD45), melanoma (SOX10/S100/HMB45/Melan-A), sarcoma and
# germ-cell tumour first" [ESMO23], cup-clinical.md section 3. Sarcoma has no marker in
# the catalogue; see SARCOMA_SUSPECT_HISTOLOGIES.
EXCLUSION_ENTITIES: tuple[ExclusionEntity, ...] = (
    ExclusionEntity("lymphoma", "Lymphoma", ("CD45",)),
    ExclusionEntity("melanoma", "Melanoma", ("SOX10", "S100", "HMB45", "Melan-A")),
    # Raised beta-hCG points to germ cell [SVF block A]; raised AFP does not on its own,
    # since hepatocellular carcinoma raises it too.
    ExclusionEntity("germ_cell", "Germ-cell tumour", ("SALL4", "OCT3/4", "PLAP"), ("beta-hCG",)),
    ExclusionEntity("sarcoma", "Sarcoma", ()),
)
EXCLUSION_CODES: tuple[str, ...] = tuple(e.code for e in EXCLUSION_ENTITIES)

# Sarcoma is suspected in a neoplasm not called carcinoma whose keratins are negative
# (CK7-/CK20-) and which shows no other lineage (lymphoma, melanoma, germ cell)
# [ESMO23]. CK7-/CK20- alone is not enough in a carcinoma: hepatocellular, renal and
# prostate carcinoma are CK7-/CK20- too [CHU00].
SARCOMA_SUSPECT_HISTOLOGIES: frozenset[str] = frozenset({"other", "undifferentiated_neoplasm"})

# In an undifferentiated neoplasm the lineage is open, so every entity whose markers were
# not tested is listed to rule out [ESMO23].
LINEAGE_OPEN_HISTOLOGIES: frozenset[str] = frozenset({"undifferentiated_neoplasm"})
