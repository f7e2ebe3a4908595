"""Classic CUP vignettes: one per rule of docs/clinical-rules.md.

Each vignette is a short case a tumour board would recognise; the expectations are the
clinical facts of the reference (with their source tags), not a snapshot of output.
"""

from __future__ import annotations

from typing import Any

import pytest

from cupboard.guidance import (
    CaseProfile,
    Guidance,
    assess_case,
    decision_notes,
    decision_warnings,
    guidance_to_contract,
    missing_workup,
    required_investigations,
)
from cupboard.knowledge.biomarkers import TUMOUR_AGNOSTIC_BY_NAME, TUMOUR_AGNOSTIC_NAMES
from cupboard.knowledge.decisions import DECISION_CODES
from cupboard.knowledge.favourable_subtypes import FAVOURABLE_SUBTYPE_CODES
from cupboard.knowledge.investigations import INVESTIGATION_CODES
from cupboard.knowledge.sources import SOURCES

POS, NEG, EQ = "positive", "negative", "equivocal"
ALL_REPORTED = {code: "reported" for code in INVESTIGATION_CODES}


def case(**fields: Any) -> CaseProfile:
    """A profile with adult defaults; every vignette names what matters to it."""
    fields.setdefault("sex", "female")
    fields.setdefault("age", 60)
    return CaseProfile(**fields)


def top_site(guidance: Guidance) -> str | None:
    return guidance.likely_primaries[0].site if guidance.likely_primaries else None


def evidence_of(guidance: Guidance, site: str) -> list[str]:
    for primary in guidance.likely_primaries:
        if primary.site == site:
            return [f.text for f in primary.evidence]
    raise AssertionError(f"{site} not among likely primaries")


def ranked_sites(guidance: Guidance) -> list[str]:
    return [p.site for p in guidance.likely_primaries]


# ---------------------------------------------------------------------------------
# Favourable subtypes, section 4: (subtype, vignette, presumed primary, decisions)

FAVOURABLE_VIGNETTES: list[tuple[str, dict[str, Any], str | None, tuple[str, ...]]] = [
    (
        "peritoneal_serous_women",
        dict(
            sex="female",
            age=63,
            histology="adenocarcinoma",
            sites=("peritoneum",),
            ihc={"CK7": POS, "CK20": NEG, "PAX8": POS, "WT1": POS},
            serum={"CA-125": 850},
        ),
        "ovary",
        ("site_specific",),
    ),
    (
        "axillary_nodes_women",
        dict(
            sex="female",
            age=48,
            histology="adenocarcinoma",
            sites=("axillary_nodes",),
            ihc={"CK7": POS, "CK20": NEG, "GATA3": POS, "ER": POS},
        ),
        "breast",
        ("site_specific", "local_therapy"),
    ),
    (
        "cervical_nodes_squamous",
        dict(
            sex="male",
            age=58,
            histology="squamous_cell_carcinoma",
            sites=("cervical_nodes",),
            ihc={"p16": POS, "p40": POS},
        ),
        "head_and_neck",
        ("site_specific", "local_therapy"),
    ),
    (
        "inguinal_nodes_squamous",
        dict(sex="female", age=71, histology="squamous_cell_carcinoma", sites=("inguinal_nodes",)),
        None,
        ("local_therapy",),
    ),
    (
        "bone_blastic_psa_men",
        dict(
            sex="male",
            age=72,
            histology="adenocarcinoma",
            sites=("bone",),
            bone_pattern="blastic",
            serum={"PSA": 145},
        ),
        "prostate",
        ("site_specific",),
    ),
    (
        "neuroendocrine",
        dict(
            sex="male",
            age=66,
            histology="neuroendocrine_carcinoma",
            sites=("liver",),
            ihc={"Synaptophysin": POS, "INSM1": POS},
        ),
        "neuroendocrine",
        ("site_specific",),
    ),
    (
        "midline_germ_cell_men",
        dict(
            sex="male",
            age=27,
            histology="poorly_differentiated_carcinoma",
            sites=("mediastinal_nodes", "retroperitoneal_nodes"),
            serum={"beta-hCG": 2400, "AFP": 310},
        ),
        "germ_cell",
        ("site_specific",),
    ),
    (
        "colorectal_profile",
        dict(
            sex="female",
            age=59,
            histology="adenocarcinoma",
            sites=("liver",),
            ihc={"CK7": NEG, "CK20": POS, "CDX2": POS, "SATB2": POS},
        ),
        "colorectal",
        ("site_specific",),
    ),
    (
        "single_metastasis",
        dict(sex="male", age=64, histology="adenocarcinoma", sites=("adrenal",), lesions=1),
        None,
        ("local_therapy",),
    ),
    (
        "renal_like",
        dict(
            sex="male",
            age=61,
            histology="poorly_differentiated_carcinoma",
            sites=("lung", "bone"),
            bone_pattern="lytic",
            ihc={"CK7": NEG, "CK20": NEG, "PAX8": POS, "CD10": POS, "RCC": POS},
        ),
        "kidney",
        ("site_specific",),
    ),
]


