"""Source tags used by every catalogue entry, with their full citations."""

from __future__ import annotations

SOURCES: dict[str, str] = {
    "ESMO23": "Krämer A et al. Cancer of unknown primary: ESMO Clinical Practice Guideline. "
    "Ann Oncol 2023;34:228-246.",
    "ESMO15": "Fizazi K et al. Ann Oncol 2015;26 suppl 5:v133-8.",
    "NICE": "NICE clinical guideline CG104: Metastatic malignant disease of unknown primary "
    "origin in adults: diagnosis and management.",
    "NCCN": "NCCN Guidelines: Occult Primary.",
    "SVF": "Regionala cancercentrum i samverkan: Standardiserat vårdförlopp cancer med okänd "
    "primärtumör (CUP); 1177 för vårdpersonal, 'Cancer utan känd primärtumör' (2024-11-05).",
    "CUPISCO": "Krämer A et al. Lancet 2024;404:527-539.",
    "HAYASHI": "Hayashi H et al. JCO 2019;37:570-9 and JAMA Oncol 2020;6:1931-8.",
    "GEFCAPI04": "Fizazi K et al. ESMO 2019 (GEFCAPI 04).",
    "TA": "Tumour-agnostic approvals (FDA/EMA labels).",
    "ECOG": "Oken MM et al. Am J Clin Oncol 1982;5:649-55.",
    "CULINE": "Culine S et al. JCO 2002;20:4679-83.",
    "SEOM17": "Losa F et al. SEOM clinical guideline on unknown primary cancer. "
    "Clin Transl Oncol 2018 (Table 3: favourable subsets).",
    "CHU00": "Chu P et al. Mod Pathol 2000;13:962 (CK7/CK20).",
    "GHANNAM": "Ghannam Y et al. Cancers 2022;14:5929 (radiotherapy of the primary / "
    "oligometastatic disease).",
    "ESTRO20": "Guckenberger M et al. Characterisation and classification of oligometastatic "
    "disease: a European Society for Radiotherapy and Oncology and European Organisation for "
    "Research and Treatment of Cancer consensus recommendation. Lancet Oncol 2020;21:e18-28.",
    "ESCAT": "Mateo J et al. A framework to rank genomic alterations as targets for cancer "
    "precision medicine: the ESMO Scale for Clinical Actionability of molecular Targets "
    "(ESCAT). Ann Oncol 2018;29:1895-1902.",
    "FERRELL17": "Ferrell BR et al. Integration of palliative care into standard oncology "
    "care: American Society of Clinical Oncology clinical practice guideline update. "
    "J Clin Oncol 2017;35:96-112.",
    "ESMO19HGI": "Stjepanovic N et al. Hereditary gastrointestinal cancers: ESMO Clinical "
    "Practice Guidelines for diagnosis, treatment and follow-up. Ann Oncol "
    "2019;30:1558-1571 (Lynch syndrome: germline testing after MSI-H/dMMR; revised "
    "Bethesda criteria).",
    "LOINC": "LOINC 89247-1 ECOG Performance Status score.",
    "MCODE": "HL7 FHIR mCODE Implementation Guide.",
}
# The coding systems and profiles of the FHIR exchange have their sources beside them.
from cupboard.knowledge.fhir_codes import FHIR_SOURCES  # noqa: E402

SOURCES.update({tag: text for tag, text in FHIR_SOURCES.items() if tag not in SOURCES})


def citation(tag: str) -> str:
    """Full citation for a source tag; unknown tags are a programming error."""
    return SOURCES[tag]
