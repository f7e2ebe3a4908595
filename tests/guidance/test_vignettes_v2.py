"""Version 2 of the guidance, as vignettes a clinician can read (docs/clinical-rules.md).

One row per case: a name that says the clinical point, the profile, and what the board
must (and must not) be shown. Every rule of version 2 has at least one case where it
fires and one where it must not, and every example of issue 15 is here by name.

Expectation keys (all optional), read by :func:`check`:
  subtype            the favourable subtype's code, or None for "no subtype"
  manage_as          text the subtype's "manage as" must contain
  primary_found      the site found on tissue, or None
  top                the first likely primary
  ranks_above        (a, b): site a ranks above site b (b may be absent)
  not_primary        sites that must not be among the likely primaries
  exclude / not_exclude            entities to rule out first (must / must not)
  agnostic / not_agnostic          tumour-agnostic biomarkers (must / must not)
  options / not_options            decision codes (must / must not be offered)
  first_option       the first option
  conflicts / no_conflicts         conflict codes (must / must not)
  warnings           warning codes that must be present
  required / not_required          investigation codes
  reason_has         (option code, text its reason must contain)
"""

from __future__ import annotations

from typing import Any

import pytest

from cupboard.guidance import (
    Alteration,
    CaseProfile,
    Guidance,
    assess_case,
    parse_alteration_text,
)

POS, NEG, EQ = "positive", "negative", "equivocal"
LUNG = {"CK7": POS, "CK20": NEG, "TTF-1": POS, "Napsin A": POS}
COLORECTAL = {"CK7": NEG, "CK20": POS, "CDX2": POS, "SATB2": POS}
MELANOMA = {"SOX10": POS, "Melan-A": POS, "HMB45": POS}
UROTHELIAL = {"CK7": POS, "CK20": POS, "GATA3": POS, "Uroplakin": POS, "p63": POS}
BREAST = {"CK7": POS, "CK20": NEG, "GATA3": POS, "ER": POS}


def woman(**fields: Any) -> dict[str, Any]:
    return {"sex": "female", "age": 60, **fields}


def man(**fields: Any) -> dict[str, Any]:
    return {"sex": "male", "age": 65, **fields}