def test_every_favourable_subtype_has_a_vignette() -> None:
    assert sorted(v[0] for v in FAVOURABLE_VIGNETTES) == sorted(FAVOURABLE_SUBTYPE_CODES)


@pytest.mark.parametrize(
    ("code", "fields", "primary", "decisions"),
    FAVOURABLE_VIGNETTES,
    ids=[v[0] for v in FAVOURABLE_VIGNETTES],
)
def test_favourable_subtype_vignette(
    code: str, fields: dict[str, Any], primary: str | None, decisions: tuple[str, ...]
) -> None:
    guidance = assess_case(case(**fields, ecog=1, workup=ALL_REPORTED))
    subtype = guidance.favourable_subtype
    assert subtype is not None and subtype.code == code
    assert subtype.source in SOURCES and subtype.evidence and subtype.manage_as
    if primary is not None:
        assert top_site(guidance) == primary
    # Workup complete: the subtype's own decisions lead, in their catalogue order.
    assert [o.code for o in guidance.options[: len(decisions)]] == list(decisions)
    assert "empiric_platinum_taxane" not in [o.code for o in guidance.options]
    contract = guidance_to_contract(guidance)["favourable_subtype"]
    assert contract == {"code": code, "manage_as": subtype.manage_as, "source": "ESMO23"}


# The same vignette, one fact changed, must lose the subtype.
NEAR_MISSES: list[tuple[str, str, dict[str, Any]]] = [
    ("peritoneal_serous_women", "a man", dict(sex="male")),
    ("peritoneal_serous_women", "no PAX8/WT1", dict(ihc={"CK7": POS, "CK20": NEG})),
    ("axillary_nodes_women", "a man", dict(sex="male")),
    ("axillary_nodes_women", "not isolated", dict(sites=("axillary_nodes", "liver"))),
    ("cervical_nodes_squamous", "adenocarcinoma", dict(histology="adenocarcinoma")),
    (
        "cervical_nodes_squamous",
        "supraclavicular [ESMO15]",
        dict(sites=("cervical_nodes", "supraclavicular_nodes")),
    ),
    ("inguinal_nodes_squamous", "not isolated", dict(sites=("inguinal_nodes", "lung"))),
    ("bone_blastic_psa_men", "PSA normal", dict(serum={"PSA": 2.1})),
    ("bone_blastic_psa_men", "lytic", dict(bone_pattern="lytic")),
    ("neuroendocrine", "adenocarcinoma", dict(histology="adenocarcinoma")),
    ("midline_germ_cell_men", "aged 55", dict(age=55)),
    ("midline_germ_cell_men", "markers normal", dict(serum={"beta-hCG": 1, "AFP": 4})),
    ("colorectal_profile", "CK7+", dict(ihc={"CK7": POS, "CK20": POS, "CDX2": POS})),
    ("single_metastasis", "two lesions", dict(lesions=2)),
    ("renal_like", "CK7+", dict(ihc={"CK7": POS, "CK20": NEG, "PAX8": POS, "CD10": POS})),
]


@pytest.mark.parametrize(
    ("code", "change", "override"), NEAR_MISSES, ids=[f"{c}-{w}" for c, w, _ in NEAR_MISSES]
)
def test_near_miss_loses_the_subtype(code: str, change: str, override: dict[str, Any]) -> None:
    fields = next(f for c, f, _, _ in FAVOURABLE_VIGNETTES if c == code)
    guidance = assess_case(case(**{**fields, **override}))
    matched = [guidance.favourable_subtype, *guidance.other_favourable_subtypes]
    assert code not in [m.code for m in matched if m is not None]


def test_neuroendocrine_is_managed_by_grade() -> None:
    net = assess_case(case(histology="neuroendocrine_tumour")).favourable_subtype
    nec = assess_case(case(histology="neuroendocrine_carcinoma")).favourable_subtype
    assert net is not None and nec is not None
    assert "platinum-etoposide" in nec.manage_as
    assert "platinum" not in net.manage_as


def test_colorectal_profile_by_gene_expression_alone() -> None:
    fields = dict(histology="adenocarcinoma", sites=("liver",))
    confident = assess_case(
        case(**fields, tissue_of_origin="colorectal", tissue_of_origin_confidence=0.91)
    )
    unsure = assess_case(
        case(**fields, tissue_of_origin="colorectal", tissue_of_origin_confidence=0.5)
    )
    assert confident.favourable_subtype is not None
    assert confident.favourable_subtype.code == "colorectal_profile"
    assert unsure.favourable_subtype is None


