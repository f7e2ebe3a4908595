"""Codes, systems and profile URLs for FHIR R4 exchange, each with its source.

Sources (tags in ``FHIR_SOURCES``): HL7 mCODE STU4 [MCODE], the German Medical
Informatics Initiative's "Molekulares Tumorboard" module [MII_MTB], LOINC [LOINC],
SNOMED CT [SNOMED], WHO ICD-10 [ICD10], ICD-O-3 [ICDO3], UCUM [UCUM] and the HL7
terminology (THO) code systems [THO]. :mod:`cupboard.fhir` reads everything from here;
no code string is written anywhere else.

mCODE rule for a cancer of uncertain origin [MCODE]: when ICD-O-3 is used, the primary
cancer condition's code is SNOMED CT 363346000 "Malignant neoplastic disease", the
ICD-O-3 morphology goes into the histology-morphology-behavior extension and the
ICD-O-3 topography (C80.9, unknown primary site) into ``bodySite``. Metastases are
secondary cancer conditions (SNOMED CT 128462008, ICD-10 C77-C79) whose
related-primary-cancer-condition extension is left out because the primary is unknown.

Where no standard code was found with confidence (cupboard's investigation catalogue,
IHC marker names, decision kinds, PD-L1 scores, MMR status) the code is cupboard's own,
in a code system under ``CUPBOARD_FHIR_BASE``; the display text always goes with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

FHIR_SOURCES: dict[str, str] = {
    "MCODE": "HL7 FHIR Implementation Guide: minimal Common Oncology Data Elements (mCODE) "
    "STU4 (4.0.0), http://hl7.org/fhir/us/mcode/",
    "MII_MTB": "Medizininformatik-Initiative, Kerndatensatz-Modul Molekulares Tumorboard "
    "(2026.0), https://www.medizininformatik-initiative.de/fhir/ext/modul-mtb",
    "LOINC": "LOINC, Regenstrief Institute, https://loinc.org",
    "SNOMED": "SNOMED CT International Edition, https://browser.ihtsdotools.org",
    "ICD10": "WHO ICD-10 (2019), chapter II, C77-C80.",
    "ICDO3": "WHO International Classification of Diseases for Oncology, 3rd edition (ICD-O-3.2).",
    "UCUM": "Unified Code for Units of Measure, https://ucum.org",
    "THO": "HL7 Terminology (THO), http://terminology.hl7.org",
    "CUPBOARD": "cupboard's own code (no standard code was found with confidence).",
}


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str
    source: str


# --- Code systems and identifier systems -------------------------------------------
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
UCUM = "http://unitsofmeasure.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
SECURITY_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"

# cupboard's own namespace: a placeholder canonical base (example.org is reserved for
# documentation) until the project has a domain of its own. Changing it would stop
# older bundles from importing, so the importer matches on it exactly.
CUPBOARD_FHIR_BASE = "http://cupboard.example.org/fhir"


def cupboard_system(name: str) -> str:
    return f"{CUPBOARD_FHIR_BASE}/CodeSystem/{name}"


def cupboard_extension(name: str) -> str:
    return f"{CUPBOARD_FHIR_BASE}/StructureDefinition/{name}"


# Identifier systems name the issuing site: each installation sets CUPBOARD_FHIR_BASE to
# its own base URL, so that MRN 123 of one hospital is never read as MRN 123 of another
# (docs/deployment.md). The placeholder is what a site that has not set it writes.
FHIR_BASE_ENV = "CUPBOARD_FHIR_BASE"


def site_base() -> str:
    """This site's base URL for identifier systems (read at export time)."""
    return (os.environ.get(FHIR_BASE_ENV) or "").strip().rstrip("/") or CUPBOARD_FHIR_BASE


def mrn_system() -> str:
    return f"{site_base()}/sid/mrn"


def pseudonym_system() -> str:
    return f"{site_base()}/sid/pseudonym"


def bundle_identifier_system() -> str:
    return f"{site_base()}/sid/bundle"


