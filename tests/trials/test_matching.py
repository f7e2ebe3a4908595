"""Trial-matching vignettes: a case a board would recognise, a trial it could offer, and
the answer with its reason (eligible / possibly eligible with what would decide it / not
eligible with the criterion that fails). Nothing fires without evidence: not done is
unknown, never negative."""

from __future__ import annotations

from typing import Any

import pytest

from cupboard.guidance import Alteration, CaseProfile, assess_case
from cupboard.trials import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    POSSIBLY_ELIGIBLE,
    AlterationCriterion,
    CriteriaError,
    RegisteredTrial,
    TrialCriteria,
    best_matches,
    criteria_from_json,
    criteria_to_json,
    match,
    rank_matches,
)

POS, NEG, EQ = "positive", "negative", "equivocal"


def case(**fields: Any) -> CaseProfile:
    fields.setdefault("sex", "female")
    fields.setdefault("age", 60)
    return CaseProfile(**fields)


# A CUP adenocarcinoma with no pointer: CK7+/CK20+ is shared by several sites.
CUP = {"histology": "adenocarcinoma", "sites": ("liver", "bone"), "ecog": 1}
NTRK_FUSION = Alteration("NTRK1", "fusion", "TPM3-NTRK1")

# Trials
NTRK_BASKET = TrialCriteria(required_biomarkers=("NTRK fusion",), ecog_max=2, age_min=18)
CUP_CHEMO_IO = TrialCriteria(
    histologies=("adenocarcinoma", "poorly_differentiated_carcinoma"),
    scope="unknown_primary",
    ecog_max=1,
    age_min=18,
)
MSI_IO = TrialCriteria(required_biomarkers=("MSI-H", "dMMR"))
KRAS_G12C = TrialCriteria(
    required_alterations=(AlterationCriterion("KRAS", "mutation", "G12C"),), ecog_max=1
)
EGFR_EXCLUDED = TrialCriteria(excluded_alterations=(AlterationCriterion("EGFR", "mutation"),))
BREAST_LIKE = TrialCriteria(scope="sites", sites=("breast",), sex="female")
NO_BRAIN = TrialCriteria(brain_metastases_allowed=False)
SECOND_LINE = TrialCriteria(max_prior_lines=1)
HER2_ADC = TrialCriteria(required_biomarkers=("HER2 3+",))
ELDERLY = TrialCriteria(age_min=70, age_max=90)
MEN_ONLY = TrialCriteria(sex="male")
TMB_IO = TrialCriteria(required_biomarkers=("TMB-high",))
BRAF_TA = TrialCriteria(required_biomarkers=("BRAF V600E",))
SQUAMOUS = TrialCriteria(histologies=("squamous_cell_carcinoma",))