def test_several_subtypes_add_their_decisions() -> None:
    # One squamous cervical node: head and neck management plus local therapy [ESMO23].
    guidance = assess_case(
        case(
            histology="squamous_cell_carcinoma",
            sites=("cervical_nodes",),
            lesions=1,
            workup=ALL_REPORTED,
            ecog=0,
        )
    )
    assert guidance.favourable_subtype is not None
    assert guidance.favourable_subtype.code == "cervical_nodes_squamous"
    assert [m.code for m in guidance.other_favourable_subtypes] == ["single_metastasis"]


# ---------------------------------------------------------------------------------
# CK7/CK20 quadrants with their site-specific markers [CHU00], [ESMO23]

QUADRANT_VIGNETTES: list[tuple[str, str, dict[str, Any], str, list[str]]] = [
    (
        "lung",
        "male",
        {"CK7": POS, "CK20": NEG, "TTF-1": POS, "Napsin A": POS},
        "CK7+/CK20-",
        ["TTF-1+", "Napsin A+"],
    ),
    (
        "breast",
        "female",
        {"CK7": POS, "CK20": NEG, "GATA3": POS, "ER": POS, "Mammaglobin": POS},
        "CK7+/CK20-",
        ["GATA3+", "ER+", "Mammaglobin+"],
    ),
    (
        "thyroid",
        "female",
        {"CK7": POS, "CK20": NEG, "Thyroglobulin": POS, "TTF-1": POS, "PAX8": POS},
        "CK7+/CK20-",
        ["Thyroglobulin+", "PAX8+"],
    ),
    (
        "mesothelioma",
        "male",
        {"CK7": POS, "CK20": NEG, "Calretinin": POS, "D2-40": POS, "WT1": POS},
        "CK7+/CK20-",
        ["Calretinin+", "D2-40+"],
    ),
    (
        "urothelial",
        "male",
        {"CK7": POS, "CK20": POS, "Uroplakin": POS, "GATA3": POS, "p63": POS},
        "CK7+/CK20+",
        ["Uroplakin+", "p63+"],
    ),
    ("upper_gi", "male", {"CK7": POS, "CK20": POS, "CDX2": POS}, "CK7+/CK20+", ["CDX2+"]),
    (
        "colorectal",
        "female",
        {"CK7": NEG, "CK20": POS, "CDX2": POS, "SATB2": POS},
        "CK7-/CK20+",
        ["CDX2+", "SATB2+"],
    ),
    (
        "prostate",
        "male",
        {"CK7": NEG, "CK20": NEG, "NKX3.1": POS, "PSA": POS},
        "CK7-/CK20-",
        ["NKX3.1+", "PSA+"],
    ),
    (
        "liver",
        "male",
        {"CK7": NEG, "CK20": NEG, "HepPar-1": POS, "Arginase-1": POS},
        "CK7-/CK20-",
        ["HepPar-1+", "Arginase-1+"],
    ),
    (
        "kidney",
        "female",
        {"CK7": NEG, "CK20": NEG, "PAX8": POS, "CD10": POS, "RCC": POS},
        "CK7-/CK20-",
        ["PAX8+", "RCC+"],
    ),
]


@pytest.mark.parametrize(
    ("site", "sex", "ihc", "quadrant", "markers"),
    QUADRANT_VIGNETTES,
    ids=[v[0] for v in QUADRANT_VIGNETTES],
)
def test_quadrant_and_markers_rank_the_primary(
    site: str, sex: str, ihc: dict[str, str], quadrant: str, markers: list[str]
) -> None:
    guidance = assess_case(case(sex=sex, histology="adenocarcinoma", ihc=ihc))
    assert top_site(guidance) == site
    evidence = evidence_of(guidance, site)
    assert evidence[0] == quadrant
    assert set(markers) <= set(evidence)
    assert all(s in SOURCES for s in guidance.likely_primaries[0].sources)


def test_quadrant_alone_lists_its_sites_and_nothing_else() -> None:
    guidance = assess_case(case(sex="male", ihc={"CK7": NEG, "CK20": POS}))
    # Version 2: Merkel cell carcinoma has its own primary-site code, "skin".
    assert set(ranked_sites(guidance)) == {"colorectal", "skin"}


def test_equivocal_ck_gives_no_quadrant() -> None:
    guidance = assess_case(case(ihc={"CK7": EQ, "CK20": NEG}))
    assert guidance.likely_primaries == ()


def test_nothing_points_anywhere() -> None:
    guidance = assess_case(case(histology="adenocarcinoma", sites=("liver",)))
    assert guidance.likely_primaries == ()