# Bundles exported before CUPBOARD_FHIR_BASE was honoured (and by sites that never set it).
MRN_SYSTEM = f"{CUPBOARD_FHIR_BASE}/sid/mrn"
PSEUDONYM_SYSTEM = f"{CUPBOARD_FHIR_BASE}/sid/pseudonym"
MRN_TYPE = Code(IDENTIFIER_TYPE, "MR", "Medical record number", "THO")
# Bundle.meta.security on an export without names, MRNs or full birth dates [THO].
PSEUDONYMISED = Code(SECURITY_OBSERVATION_VALUE, "PSEUDED", "pseudonymized", "THO")

# Local code systems (display text travels with every coding).
CS_CASE_STATUS = cupboard_system("case-status")
CS_DIAGNOSTIC_STAGE = cupboard_system("diagnostic-stage")
CS_CLOSING_REASON = cupboard_system("closing-reason")
CS_METASTATIC_SITE = cupboard_system("metastatic-site")
CS_PRIMARY_SITE = cupboard_system("primary-site")
CS_BONE_PATTERN = cupboard_system("bone-pattern")
CS_HISTOLOGY = cupboard_system("histology")
CS_DIFFERENTIATION = cupboard_system("differentiation")
CS_SPECIMEN_TYPE = cupboard_system("specimen-type")
CS_IHC_MARKER = cupboard_system("ihc-marker")
CS_SERUM_MARKER = cupboard_system("serum-marker")
CS_MOLECULAR = cupboard_system("molecular-finding")
CS_INVESTIGATION = cupboard_system("investigation")
CS_INVESTIGATION_STATUS = cupboard_system("investigation-status")
CS_DECISION = cupboard_system("decision")
CS_LOCAL_MODALITY = cupboard_system("local-modality")
# Referrals beside the decision (issue 21): kind and status, as cupboard codes them
# (knowledge/referrals.py).
CS_CARE_REFERRAL = cupboard_system("care-referral")
CS_CARE_REFERRAL_STATUS = cupboard_system("care-referral-status")
CS_DISCIPLINE = cupboard_system("discipline")
CS_RESOURCE_ROLE = cupboard_system("resource-role")

# --- Profiles [MCODE] ---------------------------------------------------------------
_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
PROFILE_CANCER_PATIENT = f"{_MCODE}/mcode-cancer-patient"
PROFILE_PRIMARY_CANCER_CONDITION = f"{_MCODE}/mcode-primary-cancer-condition"
PROFILE_SECONDARY_CANCER_CONDITION = f"{_MCODE}/mcode-secondary-cancer-condition"
PROFILE_ECOG = f"{_MCODE}/mcode-ecog-performance-status"
PROFILE_TUMOR_MARKER_TEST = f"{_MCODE}/mcode-tumor-marker-test"
PROFILE_GENOMICS_REPORT = f"{_MCODE}/mcode-genomics-report"
EXT_HISTOLOGY_MORPHOLOGY_BEHAVIOR = f"{_MCODE}/mcode-histology-morphology-behavior"
# Deliberately never emitted for CUP: the primary is unknown [MCODE].
EXT_RELATED_PRIMARY_CANCER_CONDITION = f"{_MCODE}/mcode-related-primary-cancer-condition"

# --- Tumour-board decisions, modelled on the MII MTB module [MII_MTB] ---------------
# The board's decision is a CarePlan (as MII_PR_MTB_Therapieplan) whose activity points
# to a RequestGroup of ranked recommendations (as MII_PR_MTB_Therapieempfehlung), each
# ranked with the MII priority extension. cupboard does not claim the MII profiles
# themselves (they require German oncology code systems); it follows their shape.
MII_MTB_THERAPIEPLAN = (
    "https://www.medizininformatik-initiative.de/fhir/ext/modul-mtb/StructureDefinition/"
    "mii-pr-mtb-therapieplan"
)
EXT_MII_RECOMMENDATION_PRIORITY = (
    "https://www.medizininformatik-initiative.de/fhir/ext/modul-mtb/StructureDefinition/"
    "mii-ex-mtb-empfehlung-prioritaet"
)