# (name, profile fields, trial, prior lines, expected state, a phrase the reason holds)
VIGNETTES: list[tuple[str, dict[str, Any], TrialCriteria, int | None, str, str]] = [
    (
        "NTRK basket, no molecular result: NGS not done decides it",
        CUP,
        NTRK_BASKET,
        None,
        POSSIBLY_ELIGIBLE,
        "NGS not done",
    ),
    (
        "NTRK basket, NGS requested: awaiting the result",
        {**CUP, "workup": {"ngs": "requested"}},
        NTRK_BASKET,
        None,
        POSSIBLY_ELIGIBLE,
        "NGS requested, no result yet",
    ),
    (
        "NTRK basket, fusion recorded: eligible with the fusion as evidence",
        {**CUP, "alterations": (NTRK_FUSION,)},
        NTRK_BASKET,
        None,
        ELIGIBLE,
        "TPM3-NTRK1",
    ),
    (
        "NTRK basket, fusion read from report text",
        {**CUP, "alterations": ("ETV6::NTRK3 fusion",)},
        NTRK_BASKET,
        None,
        ELIGIBLE,
        "ETV6::NTRK3",
    ),
    (
        "NTRK basket, a point mutation is not a fusion",
        {**CUP, "alterations": ("NTRK1 G595R mutation",), "workup": {"ngs": "reported"}},
        NTRK_BASKET,
        None,
        NOT_ELIGIBLE,
        "not found on the molecular report",
    ),
    (
        "NTRK basket, NGS reported negative for NTRK fusion",
        {**CUP, "alterations": (Alteration("NTRK", "fusion", detected=False),)},
        NTRK_BASKET,
        None,
        NOT_ELIGIBLE,
        "not detected",
    ),
    (
        "NTRK basket, fusion but ECOG 3",
        {**CUP, "ecog": 3, "alterations": (NTRK_FUSION,)},
        NTRK_BASKET,
        None,
        NOT_ELIGIBLE,
        "ECOG 3",
    ),
    (
        "NTRK basket, fusion, ECOG not recorded: assess at clinic",
        {**CUP, "ecog": None, "alterations": (NTRK_FUSION,)},
        NTRK_BASKET,
        None,
        POSSIBLY_ELIGIBLE,
        "ECOG not recorded",
    ),
    (
        "NTRK basket, a child of 12",
        {**CUP, "age": 12, "alterations": (NTRK_FUSION,)},
        NTRK_BASKET,
        None,
        NOT_ELIGIBLE,
        "age 12",
    ),
    (
        "CUP chemo-immunotherapy trial, unfavourable CUP adenocarcinoma",
        CUP,
        CUP_CHEMO_IO,
        None,
        ELIGIBLE,
        "primary unknown",
    ),
    (
        "CUP trial, histology not recorded: IHC decides",
        {"sites": ("liver",), "ecog": 0},
        CUP_CHEMO_IO,
        None,
        POSSIBLY_ELIGIBLE,
        "histology not recorded",
    ),
    (
        "CUP trial, melanoma histology fails",
        {**CUP, "histology": "melanoma"},
        CUP_CHEMO_IO,
        None,
        NOT_ELIGIBLE,
        "histology melanoma",
    ),
    (
        "CUP trial, prostate primary found on tissue",
        {
            **CUP,
            "sex": "male",
            "ihc": {"CK7": NEG, "CK20": NEG, "NKX3.1": POS, "PSA": POS},
            "sites": ("bone",),
            "bone_pattern": "blastic",
        },
        CUP_CHEMO_IO,
        None,
        NOT_ELIGIBLE,
        "primary found",
    ),
    (
        "CUP trial, woman with axillary nodes: a favourable subtype, not CUP proper",
        {
            "histology": "adenocarcinoma",
            "sites": ("axillary_nodes",),
            "ecog": 0,
            "ihc": {"CK7": POS, "CK20": NEG, "GATA3": POS},
        },
        CUP_CHEMO_IO,
        None,
        NOT_ELIGIBLE,
        "favourable subtype",
    ),
    (
        "MSI trial, MSS and MMR proficient",
        {**CUP, "msi": "MSS", "mmr": "proficient"},
        MSI_IO,
        None,
        NOT_ELIGIBLE,
        "MSI MSS",
    ),
    (
        "MSI trial, dMMR alone suffices (any one of the selection)",
        {**CUP, "mmr": "deficient"},
        MSI_IO,
        None,
        ELIGIBLE,
        "MMR deficient",
    ),
    (
        "MSI trial, MSS but MMR not tested: IHC would decide",
        {**CUP, "msi": "MSS"},
        MSI_IO,
        None,
        POSSIBLY_ELIGIBLE,
        "IHC not done",
    ),
    (
        "KRAS G12C trial, KRAS G12D is another variant",
        {**CUP, "alterations": ("KRAS G12D",)},
        KRAS_G12C,
        None,
        NOT_ELIGIBLE,
        "KRAS G12C not found",
    ),
    (
        "KRAS G12C trial, G12C recorded",
        {**CUP, "alterations": ("KRAS G12C, TP53 R273H",)},
        KRAS_G12C,
        None,
        ELIGIBLE,
        "KRAS G12C",
    ),
    (
        "Trial excluding EGFR mutations, no molecular result: unknown, not passed",
        CUP,
        EGFR_EXCLUDED,
        None,
        POSSIBLY_ELIGIBLE,
        "NGS not done",
    ),
    (
        "Trial excluding EGFR mutations, EGFR L858R recorded",
        {**CUP, "alterations": ("EGFR L858R",)},
        EGFR_EXCLUDED,
        None,
        NOT_ELIGIBLE,
        "EGFR L858R",
    ),
    (
        "Breast-directed trial, breast leads the likely primaries",
        {
            "histology": "adenocarcinoma",
            "sites": ("liver", "bone"),
            "ihc": {"CK7": POS, "CK20": NEG, "GATA3": POS, "ER": POS},
        },
        BREAST_LIKE,
        None,
        ELIGIBLE,
        "likely primary breast",
    ),
    (
        "Breast-directed trial, nothing points anywhere yet",
        {"histology": "adenocarcinoma", "sites": ("liver",)},
        BREAST_LIKE,
        None,
        POSSIBLY_ELIGIBLE,
        "nothing points to a primary",
    ),
    (
        "Trial without brain metastases, brain metastases recorded",
        {**CUP, "sites": ("brain", "lung")},
        NO_BRAIN,
        None,
        NOT_ELIGIBLE,
        "brain metastases recorded",
    ),
    (
        "Trial without brain metastases, no MRI brain: CT does not image the brain",
        CUP,
        NO_BRAIN,
        None,
        POSSIBLY_ELIGIBLE,
        "MRI brain not done",
    ),
    (
        "Trial without brain metastases, MRI brain reported clear",
        {**CUP, "workup": {"mri_brain": "reported"}},
        NO_BRAIN,
        None,
        ELIGIBLE,
        "no brain metastases on MRI",
    ),
    (
        "Second-line trial, prior lines not recorded",
        CUP,
        SECOND_LINE,
        None,
        POSSIBLY_ELIGIBLE,
        "prior systemic lines not recorded",
    ),
    (
        "Second-line trial, two prior lines",
        CUP,
        SECOND_LINE,
        2,
        NOT_ELIGIBLE,
        "2 prior systemic lines",
    ),
    (
        "HER2 ADC trial, HER2 equivocal: unknown, never negative",
        {**CUP, "ihc": {"HER2": EQ}},
        HER2_ADC,
        None,
        POSSIBLY_ELIGIBLE,
        "HER2 IHC equivocal",
    ),
    (
        "HER2 ADC trial, HER2 3+",
        {**CUP, "ihc": {"HER2": POS}},
        HER2_ADC,
        None,
        ELIGIBLE,
        "HER2 IHC 3+",
    ),
    (
        "Trial for the elderly, a woman of 60",
        CUP,
        ELDERLY,
        None,
        NOT_ELIGIBLE,
        "age >= 70",
    ),
    ("Trial for men, a woman", CUP, MEN_ONLY, None, NOT_ELIGIBLE, "patient is female"),
    (
        "TMB trial, TMB 4 mut/Mb",
        {**CUP, "tmb": 4.0},
        TMB_IO,
        None,
        NOT_ELIGIBLE,
        "below 10",
    ),
    (
        "BRAF V600E trial, BRAF V600E in a colorectal profile (label excludes it)",
        {
            **CUP,
            "ihc": {"CK7": NEG, "CK20": POS, "CDX2": POS, "SATB2": POS},
            "alterations": ("BRAF V600E",),
        },
        BRAF_TA,
        None,
        NOT_ELIGIBLE,
        "colorectal",
    ),
    (
        "Squamous trial, adenocarcinoma",
        CUP,
        SQUAMOUS,
        None,
        NOT_ELIGIBLE,
        "histology adenocarcinoma",
    ),
]