VIGNETTES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # --- Prostate subtype against the tissue [ESMO23] ------------------------------
    (
        "blastic bone, serum PSA 8, PSA/NKX3.1 negative, lung profile: not prostate",
        man(
            histology="adenocarcinoma",
            sites=("bone",),
            bone_pattern="blastic",
            serum={"PSA": 8},
            ihc={"PSA": NEG, "NKX3.1": NEG, **LUNG},
        ),
        dict(subtype=None, top="lung", conflicts={"subtype_contradicted"}, primary_found=None),
    ),
    (
        "blastic bone with PSA+ on IHC keeps the prostate subtype and finds the primary",
        man(
            histology="adenocarcinoma",
            sites=("bone",),
            bone_pattern="blastic",
            ihc={"PSA": POS, "CK7": NEG, "CK20": NEG},
        ),
        dict(
            subtype="bone_blastic_psa_men",
            primary_found="prostate",
            first_option="site_specific",
            no_conflicts={"subtype_contradicted"},
        ),
    ),
    (
        "blastic bone with raised serum PSA, IHC not done: the presumption stands",
        man(histology="adenocarcinoma", sites=("bone",), bone_pattern="blastic", serum={"PSA": 40}),
        dict(subtype="bone_blastic_psa_men", primary_found=None, required={"myeloma_screen"}),
    ),
    (
        "PSA 300 with NKX3.1+ and mixed bone disease: prostate found, site-specific first",
        man(
            histology="adenocarcinoma",
            sites=("bone",),
            bone_pattern="mixed",
            serum={"PSA": 300},
            ihc={"NKX3.1": POS},
        ),
        dict(
            primary_found="prostate",
            top="prostate",
            first_option="site_specific",
            not_options={"empiric_platinum_taxane", "clinical_trial"},
        ),
    ),
    (
        "serum PSA alone never finds the primary",
        man(histology="adenocarcinoma", sites=("bone",), bone_pattern="lytic", serum={"PSA": 300}),
        dict(primary_found=None, options={"empiric_platinum_taxane"}),
    ),
    # --- Peritoneal subtype [ESMO23] -----------------------------------------------
    (
        "WT1+/calretinin+/D2-40+/PAX8- peritoneal disease: mesothelial, not ovarian",
        woman(
            histology="adenocarcinoma",
            sites=("peritoneum",),
            ihc={"WT1": POS, "Calretinin": POS, "D2-40": POS, "PAX8": NEG},
        ),
        dict(subtype=None, top="mesothelioma", conflicts={"subtype_contradicted"}),
    ),
    (
        "PAX8+/WT1+ serous peritoneal carcinomatosis is managed as ovarian",
        woman(
            histology="adenocarcinoma",
            sites=("peritoneum",),
            ihc={"CK7": POS, "CK20": NEG, "PAX8": POS, "WT1": POS},
            serum={"CA-125": 900},
        ),
        dict(
            subtype="peritoneal_serous_women",
            top="ovary",
            required={"ca125", "gynaecological_exam"},
            no_conflicts={"subtype_contradicted"},
        ),
    ),
    # --- Axillary subtype [ESMO23] ---------------------------------------------------
    *[
        (
            f"isolated axillary nodes with a {name} profile: not breast",
            woman(histology="adenocarcinoma", sites=("axillary_nodes",), ihc=ihc),
            dict(not_subtype="axillary_nodes_women", conflicts={"subtype_contradicted"}),
        )
        for name, ihc in (
            ("lung", {**LUNG, "GATA3": NEG}),
            ("colorectal", COLORECTAL),
            ("melanoma", MELANOMA),
            ("urothelial", UROTHELIAL),
        )
    ],
    (
        "isolated axillary nodes with GATA3+/ER+: breast",
        woman(histology="adenocarcinoma", sites=("axillary_nodes",), ihc=BREAST),
        dict(subtype="axillary_nodes_women", top="breast", required={"breast_mri"}),
    ),
    # --- Tissue of origin against its defining markers [HAYASHI], [ESMO23] ----------
    (
        "colorectal tissue-of-origin call 0.9 with CK7+, CDX2 and SATB2 negative: no subtype",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc={"CK7": POS, "CDX2": NEG, "SATB2": NEG},
            tissue_of_origin="colorectal",
            tissue_of_origin_confidence=0.9,
        ),
        dict(subtype=None, conflicts={"subtype_contradicted"}),
    ),
    (
        "colorectal tissue-of-origin call 0.9 with no IHC against it: colorectal profile",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            tissue_of_origin="colorectal",
            tissue_of_origin_confidence=0.9,
        ),
        dict(subtype="colorectal_profile", warnings={"too_alone"}),
    ),
    (
        "renal tissue-of-origin call 0.85 with PAX8 negative: no renal subtype",
        man(
            histology="adenocarcinoma",
            sites=("lung",),
            ihc={"PAX8": NEG},
            tissue_of_origin="kidney",
            tissue_of_origin_confidence=0.85,
        ),
        dict(subtype=None, conflicts={"subtype_contradicted"}),
    ),
    (
        "breast tissue-of-origin call 0.9 beside a lung profile: reported",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc=LUNG,
            tissue_of_origin="breast",
            tissue_of_origin_confidence=0.9,
        ),
        dict(conflicts={"too_vs_ihc"}, top="lung"),
    ),
    (
        "tissue-of-origin call below 0.8 is not used, and says so",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            tissue_of_origin="colorectal",
            tissue_of_origin_confidence=0.6,
        ),
        dict(subtype=None, not_primary={"colorectal"}, warnings={"low_confidence_too"}),
    ),
    # --- Single metastasis and oligometastatic disease [ESMO23], [ESTRO20] ----------
    (
        "CD45+ undifferentiated neoplasm, one lesion: lymphoma first, no local therapy",
        woman(
            histology="undifferentiated_neoplasm", sites=("liver",), lesions=1, ihc={"CD45": POS}
        ),
        dict(
            subtype=None,
            exclude={"lymphoma"},
            not_options={"local_therapy"},
            options={"further_workup", "clinical_trial"},
        ),
    ),
    (
        "adenocarcinoma, one adrenal lesion: single metastasis, PET-CT first",
        man(histology="adenocarcinoma", sites=("adrenal",), lesions=1, ecog=1),
        dict(subtype="single_metastasis", options={"local_therapy"}, required={"pet_ct"}),
    ),
    (
        "one lesion recorded with three organs listed: conflict, no single metastasis",
        woman(histology="adenocarcinoma", sites=("liver", "lung", "bone"), lesions=1),
        dict(
            subtype=None,
            conflicts={"inconsistent_lesion_count"},
            not_options={"local_therapy"},
        ),
    ),
    (
        "one lesion in two nodal stations: nodes count as one organ, no conflict",
        woman(histology="adenocarcinoma", sites=("cervical_nodes", "axillary_nodes"), lesions=1),
        dict(subtype="single_metastasis", no_conflicts={"inconsistent_lesion_count"}),
    ),
    (
        "three lesions in liver and lung: oligometastatic, local therapy worth discussing",
        woman(histology="adenocarcinoma", sites=("liver", "lung"), lesions=3, ecog=1),
        dict(subtype=None, options={"local_therapy"}, required={"pet_ct"}),
    ),
    (
        "two lesions in one organ: oligometastatic",
        man(histology="squamous_cell_carcinoma", sites=("lung",), lesions=2, ecog=0),
        dict(options={"local_therapy"}),
    ),
    (
        "six lesions: not oligometastatic",
        woman(histology="adenocarcinoma", sites=("liver",), lesions=6, ecog=1),
        dict(not_options={"local_therapy"}, not_required={"pet_ct"}),
    ),
    (
        "three lesions in three organs: not oligometastatic",
        woman(histology="adenocarcinoma", sites=("liver", "lung", "bone"), lesions=3),
        dict(not_options={"local_therapy"}),
    ),
    # --- Primary found on tissue [ESMO23] ----------------------------------------------
    (
        "thyroglobulin+ with TTF-1+/PAX8+: thyroid found, thyroid ultrasound required",
        woman(
            histology="adenocarcinoma",
            sites=("lung",),
            ihc={"Thyroglobulin": POS, "TTF-1": POS, "PAX8": POS},
        ),
        dict(
            primary_found="thyroid",
            top="thyroid",
            first_option="site_specific",
            required={"thyroid_ultrasound"},
            not_required={"bronchoscopy"},
        ),
    ),
    (
        "TTF-1+ alone finds no primary (lung or thyroid)",
        woman(histology="adenocarcinoma", sites=("lung",), ihc={"TTF-1": POS}),
        dict(primary_found=None, top="lung"),
    ),
    (
        "HepPar-1+/arginase-1+ CK7-/CK20- liver lesion: hepatocellular found",
        man(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc={"HepPar-1": POS, "Arginase-1": POS, "CK7": NEG, "CK20": NEG},
            serum={"AFP": 900},
        ),
        dict(primary_found="liver", top="liver", first_option="site_specific"),
    ),
    (
        "HepPar-1+ in a CK7+/CK20+ carcinoma is not a liver profile",
        man(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc={"HepPar-1": POS, "CK7": POS, "CK20": POS},
        ),
        dict(primary_found=None),
    ),
    (
        "HepPar-1+ in a melanoma establishes no liver primary",
        woman(histology="melanoma", ihc={"HepPar-1": POS}),
        dict(primary_found=None, top="melanoma"),
    ),
    (
        "two sites' markers positive: no primary found",
        man(histology="adenocarcinoma", sites=("bone",), ihc={"NKX3.1": POS, "TTF-1": POS}),
        dict(primary_found=None, conflicts={"marker_conflict"}),
    ),
    # --- Squamous carcinoma by where it is [ESMO23] ---------------------------------
    (
        "p40+/p16+ poorly differentiated carcinoma in neck nodes: head and neck first",
        man(
            histology="poorly_differentiated_carcinoma",
            sites=("cervical_nodes",),
            ihc={"p40": POS, "p16": POS, "p63": POS, "CK7": POS, "CK20": POS},
        ),
        dict(
            top="head_and_neck",
            subtype="cervical_nodes_squamous",
            required={"pet_ct", "ent_panendoscopy", "hpv_ebv"},
        ),
    ),
    (
        "poorly differentiated carcinoma in neck nodes without squamous markers",
        man(histology="poorly_differentiated_carcinoma", sites=("cervical_nodes",)),
        dict(not_required={"hpv_ebv", "ent_panendoscopy"}, subtype=None),
    ),
    (
        "p40+ squamous carcinoma in mediastinal nodes, man of 84: lung, not only germ cell",
        man(
            age=84,
            histology="squamous_cell_carcinoma",
            sites=("mediastinal_nodes",),
            ihc={"p40": POS},
        ),
        dict(top="lung", not_primary={"germ_cell"}, not_exclude={"germ_cell"}),
    ),
    (
        "squamous carcinoma in isolated inguinal nodes: anogenital primary, local therapy",
        woman(histology="squamous_cell_carcinoma", sites=("inguinal_nodes",)),
        dict(
            subtype="inguinal_nodes_squamous",
            top="anogenital",
            required={"gynaecological_exam"},
        ),
    ),
    # --- Germ-cell tumour [SVF block A], [ESMO23] -------------------------------------
    (
        "raised AFP with a retroperitoneal mass: germ-cell tumour to rule out",
        man(
            age=58,
            histology="poorly_differentiated_carcinoma",
            sites=("retroperitoneal_nodes",),
            serum={"AFP": 250},
        ),
        dict(exclude={"germ_cell"}, top="germ_cell", required={"afp_bhcg"}),
    ),
    (
        "woman of 24 with a mediastinal mass and AFP 600: germ cell flagged",
        woman(age=24, sites=("mediastinal_nodes",), serum={"AFP": 600}),
        dict(exclude={"germ_cell"}, top="germ_cell", required={"afp_bhcg"}),
    ),
    (
        "young man with a poorly differentiated carcinoma: AFP/beta-hCG required",
        man(age=27, histology="poorly_differentiated_carcinoma", sites=("lung",)),
        dict(exclude={"germ_cell"}, required={"afp_bhcg"}),
    ),
    (
        "young man with midline nodes: testicular ultrasound",
        man(age=31, histology="poorly_differentiated_carcinoma", sites=("mediastinal_nodes",)),
        dict(required={"afp_bhcg", "testicular_ultrasound"}),
    ),
    (
        "young man, midline PDC, raised beta-hCG: extragonadal germ-cell subtype",
        man(
            age=31,
            histology="poorly_differentiated_carcinoma",
            sites=("mediastinal_nodes",),
            serum={"beta-hCG": 2000},
        ),
        dict(subtype="midline_germ_cell_men", options={"site_specific"}),
    ),
    (
        "raised AFP with an isolated liver tumour: hepatocellular as likely, no germ-cell flag",
        man(histology="adenocarcinoma", sites=("liver",), serum={"AFP": 400}),
        dict(not_exclude={"germ_cell"}, required={"afp_bhcg"}),
    ),
    (
        "man of 70 with a poorly differentiated carcinoma in the lung: no germ-cell workup",
        man(age=70, histology="poorly_differentiated_carcinoma", sites=("lung",)),
        dict(not_exclude={"germ_cell"}, not_required={"afp_bhcg", "testicular_ultrasound"}),
    ),
    (
        "pregnant woman with raised beta-hCG: not read as germ cell",
        woman(
            age=30,
            histology="adenocarcinoma",
            sites=("liver",),
            serum={"beta-hCG": 30000},
            pregnant=True,
        ),
        dict(not_exclude={"germ_cell"}, not_primary={"germ_cell"}, warnings={"pregnancy_hcg"}),
    ),
    (
        "same beta-hCG, not pregnant: germ cell to rule out",
        woman(age=30, histology="adenocarcinoma", sites=("liver",), serum={"beta-hCG": 30000}),
        dict(exclude={"germ_cell"}),
    ),
    # --- Equivocal is not negative ----------------------------------------------------
    (
        "equivocal CD45 in an undifferentiated neoplasm keeps lymphoma to rule out",
        woman(histology="undifferentiated_neoplasm", sites=("liver",), ihc={"CD45": EQ}),
        dict(exclude={"lymphoma"}),
    ),
    (
        "equivocal CD45 in a poorly differentiated carcinoma: lymphoma to rule out",
        woman(histology="poorly_differentiated_carcinoma", sites=("liver",), ihc={"CD45": EQ}),
        dict(exclude={"lymphoma"}),
    ),
    (
        "negative CD45 in an undifferentiated neoplasm: lymphoma ruled out",
        woman(histology="undifferentiated_neoplasm", sites=("liver",), ihc={"CD45": NEG}),
        dict(not_exclude={"lymphoma"}),
    ),
    # --- Reading the NGS report [TA], [ESCAT] ----------------------------------------
    (
        "RET-mutant (M918T) is not a RET fusion",
        woman(histology="adenocarcinoma", alterations=("RET-mutant (M918T)",)),
        dict(not_agnostic={"RET fusion"}, not_options={"targeted_therapy"}),
    ),
    (
        "KIF5B-RET is a RET fusion",
        woman(histology="adenocarcinoma", alterations=("KIF5B-RET",)),
        dict(agnostic={"RET fusion"}, options={"targeted_therapy"}),
    ),
    (
        "NTRK1-positive on pan-TRK IHC is not an NTRK fusion",
        woman(histology="adenocarcinoma", alterations=("NTRK1-positive (pan-TRK IHC)",)),
        dict(not_agnostic={"NTRK fusion"}, not_options={"targeted_therapy"}),
    ),
    (
        "ETV6::NTRK3 is an NTRK fusion",
        woman(histology="adenocarcinoma", alterations=("ETV6::NTRK3",)),
        dict(agnostic={"NTRK fusion"}),
    ),
    (
        "one 'negative' negates only its own finding",
        woman(histology="adenocarcinoma", alterations=("EML4-ALK negative, BRAF V600E",)),
        dict(agnostic={"BRAF V600E"}, reason_has=("targeted_therapy", "BRAF V600E")),
    ),
    (
        "a structured RET fusion, detected false, is no finding",
        woman(
            histology="adenocarcinoma",
            alterations=(Alteration("RET", "fusion", "KIF5B-RET", detected=False),),
        ),
        dict(not_agnostic={"RET fusion"}, not_options={"targeted_therapy"}),
    ),
    (
        "a structured RET fusion object is a RET fusion",
        woman(
            histology="adenocarcinoma",
            alterations=({"gene": "RET", "kind": "fusion", "variant": "KIF5B-RET"},),
        ),
        dict(agnostic={"RET fusion"}),
    ),
    (
        "BRAF V600E in a colorectal profile: not dabrafenib + trametinib",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc=COLORECTAL,
            alterations=("BRAF V600E",),
        ),
        dict(
            not_agnostic={"BRAF V600E"},
            options={"targeted_therapy"},
            reason_has=("targeted_therapy", "encorafenib"),
        ),
    ),
    (
        "BRAF V600E in a lung profile: tumour-agnostic dabrafenib + trametinib",
        woman(histology="adenocarcinoma", sites=("liver",), ihc=LUNG, alterations=("BRAF V600E",)),
        dict(agnostic={"BRAF V600E"}),
    ),
    *[
        (
            f"{text}: targeted therapy worth discussing",
            woman(histology="adenocarcinoma", sites=("liver",), alterations=(text,)),
            dict(options={"targeted_therapy"}, reason_has=("targeted_therapy", gene)),
        )
        for text, gene in (
            ("EGFR L858R", "EGFR"),
            ("EGFR exon 19 deletion", "EGFR"),
            ("EML4-ALK fusion", "ALK"),
            ("CD74-NRG1 fusion", "NRG1"),
            ("FGFR2-BICC1 fusion", "FGFR2"),
            ("KRAS G12C", "KRAS"),
            ("MET exon 14 skipping", "MET"),
            ("IDH1 R132C", "IDH1"),
            ("ERBB2 amplification", "ERBB2"),
            ("CD74-ROS1", "ROS1"),
        )
    ],
    *[
        (
            f"{text}: no targeted therapy",
            woman(histology="adenocarcinoma", sites=("liver",), alterations=(text,)),
            dict(not_options={"targeted_therapy"}),
        )
        for text in ("KRAS G12D", "EGFR amplification", "TP53 R273H", "EGFR not detected")
    ],
    # --- Ranking [ESMO23], [CHU00] -----------------------------------------------------
    (
        "GATA3+ with CK7+/CK20+: urothelial above breast",
        woman(
            histology="adenocarcinoma",
            sites=("liver",),
            ihc={"GATA3": POS, "CK7": POS, "CK20": POS},
        ),
        dict(top="urothelial", ranks_above=("urothelial", "breast")),
    ),
    (
        "GATA3+ with p63+ in a man: urothelial above breast",
        man(histology="adenocarcinoma", sites=("liver",), ihc={"GATA3": POS, "p63": POS}),
        dict(top="urothelial"),
    ),
    (
        "GATA3+/ER+ CK7+/CK20- in a woman: breast first",
        woman(histology="adenocarcinoma", sites=("liver",), ihc=BREAST),
        dict(top="breast"),
    ),
    (
        "TTF-1+/PAX8+: thyroid above lung",
        woman(histology="adenocarcinoma", sites=("lung",), ihc={"TTF-1": POS, "PAX8": POS}),
        dict(top="thyroid", ranks_above=("thyroid", "lung"), not_required={"bronchoscopy"}),
    ),
    (
        "TTF-1+/napsin A+: lung",
        woman(histology="adenocarcinoma", sites=("liver",), ihc=LUNG),
        dict(top="lung", required={"bronchoscopy"}),
    ),
    (
        "pleural adenocarcinoma with calretinin and D2-40 negative: mesothelioma not first",
        woman(
            histology="adenocarcinoma",
            sites=("pleura",),
            ihc={"CK7": POS, "CK20": NEG, "Calretinin": NEG, "D2-40": NEG},
        ),
        dict(top="lung", not_primary={"mesothelioma"}),
    ),
    (
        "pleural tumour with calretinin+/D2-40+: mesothelioma first",
        man(histology="other", sites=("pleura",), ihc={"Calretinin": POS, "D2-40": POS}),
        dict(top="mesothelioma"),
    ),
    # --- Neuroendocrine [ESMO23] -------------------------------------------------------
    (
        "NEC: platinum-etoposide, not platinum-taxane",
        woman(histology="neuroendocrine_carcinoma", sites=("liver",), ki67=80),
        dict(
            subtype="neuroendocrine",
            manage_as="platinum-etoposide",
            not_options={"empiric_platinum_taxane"},
            required={"chromogranin_a"},
        ),
    ),
    (
        "poorly differentiated carcinoma with synaptophysin+/chromogranin A+: a NEC",
        woman(
            histology="poorly_differentiated_carcinoma",
            sites=("liver",),
            ihc={"Synaptophysin": POS, "Chromogranin A": POS},
        ),
        dict(
            subtype="neuroendocrine",
            manage_as="platinum-etoposide",
            not_options={"empiric_platinum_taxane"},
        ),
    ),
    (
        "poorly differentiated carcinoma with one neuroendocrine marker: not a NEC",
        woman(
            histology="poorly_differentiated_carcinoma",
            sites=("liver",),
            ihc={"Synaptophysin": POS},
        ),
        dict(subtype=None, options={"empiric_platinum_taxane"}, required={"chromogranin_a"}),
    ),
    (
        "well-differentiated NET with Ki-67 35 %: NET G3, not a NEC",
        woman(histology="neuroendocrine_tumour", sites=("liver",), ihc={"Ki-67": 35}),
        dict(subtype="neuroendocrine", manage_as="G3", not_options={"empiric_platinum_taxane"}),
    ),
    # --- Marker conflicts and options that survive [ESMO23] ---------------------------
    (
        "S100 alone beside a full lung profile: a conflict, not melanoma; options survive",
        woman(histology="adenocarcinoma", sites=("lung",), ihc={**LUNG, "S100": POS}, ecog=1),
        dict(
            conflicts={"marker_conflict"},
            not_exclude={"melanoma"},
            options={"empiric_platinum_taxane", "clinical_trial"},
        ),
    ),
    (
        "S100 with SOX10: melanoma to rule out",
        woman(histology="poorly_differentiated_carcinoma", ihc={"S100": POS, "SOX10": POS}),
        dict(exclude={"melanoma"}),
    ),
    (
        "fit patient with lymphoma to rule out still has a trial to discuss",
        woman(histology="poorly_differentiated_carcinoma", ihc={"CD45": POS}, ecog=1),
        dict(exclude={"lymphoma"}, options={"clinical_trial", "further_workup"}),
    ),
    (
        "ECOG 3: no trial offered",
        woman(histology="adenocarcinoma", sites=("liver",), ecog=3),
        dict(not_options={"clinical_trial"}, warnings={"ecog_3_plus"}),
    ),
    (
        "MSI-H with proficient MMR: discordant, reported",
        woman(histology="adenocarcinoma", msi="MSI-H", mmr="proficient"),
        dict(conflicts={"msi_mmr_discordant"}, agnostic={"MSI-H"}),
    ),
    (
        "MSI-H with deficient MMR: concordant",
        woman(histology="adenocarcinoma", msi="MSI-H", mmr="deficient"),
        dict(no_conflicts={"msi_mmr_discordant"}, agnostic={"MSI-H", "dMMR"}),
    ),
    # --- History, symptoms and the workup they direct [SVF], [NICE] -------------------
    (
        "previous breast cancer: recurrence to exclude first",
        woman(histology="adenocarcinoma", sites=("liver",), previous_malignancy="breast"),
        dict(warnings={"previous_malignancy"}, top="breast"),
    ),
    *[
        (
            f"symptom {symptom}: {code} required",
            man(histology="adenocarcinoma", sites=("liver",), symptoms=(symptom,)),
            dict(required={code}),
        )
        for symptom, code in (
            ("neurological", "mri_brain"),
            ("back_pain", "mri_spine"),
            ("haematuria", "cystoscopy"),
            ("rectal_bleeding", "colonoscopy"),
            ("dysphagia", "upper_endoscopy"),
            ("haemoptysis", "bronchoscopy"),
            ("breast_lump", "mammography"),
            ("testicular_mass", "testicular_ultrasound"),
        )
    ],
    (
        "no symptoms: no symptom-directed tests",
        man(histology="adenocarcinoma", sites=("liver",)),
        dict(
            not_required={
                "mri_brain",
                "mri_spine",
                "cystoscopy",
                "colonoscopy",
                "upper_endoscopy",
                "bronchoscopy",
                "testicular_ultrasound",
            }
        ),
    ),
    (
        "lytic bone metastases: myeloma screen",
        woman(histology="adenocarcinoma", sites=("bone",), bone_pattern="lytic"),
        dict(required={"myeloma_screen"}),
    ),
    (
        "no bone disease: no myeloma screen; no peritoneum in a man: no gynaecology",
        man(histology="adenocarcinoma", sites=("liver",)),
        dict(not_required={"myeloma_screen", "gynaecological_exam", "chromogranin_a"}),
    ),
    (
        "paediatric patient and missing workup each carry their code",
        woman(age=15, histology="adenocarcinoma"),
        dict(warnings={"paediatric", "missing_required_workup"}),
    ),
    (
        "PD-L1 alone: not tumour-agnostic, coded",
        woman(histology="adenocarcinoma", pdl1_tps=60.0),
        dict(warnings={"pd_l1_not_tumour_agnostic"}, not_agnostic={"MSI-H", "TMB-high"}),
    ),
    (
        "nothing recorded but sex and age: nothing fires",
        woman(),
        dict(
            subtype=None,
            primary_found=None,
            not_options={"targeted_therapy", "immunotherapy", "local_therapy"},
        ),
    ),
]

