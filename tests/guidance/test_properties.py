"""Properties: any profile within the contract is assessed without a crash, and the
output always has the contract's shape (docs/assess-contract.md); and the principle of
version 2 holds for any profile: nothing fires without evidence, evidence against a
presumption can only take a subtype away, an unrelated negative changes nothing, and
not done or equivocal is never negative."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cupboard.assess import ProfileError, profile_from_json, profile_to_json
from cupboard.guidance import (
    ALTERATION_KINDS,
    CaseProfile,
    assess_case,
    guidance_to_contract,
    profile_requirements,
    tissue_profiles,
)
from cupboard.knowledge.biomarkers import IMMUNOTHERAPY_BIOMARKERS, TUMOUR_AGNOSTIC_NAMES
from cupboard.knowledge.decisions import DECISION_CODES
from cupboard.knowledge.favourable_subtypes import FAVOURABLE_SUBTYPE_CODES
from cupboard.knowledge.histology import HISTOLOGY_CODES, MMR_STATUSES, MSI_STATUSES
from cupboard.knowledge.ihc_patterns import EXCLUSION_CODES
from cupboard.knowledge.investigations import (
    INVESTIGATION_CODES,
    INVESTIGATION_STATUS_CODES,
    MISSING_STATUSES,
)
from cupboard.knowledge.markers import IHC_MARKERS, IHC_RESULTS
from cupboard.knowledge.referrals import REFERRAL_KIND_CODES
from cupboard.knowledge.sites import (
    BONE_PATTERNS,
    METASTATIC_SITE_CODES,
    PRIMARY_SITE_CODES,
    SYMPTOM_CODES,
)
from cupboard.knowledge.sources import SOURCES

PROFILE_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _respell(name: str) -> st.SearchStrategy[str]:
    """The spellings the contract says must match: TTF-1 = TTF1 = ttf-1."""
    squeezed = "".join(c for c in name if c.isalnum())
    return st.sampled_from([name, name.lower(), name.upper(), squeezed, squeezed.lower()])


@st.composite
def ihc_panels(draw: st.DrawFn) -> dict[str, Any]:
    markers = draw(st.lists(st.sampled_from(IHC_MARKERS), unique=True, max_size=14))
    panel: dict[str, Any] = {
        draw(_respell(m.name)): draw(st.sampled_from(IHC_RESULTS)) for m in markers
    }
    if draw(st.booleans()):
        panel[draw(st.sampled_from(["Ki-67", "ki67", "KI-67"]))] = draw(amounts(100))
    return panel


def amounts(high: float = 1e6) -> st.SearchStrategy[float | int]:
    return st.one_of(
        st.integers(0, int(high)),
        st.floats(0, high, allow_nan=False, allow_infinity=False),
    )


ALTERATIONS = st.one_of(
    st.sampled_from(
        [
            "BRAF V600E",
            "BRAF V600K",
            "ETV6::NTRK3 fusion",
            "NTRK1 fusion not detected",
            "KIF5B-RET",
            "RET M918T",
            "KRAS G12D",
            "TP53 R273H",
            "RET-mutant (M918T)",
            "NTRK1-positive (pan-TRK IHC)",
            "EML4-ALK negative, BRAF V600E",
            "EGFR exon 19 deletion; TP53 WT",
            "KRAS G12C",
            "MET exon 14 skipping",
            "ERBB2 amplification",
        ]
    ),
    st.text(min_size=1, max_size=30).filter(str.strip),
    st.fixed_dictionaries(
        {
            "gene": st.sampled_from(["RET", "NTRK1", "BRAF", "EGFR", "ALK", "TP53", "FGFR2"]),
            "kind": st.sampled_from(ALTERATION_KINDS),
        },
        optional={
            "variant": st.sampled_from(["V600E", "KIF5B-RET", "G12C", "L858R"]),
            "detected": st.booleans(),
        },
    ),
)

MOLECULAR = st.fixed_dictionaries(
    {},
    optional={
        "MSI": st.sampled_from(MSI_STATUSES),
        "MMR": st.sampled_from(MMR_STATUSES),
        "TMB": amounts(200),
        "PD-L1_TPS": amounts(100),
        "PD-L1_CPS": amounts(100),
        "alterations": st.lists(ALTERATIONS, max_size=4),
        "tissue_of_origin": st.fixed_dictionaries(
            {
                "site": st.sampled_from(PRIMARY_SITE_CODES),
                "confidence": st.floats(0, 1, allow_nan=False),
            }
        ),
    },
)

SERUM = st.fixed_dictionaries(
    {},
    optional={
        "PSA": amounts(5000),
        "AFP": amounts(50000),
        "beta-hCG": amounts(100000),
        "CA-125": amounts(10000),
        "LDH": st.sampled_from(["normal", "raised"]),
    },
)

PROFILES = st.fixed_dictionaries(
    {"sex": st.sampled_from(["female", "male"]), "age": st.integers(0, 130)},
    optional={
        "histology": st.sampled_from(HISTOLOGY_CODES),
        "sites": st.lists(st.sampled_from(METASTATIC_SITE_CODES), max_size=5),
        "bone_pattern": st.sampled_from(list(BONE_PATTERNS)),
        "lesions": st.integers(1, 60),
        "ihc": ihc_panels(),
        "serum": SERUM,
        "molecular": MOLECULAR,
        "ecog": st.integers(0, 5),
        "workup": st.dictionaries(
            st.sampled_from(INVESTIGATION_CODES), st.sampled_from(INVESTIGATION_STATUS_CODES)
        ),
        "history": st.fixed_dictionaries(
            {},
            optional={
                "previous_malignancy": st.sampled_from(PRIMARY_SITE_CODES),
                "pregnant": st.booleans(),
                "germline_tested": st.booleans(),
            },
        ),
        "symptoms": st.lists(st.sampled_from(SYMPTOM_CODES), max_size=3),
        "unknown_key": st.integers(),
    },
)

CONTRACT_KEYS = [
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
CONFLICT_CODES = {
    "subtype_contradicted",
    "msi_mmr_discordant",
    "too_vs_ihc",
    "inconsistent_lesion_count",
    "marker_conflict",
}
# The contract's warning codes, and the project's own for its other warnings
# (docs/assess-contract.md).
WARNING_CODES = {
    "paediatric",
    "ecog_3_plus",
    "missing_required_workup",
    "pd_l1_not_tumour_agnostic",
    "previous_malignancy",
    "pregnancy_hcg",
    "low_confidence_too",
    "no_histology",
    "rule_out_first",
    "ecog_not_recorded",
    "too_alone",
}


def _unique(items: list[Any]) -> bool:
    return len(items) == len(set(items))


def _assert_contract_shape(out: dict[str, Any], data: dict[str, Any]) -> None:
    assert list(out) == CONTRACT_KEYS

    subtype = out["favourable_subtype"]
    if subtype is not None:
        assert set(subtype) == {"code", "manage_as", "source"}
        assert subtype["code"] in FAVOURABLE_SUBTYPE_CODES
        assert isinstance(subtype["manage_as"], str) and subtype["manage_as"]
        assert subtype["source"] in SOURCES

    primaries = out["likely_primaries"]
    assert isinstance(primaries, list)
    for primary in primaries:
        assert set(primary) == {"site", "evidence"}
        assert primary["site"] in PRIMARY_SITE_CODES
        assert primary["evidence"] and all(isinstance(e, str) and e for e in primary["evidence"])
    assert _unique([p["site"] for p in primaries])

    assert all(e in EXCLUSION_CODES for e in out["exclude_first"])
    assert _unique(out["exclude_first"])

    for biomarker in out["tumour_agnostic"]:
        assert set(biomarker) == {"biomarker", "therapy", "source"}
        assert biomarker["biomarker"] in TUMOUR_AGNOSTIC_NAMES
        assert isinstance(biomarker["therapy"], str) and biomarker["therapy"]
        assert biomarker["source"] in SOURCES
    names = [b["biomarker"] for b in out["tumour_agnostic"]]
    assert _unique(names)

    assert out["immunotherapy_candidate"] is bool(IMMUNOTHERAPY_BIOMARKERS & set(names))

    required = [r.code for r in profile_requirements(profile_from_json(data))]
    missing = out["missing_workup"]
    assert set(missing) <= set(required)
    assert missing == [c for c in INVESTIGATION_CODES if c in missing]  # catalogue order
    workup = data.get("workup", {})
    for code in required:
        status = workup.get(code)
        assert (code in missing) is (status is None or status in MISSING_STATUSES)

    assert out["prognosis"] in ("good", "poor", "unknown")

    assert all(o in DECISION_CODES for o in out["options"]) and _unique(out["options"])
    assert out["options"], "there is always something to discuss"

    for warning in out["warnings"]:
        assert isinstance(warning, str) and warning and "\n" not in warning
    assert len(out["warning_codes"]) == len(out["warnings"])
    assert set(out["warning_codes"]) <= WARNING_CODES
    assert ("missing_required_workup" in out["warning_codes"]) is bool(missing)

    found = out["primary_found"]
    if found is not None:
        assert set(found) == {"site", "evidence"} and found["site"] in PRIMARY_SITE_CODES
        assert primaries[0]["site"] == found["site"]
        assert out["options"][0] == "site_specific"
    referral_codes = [r["code"] for r in out["referrals_to_consider"]]
    assert len(referral_codes) == len(set(referral_codes))
    for referral in out["referrals_to_consider"]:
        assert set(referral) == {"code", "reason", "source"}
        assert referral["code"] in REFERRAL_KIND_CODES and referral["source"] in SOURCES
        assert referral["reason"] and "\n" not in referral["reason"]
    if data.get("history", {}).get("germline_tested") is True:
        assert "clinical_genetics" not in referral_codes
    for conflict in out["conflicts"]:
        assert set(conflict) == {"code", "message"} and conflict["code"] in CONFLICT_CODES
        assert conflict["message"] and "\n" not in conflict["message"]
    # Exclusions never remove every option: a fit (or unassessed) patient without a
    # primary found can always be offered a trial.
    ecog = data.get("ecog")
    if found is None and (ecog is None or ecog <= 2):
        assert "clinical_trial" in out["options"]


@PROFILE_SETTINGS
@given(PROFILES)
def test_any_contract_profile_gives_a_contract_shaped_answer(data: dict[str, Any]) -> None:
    out = guidance_to_contract(assess_case(profile_from_json(data)))
    _assert_contract_shape(out, data)
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out


@PROFILE_SETTINGS
@given(PROFILES)
def test_clinical_invariants(data: dict[str, Any]) -> None:
    profile = profile_from_json(data)
    guidance = assess_case(profile)
    sites = [p.site for p in guidance.likely_primaries]
    options = [o.code for o in guidance.options]
    # Anatomy [ESMO23].
    if profile.sex == "female":
        assert "prostate" not in sites
    else:
        assert not {"ovary", "endometrium"} & set(sites)
    # Best supported first.
    scores = [p.score for p in guidance.likely_primaries]
    if guidance.primary_found is not None:
        scores = scores[1:]  # a primary found on tissue leads whatever the scores
    if profile.sex == "female":
        assert scores == sorted(scores, reverse=True)
    # Paediatric pathway [SVF].
    assert any("paediatric" in w.text for w in guidance.warnings) is (profile.age < 18)
    # ECOG >= 3: best supportive care is raised for discussion, never decided [ESMO23].
    if profile.ecog is not None and profile.ecog >= 3:
        assert "best_supportive_care" in options
        if guidance.favourable_subtype is None and guidance.primary_found is None:
            assert options[0] == "best_supportive_care"
    # Missing workup comes first (after a primary found on tissue, and after supportive
    # care when the patient is unfit).
    ahead = 0
    if guidance.primary_found is not None:
        assert options[0] == "site_specific"
        ahead = 1
    if options[ahead] == "best_supportive_care":
        ahead += 1
    if guidance.missing_workup:
        assert options[ahead] == "further_workup"
    # Every warning, option and evidence item carries a known source.
    assert all(w.source in SOURCES for w in guidance.warnings)
    assert all(o.source in SOURCES for o in guidance.options)
    assert all(s in SOURCES for p in guidance.likely_primaries for s in p.sources)
    assert all(c.source in SOURCES for c in guidance.conflicts)


@PROFILE_SETTINGS
@given(PROFILES)
def test_profile_round_trips_through_json(data: dict[str, Any]) -> None:
    profile = profile_from_json(data)
    assert profile_from_json(json.loads(json.dumps(profile_to_json(profile)))) == profile


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

TOP_LEVEL_KEYS = [
    "sex",
    "age",
    "histology",
    "sites",
    "bone_pattern",
    "lesions",
    "ihc",
    "serum",
    "molecular",
    "ecog",
    "workup",
    "history",
    "symptoms",
]


@settings(max_examples=400, deadline=None, database=None)
@given(PROFILES, st.sampled_from(TOP_LEVEL_KEYS), JSON_VALUES)
def test_a_broken_field_is_named_or_accepted(data: dict[str, Any], key: str, value: object) -> None:
    broken = {**data, key: value}
    try:
        profile = profile_from_json(broken)
    except ProfileError as error:
        assert error.field.split(".")[0].split("[")[0] == key
        assert "\n" not in str(error) and str(error).startswith(f"{error.field}: ")
        return
    # Accepted: then it was a valid value, and it is assessed like any other.
    guidance_to_contract(assess_case(profile))
    if key in ("age", "ecog", "lesions") and value is not None:
        assert isinstance(value, int) and not isinstance(value, bool)


@settings(max_examples=300, deadline=None, database=None)
@given(JSON_VALUES)
def test_any_json_is_a_profile_or_a_profile_error(value: object) -> None:
    try:
        profile_from_json(value)
    except ProfileError as error:
        assert "\n" not in str(error)


# ---------------------------------------------------------------------------------
# The principle of version 2 (docs/clinical-rules.md), for any profile

# Markers of a lineage that no favourable subtype needs as a positive: made positive,
# they can only speak against a subtype's presumption.
CONTRADICTING_MARKERS = [
    "TTF-1",
    "Napsin A",
    "SOX10",
    "HMB45",
    "Melan-A",
    "HepPar-1",
    "Arginase-1",
    "Uroplakin",
    "Thyroglobulin",
    "CD45",
    "Calretinin",
]

# Markers whose negative result no rule reads: the panel's other stains, so a negative
# one is not evidence for or against anything (docs/clinical-rules.md).
UNRELATED_NEGATIVES = [
    "Napsin A",
    "Mammaglobin",
    "GCDFP-15",
    "ER",
    "PR",
    "WT1",
    "HepPar-1",
    "Glypican-3",
    "Synaptophysin",
    "Chromogranin A",
    "INSM1",
    "p40",
    "p63",
    "CK5/6",
    "Uroplakin",
    "CD10",
    "RCC",
    "p16",
    "HER2",
    "TRPS1",
    "Calcitonin",
    "AR",
    "NUT",
    "EBER",
    "Neurofilament",
    "HNF1B",
    "CD138",
    "kappa",
    "lambda",
    "SMARCB1",
    "PSAP",
    "Thyroglobulin",
]

# Entities to rule out whose markers, equivocal, still leave them to rule out.
EXCLUSION_MARKERS = ["CD45", "SOX10", "HMB45", "Melan-A", "SALL4", "OCT3/4", "PLAP"]


def _subtypes(profile: CaseProfile) -> set[str]:
    guidance = assess_case(profile)
    found = (guidance.favourable_subtype, *guidance.other_favourable_subtypes)
    return {s.code for s in found if s is not None}


def _with_ihc(profile: CaseProfile, marker: str, result: str) -> CaseProfile:
    return dataclasses.replace(profile, ihc={**profile.ihc, marker: result})


@PROFILE_SETTINGS
@given(PROFILES, st.sampled_from(CONTRADICTING_MARKERS))
def test_a_contradicting_marker_never_adds_a_subtype(data: dict[str, Any], marker: str) -> None:
    profile = profile_from_json(data)
    if profile.ihc.get(marker) == "positive":
        return
    before = _subtypes(profile)
    after = _subtypes(_with_ihc(profile, marker, "positive"))
    assert after <= before, (marker, before, after)


@PROFILE_SETTINGS
@given(PROFILES, st.sampled_from(UNRELATED_NEGATIVES))
def test_an_unrelated_negative_marker_changes_nothing(data: dict[str, Any], marker: str) -> None:
    profile = profile_from_json(data)
    if marker in profile.ihc:
        return
    before = guidance_to_contract(assess_case(profile))
    after = guidance_to_contract(assess_case(_with_ihc(profile, marker, "negative")))
    assert after == before


@PROFILE_SETTINGS
@given(PROFILES, st.sampled_from(EXCLUSION_MARKERS))
def test_equivocal_is_never_negative(data: dict[str, Any], marker: str) -> None:
    profile = profile_from_json(data)
    if marker in profile.ihc:
        return
    absent = {e.entity for e in assess_case(profile).exclude_first}
    equivocal = {
        e.entity for e in assess_case(_with_ihc(profile, marker, "equivocal")).exclude_first
    }
    negative = {e.entity for e in assess_case(_with_ihc(profile, marker, "negative")).exclude_first}
    # An equivocal stain rules nothing out that was still to rule out; a negative may.
    assert absent <= equivocal
    assert negative <= equivocal


@PROFILE_SETTINGS
@given(
    st.sampled_from(["female", "male"]),
    st.integers(18, 100),
    st.lists(st.sampled_from(METASTATIC_SITE_CODES), max_size=4),
    st.sampled_from([None, *HISTOLOGY_CODES]),
    st.one_of(st.none(), st.integers(0, 5)),
)
def test_nothing_fires_without_evidence(
    sex: str, age: int, sites: list[str], histology: str | None, ecog: int | None
) -> None:
    """Not done is not negative and not positive: with no IHC, serum or molecular result,
    no primary is found, no biomarker is flagged and no targeted or immunotherapy is
    offered."""
    guidance = assess_case(
        CaseProfile(sex=sex, age=age, sites=tuple(sites), histology=histology, ecog=ecog)
    )
    assert guidance.primary_found is None
    assert guidance.tumour_agnostic == ()
    options = {o.code for o in guidance.options}
    assert not options & {"immunotherapy", "targeted_therapy"}
    assert not any(c.code == "marker_conflict" for c in guidance.conflicts)


# The site each presumption-based subtype presumes (docs/clinical-rules.md).
PRESUMED_SITE = {
    "peritoneal_serous_women": "ovary",
    "axillary_nodes_women": "breast",
    "bone_blastic_psa_men": "prostate",
    "colorectal_profile": "colorectal",
    "renal_like": "kidney",
}


@PROFILE_SETTINGS
@given(PROFILES, st.sampled_from(CONTRADICTING_MARKERS))
def test_another_lineage_on_tissue_withdraws_a_presumption(
    data: dict[str, Any], marker: str
) -> None:
    """Evidence against a presumption wins: once the tissue shows another lineage and
    not the presumed site's own markers, the subtype is gone and the conflict shown."""
    profile = _with_ihc(profile_from_json(data), marker, "positive")
    profiles = tissue_profiles(profile)
    guidance = assess_case(profile)
    given_codes = {
        s.code
        for s in (guidance.favourable_subtype, *guidance.other_favourable_subtypes)
        if s is not None
    }
    for code, site in PRESUMED_SITE.items():
        others = set(profiles) - {site, "neuroendocrine"}
        if others and site not in profiles:
            assert code not in given_codes, (code, profiles)


@PROFILE_SETTINGS
@given(PROFILES)
def test_referral_prompts_alone_agree_with_the_whole_guidance(data: dict[str, Any]) -> None:
    """The worklist reads referral_prompts; the case page and assess the whole guidance."""
    from cupboard.guidance import referral_prompts

    profile = profile_from_json(data)
    assert referral_prompts(profile) == assess_case(profile).referrals_to_consider