@pytest.mark.parametrize(
    ("fields", "trial", "prior_lines", "state", "reason"),
    [pytest.param(*v[1:], id=v[0]) for v in VIGNETTES],
)
def test_vignette(
    fields: dict[str, Any],
    trial: TrialCriteria,
    prior_lines: int | None,
    state: str,
    reason: str,
) -> None:
    profile = case(**fields)
    result = match(profile, assess_case(profile), trial, prior_lines)
    assert result.state == state, result
    if state == ELIGIBLE:
        texts = list(result.met)
        assert not result.unknown and not result.failed
    elif state == POSSIBLY_ELIGIBLE:
        texts = [f"{u.criterion}: {u.reason}" for u in result.unknown]
        assert not result.failed
    else:
        texts = [f"{f.criterion}: {f.reason}" for f in result.failed]
    assert any(reason in text for text in texts), texts


def test_unknown_names_the_investigation_that_decides_it() -> None:
    profile = case(**CUP)
    result = match(profile, assess_case(profile), NTRK_BASKET)
    assert [u.investigation for u in result.unknown] == ["ngs"]


def test_recording_the_fusion_moves_the_ntrk_trial_from_possibly_to_eligible() -> None:
    before = case(**CUP)
    after = case(**CUP, alterations=(NTRK_FUSION,))
    assert match(before, assess_case(before), NTRK_BASKET).state == POSSIBLY_ELIGIBLE
    assert match(after, assess_case(after), NTRK_BASKET).state == ELIGIBLE


