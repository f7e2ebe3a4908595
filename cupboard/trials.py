"""Clinical-trial matching: which open trial could this patient enter (issue 19).

Pure, like the guidance: a case profile and its guidance in, one answer per trial out,
no Streamlit and no database. The criteria speak the assess contract's vocabulary
(docs/assess-contract.md): histology codes, primary-site codes, the tumour-agnostic
biomarker names and alteration gene + kind. docs/trials.md says what matching does and
does not do.

The principle is the guidance's: nothing fires without evidence. A criterion the record
cannot decide is *unknown*, never failed, and the answer names the investigation that
would decide it ("NGS not done"); an equivocal result is unknown too. A trial is
``not_eligible`` only on a recorded fact that breaks one of its criteria.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cupboard.guidance import (
    ALTERATION_KINDS,
    Alteration,
    CaseProfile,
    Guidance,
    alteration_findings,
)
from cupboard.knowledge.biomarkers import GENE_ALIASES, TMB_HIGH_MIN, TUMOUR_AGNOSTIC_NAMES
from cupboard.knowledge.histology import HISTOLOGY_CODES
from cupboard.knowledge.sites import PRIMARY_SITE_CODES

ELIGIBLE = "eligible"
POSSIBLY_ELIGIBLE = "possibly_eligible"
NOT_ELIGIBLE = "not_eligible"
MATCH_STATES: tuple[str, ...] = (ELIGIBLE, POSSIBLY_ELIGIBLE, NOT_ELIGIBLE)

# Scope: whom the trial is for beyond its molecular selection.
SCOPE_TUMOUR_AGNOSTIC = "tumour_agnostic"  # any primary (a basket trial)
SCOPE_UNKNOWN_PRIMARY = "unknown_primary"  # CUP proper: no primary found, no favourable subtype
SCOPE_SITES = "sites"  # a likely primary among the trial's sites
SCOPES: tuple[str, ...] = (SCOPE_TUMOUR_AGNOSTIC, SCOPE_UNKNOWN_PRIMARY, SCOPE_SITES)
TRIAL_SEXES: tuple[str, ...] = ("all", "female", "male")

# Results that exist once the investigation has been carried out and read.
_RESULT_STATUSES = frozenset({"done", "reported"})

# Short names for "what would decide it", in the words the board uses.
_INVESTIGATION_NAMES: dict[str, str] = {
    "ngs": "NGS",
    "histopathology_ihc": "IHC",
    "mri_brain": "MRI brain",
    "gep": "gene-expression profiling",
}


@dataclass(frozen=True)
class AlterationCriterion:
    """A molecular alteration named as the contract's structured alteration: gene and
    kind, and optionally a variant the report must name (``KRAS`` ``mutation`` ``G12C``).
    ``NTRK`` stands for NTRK1, NTRK2 and NTRK3, as in the guidance."""

    gene: str
    kind: str
    variant: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALTERATION_KINDS:
            raise ValueError(f"unknown alteration kind {self.kind!r}")
        object.__setattr__(self, "gene", _gene(self.gene))
        if self.variant is not None:
            object.__setattr__(self, "variant", self.variant.strip().upper() or None)

    @property
    def label(self) -> str:
        return " ".join(p for p in (self.gene, self.variant or self.kind) if p)


@dataclass(frozen=True)
class TrialCriteria:
    """A trial's structured eligibility. Every criterion left empty (or None) admits
    everyone. The molecular selection is met by *any one* of ``required_biomarkers`` and
    ``required_alterations`` (a basket trial enrols NTRK1, 2 or 3 fusions); any one of the
    excluded ones present excludes."""

    histologies: tuple[str, ...] = ()  # contract histology codes allowed
    required_biomarkers: tuple[str, ...] = ()  # tumour-agnostic biomarker names
    required_alterations: tuple[AlterationCriterion, ...] = ()
    excluded_biomarkers: tuple[str, ...] = ()
    excluded_alterations: tuple[AlterationCriterion, ...] = ()
    scope: str = SCOPE_TUMOUR_AGNOSTIC
    sites: tuple[str, ...] = ()  # primary-site codes, when scope is "sites"
    ecog_max: int | None = None
    age_min: int | None = None
    age_max: int | None = None
    sex: str = "all"
    max_prior_lines: int | None = None  # prior systemic therapy lines allowed
    brain_metastases_allowed: bool = True


@dataclass(frozen=True)
class Unknown:
    """A criterion the record cannot decide yet, and what would decide it."""

    criterion: str
    reason: str  # a plain phrase for the board: "NGS not done"
    investigation: str | None = None  # contract investigation code, when one decides it


@dataclass(frozen=True)
class Failure:
    criterion: str
    reason: str


@dataclass(frozen=True)
class TrialMatch:
    state: str  # eligible | possibly_eligible | not_eligible
    met: tuple[str, ...] = ()
    unknown: tuple[Unknown, ...] = ()
    failed: tuple[Failure, ...] = ()


@dataclass(frozen=True)
class RegisteredTrial:
    """A trial as the register holds it, without the database."""

    identifier: str  # NCT number or EU CT number
    title: str
    criteria: TrialCriteria
    phase: str | None = None
    status: str = "recruiting"
    site_contact: str | None = None


@dataclass(frozen=True)
class RankedMatch:
    trial: RegisteredTrial
    match: TrialMatch


# ---------------------------------------------------------------------------------
# What the record says about one biomarker or alteration


@dataclass(frozen=True)
class _Answer:
    """present / absent / unknown, with the evidence or what would decide it."""

    present: bool | None
    text: str
    investigation: str | None = None


def _gene(gene: str) -> str:
    upper = gene.strip().upper()
    return GENE_ALIASES.get(upper, upper)


def _awaiting(profile: CaseProfile, investigation: str, what: str) -> _Answer:
    name = _INVESTIGATION_NAMES.get(investigation, investigation)
    status = profile.workup.get(investigation)
    if status in ("requested", "booked"):
        text = f"{name} {status}, no result yet"
    elif status in _RESULT_STATUSES:
        text = f"{name} {status} but {what} not recorded"
    elif status == "declined":
        text = f"{name} declined"
    else:
        text = f"{name} not done"
    return _Answer(None, text, investigation)


def _molecular_result(profile: CaseProfile) -> bool:
    """A molecular report is on the record: NGS done or reported, or findings recorded."""
    return profile.workup.get("ngs") in _RESULT_STATUSES or bool(profile.alterations)


def _matches(finding: Alteration, wanted: AlterationCriterion) -> bool:
    if _gene(finding.gene) != wanted.gene or finding.kind != wanted.kind:
        return False
    if wanted.variant is None:
        return True
    named = " ".join(x for x in (finding.variant, finding.text) if x).upper()
    return wanted.variant in named


def _alteration_answer(profile: CaseProfile, wanted: AlterationCriterion) -> _Answer:
    findings = [f for f in alteration_findings(profile) if _matches(f, wanted)]
    detected = [f for f in findings if f.detected]
    if detected:
        return _Answer(True, detected[0].label)
    if findings:  # tested and reported absent ("EML4-ALK negative")
        return _Answer(False, f"{wanted.label} not detected ({findings[0].label})")
    if _molecular_result(profile):
        # A comprehensive report lists what it finds: not among its findings is not found.
        return _Answer(False, f"{wanted.label} not found on the molecular report")
    return _awaiting(profile, "ngs", wanted.label)


def _biomarker_answer(profile: CaseProfile, guidance: Guidance, name: str) -> _Answer:
    flagged = {b.biomarker: b.evidence for b in guidance.tumour_agnostic}
    if name in flagged:
        return _Answer(True, flagged[name])
    if name == "MSI-H":
        if profile.msi in ("MSS", "MSI-L"):
            return _Answer(False, f"MSI {profile.msi}")
        return _awaiting(profile, "ngs", "MSI status")
    if name == "dMMR":
        if profile.mmr == "proficient":
            return _Answer(False, "MMR proficient")
        return _awaiting(profile, "histopathology_ihc", "MMR status")
    if name == "TMB-high":
        if profile.tmb is not None:
            return _Answer(False, f"TMB {profile.tmb:g} mut/Mb (below {TMB_HIGH_MIN:g})")
        return _awaiting(profile, "ngs", "TMB")
    if name == "HER2 3+":
        result = profile.ihc_result("HER2")
        if result == "negative":
            return _Answer(False, "HER2 IHC negative")
        if result == "equivocal":
            return _Answer(None, "HER2 IHC equivocal: needs ISH", "histopathology_ihc")
        return _awaiting(profile, "histopathology_ihc", "HER2")
    if name == "BRAF V600E":
        answer = _alteration_answer(profile, AlterationCriterion("BRAF", "mutation", "V600E"))
        if answer.present:  # found, but the guidance withheld it: the colorectal label
            return _Answer(False, f"{answer.text} in a colorectal profile (label excludes it)")
        return answer
    gene = name.split()[0]  # "NTRK fusion", "RET fusion"
    return _alteration_answer(profile, AlterationCriterion(gene, "fusion"))


def _molecular_answers(
    profile: CaseProfile,
    guidance: Guidance,
    biomarkers: Iterable[str],
    alterations: Iterable[AlterationCriterion],
) -> list[tuple[str, _Answer]]:
    answers = [(b, _biomarker_answer(profile, guidance, b)) for b in biomarkers]
    answers += [(a.label, _alteration_answer(profile, a)) for a in alterations]
    return answers


# ---------------------------------------------------------------------------------
# Matching


@dataclass
class _Verdict:
    met: list[str] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def result(self) -> TrialMatch:
        state = NOT_ELIGIBLE if self.failed else POSSIBLY_ELIGIBLE if self.unknown else ELIGIBLE
        return TrialMatch(state, tuple(self.met), tuple(self.unknown), tuple(self.failed))


def _histology(profile: CaseProfile, criteria: TrialCriteria, verdict: _Verdict) -> None:
    if not criteria.histologies:
        return
    if profile.histology is None:
        verdict.unknown.append(Unknown("histology", "histology not recorded", "histopathology_ihc"))
    elif profile.histology in criteria.histologies:
        verdict.met.append(f"histology {profile.histology}")
    else:
        allowed = ", ".join(criteria.histologies)
        verdict.failed.append(
            Failure("histology", f"histology {profile.histology} (trial: {allowed})")
        )


def _required(
    profile: CaseProfile, guidance: Guidance, criteria: TrialCriteria, verdict: _Verdict
) -> None:
    answers = _molecular_answers(
        profile, guidance, criteria.required_biomarkers, criteria.required_alterations
    )
    if not answers:
        return
    present = [(name, a) for name, a in answers if a.present]
    if present:
        name, answer = present[0]
        verdict.met.append(f"{name}: {answer.text}")
        return
    open_ = [(name, a) for name, a in answers if a.present is None]
    if open_:
        for name, answer in open_:
            verdict.unknown.append(Unknown(f"requires {name}", answer.text, answer.investigation))
        return
    wanted = " or ".join(name for name, _ in answers)
    reasons = "; ".join(a.text for _, a in answers)
    verdict.failed.append(Failure(f"requires {wanted}", reasons))


def _excluded(
    profile: CaseProfile, guidance: Guidance, criteria: TrialCriteria, verdict: _Verdict
) -> None:
    answers = _molecular_answers(
        profile, guidance, criteria.excluded_biomarkers, criteria.excluded_alterations
    )
    for name, answer in answers:
        if answer.present:
            verdict.failed.append(Failure(f"excludes {name}", answer.text))
        elif answer.present is None:
            verdict.unknown.append(Unknown(f"excludes {name}", answer.text, answer.investigation))
        else:
            verdict.met.append(f"no {name}")


def _scope(guidance: Guidance, criteria: TrialCriteria, verdict: _Verdict) -> None:
    found = guidance.primary_found
    if criteria.scope == SCOPE_TUMOUR_AGNOSTIC:
        return
    if criteria.scope == SCOPE_UNKNOWN_PRIMARY:
        if found is not None:
            verdict.failed.append(
                Failure("unknown primary", f"primary found on tissue: {found.label}")
            )
        elif guidance.favourable_subtype is not None:
            subtype = guidance.favourable_subtype
            verdict.failed.append(
                Failure("unknown primary", f"favourable subtype: manage as {subtype.manage_as}")
            )
        else:
            verdict.met.append("primary unknown")
        return
    wanted = ", ".join(criteria.sites)
    if found is not None:
        if found.site in criteria.sites:
            verdict.met.append(f"primary found: {found.label}")
        else:
            verdict.failed.append(
                Failure(f"primary site {wanted}", f"primary found: {found.label}")
            )
        return
    likely = [p.site for p in guidance.likely_primaries]
    if likely and likely[0] in criteria.sites:
        verdict.met.append(f"likely primary {likely[0]}")
    elif any(site in criteria.sites for site in likely):
        verdict.unknown.append(
            Unknown(
                f"primary site {wanted}",
                f"{likely[0]} leads the likely primaries; not settled",
                "gep",
            )
        )
    elif likely:
        verdict.failed.append(
            Failure(f"primary site {wanted}", f"likely primaries: {', '.join(likely[:3])}")
        )
    else:
        verdict.unknown.append(
            Unknown(f"primary site {wanted}", "nothing points to a primary yet", "gep")
        )


def _patient(
    profile: CaseProfile, criteria: TrialCriteria, prior_lines: int | None, verdict: _Verdict
) -> None:
    if criteria.sex != "all":
        if profile.sex == criteria.sex:
            verdict.met.append(f"sex {profile.sex}")
        else:
            verdict.failed.append(Failure(f"sex {criteria.sex}", f"patient is {profile.sex}"))
    if criteria.age_min is not None and profile.age < criteria.age_min:
        verdict.failed.append(Failure(f"age >= {criteria.age_min}", f"age {profile.age}"))
    elif criteria.age_max is not None and profile.age > criteria.age_max:
        verdict.failed.append(Failure(f"age <= {criteria.age_max}", f"age {profile.age}"))
    elif criteria.age_min is not None or criteria.age_max is not None:
        verdict.met.append(f"age {profile.age}")
    if criteria.ecog_max is not None:
        if profile.ecog is None:
            verdict.unknown.append(
                Unknown(f"ECOG <= {criteria.ecog_max}", "ECOG not recorded: assess at clinic")
            )
        elif profile.ecog <= criteria.ecog_max:
            verdict.met.append(f"ECOG {profile.ecog}")
        else:
            verdict.failed.append(Failure(f"ECOG <= {criteria.ecog_max}", f"ECOG {profile.ecog}"))
    if criteria.max_prior_lines is not None:
        wanted = f"at most {criteria.max_prior_lines} prior systemic lines"
        if prior_lines is None:
            verdict.unknown.append(
                Unknown(wanted, "prior systemic lines not recorded: ask the oncologist")
            )
        elif prior_lines <= criteria.max_prior_lines:
            verdict.met.append(f"{prior_lines} prior systemic lines")
        else:
            verdict.failed.append(Failure(wanted, f"{prior_lines} prior systemic lines"))


def _brain(profile: CaseProfile, criteria: TrialCriteria, verdict: _Verdict) -> None:
    if criteria.brain_metastases_allowed:
        return
    if "brain" in profile.sites:
        verdict.failed.append(Failure("no brain metastases", "brain metastases recorded"))
    elif profile.workup.get("mri_brain") in _RESULT_STATUSES:
        verdict.met.append("no brain metastases on MRI")
    else:
        # CT of chest, abdomen and pelvis does not image the brain: not seen is not absent.
        answer = _awaiting(profile, "mri_brain", "brain imaging")
        verdict.unknown.append(Unknown("no brain metastases", answer.text, "mri_brain"))


def match(
    profile: CaseProfile,
    guidance: Guidance,
    criteria: TrialCriteria,
    prior_lines: int | None = None,
) -> TrialMatch:
    """Whether this patient could enter a trial with these criteria, and why.

    ``guidance`` is :func:`cupboard.guidance.assess_case` of the same profile (the
    likely primary, a primary found, the tumour-agnostic flags). ``prior_lines`` is the
    number of prior systemic therapy lines, None when not recorded.
    """
    verdict = _Verdict()
    _histology(profile, criteria, verdict)
    _scope(guidance, criteria, verdict)
    _required(profile, guidance, criteria, verdict)
    _excluded(profile, guidance, criteria, verdict)
    _patient(profile, criteria, prior_lines, verdict)
    _brain(profile, criteria, verdict)
    return verdict.result()


_STATE_RANK = {ELIGIBLE: 0, POSSIBLY_ELIGIBLE: 1, NOT_ELIGIBLE: 2}


def rank_matches(
    profile: CaseProfile,
    guidance: Guidance,
    trials: Iterable[RegisteredTrial],
    prior_lines: int | None = None,
) -> tuple[RankedMatch, ...]:
    """Every trial matched, best first: eligible, then possibly eligible with the fewest
    unknowns (the nearest to a decision), then not eligible; ties by identifier."""
    ranked = [RankedMatch(t, match(profile, guidance, t.criteria, prior_lines)) for t in trials]
    ranked.sort(
        key=lambda r: (_STATE_RANK[r.match.state], len(r.match.unknown), r.trial.identifier)
    )
    return tuple(ranked)


def best_matches(ranked: Sequence[RankedMatch], limit: int = 3) -> tuple[RankedMatch, ...]:
    """The few the board should see: eligible first, then possibly eligible."""
    return tuple(r for r in ranked if r.match.state != NOT_ELIGIBLE)[:limit]


# ---------------------------------------------------------------------------------
# JSON: criteria as the register stores them, and a match as the CLI prints it


class CriteriaError(ValueError):
    """Structured criteria that break the format; ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