def test_ck7_positive_lowers_colorectal_below_upper_gi() -> None:
    guidance = assess_case(case(ihc={"CK7": POS, "CK20": POS, "CDX2": POS}))
    sites = ranked_sites(guidance)
    assert sites.index("upper_gi") < sites.index("colorectal")
    colorectal = next(p for p in guidance.likely_primaries if p.site == "colorectal")
    assert [f.text for f in colorectal.against] == ["CK7+"]


def test_key_negative_lowers_a_site() -> None:
    with_ttf1 = assess_case(case(ihc={"CK7": POS, "CK20": NEG, "Napsin A": POS}))
    without = assess_case(case(ihc={"CK7": POS, "CK20": NEG, "Napsin A": POS, "TTF-1": NEG}))
    lung = next(p for p in with_ttf1.likely_primaries if p.site == "lung")
    lowered = next(p for p in without.likely_primaries if p.site == "lung")
    assert lowered.score < lung.score


def test_marker_names_match_whatever_the_spelling() -> None:
    canonical = case(ihc={"CK7": POS, "CK20": NEG, "TTF-1": POS, "Napsin A": POS})
    respelled = case(ihc={"ck-7": POS, "CK 20": NEG, "ttf1": POS, "NAPSIN_A": POS})
    assert respelled == canonical
    assert guidance_to_contract(assess_case(respelled)) == guidance_to_contract(
        assess_case(canonical)
    )


def test_serum_markers_point_to_sites() -> None:
    man = assess_case(case(sex="male", histology="adenocarcinoma", serum={"PSA": 45}))
    assert top_site(man) == "prostate"
    assert evidence_of(man, "prostate") == ["PSA 45 ng/mL"]
    woman = assess_case(case(serum={"CA-125": 400}))
    assert top_site(woman) == "ovary"
    germ = assess_case(case(sex="male", age=30, serum={"β-hCG": 900}))
    assert top_site(germ) == "germ_cell"
    normal = assess_case(case(sex="male", serum={"PSA": 1.2, "AFP": 3, "beta-hCG": 1}))
    assert normal.likely_primaries == ()


def test_tissue_of_origin_is_weighted_by_confidence() -> None:
    high = assess_case(case(tissue_of_origin="lung", tissue_of_origin_confidence=0.9))
    higher = assess_case(case(tissue_of_origin="lung", tissue_of_origin_confidence=0.99))
    low = assess_case(case(tissue_of_origin="lung", tissue_of_origin_confidence=0.3))
    assert evidence_of(high, "lung") == ["TOO lung 0.9"]
    assert higher.likely_primaries[0].score > high.likely_primaries[0].score
    # Version 2: a call below 0.8 is not used, and says so.
    assert low.likely_primaries == ()
    assert "low_confidence_too" in [w.code for w in low.warnings]
    # GEP alone: shown, and flagged as no OS benefit [HAYASHI].
    assert any(w.source == "HAYASHI" for w in high.warnings)


def test_markers_outweigh_tissue_of_origin() -> None:
    guidance = assess_case(
        case(
            ihc={"CK7": POS, "CK20": NEG, "TTF-1": POS, "Napsin A": POS},
            tissue_of_origin="breast",
            tissue_of_origin_confidence=0.95,
        )
    )
    assert top_site(guidance) == "lung"
    assert not any(w.source == "HAYASHI" for w in guidance.warnings)


# ---------------------------------------------------------------------------------
# Sex [ESMO23]


def test_no_prostate_for_a_woman_and_no_ovary_for_a_man() -> None:
    prostate_ihc = {"CK7": NEG, "CK20": NEG, "NKX3.1": POS, "PSA": POS}
    assert "prostate" in ranked_sites(assess_case(case(sex="male", ihc=prostate_ihc)))
    assert "prostate" not in ranked_sites(assess_case(case(sex="female", ihc=prostate_ihc)))
    mullerian = {"CK7": POS, "CK20": NEG, "PAX8": POS, "WT1": POS, "ER": POS, "PR": POS}
    assert {"ovary", "endometrium"} <= set(ranked_sites(assess_case(case(ihc=mullerian))))
    male = set(ranked_sites(assess_case(case(sex="male", ihc=mullerian))))
    assert not male & {"ovary", "endometrium"}


def test_breast_ranks_first_in_a_man_only_on_breast_markers() -> None:
    fields = dict(
        sex="male",
        sites=("axillary_nodes",),
        tissue_of_origin="breast",
        tissue_of_origin_confidence=0.95,
    )
    unmarked = assess_case(case(**fields, ihc={"CK7": POS, "CK20": NEG}))
    assert "breast" in ranked_sites(unmarked) and top_site(unmarked) != "breast"
    marked = assess_case(case(**fields, ihc={"CK7": POS, "CK20": NEG, "GATA3": POS}))
    assert top_site(marked) == "breast"


# ---------------------------------------------------------------------------------
# Tumour-agnostic biomarkers [TA]