def test_ranking_eligible_first_then_fewest_unknowns() -> None:
    profile = case(**CUP, alterations=(NTRK_FUSION,))
    trials = [
        RegisteredTrial("NCT00000003", "men only", MEN_ONLY),
        RegisteredTrial(
            "NCT00000002",
            "two unknowns",
            TrialCriteria(max_prior_lines=1, brain_metastases_allowed=False),
        ),
        RegisteredTrial("NCT00000004", "one unknown", SECOND_LINE),
        RegisteredTrial("NCT00000001", "NTRK", NTRK_BASKET),
    ]
    ranked = rank_matches(profile, assess_case(profile), trials)
    assert [r.trial.identifier for r in ranked] == [
        "NCT00000001",
        "NCT00000004",
        "NCT00000002",
        "NCT00000003",
    ]
    assert [r.trial.identifier for r in best_matches(ranked, 2)] == ["NCT00000001", "NCT00000004"]
    assert all(r.match.state != NOT_ELIGIBLE for r in best_matches(ranked, 10))


def test_criteria_round_trip_through_json() -> None:
    criteria = TrialCriteria(
        histologies=("adenocarcinoma",),
        required_biomarkers=("NTRK fusion",),
        required_alterations=(AlterationCriterion("KRAS", "mutation", "G12C"),),
        excluded_alterations=(AlterationCriterion("EGFR", "mutation"),),
        scope="sites",
        sites=("lung",),
        ecog_max=1,
        age_min=18,
        age_max=80,
        sex="female",
        max_prior_lines=2,
        brain_metastases_allowed=False,
    )
    assert criteria_from_json(criteria_to_json(criteria)) == criteria


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"histologies": ["carcinoma"]}, "criteria.histologies"),
        ({"required_biomarkers": ["PD-L1"]}, "criteria.required_biomarkers"),
        (
            {"required_alterations": [{"gene": "ALK", "kind": "rearranged"}]},
            "criteria.required_alterations[0].kind",
        ),
        ({"ecog_max": 7}, "criteria.ecog_max"),
        ({"scope": "sites"}, "criteria.sites"),
        ({"age_min": 70, "age_max": 18}, "criteria.age_max"),
        ({"brain_mets": False}, "criteria.brain_mets"),
        ({"sex": "any"}, "criteria.sex"),
    ],
)
def test_bad_criteria_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(CriteriaError) as error:
        criteria_from_json(data)
    assert error.value.field == field