_CRITERIA_KEYS = frozenset(TrialCriteria.__dataclass_fields__)


def _codes(value: object, field: str, allowed: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CriteriaError(field, "must be a list of codes")
    for code in value:
        if code not in allowed:
            raise CriteriaError(field, f"unknown code {code!r}; known: {', '.join(allowed)}")
    return tuple(dict.fromkeys(value))


def _optional_int(value: object, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CriteriaError(field, f"must be an integer {low}-{high} or null")
    return value


def _alteration_list(value: object, field: str) -> tuple[AlterationCriterion, ...]:
    if not isinstance(value, list):
        raise CriteriaError(field, "must be a list of {gene, kind, variant} objects")
    out: list[AlterationCriterion] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise CriteriaError(where, "must be an object with gene and kind")
        gene, kind, variant = item.get("gene"), item.get("kind"), item.get("variant")
        if not isinstance(gene, str) or not gene.strip():
            raise CriteriaError(f"{where}.gene", "must be a gene name")
        if kind not in ALTERATION_KINDS:
            raise CriteriaError(f"{where}.kind", f"must be one of {', '.join(ALTERATION_KINDS)}")
        if variant is not None and not isinstance(variant, str):
            raise CriteriaError(f"{where}.variant", "must be text or null")
        out.append(AlterationCriterion(gene, kind, variant))
    return tuple(out)


def _enum(value: object, field: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise CriteriaError(field, f"must be one of {', '.join(allowed)}")
    return str(value)


def criteria_from_json(data: object) -> TrialCriteria:
    """Structured criteria from their JSON form, refused with the field named when they
    break it (unknown keys are refused too: a misspelt criterion must not admit everyone)."""
    if not isinstance(data, dict):
        raise CriteriaError("criteria", "must be a JSON object")
    unknown = sorted(set(data) - _CRITERIA_KEYS)
    if unknown:
        raise CriteriaError(f"criteria.{unknown[0]}", "is not a trial criterion")
    scope = _enum(data.get("scope", SCOPE_TUMOUR_AGNOSTIC), "criteria.scope", SCOPES)
    sites = _codes(data.get("sites", []), "criteria.sites", PRIMARY_SITE_CODES)
    if scope == SCOPE_SITES and not sites:
        raise CriteriaError("criteria.sites", "a trial scoped to sites needs at least one site")
    brain = data.get("brain_metastases_allowed", True)
    if not isinstance(brain, bool):
        raise CriteriaError("criteria.brain_metastases_allowed", "must be true or false")
    criteria = TrialCriteria(
        histologies=_codes(data.get("histologies", []), "criteria.histologies", HISTOLOGY_CODES),
        required_biomarkers=_codes(
            data.get("required_biomarkers", []),
            "criteria.required_biomarkers",
            TUMOUR_AGNOSTIC_NAMES,
        ),
        required_alterations=_alteration_list(
            data.get("required_alterations", []), "criteria.required_alterations"
        ),
        excluded_biomarkers=_codes(
            data.get("excluded_biomarkers", []),
            "criteria.excluded_biomarkers",
            TUMOUR_AGNOSTIC_NAMES,
        ),
        excluded_alterations=_alteration_list(
            data.get("excluded_alterations", []), "criteria.excluded_alterations"
        ),
        scope=scope,
        sites=sites,
        ecog_max=_optional_int(data.get("ecog_max"), "criteria.ecog_max", 0, 5),
        age_min=_optional_int(data.get("age_min"), "criteria.age_min", 0, 130),
        age_max=_optional_int(data.get("age_max"), "criteria.age_max", 0, 130),
        sex=_enum(data.get("sex", "all"), "criteria.sex", TRIAL_SEXES),
        max_prior_lines=_optional_int(
            data.get("max_prior_lines"), "criteria.max_prior_lines", 0, 20
        ),
        brain_metastases_allowed=brain,
    )
    if (
        criteria.age_min is not None
        and criteria.age_max is not None
        and criteria.age_min > criteria.age_max
    ):
        raise CriteriaError("criteria.age_max", "must not be below age_min")
    return criteria


def _alteration_json(a: AlterationCriterion) -> dict[str, Any]:
    return {"gene": a.gene, "kind": a.kind, "variant": a.variant}


def criteria_to_json(criteria: TrialCriteria) -> dict[str, Any]:
    return {
        "histologies": list(criteria.histologies),
        "required_biomarkers": list(criteria.required_biomarkers),
        "required_alterations": [_alteration_json(a) for a in criteria.required_alterations],
        "excluded_biomarkers": list(criteria.excluded_biomarkers),
        "excluded_alterations": [_alteration_json(a) for a in criteria.excluded_alterations],
        "scope": criteria.scope,
        "sites": list(criteria.sites),
        "ecog_max": criteria.ecog_max,
        "age_min": criteria.age_min,
        "age_max": criteria.age_max,
        "sex": criteria.sex,
        "max_prior_lines": criteria.max_prior_lines,
        "brain_metastases_allowed": criteria.brain_metastases_allowed,
    }


def match_to_json(ranked: RankedMatch) -> dict[str, Any]:
    m = ranked.match
    return {
        "identifier": ranked.trial.identifier,
        "title": ranked.trial.title,
        "state": m.state,
        "met": list(m.met),
        "unknown": [
            {"criterion": u.criterion, "reason": u.reason, "investigation": u.investigation}
            for u in m.unknown
        ],
        "failed": [{"criterion": f.criterion, "reason": f.reason} for f in m.failed],
    }


def trials_from_json(data: object, field: str = "trials") -> tuple[RegisteredTrial, ...]:
    """An offline list of trials: ``[{"identifier", "title", "criteria": {...}}, ...]``."""
    if not isinstance(data, list):
        raise CriteriaError(field, "must be a list of trials")
    trials: list[RegisteredTrial] = []
    for index, item in enumerate(data):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise CriteriaError(where, "must be an object")
        identifier, title = item.get("identifier"), item.get("title", "")
        if not isinstance(identifier, str) or not identifier.strip():
            raise CriteriaError(f"{where}.identifier", "must be the trial's identifier")
        if not isinstance(title, str):
            raise CriteriaError(f"{where}.title", "must be text")
        try:
            criteria = criteria_from_json(item.get("criteria", {}))
        except CriteriaError as error:
            raise CriteriaError(f"{where}.{error.field}", error.message) from error
        trials.append(RegisteredTrial(identifier.strip(), title, criteria))
    return tuple(trials)
