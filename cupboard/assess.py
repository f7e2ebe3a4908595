"""``python -m cupboard assess CASE.json``: the guidance contract on the command line.

docs/assess-contract.md: one case profile in (a file, or ``-`` for stdin),
one JSON object out. The input is validated strictly at this boundary: anything
malformed or out of range exits 2 with one line on stderr naming the field, and prints
nothing on stdout. Unknown keys are ignored. The guidance itself is
:func:`cupboard.guidance.assess_case`, the same function the case page calls.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any, TextIO

from cupboard.errors import ValidationError
from cupboard.guidance import (
    ALTERATION_KINDS,
    Alteration,
    CaseProfile,
    assess_case,
    canonical_serum_name,
    guidance_to_contract,
)
from cupboard.knowledge.histology import HISTOLOGY_CODES, MMR_STATUSES, MSI_STATUSES
from cupboard.knowledge.investigations import INVESTIGATION_CODES, INVESTIGATION_STATUS_CODES
from cupboard.knowledge.markers import (
    IHC_MARKERS,
    IHC_RESULTS,
    KI67,
    canonical_ihc_marker,
    is_ki67,
    marker_key,
)
from cupboard.knowledge.sites import (
    BONE_PATTERNS,
    METASTATIC_SITE_CODES,
    PRIMARY_SITE_CODES,
    SYMPTOM_CODES,
)

SEXES: tuple[str, ...] = ("female", "male")
MAX_AGE = 130
MAX_ECOG = 5
LDH_VALUES: tuple[str, ...] = ("normal", "raised")

# Molecular keys are matched like marker names (PD-L1_TPS = pdl1-tps), so that a
# respelled key is read rather than silently ignored.
_MOLECULAR_KEYS: dict[str, str] = {
    "msi": "MSI",
    "mmr": "MMR",
    "tmb": "TMB",
    "pdl1tps": "PD-L1_TPS",
    "pdl1cps": "PD-L1_CPS",
    "alterations": "alterations",
    "tissueoforigin": "tissue_of_origin",
}

_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _one_line(text: str) -> str:
    return _LINE_BREAKING.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class ProfileError(ValidationError):
    """A case profile that breaks the contract; ``str()`` is one line naming the field."""

    def __init__(self, field: str, message: str) -> None:
        # Keys come from the user's file: keep even a key with a line break on one line.
        super().__init__(_one_line(field), _one_line(message))


# ---------------------------------------------------------------------------------
# Field validators: each returns the clean value or raises ProfileError.


def _got(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _enum(value: object, field: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ProfileError(field, f"must be one of {', '.join(allowed)}; got {_got(value)}")
    return value


def _integer(value: object, field: str, low: int, high: int | None = None) -> int:
    # bool is an int in Python but never a number in a case profile.
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    ):
        return value
    wanted = f"an integer {low}-{high}" if high is not None else f"an integer >= {low}"
    raise ProfileError(field, f"must be {wanted}, got {_got(value)}")


def _number(value: object, field: str, high: float | None = None) -> float:
    wanted = f"a finite number 0-{high:g}" if high is not None else "a finite number >= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProfileError(field, f"must be {wanted}, got {_got(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0 or (high is not None and number > high):
        raise ProfileError(field, f"must be {wanted}, got {_got(value)}")
    return number


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProfileError(field, f"must be a JSON object, got {_json_type(value)}")
    return value


def _array(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProfileError(field, f"must be a JSON array, got {_json_type(value)}")
    return value


def _sites(value: object) -> tuple[str, ...]:
    items = _array(value, "sites")
    return tuple(_enum(site, f"sites[{i}]", METASTATIC_SITE_CODES) for i, site in enumerate(items))


def _ihc(value: object) -> tuple[dict[str, str], float | None]:
    """IHC results by canonical marker, and Ki-67 (a percentage, not a result)."""
    results: dict[str, str] = {}
    spelled: dict[str, str] = {}
    ki67: float | None = None
    for name, result in _object(value, "ihc").items():
        field = f"ihc.{name}"
        if is_ki67(name):
            if ki67 is not None:
                raise ProfileError(field, f"duplicates ihc.{spelled[KI67]}")
            ki67 = _number(result, field, 100.0)  # percent of tumour nuclei
            spelled[KI67] = name
            continue
        canonical = canonical_ihc_marker(name)
        if canonical is None:
            known = ", ".join(m.name for m in IHC_MARKERS)
            raise ProfileError(field, f"unknown IHC marker; known markers: {known}")
        result = _enum(result, field, IHC_RESULTS)
        if results.get(canonical, result) != result:
            raise ProfileError(field, f"contradicts ihc.{spelled[canonical]}")
        results[canonical] = result
        spelled.setdefault(canonical, name)
    return results, ki67


def _serum(value: object) -> dict[str, float | str]:
    serum: dict[str, float | str] = {}
    for name, raw in _object(value, "serum").items():
        field = f"serum.{name}"
        code = canonical_serum_name(name)
        if code is None:
            raise ProfileError(
                field,
                "unknown serum marker; known: PSA, AFP, beta-hCG, CA-125, LDH, CEA, "
                "CA19-9, Chromogranin A",
            )
        # LDH only matters against the laboratory's upper limit, so it is recorded as
        # normal or raised [CULINE].
        serum[code] = _enum(raw, field, LDH_VALUES) if code == "LDH" else _number(raw, field)
    return serum


def _tissue_of_origin(value: object, field: str) -> tuple[str, float]:
    too = _object(value, field)
    if "site" not in too:
        raise ProfileError(f"{field}.site", "required: a primary-site code")
    if "confidence" not in too:
        raise ProfileError(f"{field}.confidence", "required: a number 0-1")
    site = _enum(too["site"], f"{field}.site", PRIMARY_SITE_CODES)
    return site, _number(too["confidence"], f"{field}.confidence", 1.0)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(field, f"must be a non-empty string, got {_got(value)}")
    return value.strip()


def _alteration_object(item: dict[str, Any], field: str) -> Alteration:
    """A structured finding: gene and kind required, detected defaults to true."""
    if item.get("gene") is None:
        raise ProfileError(f"{field}.gene", "required: a gene symbol")
    if item.get("kind") is None:
        raise ProfileError(f"{field}.kind", f"required: one of {', '.join(ALTERATION_KINDS)}")
    gene = _text(item["gene"], f"{field}.gene")
    kind = _enum(item["kind"], f"{field}.kind", ALTERATION_KINDS)
    variant = None
    if item.get("variant") is not None:
        variant = _text(item["variant"], f"{field}.variant")
    detected = item.get("detected", True)
    if detected is None:
        detected = True
    if not isinstance(detected, bool):
        raise ProfileError(f"{field}.detected", f"must be true or false, got {_got(detected)}")
    return Alteration(gene, kind, variant, detected)


def _alterations(value: object, field: str) -> tuple[str | Alteration, ...]:
    alterations: list[str | Alteration] = []
    for i, item in enumerate(_array(value, field)):
        item_field = f"{field}[{i}]"
        if isinstance(item, dict):
            alterations.append(_alteration_object(item, item_field))
        elif isinstance(item, str) and item.strip():
            alterations.append(item.strip())
        else:
            raise ProfileError(
                item_field, f"must be a non-empty string or an object, got {_got(item)}"
            )
    return tuple(alterations)


def _history(value: object) -> dict[str, Any]:
    """History fields as CaseProfile keyword arguments."""
    history = _object(value, "history")
    fields: dict[str, Any] = {}
    if history.get("previous_malignancy") is not None:
        fields["previous_malignancy"] = _enum(
            history["previous_malignancy"], "history.previous_malignancy", PRIMARY_SITE_CODES
        )
    for key in ("pregnant", "germline_tested"):
        value = history.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise ProfileError(f"history.{key}", f"must be true or false, got {_got(value)}")
            fields[key] = value
    return fields


def _symptoms(value: object) -> tuple[str, ...]:
    items = _array(value, "symptoms")
    return tuple(_enum(s, f"symptoms[{i}]", SYMPTOM_CODES) for i, s in enumerate(items))


def _molecular(value: object) -> dict[str, Any]:
    """Molecular fields as CaseProfile keyword arguments."""
    fields: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, raw in _object(value, "molecular").items():
        canonical = _MOLECULAR_KEYS.get(marker_key(key))
        if canonical is None or raw is None:
            continue  # unknown keys are ignored [assess contract]
        field = f"molecular.{key}"
        if canonical in seen:
            raise ProfileError(field, f"duplicates molecular.{seen[canonical]}")
        seen[canonical] = key
        if canonical == "MSI":
            fields["msi"] = _enum(raw, field, MSI_STATUSES)
        elif canonical == "MMR":
            fields["mmr"] = _enum(raw, field, MMR_STATUSES)
        elif canonical == "TMB":
            fields["tmb"] = _number(raw, field)
        elif canonical == "PD-L1_TPS":
            fields["pdl1_tps"] = _number(raw, field, 100.0)  # a percentage of tumour cells
        elif canonical == "PD-L1_CPS":
            fields["pdl1_cps"] = _number(raw, field, 100.0)  # CPS is capped at 100
        elif canonical == "alterations":
            fields["alterations"] = _alterations(raw, field)
        else:
            site, confidence = _tissue_of_origin(raw, field)
            fields["tissue_of_origin"] = site
            fields["tissue_of_origin_confidence"] = confidence
    return fields


def _workup(value: object) -> dict[str, str]:
    workup: dict[str, str] = {}
    for code, status in _object(value, "workup").items():
        field = f"workup.{code}"
        _enum(code, field, INVESTIGATION_CODES)
        workup[code] = _enum(status, field, INVESTIGATION_STATUS_CODES)
    return workup


def profile_from_json(data: object) -> CaseProfile:
    """A :class:`CaseProfile` from a parsed contract profile, or :class:`ProfileError`."""
    case = _object(data, "case")

    def given(key: str) -> bool:  # null is the same as absent for optional keys
        return case.get(key) is not None

    if not given("sex"):
        raise ProfileError("sex", "required: female or male")
    if not given("age"):
        raise ProfileError("age", f"required: an integer 0-{MAX_AGE}")
    fields: dict[str, Any] = {
        "sex": _enum(case["sex"], "sex", SEXES),
        "age": _integer(case["age"], "age", 0, MAX_AGE),
    }
    if given("histology"):
        fields["histology"] = _enum(case["histology"], "histology", HISTOLOGY_CODES)
    if given("sites"):
        fields["sites"] = _sites(case["sites"])
    if given("bone_pattern"):
        fields["bone_pattern"] = _enum(case["bone_pattern"], "bone_pattern", BONE_PATTERNS)
    if given("lesions"):
        fields["lesions"] = _integer(case["lesions"], "lesions", 1)
    if given("ihc"):
        fields["ihc"], ki67 = _ihc(case["ihc"])
        if ki67 is not None:
            fields["ki67"] = ki67
    if given("serum"):
        fields["serum"] = _serum(case["serum"])
    if given("molecular"):
        fields.update(_molecular(case["molecular"]))
    if given("ecog"):
        fields["ecog"] = _integer(case["ecog"], "ecog", 0, MAX_ECOG)
    if given("workup"):
        fields["workup"] = _workup(case["workup"])
    if given("history"):
        fields.update(_history(case["history"]))
    if given("symptoms"):
        fields["symptoms"] = _symptoms(case["symptoms"])
    return CaseProfile(**fields)


def _alteration_to_json(item: str | Alteration) -> str | dict[str, Any]:
    if isinstance(item, str):
        return item
    data: dict[str, Any] = {"gene": item.gene, "kind": item.kind, "detected": item.detected}
    if item.variant is not None:
        data["variant"] = item.variant
    return data


def profile_to_json(profile: CaseProfile) -> dict[str, Any]:
    """The contract input for a profile (the inverse of :func:`profile_from_json`)."""
    data: dict[str, Any] = {"sex": profile.sex, "age": profile.age}
    optional: dict[str, Any] = {
        "histology": profile.histology,
        "sites": list(profile.sites) or None,
        "bone_pattern": profile.bone_pattern,
        "lesions": profile.lesions,
        "ihc": {**profile.ihc, **({KI67: profile.ki67} if profile.ki67 is not None else {})}
        or None,
        "serum": dict(profile.serum) or None,
        "ecog": profile.ecog,
        "workup": dict(profile.workup) or None,
    }
    molecular: dict[str, Any] = {
        "MSI": profile.msi,
        "MMR": profile.mmr,
        "TMB": profile.tmb,
        "PD-L1_TPS": profile.pdl1_tps,
        "PD-L1_CPS": profile.pdl1_cps,
        "alterations": [_alteration_to_json(a) for a in profile.alterations] or None,
    }
    if profile.tissue_of_origin is not None:
        molecular["tissue_of_origin"] = {
            "site": profile.tissue_of_origin,
            "confidence": profile.tissue_of_origin_confidence,
        }
    optional["molecular"] = {k: v for k, v in molecular.items() if v is not None} or None
    history = {
        "previous_malignancy": profile.previous_malignancy,
        "pregnant": profile.pregnant,
        "germline_tested": profile.germline_tested,
    }
    optional["history"] = {k: v for k, v in history.items() if v is not None} or None
    optional["symptoms"] = list(profile.symptoms) or None
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


# ---------------------------------------------------------------------------------
# The command


def _read(path: str, stdin: TextIO) -> str:
    name = "stdin" if path == "-" else path
    try:
        if path == "-":
            buffer = getattr(stdin, "buffer", None)
            raw: str | bytes = buffer.read() if buffer is not None else stdin.read()
        else:
            with open(path, "rb") as file:
                raw = file.read()
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except OSError as error:
        raise ProfileError(name, f"cannot read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise ProfileError(name, "not UTF-8 text") from error
    return text.removeprefix("\ufeff")


def _parse(text: str, path: str) -> object:
    name = "stdin" if path == "-" else path
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ProfileError(name, f"invalid JSON: {error.msg} at {where}") from error
    except RecursionError as error:
        raise ProfileError(name, "invalid JSON: nested too deeply") from error
    except ValueError as error:  # e.g. an integer literal too long to convert
        raise ProfileError(name, f"invalid JSON: {error}") from error


def run_assess(path: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Print the guidance for the case profile at ``path`` (``-``: stdin) as JSON.

    Returns 0, or 2 after one line on stderr when the input is unreadable or breaks
    the contract; nothing is printed on stdout then.
    """
    try:
        profile = profile_from_json(_parse(_read(path, stdin), path))
    except ProfileError as error:
        print(error, file=stderr)
        return 2
    contract = guidance_to_contract(assess_case(profile))
    stdout.write(json.dumps(contract, indent=2, ensure_ascii=False) + "\n")
    return 0
