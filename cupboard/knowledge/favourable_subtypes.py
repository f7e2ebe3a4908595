"""Favourable CUP subtypes, docs/clinical-rules.md section 5 [ESMO23], [SEOM17].

About 15-20 % of CUP falls into a subset with a known, better-treated counterpart; the
rest (~80 %) is unfavourable. Whether a profile matches a subtype is decided by
:func:`cupboard.guidance.assess_case`; this module names the subtypes, what to manage
them as, which board decisions they make worth discussing, and the thresholds the
matching uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FavourableSubtype:
    code: str
    label: str  # the presentation, in the clinic's words
    manage_as: str  # short, as in the assess contract ("breast cancer")
    management: str  # the fuller plan for the screen
    # Decision codes (knowledge/decisions.py) worth discussing, best supported first.
    decisions: tuple[str, ...]
    source: str
    also: tuple[str, ...] = ()  # further source tags


FAVOURABLE_SUBTYPES: tuple[FavourableSubtype, ...] = (
    FavourableSubtype(
        "peritoneal_serous_women",
        "Women: serous/papillary peritoneal adenocarcinomatosis (PAX8+/WT1+)",
        "ovarian cancer",
        "Ovarian cancer (FIGO III): cytoreductive surgery and platinum-taxane",
        ("site_specific",),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "axillary_nodes_women",
        "Women: adenocarcinoma in isolated axillary nodes",
        "breast cancer",
        "Breast cancer (stage II-III): axillary dissection, breast surgery or radiotherapy, "
        "systemic therapy as for breast cancer",
        ("site_specific", "local_therapy"),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "cervical_nodes_squamous",
        "Squamous carcinoma in cervical nodes",
        "head and neck cancer",
        "Head and neck cancer: radiotherapy +/- chemotherapy, neck dissection",
        ("site_specific", "local_therapy"),
        "ESMO23",
        ("ESMO15", "SEOM17"),
    ),
    FavourableSubtype(
        "inguinal_nodes_squamous",
        "Squamous carcinoma in isolated inguinal nodes",
        "local therapy",
        "Local therapy: inguinal dissection +/- radiotherapy",
        ("local_therapy",),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "bone_blastic_psa_men",
        "Men: blastic bone metastases and raised serum PSA or PSA+ IHC",
        "prostate cancer",
        "Prostate cancer: androgen deprivation",
        ("site_specific",),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "neuroendocrine",
        "Neuroendocrine: well-differentiated NET or poorly differentiated NEC",
        "neuroendocrine tumour",
        "NET: treat as NET; poorly differentiated NEC: platinum-etoposide",
        ("site_specific",),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "midline_germ_cell_men",
        "Young men: midline (mediastinal/retroperitoneal) poorly differentiated carcinoma, "
        "raised AFP/beta-hCG",
        "extragonadal germ-cell tumour",
        "Extragonadal germ-cell tumour: platinum-based chemotherapy, e.g. BEP",
        ("site_specific",),
        "ESMO23",
        ("SEOM17",),
    ),
    FavourableSubtype(
        "colorectal_profile",
        "Adenocarcinoma with a colorectal profile (CK7-/CK20+/CDX2+ or colorectal GEP)",
        "colorectal cancer",
        "Colorectal cancer: colorectal chemotherapy regimens",
        ("site_specific",),
        "ESMO23",
    ),
    FavourableSubtype(
        "single_metastasis",
        "One small metastatic site / oligometastatic disease",
        "local therapy",
        "Local therapy (surgery, SBRT/radiotherapy) +/- systemic therapy",
        ("local_therapy",),
        "ESMO23",
        ("GHANNAM",),
    ),
    FavourableSubtype(
        "renal_like",
        "Renal IHC/molecular profile (PAX8+, CD10+, CK7-/CK20-); new in ESMO 2023",
        "renal cell carcinoma",
        "Renal cell carcinoma therapy",
        ("site_specific",),
        "ESMO23",
    ),
)
FAVOURABLE_SUBTYPE_CODES: tuple[str, ...] = tuple(s.code for s in FAVOURABLE_SUBTYPES)
FAVOURABLE_SUBTYPES_BY_CODE: dict[str, FavourableSubtype] = {s.code: s for s in FAVOURABLE_SUBTYPES}

# The neuroendocrine subtype is managed by grade [ESMO23]: NET as NET, NEC with
# platinum-etoposide. Keyed by histology code (knowledge/histology.py).
NEUROENDOCRINE_MANAGE_AS: dict[str, str] = {
    "neuroendocrine_tumour": "neuroendocrine tumour",
    "neuroendocrine_carcinoma": "neuroendocrine carcinoma (platinum-etoposide)",
}
# A well-differentiated NET with Ki-67 above 20 % is a NET G3: still a NET, not a NEC.
NET_G3_MANAGE_AS = "neuroendocrine tumour G3 (treat as NET, not as NEC)"
NEUROENDOCRINE_MANAGEMENT: dict[str, str] = {
    "neuroendocrine_tumour": "NET: treat as a neuroendocrine tumour (somatostatin analogue, "
    "PRRT or targeted therapy by grade and site)",
    "neuroendocrine_carcinoma": "Poorly differentiated NEC: platinum-etoposide "
    "(not platinum-taxane)",
}

# When a profile matches several subtypes, the first in this order is *the* subtype of
# the contract; the others are still shown and add their decisions. The curable,
# time-critical germ-cell tumour comes first; a lone metastasis last, because a more
# specific subtype says more about the systemic treatment [ESMO23].
SUBTYPE_PRIORITY: tuple[str, ...] = (
    "midline_germ_cell_men",
    "peritoneal_serous_women",
    "axillary_nodes_women",
    "cervical_nodes_squamous",
    "inguinal_nodes_squamous",
    "bone_blastic_psa_men",
    "neuroendocrine",
    "colorectal_profile",
    "renal_like",
    "single_metastasis",
)

# A subtype managed as one of the entities to rule out first (ihc_patterns.py) already
# treats it as that entity, so the entity does not hold its treatment back [ESMO23].
SUBTYPE_MANAGES_ENTITY: dict[str, str] = {"midline_germ_cell_men": "germ_cell"}

# "Young men" for the extragonadal germ-cell subtype [ESMO23]. The guideline gives no
# number; under 50 is this project's reading and is shown on screen as such.
GERM_CELL_MAX_AGE = 50

# A gene-expression tissue-of-origin call counts towards the colorectal and renal
# profiles [ESMO23] only at high confidence; 0.8 is this project's default. GEP alone
# never decides the primary: no OS benefit [HAYASHI], [GEFCAPI04].
TOO_HIGH_CONFIDENCE = 0.8

# Oligometastatic disease: "generally 1-5 metastases, all treatable" [ESTRO20]; local
# therapy of oligometastatic CUP [ESMO23], [GHANNAM]. The organ limit (at most two) is
# the assess contract's reading; the sources leave it open. Every entry of the case's
# sites is one organ, but all nodal stations together count as one.
OLIGO_MAX_LESIONS = 5
OLIGO_MAX_ORGANS = 2

# A single metastasis is a favourable subtype only in a malignancy that local therapy
# treats: a carcinoma, a neuroendocrine neoplasm or melanoma; never while lymphoma,
# germ-cell tumour or sarcoma is still to be ruled out [ESMO23].
LOCAL_THERAPY_HISTOLOGIES: frozenset[str] = frozenset(
    {
        "adenocarcinoma",
        "poorly_differentiated_carcinoma",
        "squamous_cell_carcinoma",
        "neuroendocrine_tumour",
        "neuroendocrine_carcinoma",
        "melanoma",
    }
)

# Only histologically confirmed disease can be a subtype [ESMO23 definition of CUP].
CARCINOMA_HISTOLOGIES: frozenset[str] = frozenset(
    {"adenocarcinoma", "poorly_differentiated_carcinoma"}
)

# Histologies in which an extragonadal germ-cell tumour hides [ESMO23]: it is looked
# for in a poorly differentiated carcinoma or undifferentiated neoplasm, not in an
# adenocarcinoma or squamous carcinoma.
GERM_CELL_HISTOLOGIES: frozenset[str] = frozenset(
    {"poorly_differentiated_carcinoma", "undifferentiated_neoplasm"}
)
