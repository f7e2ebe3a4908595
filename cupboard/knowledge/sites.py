"""Metastatic sites (where disease is found) and primary sites (where it may come from).

Codes are those of the assess contract (docs/assess-contract.md).
"""

from __future__ import annotations

# Presentation / metastatic sites [docs/assess-contract.md], ICD-10 C77-C79 secondary sites.
METASTATIC_SITES: dict[str, str] = {
    "cervical_nodes": "Cervical lymph nodes",
    "supraclavicular_nodes": "Supraclavicular lymph nodes",
    "axillary_nodes": "Axillary lymph nodes",
    "mediastinal_nodes": "Mediastinal lymph nodes",
    "retroperitoneal_nodes": "Retroperitoneal lymph nodes",
    "inguinal_nodes": "Inguinal lymph nodes",
    "peritoneum": "Peritoneum",
    "liver": "Liver",
    "lung": "Lung",
    "pleura": "Pleura",
    "bone": "Bone",
    "brain": "Brain",
    "adrenal": "Adrenal",
    "skin": "Skin",
    "other": "Other",
}
METASTATIC_SITE_CODES: tuple[str, ...] = tuple(METASTATIC_SITES)

# Midline nodal sites, relevant to extragonadal germ-cell tumours [ESMO23].
MIDLINE_SITES: frozenset[str] = frozenset({"mediastinal_nodes", "retroperitoneal_nodes"})

# Nodal stations: for counting organs (oligometastatic disease, lesion consistency)
# all of them together are one organ, the lymphatic system (assess contract version 2).
NODAL_SITES: frozenset[str] = frozenset(
    {
        "cervical_nodes",
        "supraclavicular_nodes",
        "axillary_nodes",
        "mediastinal_nodes",
        "retroperitoneal_nodes",
        "inguinal_nodes",
    }
)

BONE_PATTERNS: dict[str, str] = {"blastic": "Blastic", "lytic": "Lytic", "mixed": "Mixed"}

# Primary sites a case may point to or end with [docs/assess-contract.md].
PRIMARY_SITES: dict[str, str] = {
    "lung": "Lung",
    "breast": "Breast",
    "colorectal": "Colorectal",
    "upper_gi": "Upper GI",
    "pancreatobiliary": "Pancreatobiliary",
    "liver": "Liver (hepatocellular)",
    "kidney": "Kidney",
    "urothelial": "Urothelial",
    "prostate": "Prostate",
    "ovary": "Ovary",
    "endometrium": "Endometrium",
    "thyroid": "Thyroid",
    "head_and_neck": "Head and neck",
    "melanoma": "Melanoma",
    "germ_cell": "Germ cell",
    "neuroendocrine": "Neuroendocrine",
    "mesothelioma": "Mesothelioma",
    "lymphoma": "Lymphoma",
    "sarcoma": "Sarcoma",
    "adrenal": "Adrenal",
    # Version 2 of the contract.
    "cervix": "Cervix uteri",
    "anogenital": "Anogenital (anal canal, vulva, penis)",
    "salivary_gland": "Salivary gland",
    "skin": "Skin (cutaneous SCC, Merkel cell)",
}
PRIMARY_SITE_CODES: tuple[str, ...] = tuple(PRIMARY_SITES)


# Symptoms that direct the workup [SVF block D], [NICE]: each makes its investigation
# required (knowledge/investigations.py code).
SYMPTOMS: dict[str, str] = {
    "neurological": "Neurological symptoms",
    "back_pain": "Back pain",
    "haematuria": "Haematuria",
    "rectal_bleeding": "Rectal bleeding",
    "dysphagia": "Dysphagia",
    "haemoptysis": "Haemoptysis",
    "breast_lump": "Breast lump",
    "testicular_mass": "Testicular mass",
}
SYMPTOM_CODES: tuple[str, ...] = tuple(SYMPTOMS)