_ = Guidance  # the type every check reads


def check(profile: CaseProfile, expect: dict[str, Any]) -> None:
    guidance = assess_case(profile)
    subtype = guidance.favourable_subtype
    sites = [p.site for p in guidance.likely_primaries]
    excluded = {e.entity for e in guidance.exclude_first}
    agnostic = {b.biomarker for b in guidance.tumour_agnostic}
    options = [o.code for o in guidance.options]
    conflicts = {c.code for c in guidance.conflicts}
    warnings = {w.code for w in guidance.warnings}
    required = {r.code for r in guidance.required_workup}
    for key, value in expect.items():
        if key == "subtype":
            assert (subtype.code if subtype else None) == value, subtype
        elif key == "not_subtype":
            codes = {s.code for s in (subtype, *guidance.other_favourable_subtypes) if s}
            assert value not in codes
        elif key == "manage_as":
            assert subtype is not None and value in subtype.manage_as, subtype
        elif key == "primary_found":
            found = guidance.primary_found
            assert (found.site if found else None) == value, found
        elif key == "top":
            assert sites and sites[0] == value, sites
        elif key == "ranks_above":
            first, second = value
            assert first in sites and (
                second not in sites or sites.index(first) < sites.index(second)
            )
        elif key == "not_primary":
            assert not value & set(sites), sites
        elif key == "exclude":
            assert value <= excluded, excluded
        elif key == "not_exclude":
            assert not value & excluded, excluded
        elif key == "agnostic":
            assert value <= agnostic, agnostic
        elif key == "not_agnostic":
            assert not value & agnostic, agnostic
        elif key == "options":
            assert value <= set(options), options
        elif key == "not_options":
            assert not value & set(options), options
        elif key == "first_option":
            assert options[0] == value, options
        elif key == "conflicts":
            assert value <= conflicts, guidance.conflicts
        elif key == "no_conflicts":
            assert not value & conflicts, guidance.conflicts
        elif key == "warnings":
            assert value <= warnings, warnings
        elif key == "required":
            assert value <= required, required
        elif key == "not_required":
            assert not value & required, required
        elif key == "reason_has":
            code, text = value
            reasons = [o.reason for o in guidance.options if o.code == code]
            assert reasons and text in reasons[0], reasons
        else:
            raise AssertionError(f"unknown expectation {key!r}")


