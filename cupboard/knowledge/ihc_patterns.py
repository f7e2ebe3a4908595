"""Diagnostic patterns that point to a primary site, or to an entity to rule out first.

docs/clinical-rules.md sections 2-3 [CHU00], [ESMO23], [SVF]. The guidance ranks primary sites
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
# "pancreatobiliary", salivary is "salivary_gland", gastric is "upper_gi", Merkel cell
# is "skin". Squamous carcinoma (CK7-/CK20-) is a histology, not a site, so it adds no
# site here.
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
            "salivary_gland",
            "mesothelioma",
        ),
    ),
    CkQuadrant(
        "positive",
        "positive",
        "CK7+/CK20+",
        ("urothelial", "pancreatobiliary", "upper_gi", "ovary"),
    ),
    CkQuadrant("negative", "positive", "CK7-/CK20+", ("colorectal", "skin")),
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


# Site-specific markers, docs/clinical-rules.md section 3 [ESMO23]. A marker specific to one
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
    # Markers of version 2 of the assess contract [ESMO23].
    _pos("TRPS1", "breast", 2),
    _pos("Calcitonin", "thyroid", 2),  # medullary thyroid carcinoma
    _pos("AR", "salivary_gland", 1),  # salivary duct carcinoma (also prostate, breast)
    _pos("AR", "prostate", 1),
    _pos("EBER", "head_and_neck", 3),  # EBV: nasopharyngeal carcinoma
    _pos("Neurofilament", "skin", 2),  # Merkel cell carcinoma
    _pos("HNF1B", "ovary", 1),  # clear cell carcinoma
    _pos("HNF1B", "kidney", 1),
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
    # Mesothelioma is calretinin+ and D2-40+ in most cases: both negative in a pleural
    # adenocarcinoma speak against it [ESMO23].
    _neg("Calretinin", "mesothelioma", -1),
    _neg("D2-40", "mesothelioma", -1),
    # Lung adenocarcinoma is PAX8-negative: TTF-1 with PAX8 is thyroid [ESMO23].
    _pos("PAX8", "lung", -1),
)


@dataclass(frozen=True)
class MarkerCombination:
    markers: tuple[str, ...]  # all positive
    site: str
    weight: float
    label: str
    source: str = "ESMO23"


# Pairs that say more than their parts, docs/clinical-rules.md section 3 [ESMO23].
MARKER_COMBINATIONS: tuple[MarkerCombination, ...] = (
    MarkerCombination(("PAX8", "WT1"), "ovary", 2, "PAX8+ with WT1+ (serous)"),
    MarkerCombination(("PAX8", "CD10"), "kidney", 1, "PAX8+ with CD10+ (renal)"),
    MarkerCombination(("Thyroglobulin", "PAX8"), "thyroid", 1, "thyroglobulin+ with PAX8+"),
    # TTF-1 is shared by lung and thyroid; with PAX8 it is thyroid [ESMO23].
    MarkerCombination(("TTF-1", "PAX8"), "thyroid", 3, "TTF-1+ with PAX8+ (thyroid)"),
    # GATA3 is shared by breast and urothelial carcinoma; with CK7+/CK20+ or p63+ it is
    # urothelial [ESMO23], [CHU00].
    MarkerCombination(("GATA3", "CK7", "CK20"), "urothelial", 2, "GATA3+ with CK7+/CK20+"),
    MarkerCombination(("GATA3", "p63"), "urothelial", 2, "GATA3+ with p63+"),
    MarkerCombination(("AR", "GATA3"), "salivary_gland", 1, "AR+ with GATA3+ (salivary duct)"),
    MarkerCombination(("CK20", "Neurofilament"), "skin", 1, "CK20+ with neurofilament+ (Merkel)"),
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
    max_age: int | None = None  # younger than this only


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
    # Midline tumours in the young: extragonadal germ-cell tumour [SVF block A],
    # [ESMO23]. Not in squamous or adenocarcinoma, nor in the old (an 84-year-old man
    # with squamous carcinoma in mediastinal nodes has a lung or oesophageal primary).
    PresentationPointer(
        frozenset({"mediastinal_nodes", "retroperitoneal_nodes"}),
        "germ_cell",
        1,
        "midline nodes in a young patient",
        "SVF",
        histologies=frozenset({"poorly_differentiated_carcinoma", "undifferentiated_neoplasm"}),
        max_age=50,
    ),
    PresentationPointer(frozenset({"pleura"}), "mesothelioma", 1, "pleural disease", "ESMO23"),
    PresentationPointer(
        frozenset({"pleura"}),
        "lung",
        1,
        "pleural adenocarcinoma",
        "ESMO23",
        histologies=frozenset({"adenocarcinoma"}),
    ),
)

# Squamous carcinoma (by histology, or p40+ / p63+ with CK5/6+ in a poorly
# differentiated carcinoma) points by where it is found [ESMO23], [ESMO15]: upper and
# mid neck to head and neck (p16+ to the HPV-related oropharynx, EBER+ to the
# nasopharynx), lower neck and mediastinum to the lung and oesophagus, groin to the
# anogenital region and cervix.
SQUAMOUS_POINTERS: tuple[PresentationPointer, ...] = (
    PresentationPointer(
        frozenset({"cervical_nodes"}),
        "head_and_neck",
        3,
        "squamous carcinoma in cervical nodes",
        "ESMO23",
    ),
    PresentationPointer(
        frozenset({"supraclavicular_nodes"}),
        "lung",
        1,
        "squamous carcinoma in supraclavicular nodes",
        "ESMO15",
    ),
    PresentationPointer(
        frozenset({"mediastinal_nodes"}),
        "lung",
        2,
        "squamous carcinoma in mediastinal nodes",
        "ESMO23",
    ),
    PresentationPointer(
        frozenset({"mediastinal_nodes"}),
        "upper_gi",
        1,
        "squamous carcinoma in mediastinal nodes (oesophagus)",
        "ESMO23",
    ),
    PresentationPointer(
        frozenset({"inguinal_nodes"}),
        "anogenital",
        2,
        "squamous carcinoma in inguinal nodes",
        "ESMO23",
    ),
    PresentationPointer(
        frozenset({"inguinal_nodes"}),
        "cervix",
        1,
        "squamous carcinoma in inguinal nodes in a woman",
        "ESMO23",
        "female",
    ),
)
# Squamous differentiation shown by IHC in a carcinoma not called squamous [ESMO23].
SQUAMOUS_MARKER_SETS: tuple[tuple[str, ...], ...] = (("p40",), ("p63", "CK5/6"))
# p16 with squamous carcinoma in cervical nodes: HPV-related oropharynx [ESMO23].
P16_HEAD_AND_NECK_WEIGHT = 1.0


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
# germ-cell tumour first" [ESMO23], docs/clinical-rules.md section 2. Sarcoma has no marker in
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


@dataclass(frozen=True)
class TissueProfile:
    """A site's defining markers on tissue: the profile is present when every marker of
    one of ``any_of`` is positive and none of ``unless`` is. Used to test a presumption
    (a favourable subtype, a tissue-of-origin call, a primary found) against the tissue
    and to report two lineages at once; never to rank on its own."""

    site: str
    label: str  # "a lung profile"
    any_of: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...] = ()
    source: str = "ESMO23"


# Site-specific markers, docs/clinical-rules.md section 4 [ESMO23]. S100 alone is not a
# melanoma profile (sensitive, not specific); a lone shared marker is read with the
# marker that disambiguates it (TTF-1 with PAX8 is thyroid, GATA3 with p63 urothelial).
TISSUE_PROFILES: tuple[TissueProfile, ...] = (
    TissueProfile("lung", "a lung profile", (("TTF-1",), ("Napsin A",)), ("Thyroglobulin", "PAX8")),
    TissueProfile("thyroid", "a thyroid profile", (("Thyroglobulin",), ("TTF-1", "PAX8"))),
    TissueProfile(
        "urothelial",
        "a urothelial profile",
        (("Uroplakin",), ("GATA3", "p63"), ("GATA3", "CK7", "CK20")),
    ),
    TissueProfile(
        "breast",
        "a breast profile",
        (("ER", "GATA3"), ("Mammaglobin",), ("GCDFP-15",), ("TRPS1",), ("GATA3",)),
        ("Uroplakin", "p63", "CK20"),
    ),
    TissueProfile(
        "colorectal",
        "a colorectal profile",
        (("CDX2", "SATB2"), ("CDX2", "CK20"), ("SATB2", "CK20")),
        ("CK7",),
    ),
    TissueProfile("melanoma", "a melanoma profile", (("SOX10",), ("HMB45",), ("Melan-A",))),
    TissueProfile("prostate", "a prostate profile", (("PSA",), ("NKX3.1",), ("PSAP",))),
    TissueProfile("liver", "a hepatocellular profile", (("HepPar-1",), ("Arginase-1",))),
    TissueProfile(
        "mesothelioma",
        "a mesothelial profile",
        (("Calretinin", "D2-40"), ("Calretinin", "WT1"), ("WT1", "D2-40")),
        ("PAX8",),
    ),
    TissueProfile("ovary", "a serous Müllerian profile", (("PAX8", "WT1"),), ("Calretinin",)),
    TissueProfile("kidney", "a renal profile", (("PAX8", "CD10"), ("PAX8", "RCC")), ("WT1",)),
    TissueProfile("germ_cell", "a germ-cell profile", (("OCT3/4",), ("SALL4", "PLAP"))),
    TissueProfile("lymphoma", "a lymphoid profile", (("CD45",),)),
    TissueProfile("head_and_neck", "an EBV-related nasopharyngeal profile", (("EBER",),)),
    TissueProfile(
        "neuroendocrine",
        "neuroendocrine differentiation",
        (
            ("Chromogranin A", "Synaptophysin"),
            ("Chromogranin A", "INSM1"),
            ("Synaptophysin", "INSM1"),
        ),
    ),
)
TISSUE_PROFILES_BY_SITE: dict[str, TissueProfile] = {p.site: p for p in TISSUE_PROFILES}
# Neuroendocrine differentiation occurs in carcinomas of many sites (small-cell lung
# carcinoma is TTF-1+): it never contradicts another site's profile.
DIFFERENTIATION_PROFILES: frozenset[str] = frozenset({"neuroendocrine"})

# Neuroendocrine markers; two positive in a poorly differentiated carcinoma make it a
# NEC [ESMO23] (assess contract version 2).
NEUROENDOCRINE_MARKERS: tuple[str, ...] = ("Synaptophysin", "Chromogranin A", "INSM1")
NEC_MIN_MARKERS = 2
# Ki-67 above 20 % is grade 3. In a well-differentiated tumour that is a NET G3, not a
# NEC: it is still treated as a NET [ESMO23].
KI67_G3_ABOVE = 20.0

# Site-specific markers that establish a primary on tissue [ESMO23] (assess contract
# version 2 ``primary_found``): each entry is (site, any one of these positive, with one
# of these positive too or nothing required). Serum alone and a CK7/CK20 pattern alone
# never establish a primary.
# Histologies in which they may (not recorded yet counts: the stains are on tissue).
PRIMARY_FOUND_HISTOLOGIES: frozenset[str | None] = frozenset(
    {None, "adenocarcinoma", "poorly_differentiated_carcinoma"}
)
PRIMARY_FOUND_MARKERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("prostate", ("PSA", "NKX3.1"), ()),
    ("thyroid", ("Thyroglobulin",), ("TTF-1", "PAX8")),
    ("liver", ("HepPar-1", "Arginase-1"), ()),
)