# --- The cancer conditions [MCODE], [SNOMED], [ICD10], [ICDO3] ----------------------
MALIGNANT_NEOPLASTIC_DISEASE = Code(SNOMED, "363346000", "Malignant neoplastic disease", "MCODE")
SECONDARY_MALIGNANT_NEOPLASTIC_DISEASE = Code(
    SNOMED, "128462008", "Secondary malignant neoplastic disease", "MCODE"
)
UNKNOWN_PRIMARY_TOPOGRAPHY = Code(ICDO3, "C80.9", "Unknown primary site", "ICDO3")
ICD10_PRIMARY_UNKNOWN = Code(
    ICD10, "C80.0", "Malignant neoplasm, primary site unknown, so stated", "ICD10"
)
ICD10_UNSPECIFIED = Code(ICD10, "C80.9", "Malignant neoplasm, primary site unspecified", "ICD10")
# MUO is a malignancy not yet worked up; provisional and confirmed CUP are "primary
# site unknown" after the initial screen [NICE stages, ICD10].
ICD10_BY_DIAGNOSTIC_STAGE: dict[str, Code] = {
    "muo": ICD10_UNSPECIFIED,
    "provisional_cup": ICD10_PRIMARY_UNKNOWN,
    "confirmed_cup": ICD10_PRIMARY_UNKNOWN,
}
VERIFICATION_BY_DIAGNOSTIC_STAGE: dict[str, str] = {
    "muo": "provisional",
    "provisional_cup": "provisional",
    "confirmed_cup": "confirmed",
    "primary_found": "confirmed",
}
CATEGORY_PROBLEM_LIST = Code(CONDITION_CATEGORY, "problem-list-item", "Problem List Item", "THO")


@dataclass(frozen=True)
class SiteCodes:
    """A metastatic site as ICD-10 secondary-neoplasm code, ICD-O-3 topography and the
    SNOMED CT body structure mCODE binds bodySite to."""

    icd10: Code
    topography: Code
    body_structure: Code | None = None


def _site(
    icd10: str, icd10_display: str, topo: str, topo_display: str, snomed: tuple[str, str] | None
) -> SiteCodes:
    return SiteCodes(
        Code(ICD10, icd10, icd10_display, "ICD10"),
        Code(ICDO3, topo, topo_display, "ICDO3"),
        Code(SNOMED, snomed[0], snomed[1], "SNOMED") if snomed else None,
    )