BIOMARKER_VIGNETTES: list[tuple[str, dict[str, Any], bool]] = [
    ("MSI-H", dict(msi="MSI-H"), True),
    ("dMMR", dict(mmr="deficient"), True),
    ("TMB-high", dict(tmb=12.5), True),
    ("NTRK fusion", dict(alterations=("ETV6::NTRK3 fusion",)), False),
    ("BRAF V600E", dict(alterations=("BRAF p.V600E",)), False),
    ("RET fusion", dict(alterations=("KIF5B-RET",)), False),
    ("HER2 3+", dict(ihc={"HER2": POS}), False),
]


def test_every_tumour_agnostic_biomarker_has_a_vignette() -> None:
    assert [v[0] for v in BIOMARKER_VIGNETTES] == list(TUMOUR_AGNOSTIC_NAMES)


@pytest.mark.parametrize(
    ("name", "fields", "immunotherapy"),
    BIOMARKER_VIGNETTES,
    ids=[v[0] for v in BIOMARKER_VIGNETTES],
)
def test_tumour_agnostic_biomarker(name: str, fields: dict[str, Any], immunotherapy: bool) -> None:
    guidance = assess_case(
        case(histology="adenocarcinoma", sites=("liver",), ecog=1, workup=ALL_REPORTED, **fields)
    )
    assert [b.biomarker for b in guidance.tumour_agnostic] == [name]
    assert guidance.immunotherapy_candidate is immunotherapy
    expected = TUMOUR_AGNOSTIC_BY_NAME[name]
    decision = "immunotherapy" if immunotherapy else "targeted_therapy"
    assert guidance.options[0].code == decision  # unfavourable, workup complete
    assert guidance_to_contract(guidance)["tumour_agnostic"] == [
        {"biomarker": name, "therapy": expected.therapy, "source": "TA"}
    ]


@pytest.mark.parametrize(
    "fields",
    [
        dict(tmb=9.9),
        dict(msi="MSS", mmr="proficient"),
        dict(alterations=("RET M918T",)),  # a RET mutation, not a fusion
        dict(alterations=("BRAF V600K",)),
        dict(alterations=("NTRK fusion not detected",)),
        dict(alterations=("NTRK1 G595R",)),
        dict(ihc={"HER2": EQ}),  # 2+ is not 3+
        dict(pdl1_tps=80.0, pdl1_cps=90.0),
    ],
    ids=[
        "tmb-9.9",
        "mss",
        "ret-mutation",
        "braf-v600k",
        "negated",
        "ntrk-mutation",
        "her2-2+",
        "pdl1",
    ],
)
def test_not_tumour_agnostic(fields: dict[str, Any]) -> None:
    guidance = assess_case(case(**fields))
    assert guidance.tumour_agnostic == ()
    assert guidance.immunotherapy_candidate is False
    assert "immunotherapy" not in [o.code for o in guidance.options]


@pytest.mark.parametrize(("tmb", "high"), [(10.0, True), (9.99, False)])
def test_tmb_threshold_is_ten_mutations_per_megabase(tmb: float, high: bool) -> None:
    names = [b.biomarker for b in assess_case(case(tmb=tmb)).tumour_agnostic]
    assert ("TMB-high" in names) is high


def test_pdl1_only_warns_and_is_not_a_candidate() -> None:
    pdl1_only = assess_case(case(pdl1_tps=60.0))
    assert [w.source for w in pdl1_only.warnings if "PD-L1" in w.text] == ["TA"]
    with_msi = assess_case(case(pdl1_tps=60.0, msi="MSI-H"))
    assert not any("PD-L1" in w.text for w in with_msi.warnings)
    negative = assess_case(case(pdl1_tps=0.0))
    assert not any("PD-L1" in w.text for w in negative.warnings)


# ---------------------------------------------------------------------------------
# Rule out first [ESMO23]

EXCLUSION_VIGNETTES: list[tuple[str, dict[str, Any], str]] = [
    ("lymphoma", dict(histology="poorly_differentiated_carcinoma", ihc={"CD45": POS}), "CD45+"),
    ("melanoma", dict(histology="poorly_differentiated_carcinoma", ihc={"SOX10": POS}), "SOX10+"),
    (
        "germ_cell",
        dict(sex="male", age=24, histology="poorly_differentiated_carcinoma", ihc={"OCT3/4": POS}),
        "OCT3/4+",
    ),
    (
        "sarcoma",
        dict(histology="other", ihc={"CK7": NEG, "CK20": NEG, "CD45": NEG}),
        "keratin-negative (CK7-/CK20-), not a carcinoma",
    ),
]