@pytest.mark.parametrize(
    ("name", "fields", "expect"), VIGNETTES, ids=[name for name, _, _ in VIGNETTES]
)
def test_vignette(name: str, fields: dict[str, Any], expect: dict[str, Any]) -> None:
    assert expect, name
    check(CaseProfile(**fields), expect)


def test_every_conflict_code_and_v2_warning_code_has_a_vignette() -> None:
    conflicts = set().union(*(e.get("conflicts", set()) for _, _, e in VIGNETTES))
    warnings = set().union(*(e.get("warnings", set()) for _, _, e in VIGNETTES))
    assert conflicts == {
        "subtype_contradicted",
        "msi_mmr_discordant",
        "too_vs_ihc",
        "inconsistent_lesion_count",
        "marker_conflict",
    }
    assert {
        "paediatric",
        "ecog_3_plus",
        "missing_required_workup",
        "pd_l1_not_tumour_agnostic",
        "previous_malignancy",
        "pregnancy_hcg",
        "low_confidence_too",
    } <= warnings


@pytest.mark.parametrize(
    ("text", "findings"),
    [
        ("RET-mutant (M918T)", [("RET", "mutation", True)]),
        ("NTRK1-positive (pan-TRK IHC)", [("NTRK1", "other", True)]),
        ("KIF5B-RET", [("RET", "fusion", True)]),
        ("ETV6::NTRK3 fusion", [("NTRK3", "fusion", True)]),
        ("EML4-ALK negative", [("ALK", "fusion", False)]),
        ("BRAF V600E, TP53 WT", [("BRAF", "mutation", True), ("TP53", "other", False)]),
        ("KRAS G12D; EGFR not detected", [("KRAS", "mutation", True), ("EGFR", "other", False)]),
        ("ERBB2 amplification", [("ERBB2", "amplification", True)]),
        ("CDKN2A loss", [("CDKN2A", "deletion", True)]),
    ],
)
def test_alteration_text_is_read_finding_by_finding(
    text: str, findings: list[tuple[str, str, bool]]
) -> None:
    read = parse_alteration_text(text)
    assert [(a.gene, a.kind, a.detected) for a in read] == findings