# knowledge/sites.py METASTATIC_SITES -> ICD-10 C77-C79 and ICD-O-3 topography.
METASTATIC_SITE_CODES: dict[str, SiteCodes] = {
    "cervical_nodes": _site(
        "C77.0",
        "Secondary malignant neoplasm of lymph nodes of head, face and neck",
        "C77.0",
        "Lymph nodes of head, face and neck",
        ("81105003", "Cervical lymph node structure"),
    ),
    "supraclavicular_nodes": _site(
        "C77.0",
        "Secondary malignant neoplasm of lymph nodes of head, face and neck",
        "C77.0",
        "Lymph nodes of head, face and neck",
        ("88911004", "Supraclavicular lymph node structure"),
    ),
    "axillary_nodes": _site(
        "C77.3",
        "Secondary malignant neoplasm of axillary and upper limb lymph nodes",
        "C77.3",
        "Lymph nodes of axilla or arm",
        ("68171009", "Axillary lymph node structure"),
    ),
    "mediastinal_nodes": _site(
        "C77.1",
        "Secondary malignant neoplasm of intrathoracic lymph nodes",
        "C77.1",
        "Intrathoracic lymph nodes",
        ("62683002", "Mediastinal lymph node structure"),
    ),
    "retroperitoneal_nodes": _site(
        "C77.2",
        "Secondary malignant neoplasm of intra-abdominal lymph nodes",
        "C77.2",
        "Intra-abdominal lymph nodes",
        ("818991007", "Structure of abdominal lymph node"),
    ),
    "inguinal_nodes": _site(
        "C77.4",
        "Secondary malignant neoplasm of inguinal and lower limb lymph nodes",
        "C77.4",
        "Lymph nodes of inguinal region or leg",
        ("8928004", "Inguinal lymph node structure"),
    ),
    "peritoneum": _site(
        "C78.6",
        "Secondary malignant neoplasm of retroperitoneum and peritoneum",
        "C48.2",
        "Peritoneum, NOS",
        ("15425007", "Peritoneum structure"),
    ),
    "liver": _site(
        "C78.7",
        "Secondary malignant neoplasm of liver",
        "C22.0",
        "Liver",
        ("10200004", "Liver structure"),
    ),
    "lung": _site(
        "C78.0",
        "Secondary malignant neoplasm of lung",
        "C34.9",
        "Lung, NOS",
        ("39607008", "Lung structure"),
    ),
    "pleura": _site(
        "C78.2",
        "Secondary malignant neoplasm of pleura",
        "C38.4",
        "Pleura, NOS",
        ("3120008", "Pleural membrane structure"),
    ),
    "bone": _site(
        "C79.5",
        "Secondary malignant neoplasm of bone and bone marrow",
        "C41.9",
        "Bone, NOS",
        ("272673000", "Bone structure"),
    ),
    "brain": _site(
        "C79.3",
        "Secondary malignant neoplasm of brain and cerebral meninges",
        "C71.9",
        "Brain, NOS",
        ("12738006", "Brain structure"),
    ),
    "adrenal": _site(
        "C79.7",
        "Secondary malignant neoplasm of adrenal gland",
        "C74.9",
        "Adrenal gland, NOS",
        ("23451007", "Adrenal structure"),
    ),
    "skin": _site(
        "C79.2",
        "Secondary malignant neoplasm of skin",
        "C44.9",
        "Skin, NOS",
        ("39937001", "Skin structure"),
    ),
    "other": _site(
        "C79.8",
        "Secondary malignant neoplasm of other specified sites",
        "C76.7",
        "Other ill-defined sites",
        None,
    ),
}

# knowledge/histology.py categories -> ICD-O-3 morphology (without the behaviour code;
# /3 for the primary condition, /6 for metastases) [ICDO3], [MCODE].
HISTOLOGY_MORPHOLOGY: dict[str, tuple[str, str]] = {
    "adenocarcinoma": ("8140", "Adenocarcinoma, NOS"),
    "poorly_differentiated_carcinoma": ("8010", "Carcinoma, NOS"),
    "squamous_cell_carcinoma": ("8070", "Squamous cell carcinoma, NOS"),
    "neuroendocrine_tumour": ("8240", "Neuroendocrine tumour, NOS"),
    "neuroendocrine_carcinoma": ("8246", "Neuroendocrine carcinoma, NOS"),
    "undifferentiated_neoplasm": ("8000", "Neoplasm, malignant"),
    "melanoma": ("8720", "Malignant melanoma, NOS"),
    "other": ("8000", "Neoplasm, malignant"),
}
# knowledge/sites.py PRIMARY_SITES -> SNOMED CT body structure [SNOMED], for a primary
# found; sites that are a tumour type rather than an organ (melanoma, germ cell,
# lymphoma, ...) or span several organs have none and travel with the local code only.
PRIMARY_SITE_BODY_STRUCTURES: dict[str, Code] = {
    site: Code(SNOMED, code, display, "SNOMED")
    for site, (code, display) in {
        "lung": ("39607008", "Lung structure"),
        "breast": ("76752008", "Breast structure"),
        "colorectal": ("14742008", "Large intestinal structure"),
        "liver": ("10200004", "Liver structure"),
        "kidney": ("64033007", "Kidney structure"),
        "prostate": ("41216001", "Prostatic structure"),
        "ovary": ("15497006", "Ovarian structure"),
        "endometrium": ("2739003", "Endometrial structure"),
        "thyroid": ("69748006", "Thyroid structure"),
        "cervix": ("71252005", "Cervix uteri structure"),
        "adrenal": ("23451007", "Adrenal structure"),
        "skin": ("39937001", "Skin structure"),
    }.items()
}

BEHAVIOUR_PRIMARY = "3"
BEHAVIOUR_METASTATIC = "6"