@pytest.mark.parametrize(
    ("entity", "fields", "evidence"),
    EXCLUSION_VIGNETTES,
    ids=[v[0] for v in EXCLUSION_VIGNETTES],
)
def test_exclude_first(entity: str, fields: dict[str, Any], evidence: str) -> None:
    guidance = assess_case(case(ecog=1, **fields))
    assert [e.entity for e in guidance.exclude_first] == [entity]
    assert evidence in guidance.exclude_first[0].evidence
    assert guidance.exclude_first[0].source == "ESMO23"
    assert any(entity.replace("_", "-") in w.text for w in guidance.warnings)
    # Not yet carcinoma of unknown primary: no empiric chemotherapy offered.
    options = [o.code for o in guidance.options]
    assert "further_workup" in options and "empiric_platinum_taxane" not in options


def test_keratin_negative_carcinoma_is_not_sarcoma() -> None:
    # Hepatocellular, renal and prostate carcinoma are CK7-/CK20- too [CHU00].
    guidance = assess_case(case(histology="adenocarcinoma", ihc={"CK7": NEG, "CK20": NEG}))
    assert guidance.exclude_first == ()


def test_undifferentiated_neoplasm_without_lineage_markers_rules_out_all() -> None:
    untested = assess_case(case(histology="undifferentiated_neoplasm"))
    assert [e.entity for e in untested.exclude_first] == [
        "lymphoma",
        "melanoma",
        "germ_cell",
        "sarcoma",
    ]
    tested = assess_case(
        case(
            histology="undifferentiated_neoplasm",
            ihc={"CD45": NEG, "SOX10": NEG, "SALL4": NEG, "CK7": POS, "CK20": NEG},
        )
    )
    assert tested.exclude_first == ()


def test_raised_beta_hcg_rules_out_germ_cell() -> None:
    guidance = assess_case(case(sex="male", age=30, serum={"beta-hCG": 50}))
    assert [e.entity for e in guidance.exclude_first] == ["germ_cell"]


# ---------------------------------------------------------------------------------
# Required workup, section 2 [ESMO23, NICE, SVF]

ALL_PATIENTS = {"history_exam", "blood_panel", "ct_cap", "biopsy", "histopathology_ihc"}


def test_sex_specific_workup() -> None:
    woman = set(required_investigations("female", ["liver"], "adenocarcinoma"))
    man = set(required_investigations("male", ["liver"], "adenocarcinoma"))
    assert woman >= ALL_PATIENTS and man >= ALL_PATIENTS
    assert "mammography" in woman and "psa" not in woman
    assert "psa" in man and "mammography" not in man


@pytest.mark.parametrize(
    ("sex", "sites", "histology", "extra", "code", "required"),
    [
        ("female", ["axillary_nodes"], "adenocarcinoma", {}, "breast_mri", True),
        ("female", ["liver"], "adenocarcinoma", {}, "breast_mri", False),
        ("male", ["axillary_nodes"], "adenocarcinoma", {}, "breast_mri", False),
        ("male", ["mediastinal_nodes"], None, {}, "afp_bhcg", True),
        ("male", ["retroperitoneal_nodes"], None, {}, "afp_bhcg", True),
        # Version 2: midline tumours in either sex [SVF block A].
        ("female", ["mediastinal_nodes"], None, {}, "afp_bhcg", True),
        ("female", ["lung"], None, {}, "afp_bhcg", False),
        ("female", ["liver"], None, {}, "afp_bhcg", True),  # isolated liver tumour [SVF]
        ("female", ["peritoneum"], None, {}, "ca125", True),
        ("male", ["peritoneum"], None, {}, "ca125", False),
        ("male", ["cervical_nodes"], "squamous_cell_carcinoma", {}, "pet_ct", True),
        ("male", ["cervical_nodes"], "squamous_cell_carcinoma", {}, "ent_panendoscopy", True),
        ("male", ["cervical_nodes"], "squamous_cell_carcinoma", {}, "hpv_ebv", True),
        ("male", ["cervical_nodes"], "adenocarcinoma", {}, "hpv_ebv", False),
        ("male", ["adrenal"], "adenocarcinoma", {"lesions": 1}, "pet_ct", True),
        # Version 2: oligometastatic (<= 5 lesions in <= 2 organs) before local therapy.
        ("male", ["adrenal"], "adenocarcinoma", {"lesions": 3}, "pet_ct", True),
        ("male", ["adrenal"], "adenocarcinoma", {"lesions": 6}, "pet_ct", False),
        ("male", ["liver"], None, {"ecog": 1}, "ngs", True),
        ("male", ["liver"], None, {"ecog": 2}, "ngs", False),
        ("male", ["liver"], None, {}, "ngs", False),
        ("male", ["liver"], None, {"ihc": {"CK7": NEG, "CK20": POS}}, "colonoscopy", True),
        ("male", ["liver"], None, {"ihc": {"CK7": POS, "CDX2": POS}}, "upper_endoscopy", True),
        ("male", ["liver"], None, {"ihc": {"CK7": NEG, "CDX2": POS}}, "upper_endoscopy", False),
        ("male", ["liver"], None, {"ihc": {"TTF-1": POS}}, "bronchoscopy", True),
        (
            "male",
            ["liver"],
            None,
            {"ihc": {"TTF-1": POS, "Thyroglobulin": POS}},
            "bronchoscopy",
            False,
        ),
        ("male", ["liver"], None, {}, "colonoscopy", False),  # never blind
        ("male", ["brain"], None, {}, "mri_brain", False),  # symptom-guided
        ("male", ["brain"], None, {"symptoms": ("neurological",)}, "mri_brain", True),
        ("male", ["liver"], None, {}, "gep", False),  # selected only [HAYASHI]
    ],
)
def test_required_investigation(
    sex: str,
    sites: list[str],
    histology: str | None,
    extra: dict[str, Any],
    code: str,
    required: bool,
) -> None:
    assert (code in required_investigations(sex, sites, histology, **extra)) is required


