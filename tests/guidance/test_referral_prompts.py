"""Referrals to consider beside the decision (issue 21; docs/clinical-rules.md section 11).

Prompts, not decisions: each prompt has a vignette where the record supports it and one
where it must not appear.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from cupboard.assess import ProfileError, profile_from_json, profile_to_json, run_assess
from cupboard.guidance import assess_case, guidance_to_contract
from cupboard.knowledge.referrals import PROMPTED_REFERRAL_KINDS, REFERRAL_KIND_CODES
from cupboard.knowledge.sources import SOURCES

POS, NEG = "positive", "negative"
LUNG = {"CK7": POS, "CK20": NEG, "TTF-1": POS, "Napsin A": POS}
# A woman with isolated axillary nodes: the breast subtype, a favourable presentation.
AXILLARY = {"sex": "female", "age": 62, "histology": "adenocarcinoma", "sites": ["axillary_nodes"]}
# A man of 66 with lung-profile adenocarcinoma in liver and bone: unfavourable CUP.
UNFAVOURABLE = {
    "sex": "male",
    "age": 66,
    "histology": "adenocarcinoma",
    "sites": ["liver", "bone"],
    "bone_pattern": "lytic",
    "ihc": LUNG,
}


def prompts(case: dict[str, Any]) -> dict[str, dict[str, str]]:
    output = guidance_to_contract(assess_case(profile_from_json(case)))
    return {r["code"]: r for r in output["referrals_to_consider"]}


VIGNETTES: list[tuple[str, dict[str, Any], str, bool, str | None]] = [
    # name, case, referral code, prompted?, source tag when prompted
    (
        "MSI-H without a germline result: genetics for Lynch",
        {**AXILLARY, "molecular": {"MSI": "MSI-H"}},
        "clinical_genetics",
        True,
        "ESMO19HGI",
    ),
    (
        "dMMR, germline not tested (false): genetics for Lynch",
        {**UNFAVOURABLE, "molecular": {"MMR": "deficient"}, "history": {"germline_tested": False}},
        "clinical_genetics",
        True,
        "ESMO19HGI",
    ),
    (
        "MSI-H with a known germline result: no genetics prompt",
        {**UNFAVOURABLE, "molecular": {"MSI": "MSI-H"}, "history": {"germline_tested": True}},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "MSS and MMR proficient at 66: no genetics prompt",
        {**UNFAVOURABLE, "molecular": {"MSI": "MSS", "MMR": "proficient"}},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "TMB-high alone is not hereditary: no genetics prompt",
        {**UNFAVOURABLE, "molecular": {"TMB": 25}},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "CUP at 42: genetics",
        {**UNFAVOURABLE, "age": 42},
        "clinical_genetics",
        True,
        "ESMO19HGI",
    ),
    (
        "CUP at 50: not under 50, no genetics prompt",
        {**UNFAVOURABLE, "age": 50},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "at 42 with a known germline result: no genetics prompt",
        {**UNFAVOURABLE, "age": 42, "history": {"germline_tested": True}},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "at 16: the paediatric pathway, not this prompt",
        {**UNFAVOURABLE, "age": 16},
        "clinical_genetics",
        False,
        None,
    ),
    (
        "favourable subtype at ECOG 2: palliative care early",
        {**AXILLARY, "ecog": 2},
        "palliative_care",
        True,
        "FERRELL17",
    ),
    (
        "unfavourable CUP at ECOG 0: palliative care from diagnosis onward",
        {**UNFAVOURABLE, "ecog": 0},
        "palliative_care",
        True,
        "SVF",
    ),
    (
        "favourable subtype at ECOG 0: no palliative prompt",
        {**AXILLARY, "ecog": 0},
        "palliative_care",
        False,
        None,
    ),
    (
        "primary found on tissue (prostate) at ECOG 1: no palliative prompt",
        {
            "sex": "male",
            "age": 70,
            "histology": "adenocarcinoma",
            "sites": ["liver"],
            "ihc": {"PSA": POS, "NKX3.1": POS, "CK7": NEG, "CK20": NEG},
            "ecog": 1,
        },
        "palliative_care",
        False,
        None,
    ),
    (
        "no histology yet at ECOG 1: not known to be unfavourable, no palliative prompt",
        {"sex": "male", "age": 66, "sites": ["liver"], "ecog": 1},
        "palliative_care",
        False,
        None,
    ),
    (
        "lymphoma still to rule out at ECOG 1: not yet unfavourable CUP, no palliative prompt",
        {**UNFAVOURABLE, "ihc": {**LUNG, "CD45": "equivocal"}, "ecog": 1},
        "palliative_care",
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "code", "prompted", "source"),
    [v[1:] for v in VIGNETTES],
    ids=[v[0] for v in VIGNETTES],
)
def test_referral_prompt(
    case: dict[str, Any], code: str, prompted: bool, source: str | None
) -> None:
    found = prompts(case)
    if prompted:
        assert code in found, found
        assert found[code]["source"] == source
        assert found[code]["reason"]
    else:
        assert code not in found, found[code]


def test_one_prompt_per_kind_the_strongest_reason_first() -> None:
    """MSI-H at 42 is one genetics prompt, named for MSI-H (the finding that says more)."""
    case = {**UNFAVOURABLE, "age": 42, "ecog": 2, "molecular": {"MSI": "MSI-H"}}
    output = guidance_to_contract(assess_case(profile_from_json(case)))
    codes = [r["code"] for r in output["referrals_to_consider"]]
    assert codes == ["palliative_care", "clinical_genetics"]
    assert "MSI-H" in output["referrals_to_consider"][1]["reason"]


def test_every_prompt_is_a_known_kind_with_a_known_source() -> None:
    case = {**UNFAVOURABLE, "age": 42, "ecog": 3, "molecular": {"MMR": "deficient"}}
    for prompt in assess_case(profile_from_json(case)).referrals_to_consider:
        assert prompt.code in REFERRAL_KIND_CODES
        # The worklist looks for a referral of each prompted kind (services/worklist.py).
        assert prompt.code in PROMPTED_REFERRAL_KINDS
        assert prompt.source in SOURCES


def test_germline_tested_is_read_written_back_and_checked() -> None:
    case = {**UNFAVOURABLE, "history": {"germline_tested": True}}
    profile = profile_from_json(case)
    assert profile.germline_tested is True
    assert profile_to_json(profile)["history"] == {"germline_tested": True}
    with pytest.raises(ProfileError, match=r"history\.germline_tested"):
        profile_from_json({**UNFAVOURABLE, "history": {"germline_tested": "yes"}})


def test_referrals_to_consider_on_the_command_line() -> None:
    case = {**AXILLARY, "ecog": 2, "molecular": {"MSI": "MSI-H"}}
    out = io.StringIO()
    assert run_assess("-", io.StringIO(json.dumps(case)), out, io.StringIO()) == 0
    output = json.loads(out.getvalue())
    assert [r["code"] for r in output["referrals_to_consider"]] == [
        "palliative_care",
        "clinical_genetics",
    ]
    assert list(output).index("referrals_to_consider") == list(output).index("options") + 1


def test_the_prompts_alone_are_the_guidance_prompts() -> None:
    """The worklist reads referral_prompts; the case page the whole guidance."""
    from cupboard.guidance import referral_prompts

    for _, case, *_ in VIGNETTES:
        profile = profile_from_json(case)
        assert referral_prompts(profile) == assess_case(profile).referrals_to_consider