# --- Observations ------------------------------------------------------------------
ECOG_CODE = Code(LOINC, "89247-1", "ECOG Performance Status score", "LOINC")
ECOG_CATEGORY = Code(OBSERVATION_CATEGORY, "survey", "Survey", "THO")
LABORATORY_CATEGORY = Code(OBSERVATION_CATEGORY, "laboratory", "Laboratory", "THO")
BODY_WEIGHT = Code(LOINC, "29463-7", "Body weight", "LOINC")

# knowledge/markers.py SERUM_MARKERS -> LOINC (serum or plasma). LDH is prognostic, not a
# tumour marker, so it is exported as a plain laboratory result [CULINE], [LOINC].
SERUM_MARKER_LOINC: dict[str, Code] = {
    "PSA": Code(LOINC, "2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", "LOINC"),
    "AFP": Code(LOINC, "1834-1", "Alpha-1-Fetoprotein [Mass/volume] in Serum or Plasma", "LOINC"),
    "beta-hCG": Code(
        LOINC,
        "21198-7",
        "Choriogonadotropin.beta subunit [Units/volume] in Serum or Plasma",
        "LOINC",
    ),
    "CA-125": Code(LOINC, "10334-1", "Cancer Ag 125 [Units/volume] in Serum or Plasma", "LOINC"),
    "CEA": Code(LOINC, "2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma", "LOINC"),
    "CA19-9": Code(LOINC, "24108-3", "Cancer Ag 19-9 [Units/volume] in Serum or Plasma", "LOINC"),
    "LDH": Code(
        LOINC,
        "2532-0",
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
        "LOINC",
    ),
    "Chromogranin A": Code(
        LOINC, "9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma", "LOINC"
    ),
}
NOT_TUMOUR_MARKERS: frozenset[str] = frozenset({"LDH"})
# Units as cupboard stores them -> UCUM [UCUM]; other units travel as text only.
UCUM_UNITS: dict[str, str] = {
    "ng/mL": "ng/mL",
    "IU/L": "[IU]/L",
    "U/mL": "U/mL",
    "U/L": "U/L",
    "kg": "kg",
    "%": "%",
}
INTERPRETATION_HIGH = Code(OBSERVATION_INTERPRETATION, "H", "High", "THO")

# IHC: method and qualitative result [SNOMED].
IHC_METHOD = Code(SNOMED, "117617002", "Immunohistochemistry procedure", "SNOMED")
IHC_RESULT_CODES: dict[str, Code] = {
    "positive": Code(SNOMED, "10828004", "Positive", "SNOMED"),
    "negative": Code(SNOMED, "260385009", "Negative", "SNOMED"),
    "equivocal": Code(SNOMED, "42425007", "Equivocal", "SNOMED"),
}
IHC_PERCENTAGE = Code(CS_MOLECULAR, "ihc-percent-stained", "Cells stained (%)", "CUPBOARD")

# Reports [LOINC], [THO], [MCODE].
PATHOLOGY_REPORT = Code(LOINC, "11529-5", "Surgical pathology study", "LOINC")
PATHOLOGY_SECTION = Code(DIAGNOSTIC_SERVICE_SECTION, "PAT", "Pathology", "THO")
GENOMICS_REPORT = Code(LOINC, "81247-9", "Master HL7 genetic variant reporting panel", "LOINC")
GENETICS_SECTION = Code(DIAGNOSTIC_SERVICE_SECTION, "GE", "Genetics", "THO")
MSI = Code(
    LOINC, "81695-9", "Microsatellite instability [Interpretation] in Cancer specimen", "LOINC"
)
TMB = Code(LOINC, "94076-7", "Mutations/Megabase [# Ratio] in Tumor", "LOINC")
VARIANT_ASSESSMENT = Code(LOINC, "69548-6", "Genetic variant assessment", "LOINC")
VARIANT_PRESENT = Code(LOINC, "LA9633-4", "Present", "LOINC")
# No confidently known standard codes: cupboard's own.
MMR_STATUS = Code(CS_MOLECULAR, "mmr-status", "Mismatch repair status (IHC)", "CUPBOARD")
PDL1_TPS = Code(CS_MOLECULAR, "pdl1-tps", "PD-L1 tumour proportion score (%)", "CUPBOARD")
PDL1_CPS = Code(CS_MOLECULAR, "pdl1-cps", "PD-L1 combined positive score", "CUPBOARD")
TISSUE_OF_ORIGIN = Code(
    CS_MOLECULAR, "tissue-of-origin", "Tissue-of-origin prediction (gene expression)", "CUPBOARD"
)
TISSUE_OF_ORIGIN_CONFIDENCE = Code(
    CS_MOLECULAR, "tissue-of-origin-confidence", "Prediction confidence (0-1)", "CUPBOARD"
)
ALTERATION_DESCRIPTION = Code(
    CS_MOLECULAR, "alteration", "Alteration as written in the report", "CUPBOARD"
)