def test_required_investigations_in_catalogue_order_with_reasons() -> None:
    profile = case(sex="female", sites=("axillary_nodes",), ecog=0, lesions=1)
    codes = required_investigations("female", ["axillary_nodes"], ecog=0, lesions=1)
    assert list(codes) == [c for c in INVESTIGATION_CODES if c in codes]
    guidance = assess_case(profile)
    assert tuple(r.code for r in guidance.required_workup) == codes
    assert all(r.reason and r.source in SOURCES for r in guidance.required_workup)


@pytest.mark.parametrize(
    ("status", "missing"),
    [
        (None, True),
        ("to_request", True),
        ("requested", True),
        ("booked", True),
        ("done", False),
        ("reported", False),
        ("declined", False),
        ("not_indicated", False),
    ],
)
def test_missing_workup_by_status(status: str | None, missing: bool) -> None:
    workup = {**ALL_REPORTED}
    if status is None:
        del workup["mammography"]
    else:
        workup["mammography"] = status
    profile = case(sex="female", workup=workup)
    assert ("mammography" in missing_workup(profile)) is missing
    assert set(missing_workup(profile)) <= {"mammography"}


def test_missing_workup_comes_first_among_options() -> None:
    guidance = assess_case(case(histology="adenocarcinoma", sites=("axillary_nodes",), ecog=1))
    assert guidance.missing_workup
    assert guidance.options[0].code == "further_workup"
    assert guidance.options[0].source == "SVF"


# ---------------------------------------------------------------------------------
# Warnings: paediatric [SVF], ECOG >= 3 [ESMO23], decisions with missing workup [SVF]


@pytest.mark.parametrize(("age", "paediatric"), [(0, True), (17, True), (18, False), (90, False)])
def test_paediatric_warning(age: int, paediatric: bool) -> None:
    guidance = assess_case(case(age=age, histology="adenocarcinoma", ecog=0))
    flagged = [w for w in guidance.warnings if "paediatric" in w.text]
    assert bool(flagged) is paediatric
    assert all(w.source == "SVF" for w in flagged)


@pytest.mark.parametrize(("ecog", "flagged"), [(0, False), (2, False), (3, True), (4, True)])
def test_poor_performance_flags_supportive_care(ecog: int, flagged: bool) -> None:
    guidance = assess_case(case(histology="adenocarcinoma", ecog=ecog, workup=ALL_REPORTED))
    bsc_warnings = [w for w in guidance.warnings if "best supportive care" in w.text]
    assert bool(bsc_warnings) is flagged
    options = [o.code for o in guidance.options]
    if flagged:
        # Offered first for the board to discuss, never decided here.
        assert options[0] == "best_supportive_care"
        assert "the board decides" in bsc_warnings[0].text
        assert "empiric_platinum_taxane" not in options
    else:
        assert options[0] == "empiric_platinum_taxane"


def test_unfit_patient_is_offered_supportive_care_before_more_workup() -> None:
    guidance = assess_case(case(histology="adenocarcinoma", ecog=4))
    assert guidance.missing_workup
    assert [o.code for o in guidance.options] == ["best_supportive_care", "further_workup"]


def test_favourable_subtype_with_poor_performance_keeps_its_treatment_first() -> None:
    fields = next(f for c, f, _, _ in FAVOURABLE_VIGNETTES if c == "bone_blastic_psa_men")
    guidance = assess_case(case(**fields, ecog=3, workup=ALL_REPORTED))
    assert [o.code for o in guidance.options] == ["site_specific", "best_supportive_care"]
    assert any("best supportive care" in w.text for w in guidance.warnings)


def test_fit_unfavourable_case_is_offered_empiric_chemotherapy_and_a_trial() -> None:
    guidance = assess_case(case(histology="adenocarcinoma", ecog=1, workup=ALL_REPORTED))
    assert [o.code for o in guidance.options] == ["empiric_platinum_taxane", "clinical_trial"]
    assert guidance.options[1].source == "CUPISCO"


