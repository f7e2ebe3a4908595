"""``python -m cupboard assess``, run as a user runs it (docs/assess-contract.md)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cupboard.assess import ProfileError, profile_from_json, run_assess
from cupboard.guidance import Alteration

REPO = Path(__file__).resolve().parents[2]

# A man with blastic bone metastases and a raised PSA, workup complete but for NGS.
PROSTATE_CASE: dict[str, Any] = {
    "sex": "male",
    "age": 67,
    "histology": "adenocarcinoma",
    "sites": ["bone"],
    "bone_pattern": "blastic",
    "ihc": {"ck7": "negative", "CK-20": "negative", "NKX3.1": "positive"},
    "serum": {"PSA": 88, "LDH": "normal"},
    "molecular": {"MSI": "MSS", "TMB": 3},
    "ecog": 1,
    "workup": {
        "history_exam": "done",
        "blood_panel": "reported",
        "ct_cap": "reported",
        "biopsy": "done",
        "histopathology_ihc": "reported",
        "psa": "reported",
        "myeloma_screen": "reported",
        "ngs": "requested",
    },
    "referrer_note": "unknown keys are ignored",
}

# Worked out by hand from docs/clinical-rules.md: prostate scores CK7-/CK20- (1) + NKX3.1 (3) +
# PSA > 4 (2) + blastic bone in a man (1); the rest of the CK7-/CK20- quadrant [CHU00]
# follows in catalogue order; NGS is required at ECOG 1 and only requested. NKX3.1 on
# tissue establishes the prostate primary (version 2), which keeps the subtype that
# agrees with it and puts site-specific therapy first.
PROSTATE_EXPECTED: dict[str, Any] = {
    "favourable_subtype": {
        "code": "bone_blastic_psa_men",
        "manage_as": "prostate cancer",
        "source": "ESMO23",
    },
    "primary_found": {"site": "prostate", "evidence": ["NKX3.1+", "serum PSA 88 ng/mL"]},
    "likely_primaries": [
        {
            "site": "prostate",
            "evidence": [
                "CK7-/CK20-",
                "NKX3.1+",
                "PSA 88 ng/mL",
                "blastic bone metastases in a man",
            ],
        },
        {"site": "liver", "evidence": ["CK7-/CK20-"]},
        {"site": "kidney", "evidence": ["CK7-/CK20-"]},
        {"site": "germ_cell", "evidence": ["CK7-/CK20-"]},
        {"site": "neuroendocrine", "evidence": ["CK7-/CK20-"]},
        {"site": "adrenal", "evidence": ["CK7-/CK20-"]},
    ],
    "exclude_first": [],
    "tumour_agnostic": [],
    "immunotherapy_candidate": False,
    "missing_workup": ["ngs"],
    "prognosis": "good",
    "options": ["site_specific", "further_workup"],
    "referrals_to_consider": [],  # prostate found on tissue at ECOG 1, a man of 67
    "conflicts": [],
    "warnings": ["Required workup still missing: Comprehensive genomic profiling (NGS)."],
    "warning_codes": ["missing_required_workup"],
}


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cupboard", "assess", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        timeout=60,
    )


def test_good_case_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(PROSTATE_CASE), encoding="utf-8")
    result = run([str(path)])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == PROSTATE_EXPECTED
    # indent=2, one object, ends with a newline
    assert result.stdout.startswith('{\n  "favourable_subtype"')
    assert result.stdout.endswith("}\n")


def test_good_case_from_stdin() -> None:
    result = run(["-"], stdin=json.dumps(PROSTATE_CASE))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == PROSTATE_EXPECTED


def test_utf8_input_on_stdin() -> None:
    # A child's case, with beta-hCG spelled with a Greek beta: read, and flagged.
    child = {"sex": "female", "age": 9, "histology": "other", "serum": {"β-hCG": 20}}
    result = run(["-"], stdin=json.dumps(child, ensure_ascii=False))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert any("paediatric" in w for w in output["warnings"])
    assert output["exclude_first"] == ["germ_cell"]  # beta-hCG 20 IU/L is raised


def _with(**changes: Any) -> dict[str, Any]:
    case = json.loads(json.dumps(PROSTATE_CASE))
    for key, value in changes.items():
        if value is _DROP:
            del case[key]
        else:
            case[key] = value
    return case


_DROP = object()

# (id, JSON text, the field the one-line message must name)
BAD_INPUTS: list[tuple[str, str, str]] = [
    ("missing-sex", json.dumps(_with(sex=_DROP)), "sex"),
    ("age-200", json.dumps(_with(age=200)), "age"),
    ("ecog-7", json.dumps(_with(ecog=7)), "ecog"),
    ("bad-site", json.dumps(_with(sites=["bone", "spleen"])), "sites[1]"),
    ("bad-histology", json.dumps(_with(histology="carcinoma")), "histology"),
    ("bad-ihc-value", json.dumps(_with(ihc={"CK7": "strong"})), "ihc.CK7"),
    ("unknown-marker", json.dumps(_with(ihc={"Vimentin": "positive"})), "ihc.Vimentin"),
    ("negative-tmb", json.dumps(_with(molecular={"TMB": -1})), "molecular.TMB"),
    (
        "confidence-1.5",
        json.dumps(_with(molecular={"tissue_of_origin": {"site": "lung", "confidence": 1.5}})),
        "molecular.tissue_of_origin.confidence",
    ),
    ("bool-age", json.dumps(_with(age=True)), "age"),
    ("non-object", json.dumps([PROSTATE_CASE]), "case"),
    ("bad-workup-status", json.dumps(_with(workup={"ct_cap": "pending"})), "workup.ct_cap"),
    ("nan-psa", json.dumps(_with(serum={"PSA": float("nan")})), "serum.PSA"),
    # Version 2 inputs.
    ("lesions-0", json.dumps(_with(lesions=0)), "lesions"),
    ("ki67-120", json.dumps(_with(ihc={"Ki-67": 120})), "ihc.Ki-67"),
    ("unknown-marker-v2", json.dumps(_with(ihc={"CDH17": "positive"})), "ihc.CDH17"),
    ("bad-symptom", json.dumps(_with(symptoms=["fatigue"])), "symptoms[0]"),
    (
        "bad-previous-malignancy",
        json.dumps(_with(history={"previous_malignancy": "spleen"})),
        "history.previous_malignancy",
    ),
    (
        "alteration-kind",
        json.dumps(_with(molecular={"alterations": [{"gene": "RET", "kind": "splice"}]})),
        "molecular.alterations[0].kind",
    ),
]


def _assert_refused(result: subprocess.CompletedProcess[str], field: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{field}: "), lines[0]


@pytest.mark.parametrize(
    ("text", "field"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_in_a_file(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(text, encoding="utf-8")
    _assert_refused(run([str(path)]), field)


def test_bad_input_on_stdin() -> None:
    _assert_refused(run(["-"], stdin=json.dumps(_with(ecog=7))), "ecog")


def test_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"sex": "male", "age": 60,', encoding="utf-8")
    result = run([str(path)])
    _assert_refused(result, str(path))
    assert "invalid JSON" in result.stderr


def test_bad_json_on_stdin() -> None:
    result = run(["-"], stdin="sex=male")
    _assert_refused(result, "stdin")
    assert "invalid JSON" in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    result = run([str(path)])
    _assert_refused(result, str(path))
    assert "cannot read" in result.stderr


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"sex": "male", "age": 60, "x": "é"}'.encode("latin-1"))
    _assert_refused(run([str(path)]), str(path))


def test_message_stays_on_one_line_whatever_the_key() -> None:
    result = run(["-"], stdin=json.dumps(_with(ihc={"bad\nmarker": "positive"})))
    _assert_refused(result, "ihc.bad\\x0amarker")


# In-process: the validation rules behind the one-line messages.
MINIMAL: dict[str, Any] = {"sex": "female", "age": 50}

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("sex-capitalised", {"sex": "Female"}, "sex"),
    ("age-float", {"age": 50.0}, "age"),
    ("age-negative", {"age": -1}, "age"),
    ("age-null", {"age": None}, "age"),
    ("ecog-bool", {"ecog": False}, "ecog"),
    ("lesions-negative", {"lesions": -2}, "lesions"),
    ("sites-not-list", {"sites": "liver"}, "sites"),
    ("bone-pattern", {"bone_pattern": "sclerotic"}, "bone_pattern"),
    ("ihc-not-object", {"ihc": ["CK7"]}, "ihc"),
    ("ihc-contradiction", {"ihc": {"TTF1": "positive", "ttf-1": "negative"}}, "ihc.ttf-1"),
    ("serum-unknown", {"serum": {"S-PSA": 4}}, "serum.S-PSA"),
    ("serum-string", {"serum": {"PSA": "4.1"}}, "serum.PSA"),
    ("serum-bool", {"serum": {"AFP": True}}, "serum.AFP"),
    ("ldh-number", {"serum": {"LDH": 300}}, "serum.LDH"),
    ("tmb-bool", {"molecular": {"TMB": True}}, "molecular.TMB"),
    ("tmb-infinite", {"molecular": {"TMB": float("inf")}}, "molecular.TMB"),
    ("tps-over-100", {"molecular": {"PD-L1_TPS": 101}}, "molecular.PD-L1_TPS"),
    ("msi-lowercase", {"molecular": {"MSI": "msi-h"}}, "molecular.MSI"),
    ("mmr", {"molecular": {"MMR": "lost"}}, "molecular.MMR"),
    ("alteration-empty", {"molecular": {"alterations": [" "]}}, "molecular.alterations[0]"),
    (
        "too-site",
        {"molecular": {"tissue_of_origin": {"site": "spleen", "confidence": 0.5}}},
        "molecular.tissue_of_origin.site",
    ),
    (
        "too-no-confidence",
        {"molecular": {"tissue_of_origin": {"site": "lung"}}},
        "molecular.tissue_of_origin.confidence",
    ),
    ("workup-code", {"workup": {"pet": "done"}}, "workup.pet"),
    ("workup-status", {"workup": {"pet_ct": "ordered"}}, "workup.pet_ct"),
    # Version 2 inputs (docs/assess-contract.md).
    ("lesions-zero", {"lesions": 0}, "lesions"),
    ("ki67-text", {"ihc": {"Ki-67": "positive"}}, "ihc.Ki-67"),
    ("ki67-negative", {"ihc": {"ki67": -5}}, "ihc.ki67"),
    ("ki67-over-100", {"ihc": {"Ki67": 100.5}}, "ihc.Ki67"),
    ("ki67-twice", {"ihc": {"Ki-67": 10, "ki67": 12}}, "ihc.ki67"),
    ("marker-result-number", {"ihc": {"TRPS1": 3}}, "ihc.TRPS1"),
    ("unknown-marker", {"ihc": {"Vimentin": "positive"}}, "ihc.Vimentin"),
    ("history-not-object", {"history": "breast"}, "history"),
    (
        "previous-malignancy",
        {"history": {"previous_malignancy": "Breast"}},
        "history.previous_malignancy",
    ),
    ("pregnant-text", {"history": {"pregnant": "no"}}, "history.pregnant"),
    ("symptoms-not-list", {"symptoms": "haematuria"}, "symptoms"),
    ("symptom-unknown", {"symptoms": ["haematuria", "cough"]}, "symptoms[1]"),
    (
        "alteration-number",
        {"molecular": {"alterations": [7]}},
        "molecular.alterations[0]",
    ),
    (
        "alteration-no-gene",
        {"molecular": {"alterations": [{"kind": "fusion"}]}},
        "molecular.alterations[0].gene",
    ),
    (
        "alteration-no-kind",
        {"molecular": {"alterations": ["KRAS G12D", {"gene": "RET"}]}},
        "molecular.alterations[1].kind",
    ),
    (
        "alteration-bad-kind",
        {"molecular": {"alterations": [{"gene": "RET", "kind": "Fusion"}]}},
        "molecular.alterations[0].kind",
    ),
    (
        "alteration-detected-text",
        {"molecular": {"alterations": [{"gene": "RET", "kind": "fusion", "detected": "yes"}]}},
        "molecular.alterations[0].detected",
    ),
    (
        "alteration-empty-gene",
        {"molecular": {"alterations": [{"gene": " ", "kind": "fusion"}]}},
        "molecular.alterations[0].gene",
    ),
]


@pytest.mark.parametrize(("change", "field"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_profile_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileError) as raised:
        profile_from_json({**MINIMAL, **change})
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith(f"{field}: ")


def test_profile_accepts_nulls_respellings_and_unknown_keys() -> None:
    profile = profile_from_json(
        {
            **MINIMAL,
            "histology": None,
            "ecog": None,
            "sites": ["liver", "liver"],
            "serum": {"psa": 2, "β-hCG": 3, "ca125": 40},
            "molecular": {"pd-l1 tps": 30, "tmb": 11, "Unknown": 1},
            "comment": {"anything": [1, 2]},
        }
    )
    assert profile.histology is None and profile.ecog is None
    assert profile.sites == ("liver",)
    assert dict(profile.serum) == {"PSA": 2, "beta-hCG": 3, "CA-125": 40}
    assert (profile.pdl1_tps, profile.tmb) == (30, 11)


def test_version_2_inputs_are_read() -> None:
    profile = profile_from_json(
        {
            **MINIMAL,
            "lesions": 1,
            "ihc": {
                "ki-67": 35,
                "INI1": "negative",
                "pan-keratin": "positive",
                "TRPS1": "positive",
            },
            "history": {"previous_malignancy": "breast", "pregnant": False},
            "symptoms": ["haematuria", "back_pain"],
            "molecular": {
                "alterations": [
                    "KRAS G12D",
                    {"gene": "RET", "kind": "fusion", "variant": "KIF5B-RET"},
                    {"gene": "ALK", "kind": "fusion", "detected": False},
                ]
            },
        }
    )
    assert profile.ki67 == 35
    assert dict(profile.ihc) == {"SMARCB1": "negative", "AE1/AE3": "positive", "TRPS1": "positive"}
    assert (profile.previous_malignancy, profile.pregnant) == ("breast", False)
    assert profile.symptoms == ("haematuria", "back_pain")
    assert profile.alterations[0] == "KRAS G12D"
    ret, alk = profile.alterations[1:]
    assert isinstance(ret, Alteration) and (ret.gene, ret.kind, ret.detected) == (
        "RET",
        "fusion",
        True,
    )
    assert isinstance(alk, Alteration) and not alk.detected


def test_version_2_output_from_the_command_line(tmp_path: Path) -> None:
    case = {
        "sex": "male",
        "age": 70,
        "histology": "adenocarcinoma",
        "sites": ["bone"],
        "bone_pattern": "blastic",
        "serum": {"PSA": 8},
        "ihc": {
            "PSA": "negative",
            "NKX3.1": "negative",
            "TTF-1": "positive",
            "Napsin A": "positive",
        },
        "ecog": 3,
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    result = run([str(path)])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["favourable_subtype"] is None and out["primary_found"] is None
    assert [c["code"] for c in out["conflicts"]] == ["subtype_contradicted"]
    assert "lung profile" in out["conflicts"][0]["message"]
    assert len(out["warning_codes"]) == len(out["warnings"])
    assert "ecog_3_plus" in out["warning_codes"]


def test_run_assess_in_process() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_assess("-", io.StringIO(json.dumps(PROSTATE_CASE)), out, err) == 0
    assert json.loads(out.getvalue()) == PROSTATE_EXPECTED and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert run_assess("-", io.StringIO('{"sex": "male"}'), out, err) == 2
    assert out.getvalue() == "" and err.getvalue() == "age: required: an integer 0-130\n"


def test_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel-export.json"
    path.write_text(json.dumps(PROSTATE_CASE), encoding="utf-8-sig")
    out, err = io.StringIO(), io.StringIO()
    assert run_assess(str(path), io.StringIO(), out, err) == 0, err.getvalue()
    assert json.loads(out.getvalue()) == PROSTATE_EXPECTED


def test_guidance_needs_neither_streamlit_nor_a_database() -> None:
    probe = (
        "import sys, cupboard.assess, cupboard.guidance; "
        "print(sorted(m for m in ('streamlit', 'sqlalchemy', 'cupboard.db') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_documented_example_is_a_valid_profile_and_the_output_keys_are_as_documented() -> None:
    """docs/assess-contract.md: its example input is accepted as written, and its example
    output has exactly the keys, in the order, that assess prints."""
    text = (REPO / "docs" / "assess-contract.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```json\n")[1:]]
    example_input, example_output = json.loads(blocks[0]), json.loads(blocks[1])
    profile = profile_from_json(example_input)
    assert profile.ki67 == 35 and profile.symptoms == ("neurological",)
    out = io.StringIO()
    assert run_assess("-", io.StringIO(json.dumps(example_input)), out, io.StringIO()) == 0
    assert list(json.loads(out.getvalue())) == list(example_output)