# --- Referral, pathway, workup -------------------------------------------------------
PATIENT_REFERRAL = Code(SNOMED, "3457005", "Patient referral", "SNOMED")
CUP_PATHWAY = Code(
    cupboard_system("episode-type"),
    "cup-pathway",
    "Standardised pathway for cancer of unknown primary",
    "SVF",
)
# Case status -> EpisodeOfCare.status; the exact status travels in an extension.
EPISODE_STATUS_BY_CASE_STATUS: dict[str, str] = {
    "referred": "waitlist",
    "workup_in_progress": "active",
    "ready_for_mdt": "active",
    "discussed_at_mdt": "active",
    "decision_recorded": "active",
    "in_treatment": "active",
    "closed": "finished",
}


@dataclass(frozen=True)
class WorkupStatusMapping:
    """An investigation status as a FHIR ServiceRequest (and Procedure, once done)."""

    request_status: str
    request_intent: str
    do_not_perform: bool = False
    procedure_status: str | None = None


# knowledge/investigations.py statuses -> ServiceRequest status/intent [THO]. A status
# that is not yet an order is a proposal; "not indicated" is a do-not-perform proposal.
WORKUP_STATUS_MAPPING: dict[str, WorkupStatusMapping] = {
    "not_indicated": WorkupStatusMapping("completed", "proposal", do_not_perform=True),
    "to_request": WorkupStatusMapping("draft", "proposal"),
    "requested": WorkupStatusMapping("active", "order"),
    "booked": WorkupStatusMapping("active", "order"),
    "done": WorkupStatusMapping("completed", "order", procedure_status="completed"),
    "reported": WorkupStatusMapping("completed", "order", procedure_status="completed"),
    "declined": WorkupStatusMapping("revoked", "order"),
}

# --- Extensions cupboard defines (for what no standard element holds exactly) -------
EXT_CASE_STATUS = cupboard_extension("case-status")
EXT_DIAGNOSTIC_STAGE = cupboard_extension("diagnostic-stage")
EXT_CLOSING_REASON = cupboard_extension("closing-reason")
EXT_PRIMARY_FOUND = cupboard_extension("primary-found")  # complex: site, by, on
EXT_LESION_COUNT = cupboard_extension("lesion-count")
EXT_BONE_PATTERN = cupboard_extension("bone-pattern")
EXT_PRIOR_MALIGNANCY = cupboard_extension("prior-malignancy")
EXT_WORKUP_STATUS = cupboard_extension("workup-status")
EXT_CARE_REFERRAL_STATUS = cupboard_extension("care-referral-status")
EXT_CARE_REFERRAL_STATUS_DATE = cupboard_extension("care-referral-status-date")
EXT_DIFFERENTIATION = cupboard_extension("differentiation")
EXT_ECOG_AT_DECISION = cupboard_extension("ecog-at-decision")
EXT_MDT_MEETING = cupboard_extension("mdt-meeting")  # complex: date, title, attendee*
# On the EpisodeOfCare, one per MDT meeting the case was put on the agenda of
# (complex: date, title, question), so the receiving site counts the same meetings.
EXT_MDT_AGENDA = cupboard_extension("mdt-agenda")
EXT_DECISION_DETAIL = cupboard_extension("decision-detail")  # complex: field -> value