def test_decision_with_missing_workup_warns() -> None:
    incomplete = case(sex="female", histology="adenocarcinoma", ecog=1, workup={"ct_cap": "done"})
    warnings = decision_warnings(incomplete, "empiric_platinum_taxane")
    outstanding = [w for w in warnings if "outstanding" in w]
    assert len(outstanding) == 1 and "Mammography" in outstanding[0]
    assert outstanding[0].endswith("[SVF]")
    assert not any("outstanding" in w for w in decision_warnings(incomplete, "further_workup"))
    complete = case(sex="female", histology="adenocarcinoma", ecog=1, workup=ALL_REPORTED)
    assert decision_warnings(complete, "empiric_platinum_taxane") == ()


@pytest.mark.parametrize("decision", [d for d in DECISION_CODES if d != "further_workup"])
def test_every_treatment_decision_warns_on_missing_workup(decision: str) -> None:
    notes = decision_notes(case(histology="adenocarcinoma"), decision)
    assert any("outstanding" in n.text and n.source == "SVF" for n in notes)


def test_immunotherapy_decision_without_biomarker_warns() -> None:
    without = case(histology="adenocarcinoma", pdl1_tps=90.0, workup=ALL_REPORTED)
    assert [n.source for n in decision_notes(without, "immunotherapy")] == ["TA"]
    with_msi = case(histology="adenocarcinoma", msi="MSI-H", workup=ALL_REPORTED)
    assert decision_notes(with_msi, "immunotherapy") == ()


def test_unknown_decision_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown decision"):
        decision_warnings(case(), "chemo")


# ---------------------------------------------------------------------------------
# Prognosis [CULINE]


@pytest.mark.parametrize(
    ("ecog", "ldh", "group"),
    [
        (0, "normal", "good"),
        (1, "normal", "good"),
        (1, "raised", "poor"),
        (2, "normal", "poor"),
        (2, None, "poor"),
        (None, "raised", "poor"),
        (0, None, "unknown"),
        (None, "normal", "unknown"),
        (None, None, "unknown"),
    ],
)
def test_prognosis(ecog: int | None, ldh: str | None, group: str) -> None:
    serum = {"LDH": ldh} if ldh else {}
    prognosis = assess_case(case(ecog=ecog, serum=serum)).prognosis
    assert prognosis.group == group
    assert prognosis.source == "CULINE" and prognosis.reason


def test_liver_metastases_are_named_in_the_prognosis() -> None:
    prognosis = assess_case(case(ecog=1, serum={"LDH": "normal"}, sites=("liver",))).prognosis
    assert "liver" in prognosis.reason


# ---------------------------------------------------------------------------------
# The contract shape


def test_contract_has_exactly_the_contract_keys() -> None:
    contract = guidance_to_contract(assess_case(case()))
    assert list(contract) == [
        "favourable_subtype",
        "primary_found",
        "likely_primaries",
        "exclude_first",
        "tumour_agnostic",
        "immunotherapy_candidate",
        "missing_workup",
        "prognosis",
        "options",
        "referrals_to_consider",
        "conflicts",
        "warnings",
        "warning_codes",
    ]


def test_every_option_and_warning_carries_a_known_source() -> None:
    guidance = assess_case(
        case(age=16, histology="undifferentiated_neoplasm", pdl1_tps=50.0, ecog=3)
    )
    assert guidance.warnings and guidance.options
    assert all(w.source in SOURCES for w in guidance.warnings)
    assert all(o.source in SOURCES and o.reason for o in guidance.options)


def test_profile_is_an_immutable_value() -> None:
    profile = case(ihc={"CK7": POS}, sites=("liver", "liver"))
    assert profile.sites == ("liver",)
    assert hash(profile) == hash(case(ihc={"ck7": POS}, sites=("liver",)))
    with pytest.raises(TypeError):
        profile.ihc["CK7"] = NEG  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown IHC marker"):
        case(ihc={"Vimentin": POS})


def test_melanoma_histology_is_managed_as_melanoma() -> None:
    guidance = assess_case(case(histology="melanoma", ecog=1, workup=ALL_REPORTED))
    assert top_site(guidance) == "melanoma"
    assert [e.entity for e in guidance.exclude_first] == ["melanoma"]
    # Version 2: a fit patient with no primary found can always be offered a trial.
    assert [o.code for o in guidance.options] == ["site_specific", "clinical_trial"]
    with_cd45 = assess_case(
        case(histology="melanoma", ihc={"CD45": POS}, ecog=1, workup=ALL_REPORTED)
    )
    assert [o.code for o in with_cd45.options] == [
        "site_specific",
        "further_workup",
        "clinical_trial",
    ]
