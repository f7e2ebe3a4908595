"""The standard diagnostic workup of docs/clinical-rules.md section 1 [ESMO23, NICE, SVF].

Whether an investigation is *required* for a given patient is decided by
:func:`cupboard.guidance.required_investigations` from ``applies_to`` and the
presentation; this module only names things.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Investigation:
    code: str
    label: str
    # "all" | "female" | "male" | "conditional" (required only for some presentations)
    applies_to: str
    indication: str
    source: str
    pathway_block: str  # SVF block A-E


INVESTIGATIONS: tuple[Investigation, ...] = (
    Investigation(
        "history_exam",
        "History & full physical exam",
        "all",
        "Incl. breast, pelvic, rectal, testes, skin, head & neck; performance status",
        "SVF",
        "A",
    ),
    Investigation(
        "blood_panel",
        "FBC, renal, liver, calcium, LDH, urinalysis",
        "all",
        "LDH is prognostic [CULINE]",
        "ESMO23",
        "A",
    ),
    Investigation(
        "ct_cap", "CT chest/abdomen/pelvis with contrast", "all", "All patients", "ESMO23", "B"
    ),
    Investigation("mammography", "Mammography", "female", "Women", "ESMO23", "D"),
    Investigation(
        "breast_mri", "Breast MRI", "conditional", "Women with axillary nodes", "ESMO23", "D"
    ),
    Investigation(
        "pet_ct",
        "PET-CT",
        "conditional",
        "Cervical-node SCC; apparent single site before local therapy",
        "ESMO23",
        "E",
    ),
    Investigation("mri_brain", "MRI brain", "conditional", "Neurological symptoms", "ESMO23", "D"),
    Investigation(
        "biopsy",
        "Biopsy of the most accessible lesion",
        "all",
        "Core (3-4 cores >= 14 G) or excision, not FNA where possible; tissue for IHC + NGS",
        "SVF",
        "B",
    ),
    Investigation(
        "histopathology_ihc",
        "Histopathology with IHC panel",
        "all",
        "All patients (panel: docs/clinical-rules.md section 3)",
        "ESMO23",
        "B",
    ),
    Investigation("psa", "Serum PSA", "male", "Men, esp. bone metastases", "ESMO23", "A"),
    Investigation(
        "afp_bhcg",
        "AFP and beta-hCG",
        "conditional",
        "Midline / mediastinal / retroperitoneal nodes, young men",
        "ESMO23",
        "A",
    ),
    Investigation(
        "ca125", "CA-125", "conditional", "Women with peritoneal / pelvic disease", "ESMO23", "A"
    ),
    Investigation(
        "upper_endoscopy",
        "Upper GI endoscopy",
        "conditional",
        "Guided by symptoms, IHC and site; not blind",
        "ESMO23",
        "D",
    ),
    Investigation(
        "colonoscopy",
        "Colonoscopy",
        "conditional",
        "Guided by symptoms, IHC and site; not blind",
        "ESMO23",
        "D",
    ),
    Investigation(
        "bronchoscopy",
        "Bronchoscopy",
        "conditional",
        "Guided by symptoms, IHC and site; not blind",
        "ESMO23",
        "D",
    ),
    Investigation(
        "ent_panendoscopy",
        "ENT panendoscopy",
        "conditional",
        "Cervical nodes; guided by symptoms, IHC and site",
        "ESMO23",
        "D",
    ),
    Investigation(
        "ngs",
        "Comprehensive genomic profiling (NGS)",
        "conditional",
        "Fit patients who could be treated [CUPISCO]",
        "ESMO23",
        "D",
    ),
    Investigation(
        "gep",
        "Gene-expression / tissue-of-origin profiling",
        "conditional",
        "Selected; no OS benefit alone [HAYASHI], [GEFCAPI04]",
        "ESMO23",
        "D",
    ),
    Investigation("hpv_ebv", "HPV (p16) / EBV", "conditional", "Cervical-node SCC", "ESMO23", "D"),
    # Version 2 of the assess contract (docs/assess-contract.md).
    Investigation("mri_spine", "MRI spine", "conditional", "Back pain", "NICE", "D"),
    Investigation(
        "testicular_ultrasound",
        "Testicular ultrasound",
        "conditional",
        "Men under 50 with midline nodes or raised AFP/beta-hCG; testicular mass",
        "ESMO23",
        "D",
    ),
    Investigation(
        "thyroid_ultrasound",
        "Thyroid ultrasound",
        "conditional",
        "Thyroglobulin+, or TTF-1+ with PAX8+",
        "ESMO23",
        "D",
    ),
    Investigation("cystoscopy", "Cystoscopy", "conditional", "Haematuria", "NICE", "D"),
    Investigation(
        "gynaecological_exam",
        "Gynaecological examination",
        "conditional",
        "Women with peritoneal, pelvic or inguinal disease",
        "SVF",
        "A",
    ),
    Investigation(
        "myeloma_screen",
        "Myeloma screen (calcium, albumin, protein electrophoresis, free light chains)",
        "conditional",
        "Bone metastases, lytic or mixed above all",
        "SVF",
        "A",
    ),
    Investigation(
        "chromogranin_a",
        "Serum chromogranin A",
        "conditional",
        "Neuroendocrine histology or markers",
        "SVF",
        "A",
    ),
)
INVESTIGATION_CODES: tuple[str, ...] = tuple(i.code for i in INVESTIGATIONS)
INVESTIGATIONS_BY_CODE: dict[str, Investigation] = {i.code: i for i in INVESTIGATIONS}


@dataclass(frozen=True)
class InvestigationStatus:
    code: str
    label: str
    counts_as_missing: bool  # still outstanding before MDT (assess contract)
    order: int


# Statuses of an investigation, docs/clinical-rules.md section 1 and docs/assess-contract.md.
INVESTIGATION_STATUSES: tuple[InvestigationStatus, ...] = (
    InvestigationStatus("not_indicated", "Not indicated", False, 0),
    InvestigationStatus("to_request", "To request", True, 1),
    InvestigationStatus("requested", "Requested", True, 2),
    InvestigationStatus("booked", "Booked", True, 3),
    InvestigationStatus("done", "Done", False, 4),
    InvestigationStatus("reported", "Reported", False, 5),
    InvestigationStatus("declined", "Declined", False, 6),
)
INVESTIGATION_STATUS_CODES: tuple[str, ...] = tuple(s.code for s in INVESTIGATION_STATUSES)
INVESTIGATION_STATUS_LABELS: dict[str, str] = {s.code: s.label for s in INVESTIGATION_STATUSES}
MISSING_STATUSES: frozenset[str] = frozenset(
    s.code for s in INVESTIGATION_STATUSES if s.counts_as_missing
)
