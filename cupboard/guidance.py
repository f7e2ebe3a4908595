"""Pure clinical guidance for a CUP case: a case profile in, guidance out.

No Streamlit and no database: the case page and ``python -m cupboard assess`` call the
same functions (docs/assess-contract.md; every rule, its source and its thresholds are
in docs/clinical-rules.md). This is decision *support*: it
shows evidence, flags gaps and lists options worth discussing; the board decides.
Every rule names its source tag; the clinical data live in :mod:`cupboard.knowledge`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cupboard.knowledge.biomarkers import (
    ACTIONABLE_TARGETS,
    ALTERATION_SEPARATORS,
    AMPLIFICATION_WORDS,
    BRAF_COLORECTAL_THERAPY,
    DELETION_WORDS,
    FUSION_WORDS,
    GENE_ALIASES,
    GENE_TOKEN,
    IHC_WORDS,
    IMMUNOTHERAPY_BIOMARKERS,
    MUTATION_WORDS,
    NEGATED_ALTERATION,
    NOT_GENES,
    PDL1_POSITIVE_MIN,
    TMB_HIGH_MIN,
    TUMOUR_AGNOSTIC_BIOMARKERS,
    VARIANT,
)
from cupboard.knowledge.decisions import DECISION_CODES, DECISION_LABELS
from cupboard.knowledge.favourable_subtypes import (
    CARCINOMA_HISTOLOGIES,
    FAVOURABLE_SUBTYPES_BY_CODE,
    GERM_CELL_HISTOLOGIES,
    GERM_CELL_MAX_AGE,
    LOCAL_THERAPY_HISTOLOGIES,
    NET_G3_MANAGE_AS,
    NEUROENDOCRINE_MANAGE_AS,
    NEUROENDOCRINE_MANAGEMENT,
    OLIGO_MAX_LESIONS,
    OLIGO_MAX_ORGANS,
    SUBTYPE_MANAGES_ENTITY,
    SUBTYPE_PRIORITY,
    TOO_HIGH_CONFIDENCE,
)
from cupboard.knowledge.histology import HISTOLOGY_CATEGORIES
from cupboard.knowledge.ihc_patterns import (
    BREAST_MARKERS,
    CK_QUADRANTS,
    DIFFERENTIATION_PROFILES,
    EXCLUSION_ENTITIES,
    HISTOLOGY_POINTERS,
    KEY_NEGATIVES,
    KI67_G3_ABOVE,
    LINEAGE_OPEN_HISTOLOGIES,
    MARKER_COMBINATIONS,
    MARKER_POINTERS,
    NEC_MIN_MARKERS,
    NEUROENDOCRINE_MARKERS,
    P16_HEAD_AND_NECK_WEIGHT,
    PRESENTATION_POINTERS,
    PRIMARY_FOUND_HISTOLOGIES,
    PRIMARY_FOUND_MARKERS,
    QUADRANT_WEIGHT,
    SARCOMA_SUSPECT_HISTOLOGIES,
    SERUM_POINTERS_BY_MARKER,
    SEX_EXCLUDED_SITES,
    SQUAMOUS_MARKER_SETS,
    SQUAMOUS_POINTERS,
    TISSUE_PROFILES,
    TISSUE_PROFILES_BY_SITE,
    TOO_MAX_WEIGHT,
    CkQuadrant,
)
from cupboard.knowledge.investigations import (
    INVESTIGATION_CODES,
    INVESTIGATIONS_BY_CODE,
    MISSING_STATUSES,
)
from cupboard.knowledge.markers import (
    canonical_ihc_marker,
    canonical_serum_marker,
    is_ki67,
    marker_key,
)
from cupboard.knowledge.pathway import ADULT_AGE
from cupboard.knowledge.performance import BSC_FLAG_MIN_ECOG, GOOD_PROGNOSIS_MAX_ECOG
from cupboard.knowledge.referrals import (
    GENETICS_BIOMARKERS,
    GENETICS_YOUNGER_THAN,
    PALLIATIVE_MIN_ECOG,
    REFERRAL_KIND_LABELS,
)
from cupboard.knowledge.sites import (
    MIDLINE_SITES,
    NODAL_SITES,
    PRIMARY_SITE_CODES,
    PRIMARY_SITES,
    SYMPTOMS,
)

V = TypeVar("V")


class FrozenMap(Mapping[str, V]):
    """An immutable, hashable mapping, so that a :class:`CaseProfile` is a value."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        self._data: dict[str, V] = dict(items)

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


# Spellings of beta-hCG that marker_key cannot reach ("β-hCG" loses its β).
_SERUM_ALIASES: dict[str, str] = {"hcg": "beta-hCG", "bhcg": "beta-hCG", "betahcg": "beta-hCG"}


def canonical_serum_name(name: str) -> str | None:
    """Canonical serum marker code (PSA, AFP, beta-hCG, CA-125, LDH, ...) or None."""
    return canonical_serum_marker(name) or _SERUM_ALIASES.get(marker_key(name))


def _canonical_keys(
    values: Mapping[str, V], canonical: Callable[[str], str | None], kind: str
) -> FrozenMap[V]:
    out: dict[str, V] = {}
    for name, value in values.items():
        key = canonical(name)
        if key is None:
            raise ValueError(f"unknown {kind} {name!r}")
        out[key] = value
    return FrozenMap(out)


ALTERATION_KINDS: tuple[str, ...] = ("mutation", "fusion", "amplification", "deletion", "other")


@dataclass(frozen=True)
class Alteration:
    """One finding of a molecular (NGS) report, as the assess contract's structured
    alteration object: ``{"gene": "RET", "kind": "fusion", "variant": "KIF5B-RET"}``.

    ``detected`` False records a tested, absent alteration ("EML4-ALK negative"): it is
    never a finding. ``text`` keeps the report's wording when the finding came as text.
    """

    gene: str
    kind: str  # mutation | fusion | amplification | deletion | other
    variant: str | None = None
    detected: bool = True
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALTERATION_KINDS:
            raise ValueError(f"unknown alteration kind {self.kind!r}")
        object.__setattr__(self, "gene", self.gene.strip().upper())

    @property
    def label(self) -> str:
        """As shown on screen and in evidence: the report's text, or gene variant kind."""
        if self.text:
            return self.text
        parts = [self.gene, self.variant or "", "" if self.variant else self.kind]
        shown = " ".join(p for p in parts if p)
        return shown if self.detected else f"{shown} not detected"


def _alteration(item: str | Alteration | Mapping[str, Any]) -> str | Alteration:
    if isinstance(item, (str, Alteration)):
        return item
    return Alteration(
        gene=str(item["gene"]),
        kind=str(item["kind"]),
        variant=item.get("variant"),
        detected=bool(item.get("detected", True)),
    )


def _ki67_value(value: object) -> float | None:
    """Ki-67 in percent from a number or a report's text ("35", "35 %")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        digits = value.strip().rstrip("%").strip().replace(",", ".")
        try:
            return float(digits)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class CaseProfile:
    """What the guidance needs to know about a case (the assess contract's input).

    IHC and serum keys may be given in any spelling the catalogue knows (TTF1, ttf-1);
    they are stored under the canonical name. Collections are stored immutable.
    Ki-67 given among the IHC results (as the contract writes it) is moved to ``ki67``.
    Every field but sex and age defaults to "not known": absent is never negative.
    """

    sex: str  # "female" | "male"
    age: int
    histology: str | None = None  # knowledge/histology.py code
    sites: tuple[str, ...] = ()  # metastatic site codes (knowledge/sites.py)
    bone_pattern: str | None = None  # blastic | lytic | mixed
    lesions: int | None = None  # >= 1 when known
    ihc: Mapping[str, str] = field(default_factory=FrozenMap)  # marker -> result
    serum: Mapping[str, float | str] = field(default_factory=FrozenMap)  # code -> value
    msi: str | None = None  # MSI-H | MSS | MSI-L
    mmr: str | None = None  # deficient | proficient
    tmb: float | None = None  # mut/Mb
    pdl1_tps: float | None = None  # %
    pdl1_cps: float | None = None
    # NGS findings: report text ("KRAS G12D, TP53 WT": each finding judged on its own)
    # or structured Alteration objects (a mapping with gene/kind/variant/detected is
    # turned into one).
    alterations: tuple[str | Alteration, ...] = ()
    tissue_of_origin: str | None = None  # primary-site code predicted by GEP
    tissue_of_origin_confidence: float | None = None  # 0..1
    ecog: int | None = None
    workup: Mapping[str, str] = field(default_factory=FrozenMap)  # code -> status
    # Version 2 of the contract.
    ki67: float | None = None  # proliferation index, percent 0..100
    previous_malignancy: str | None = None  # primary-site code of an earlier cancer
    pregnant: bool | None = None  # None: not recorded
    symptoms: tuple[str, ...] = ()  # knowledge/sites.py SYMPTOM_CODES
    # A germline (hereditary) result is known: True tested, None not recorded. Only True
    # silences the genetics prompt that MSI-H or dMMR raises (docs/assess-contract.md).
    germline_tested: bool | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "sites", tuple(dict.fromkeys(self.sites)))
        set_(self, "symptoms", tuple(dict.fromkeys(self.symptoms)))
        set_(self, "alterations", tuple(_alteration(a) for a in self.alterations))
        ihc = dict(self.ihc)
        for name in [n for n in ihc if is_ki67(n)]:
            value = _ki67_value(ihc.pop(name))
            if self.ki67 is None and value is not None:
                set_(self, "ki67", value)
        set_(self, "ihc", _canonical_keys(ihc, canonical_ihc_marker, "IHC marker"))
        set_(self, "serum", _canonical_keys(self.serum, canonical_serum_name, "serum marker"))
        set_(self, "workup", FrozenMap(self.workup))

    def ihc_result(self, marker: str) -> str | None:
        return self.ihc.get(marker)

    def positive(self, marker: str) -> bool:
        return self.ihc.get(marker) == "positive"

    def negative(self, marker: str) -> bool:
        return self.ihc.get(marker) == "negative"

    def serum_value(self, code: str) -> float | None:
        value = self.serum.get(code)
        return float(value) if isinstance(value, (int, float)) else None


# ---------------------------------------------------------------------------------
# What the guidance says


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: its text as shown ("GATA3+"), source and rank weight."""

    text: str
    source: str
    weight: float = 0.0


@dataclass(frozen=True)
class LikelyPrimary:
    site: str
    label: str
    score: float  # ordinal, for ranking only
    evidence: tuple[Finding, ...]  # for
    against: tuple[Finding, ...] = ()  # key negatives that lowered it

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.source for f in self.evidence + self.against))


@dataclass(frozen=True)
class PrimaryFound:
    """A primary that tissue establishes beyond the CK7/CK20 pattern (contract v2)."""

    site: str
    label: str
    evidence: tuple[str, ...]
    source: str = "ESMO23"


@dataclass(frozen=True)
class Conflict:
    """Evidence that disagrees, shown to the board and never silently resolved.

    ``code`` is one of subtype_contradicted, msi_mmr_discordant, too_vs_ihc,
    inconsistent_lesion_count, marker_conflict (docs/assess-contract.md).
    """

    code: str
    message: str
    source: str = "ESMO23"


@dataclass(frozen=True)
class Exclusion:
    entity: str  # lymphoma | melanoma | germ_cell | sarcoma
    label: str
    evidence: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class SubtypeMatch:
    code: str
    label: str
    manage_as: str
    management: str
    decisions: tuple[str, ...]
    evidence: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class BiomarkerFinding:
    biomarker: str  # contract name, e.g. "MSI-H"
    therapy: str
    decision: str  # immunotherapy | targeted_therapy
    evidence: str
    source: str


@dataclass(frozen=True)
class ActionableAlteration:
    """A detected alteration that ESCAT I-II ranks as a target [ESCAT], [CUPISCO]."""

    alteration: Alteration
    therapy: str
    tier: str
    source: str = "ESCAT"


@dataclass(frozen=True)
class RequiredInvestigation:
    code: str
    label: str
    reason: str
    source: str


@dataclass(frozen=True)
class Prognosis:
    group: str  # good | poor | unknown
    reason: str
    source: str = "CULINE"


@dataclass(frozen=True)
class Option:
    code: str  # decision code
    label: str
    reason: str
    source: str


@dataclass(frozen=True)
class ReferralPrompt:
    """A referral the record supports, offered beside the decision; never made here."""

    code: str  # knowledge/referrals.py REFERRAL_KIND_CODES
    label: str
    reason: str
    source: str


@dataclass(frozen=True)
class GuidanceWarning:
    text: str  # a plain sentence
    source: str
    code: str = ""  # stable code (contract warning_codes); empty only for decision notes


@dataclass(frozen=True)
class Guidance:
    favourable_subtype: SubtypeMatch | None
    other_favourable_subtypes: tuple[SubtypeMatch, ...]
    likely_primaries: tuple[LikelyPrimary, ...]
    exclude_first: tuple[Exclusion, ...]
    tumour_agnostic: tuple[BiomarkerFinding, ...]
    immunotherapy_candidate: bool
    required_workup: tuple[RequiredInvestigation, ...]
    missing_workup: tuple[str, ...]  # investigation codes, catalogue order
    prognosis: Prognosis
    options: tuple[Option, ...]  # best supported first
    warnings: tuple[GuidanceWarning, ...]
    # Version 2 of the contract.
    primary_found: PrimaryFound | None = None
    conflicts: tuple[Conflict, ...] = ()
    actionable_alterations: tuple[ActionableAlteration, ...] = ()
    referrals_to_consider: tuple[ReferralPrompt, ...] = ()  # one per kind

    @property
    def is_favourable(self) -> bool:
        return self.favourable_subtype is not None


# ---------------------------------------------------------------------------------
# Small readers


def _number(value: float) -> str:
    """45.0 -> "45", 0.8234 -> "0.82": evidence reads like a lab report."""
    rounded = round(value, 2)
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return f"{rounded:g}"


def _marker_text(marker: str, result: str) -> str:
    if result == "positive":
        return f"{marker}+"
    return f"{marker} {result}"


def _beta_hcg_counts(profile: CaseProfile) -> bool:
    # beta-hCG is raised by pregnancy itself: it is no germ-cell marker then [SVF].
    return profile.pregnant is not True


def _raised(profile: CaseProfile, code: str) -> str | None:
    """Evidence text when a serum marker is above its upper limit, else None."""
    if code == "beta-hCG" and not _beta_hcg_counts(profile):
        return None
    pointer = SERUM_POINTERS_BY_MARKER[code]
    value = profile.serum_value(code)
    if value is None or value <= pointer.upper_limit:
        return None
    return f"{code} {_number(value)} {pointer.unit}"


def _positives(profile: CaseProfile, markers: Iterable[str]) -> list[str]:
    return [f"{m}+" for m in markers if profile.positive(m)]


def ck_quadrant(profile: CaseProfile) -> CkQuadrant | None:
    """The CK7/CK20 quadrant [CHU00], or None unless both are clearly read."""
    for quadrant in CK_QUADRANTS:
        if (profile.ihc_result("CK7"), profile.ihc_result("CK20")) == (
            quadrant.ck7,
            quadrant.ck20,
        ):
            return quadrant
    return None


def _histology_text(histology: str) -> str:
    return HISTOLOGY_CATEGORIES[histology].lower()


def _site_label(site: str) -> str:
    return PRIMARY_SITES[site].lower()


def organ_count(sites: Iterable[str]) -> int:
    """Organs involved: each site one organ, all nodal stations together one (contract
    version 2), for oligometastatic disease and the lesion count's consistency."""
    sites = set(sites)
    return len(sites - NODAL_SITES) + (1 if sites & NODAL_SITES else 0)


def _lesions_inconsistent(profile: CaseProfile) -> bool:
    return profile.lesions is not None and profile.lesions < organ_count(profile.sites)


def _oligometastatic(profile: CaseProfile) -> bool:
    """1-5 lesions in at most two organs, the count agreeing with the sites [ESTRO20]."""
    return (
        profile.lesions is not None
        and 1 <= profile.lesions <= OLIGO_MAX_LESIONS
        and organ_count(profile.sites) <= OLIGO_MAX_ORGANS
        and not _lesions_inconsistent(profile)
    )


def _squamous(profile: CaseProfile) -> str | None:
    """Evidence of squamous carcinoma: the histology, or p40+ (p63+ with CK5/6+) in a
    poorly differentiated carcinoma [ESMO23]."""
    if profile.histology == "squamous_cell_carcinoma":
        return "squamous cell carcinoma"
    if profile.histology == "poorly_differentiated_carcinoma":
        for markers in SQUAMOUS_MARKER_SETS:
            if all(profile.positive(m) for m in markers):
                return f"poorly differentiated carcinoma, {'/'.join(markers)}+ (squamous)"
    return None


def _nec(profile: CaseProfile) -> bool:
    """A poorly differentiated neuroendocrine carcinoma: the histology, or a poorly
    differentiated carcinoma with at least two neuroendocrine markers [ESMO23]."""
    if profile.histology == "neuroendocrine_carcinoma":
        return True
    return (
        profile.histology == "poorly_differentiated_carcinoma"
        and sum(profile.positive(m) for m in NEUROENDOCRINE_MARKERS) >= NEC_MIN_MARKERS
    )


def _young_man(profile: CaseProfile) -> bool:
    return profile.sex == "male" and profile.age < GERM_CELL_MAX_AGE


T = TypeVar("T")


def _memo(profile: CaseProfile, name: str, compute: Callable[[CaseProfile], T]) -> T:
    """A reading of the profile computed once per profile object (several rules ask
    for the same tissue profiles and exclusions). A profile is immutable, so the
    answer cannot go stale; it is kept beside the fields, outside equality and hash."""
    cache = profile.__dict__
    if name not in cache:
        cache[name] = compute(profile)
    return cache[name]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------
# Tissue profiles: a site's defining markers on tissue [ESMO23]


def tissue_profiles(profile: CaseProfile) -> dict[str, tuple[str, ...]]:
    """Site -> the positive markers that make its profile, for every site whose
    defining markers the tissue shows (knowledge/ihc_patterns.py TISSUE_PROFILES)."""
    return dict(_memo(profile, "_tissue_profiles", _tissue_profiles))


def _tissue_profiles(profile: CaseProfile) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    positive = {m for m, result in profile.ihc.items() if result == "positive"}
    if not positive:
        return found
    for tissue in TISSUE_PROFILES:
        if positive.intersection(tissue.unless):
            continue
        markers: list[str] = []
        for combination in tissue.any_of:
            if positive.issuperset(combination):
                markers += [m for m in combination if m not in markers]
        if markers:
            found[tissue.site] = tuple(markers)
    return found


def _other_profiles(
    profiles: Mapping[str, tuple[str, ...]], site: str
) -> dict[str, tuple[str, ...]]:
    """Profiles of lineages other than ``site`` (neuroendocrine differentiation aside)."""
    return {s: m for s, m in profiles.items() if s != site and s not in DIFFERENTIATION_PROFILES}


def _profile_text(site: str, markers: tuple[str, ...]) -> str:
    label = TISSUE_PROFILES_BY_SITE[site].label
    return f"{'/'.join(markers)}+: {label}"


def _others_text(others: Mapping[str, tuple[str, ...]]) -> str:
    return "; ".join(_profile_text(s, m) for s, m in others.items())


# ---------------------------------------------------------------------------------
# Entities to rule out first [ESMO23]


_SARCOMA_EVIDENCE = "keratin-negative (CK7-/CK20-), not a carcinoma"
_PANKERATIN_NEGATIVE = "keratin-negative (AE1/AE3 negative), not a carcinoma"
_MELANOMA_SPECIFIC = ("SOX10", "HMB45", "Melan-A")


def _sarcoma_evidence(profile: CaseProfile) -> str | None:
    """Keratin-negative neoplasm not called carcinoma, with no other lineage [ESMO23]."""
    if profile.histology not in SARCOMA_SUSPECT_HISTOLOGIES:
        return None
    if profile.negative("AE1/AE3"):
        evidence = _PANKERATIN_NEGATIVE
    elif profile.negative("CK7") and profile.negative("CK20"):
        evidence = _SARCOMA_EVIDENCE
    else:
        return None
    other_lineages = (m for e in EXCLUSION_ENTITIES for m in e.markers)
    return None if any(profile.positive(m) for m in other_lineages) else evidence


def _open_result(profile: CaseProfile, marker: str) -> bool:
    """Not done, or equivocal: neither rules anything out [contract version 2]."""
    return profile.ihc_result(marker) in (None, "equivocal")


def _exclusions(profile: CaseProfile) -> tuple[Exclusion, ...]:
    return _memo(profile, "_exclusions", _find_exclusions)


def _find_exclusions(profile: CaseProfile) -> tuple[Exclusion, ...]:
    profiles = tissue_profiles(profile)
    found: list[Exclusion] = []
    for entity in EXCLUSION_ENTITIES:
        evidence: list[str] = []
        for marker in entity.markers:
            result = profile.ihc_result(marker)
            if result not in ("positive", "equivocal"):
                continue
            # S100 is sensitive, not specific: beside another site's full profile it is
            # a marker conflict to report, not a melanoma to rule out [ESMO23].
            lone_s100 = marker == "S100" and not any(
                profile.positive(m) for m in _MELANOMA_SPECIFIC
            )
            if lone_s100 and _other_profiles(profiles, "melanoma"):
                continue
            # An equivocal stain is not negative: the entity is still to be ruled out.
            evidence.append(_marker_text(marker, result))
        evidence += [t for t in (_raised(profile, s) for s in entity.serum_markers) if t]
        if entity.code == "melanoma" and profile.histology == "melanoma":
            evidence.insert(0, "histology melanoma")
        if entity.code == "sarcoma" and (sarcoma := _sarcoma_evidence(profile)):
            evidence.append(sarcoma)
        if entity.code == "germ_cell":
            evidence += _germ_cell_presentation(profile)
        if not evidence and profile.histology in LINEAGE_OPEN_HISTOLOGIES:
            # Lineage open and this entity's markers not done (or equivocal): it still
            # has to be ruled out.
            untested = entity.markers or ("CK7", "CK20")
            if all(_open_result(profile, m) for m in untested):
                evidence.append(f"undifferentiated neoplasm, {'/'.join(untested)} not tested")
        if evidence:
            found.append(Exclusion(entity.code, entity.label, tuple(evidence), entity.source))
    return tuple(found)


def _germ_cell_presentation(profile: CaseProfile) -> list[str]:
    """Germ-cell tumour to rule out from the presentation [SVF block A], [ESMO23]:
    raised AFP with a midline mass (an isolated liver tumour raises AFP too, so AFP
    alone is not enough), or a young man with a poorly differentiated carcinoma whose
    AFP and beta-hCG have not been measured (not measured is not normal)."""
    evidence: list[str] = []
    afp = _raised(profile, "AFP")
    if afp and MIDLINE_SITES.intersection(profile.sites):
        evidence.append(f"{afp} with a midline mass")
    unmeasured = profile.serum_value("AFP") is None and profile.serum_value("beta-hCG") is None
    if (
        _young_man(profile)
        and profile.histology in GERM_CELL_HISTOLOGIES
        and unmeasured
        and not any(profile.negative(m) for m in ("SALL4", "OCT3/4"))
    ):
        evidence.append(
            f"man aged {profile.age} with {_histology_text(profile.histology or 'other')}: "
            "AFP and beta-hCG not measured"
        )
    return evidence


# ---------------------------------------------------------------------------------
# Likely primary sites


def _site_findings(profile: CaseProfile) -> dict[str, list[Finding]]:
    findings: dict[str, list[Finding]] = {}

    def add(site: str, text: str, weight: float, source: str) -> None:
        site_findings = findings.setdefault(site, [])
        if all(f.text != text for f in site_findings):
            site_findings.append(Finding(text, source, float(weight)))

    quadrant = ck_quadrant(profile)
    if quadrant is not None:
        for site in quadrant.sites:
            add(site, quadrant.label, QUADRANT_WEIGHT, quadrant.source)
    for pointer in MARKER_POINTERS + KEY_NEGATIVES:
        if profile.ihc_result(pointer.marker) == pointer.result:
            text = _marker_text(pointer.marker, pointer.result)
            add(pointer.site, text, pointer.weight, pointer.source)
    for combo in MARKER_COMBINATIONS:
        if all(profile.positive(m) for m in combo.markers):
            add(combo.site, combo.label, combo.weight, combo.source)
    for code, serum in SERUM_POINTERS_BY_MARKER.items():
        raised = _raised(profile, code)
        if raised and serum.sex in (None, profile.sex):
            for site, weight in serum.site_weights:
                add(site, raised, weight, serum.source)
    afp = _raised(profile, "AFP")
    if afp and MIDLINE_SITES.intersection(profile.sites):
        # AFP with a midline mass is a germ-cell tumour, not a liver primary [SVF].
        add("germ_cell", f"{afp} with a midline mass", 2, "SVF")
    metastatic = set(profile.sites)
    for spread in PRESENTATION_POINTERS:
        if (
            metastatic & spread.metastatic_sites
            and spread.sex in (None, profile.sex)
            and (spread.histologies is None or profile.histology in spread.histologies)
            and spread.bone_pattern in (None, profile.bone_pattern)
            and (spread.max_age is None or profile.age < spread.max_age)
        ):
            add(spread.site, spread.evidence, spread.weight, spread.source)
    squamous = _squamous(profile)
    if squamous:
        for spread in SQUAMOUS_POINTERS:
            if metastatic & spread.metastatic_sites and spread.sex in (None, profile.sex):
                add(spread.site, spread.evidence, spread.weight, spread.source)
        if profile.positive("p16") and "cervical_nodes" in metastatic:
            add("head_and_neck", "p16+ (HPV-related)", P16_HEAD_AND_NECK_WEIGHT, "ESMO23")
    for pointer in HISTOLOGY_POINTERS:
        if profile.histology == pointer.histology:
            add(pointer.site, pointer.evidence, pointer.weight, pointer.source)
    if _nec(profile) and profile.histology != "neuroendocrine_carcinoma":
        add("neuroendocrine", "neuroendocrine markers (NEC)", 2, "ESMO23")
    sarcoma = _sarcoma_evidence(profile)
    if sarcoma:
        add("sarcoma", sarcoma, 1, "ESMO23")
    if profile.previous_malignancy is not None:
        # A new metastasis in someone treated for cancer is that cancer until shown
        # otherwise [SVF referral content], [NICE].
        label = _site_label(profile.previous_malignancy)
        add(profile.previous_malignancy, f"previous {label} cancer", 1, "SVF")
    too = _confident_too(profile, profile.tissue_of_origin or "")
    if too and profile.tissue_of_origin is not None:
        weight = TOO_MAX_WEIGHT * (profile.tissue_of_origin_confidence or 0)
        add(profile.tissue_of_origin, too, weight, "HAYASHI")
    return findings


def _rank_primaries(
    profile: CaseProfile, primary_found: PrimaryFound | None = None
) -> tuple[LikelyPrimary, ...]:
    impossible = SEX_EXCLUDED_SITES.get(profile.sex, frozenset())
    ranked: list[LikelyPrimary] = []
    for site, findings in _site_findings(profile).items():
        score = round(sum(f.weight for f in findings), 6)
        evidence = tuple(f for f in findings if f.weight > 0)
        if site in impossible or score <= 0 or not evidence:
            continue
        against = tuple(f for f in findings if f.weight < 0)
        ranked.append(LikelyPrimary(site, PRIMARY_SITES[site], score, evidence, against))
    ranked.sort(key=lambda p: (-p.score, PRIMARY_SITE_CODES.index(p.site)))
    # In a man, breast ranks first only on a positive breast marker [ESMO23].
    if (
        profile.sex == "male"
        and len(ranked) > 1
        and ranked[0].site == "breast"
        and not _positives(profile, BREAST_MARKERS)
    ):
        ranked[0], ranked[1] = ranked[1], ranked[0]
    if primary_found is not None:
        # A primary established on tissue leads, whatever the scores (contract v2).
        first = [p for p in ranked if p.site == primary_found.site] or [
            LikelyPrimary(
                primary_found.site,
                PRIMARY_SITES[primary_found.site],
                0.0,
                tuple(Finding(t, primary_found.source) for t in primary_found.evidence),
            )
        ]
        ranked = first + [p for p in ranked if p.site != primary_found.site]
    return tuple(ranked)


# ---------------------------------------------------------------------------------
# A primary found on tissue [ESMO23] (contract version 2)


def _primary_found(profile: CaseProfile) -> PrimaryFound | None:
    """The site whose specific markers are positive on tissue while no other site's
    defining markers are. Serum alone and a CK7/CK20 pattern alone never set it."""
    # Prostate, thyroid and hepatocellular primaries are carcinomas: their markers in a
    # melanoma, a neuroendocrine or an undifferentiated neoplasm establish nothing.
    if profile.histology not in PRIMARY_FOUND_HISTOLOGIES:
        return None
    profiles = tissue_profiles(profile)
    found: list[PrimaryFound] = []
    for site, markers, with_one_of in PRIMARY_FOUND_MARKERS:
        specific = _positives(profile, markers)
        companions = _positives(profile, with_one_of)
        if not specific or (with_one_of and not companions):
            continue
        if _other_profiles(profiles, site):
            continue
        if site == "liver" and (profile.positive("CK7") or profile.positive("CK20")):
            continue  # hepatocellular carcinoma is CK7-/CK20- [CHU00]
        if site == "prostate" and profile.sex != "male":
            continue
        evidence = specific + companions
        if site == "prostate" and (psa := _raised(profile, "PSA")):
            evidence.append(f"serum {psa}")
        if site == "liver":
            evidence += _positives(profile, ("Glypican-3",))
            if afp := _raised(profile, "AFP"):
                evidence.append(f"serum {afp}")
        found.append(PrimaryFound(site, PRIMARY_SITES[site], tuple(evidence)))
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------------
# Favourable subtypes, docs/clinical-rules.md section 5 [ESMO23]. Each matcher returns its
# evidence, or None. Every subtype needs histologically confirmed disease [ESMO23].
# Evidence against a subtype's presumption wins: a subtype the tissue contradicts is
# not given, and the contradiction is reported (contract version 2).

_Matcher = Callable[[CaseProfile], tuple[str, ...] | None]


def _peritoneal_serous_women(p: CaseProfile) -> tuple[str, ...] | None:
    if p.sex != "female" or "peritoneum" not in p.sites:
        return None
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    lineage = _positives(p, ("PAX8", "WT1"))
    # Serous carcinoma is CK20-; CK20+ points to a mucinous or GI primary [CHU00].
    if not lineage or p.positive("CK20"):
        return None
    ca125 = _raised(p, "CA-125")
    evidence = ["woman", "peritoneal carcinomatosis", _histology_text(p.histology), *lineage]
    return tuple(evidence + ([ca125] if ca125 else []))


def _axillary_nodes_women(p: CaseProfile) -> tuple[str, ...] | None:
    if p.sex != "female" or set(p.sites) != {"axillary_nodes"}:
        return None
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    evidence = ["woman", "isolated axillary nodes", _histology_text(p.histology)]
    return tuple(evidence + _positives(p, BREAST_MARKERS))


def _cervical_nodes_squamous(p: CaseProfile) -> tuple[str, ...] | None:
    # Non-supraclavicular cervical nodes only: lower-neck SCC points to the lung [ESMO15].
    # Squamous by IHC (p40+) in a poorly differentiated carcinoma counts [ESMO23].
    squamous = _squamous(p)
    if squamous is None or set(p.sites) != {"cervical_nodes"}:
        return None
    return (squamous, "cervical nodes only", *_positives(p, ("p16", "p40", "EBER")))


def _inguinal_nodes_squamous(p: CaseProfile) -> tuple[str, ...] | None:
    squamous = _squamous(p)
    if squamous is None or set(p.sites) != {"inguinal_nodes"}:
        return None
    return (squamous, "isolated inguinal nodes")


def _bone_blastic_psa_men(p: CaseProfile) -> tuple[str, ...] | None:
    if p.sex != "male" or "bone" not in p.sites or p.bone_pattern != "blastic":
        return None
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    psa = _raised(p, "PSA")
    prostate_ihc = _positives(p, ("PSA", "NKX3.1", "PSAP"))
    if not psa and not prostate_ihc:
        return None
    return ("man", "blastic bone metastases", *([f"serum {psa}"] if psa else []), *prostate_ihc)


def _neuroendocrine(p: CaseProfile) -> tuple[str, ...] | None:
    nec_by_markers = _nec(p) and p.histology == "poorly_differentiated_carcinoma"
    if p.histology not in NEUROENDOCRINE_MANAGE_AS and not nec_by_markers:
        return None
    markers = _positives(p, NEUROENDOCRINE_MARKERS)
    ki67 = [f"Ki-67 {_number(p.ki67)} %"] if p.ki67 is not None else []
    return (_histology_text(p.histology or "other"), *markers, *ki67)


def _midline_germ_cell_men(p: CaseProfile) -> tuple[str, ...] | None:
    midline = MIDLINE_SITES.intersection(p.sites)
    if not _young_man(p) or not midline:
        return None
    if p.histology not in GERM_CELL_HISTOLOGIES:
        return None
    germ_cell = [t for t in (_raised(p, "AFP"), _raised(p, "beta-hCG")) if t]
    germ_cell += _positives(p, ("SALL4", "OCT3/4", "PLAP"))
    if not germ_cell:
        return None
    return (f"man aged {p.age}", "midline nodes", _histology_text(p.histology), *germ_cell)


def _confident_too(p: CaseProfile, site: str) -> str | None:
    """The tissue-of-origin call as evidence, when it names ``site`` with confidence
    >= 0.8; a less confident call is not used (contract version 2)."""
    confidence = p.tissue_of_origin_confidence
    if p.tissue_of_origin != site or confidence is None or confidence < TOO_HIGH_CONFIDENCE:
        return None
    return f"TOO {site} {_number(confidence)}"


def _colorectal_profile(p: CaseProfile) -> tuple[str, ...] | None:
    if p.histology != "adenocarcinoma":
        return None
    if p.negative("CK7") and p.positive("CK20") and p.positive("CDX2"):
        return ("adenocarcinoma", "CK7-/CK20+", "CDX2+", *_positives(p, ("SATB2",)))
    too = _confident_too(p, "colorectal")
    if too:
        return ("adenocarcinoma", too)
    return None


def _renal_like(p: CaseProfile) -> tuple[str, ...] | None:
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    renal = _positives(p, ("CD10", "RCC"))
    if p.positive("PAX8") and p.negative("CK7") and p.negative("CK20") and renal:
        return ("PAX8+", "CK7-/CK20-", *renal)
    too = _confident_too(p, "kidney")
    if too:
        return (too,)
    return None


def _single_metastasis(p: CaseProfile) -> tuple[str, ...] | None:
    # One lesion on staging in a malignancy local therapy treats [ESMO23], [GHANNAM].
    # Two to five lesions make local therapy an option, not this subtype (_options).
    if p.lesions != 1 or p.histology not in LOCAL_THERAPY_HISTOLOGIES:
        return None
    if _lesions_inconsistent(p):
        return None
    return ("single metastatic lesion",)


_MATCHERS: dict[str, _Matcher] = {
    "peritoneal_serous_women": _peritoneal_serous_women,
    "axillary_nodes_women": _axillary_nodes_women,
    "cervical_nodes_squamous": _cervical_nodes_squamous,
    "inguinal_nodes_squamous": _inguinal_nodes_squamous,
    "bone_blastic_psa_men": _bone_blastic_psa_men,
    "neuroendocrine": _neuroendocrine,
    "midline_germ_cell_men": _midline_germ_cell_men,
    "colorectal_profile": _colorectal_profile,
    "single_metastasis": _single_metastasis,
    "renal_like": _renal_like,
}

# The site each subtype presumes, when the tissue can contradict it.
_PRESUMED_SITE: dict[str, str] = {
    "peritoneal_serous_women": "ovary",
    "axillary_nodes_women": "breast",
    "bone_blastic_psa_men": "prostate",
    "colorectal_profile": "colorectal",
    "renal_like": "kidney",
}
_SUBTYPE_WORDS: dict[str, str] = {
    "peritoneal_serous_women": "Peritoneal carcinomatosis in a woman",
    "axillary_nodes_women": "Axillary nodes in a woman",
    "bone_blastic_psa_men": "Blastic bone metastases in a man",
    "colorectal_profile": "A colorectal tissue-of-origin call",
    "renal_like": "A renal tissue-of-origin call",
}
# The markers that define a tissue-of-origin call's site: one negative contradicts it.
_TOO_DEFINING_NEGATIVES: dict[str, tuple[str, ...]] = {
    "colorectal_profile": ("CK20", "CDX2", "SATB2"),
    "renal_like": ("PAX8",),
}
_TOO_DEFINING_POSITIVES: dict[str, tuple[str, ...]] = {
    "colorectal_profile": ("CK7",),  # colorectal is CK7- [CHU00]
    "renal_like": ("CK7", "CK20"),  # clear cell renal is CK7-/CK20- [CHU00]
}


def _contradiction(
    code: str,
    profile: CaseProfile,
    evidence: tuple[str, ...],
    profiles: Mapping[str, tuple[str, ...]],
) -> str | None:
    """Why the tissue contradicts this subtype's presumption, or None [ESMO23]."""
    site = _PRESUMED_SITE.get(code)
    if site is None:
        return None
    words = _SUBTYPE_WORDS[code]
    others = _other_profiles(profiles, site)
    if code in _TOO_DEFINING_NEGATIVES and any("TOO" in e for e in evidence):
        negatives = [m for m in _TOO_DEFINING_NEGATIVES[code] if profile.negative(m)]
        positives = [m for m in _TOO_DEFINING_POSITIVES[code] if profile.positive(m)]
        if negatives or positives:
            against = [f"{m} negative" for m in negatives] + [f"{m}+" for m in positives]
            return f"{words} ({evidence[-1]}), but {', '.join(against)} on IHC"
    if profiles.get(site):
        # The presumed site's own markers are positive on tissue: the presumption holds;
        # a second lineage beside it is reported as a marker conflict.
        return None
    if code == "bone_blastic_psa_men":
        negatives = [m for m in ("PSA", "NKX3.1") if profile.negative(m)]
        if others:
            against = f"{'/'.join(negatives)} negative on IHC and " if negatives else ""
            return f"{words}, but {against}{_others_text(others)}, not prostate"
        if len(negatives) == 2:
            return f"{words} with raised serum PSA, but PSA and NKX3.1 negative on IHC"
        return None
    if others:
        return f"{words}, but {_others_text(others)}, not {_site_label(site)}"
    return None


def _matched_subtypes(
    profile: CaseProfile,
) -> tuple[tuple[SubtypeMatch, ...], tuple[Conflict, ...]]:
    """The favourable subtypes the profile supports, in priority order, and the
    contradictions that withheld the others."""
    matches: list[SubtypeMatch] = []
    conflicts: list[Conflict] = []
    for code in SUBTYPE_PRIORITY:
        evidence = _MATCHERS[code](profile)
        if evidence is None:
            continue
        against = _contradiction(code, profile, evidence, tissue_profiles(profile))
        if against is not None:
            conflicts.append(Conflict("subtype_contradicted", against))
            continue
        # Local therapy of a lone lesion waits while lymphoma, germ-cell tumour or
        # sarcoma is still to be ruled out: they are treated otherwise [ESMO23].
        to_rule_out = (
            {e.entity for e in _exclusions(profile)} if code == "single_metastasis" else set()
        )
        if to_rule_out - {"melanoma"}:
            continue
        subtype = FAVOURABLE_SUBTYPES_BY_CODE[code]
        manage_as, management = subtype.manage_as, subtype.management
        if code == "neuroendocrine":
            grade = "neuroendocrine_carcinoma" if _nec(profile) else "neuroendocrine_tumour"
            manage_as = NEUROENDOCRINE_MANAGE_AS[grade]
            management = NEUROENDOCRINE_MANAGEMENT[grade]
            if grade == "neuroendocrine_tumour" and (profile.ki67 or 0) > KI67_G3_ABOVE:
                manage_as = NET_G3_MANAGE_AS
        matches.append(
            SubtypeMatch(
                code,
                subtype.label,
                manage_as,
                management,
                subtype.decisions,
                evidence,
                subtype.source,
            )
        )
    return tuple(matches), tuple(conflicts)


def _favourable_subtypes(profile: CaseProfile) -> tuple[SubtypeMatch, ...]:
    return _matched_subtypes(profile)[0]


def favourable_subtype(profile: CaseProfile) -> SubtypeMatch | None:
    """The favourable subtype :func:`assess_case` names for this profile (the first
    match in priority order), without the rest of the guidance: for counting subtypes
    over a cohort, where the full assessment costs far more."""
    matches = _favourable_subtypes(profile)
    return matches[0] if matches else None


# ---------------------------------------------------------------------------------
# Conflicts between findings (contract version 2)


def _conflicts(
    profile: CaseProfile, subtype_conflicts: tuple[Conflict, ...]
) -> tuple[Conflict, ...]:
    conflicts = list(subtype_conflicts)
    msi, mmr = profile.msi, profile.mmr
    if (msi == "MSI-H" and mmr == "proficient") or (msi == "MSS" and mmr == "deficient"):
        conflicts.append(
            Conflict(
                "msi_mmr_discordant",
                f"MSI status {msi} but MMR {mmr}: discordant; review both tests",
                "TA",
            )
        )
    profiles = tissue_profiles(profile)
    too_site = profile.tissue_of_origin
    if too_site is not None and _confident_too(profile, too_site):
        others = _other_profiles(profiles, too_site)
        if others and too_site not in profiles:
            conflicts.append(
                Conflict(
                    "too_vs_ihc",
                    f"Tissue-of-origin call {too_site} "
                    f"{_number(profile.tissue_of_origin_confidence or 0)}, but "
                    f"{_others_text(others)}",
                    "HAYASHI",
                )
            )
    if _lesions_inconsistent(profile):
        organs = organ_count(profile.sites)
        conflicts.append(
            Conflict(
                "inconsistent_lesion_count",
                f"{profile.lesions} lesion(s) recorded but {organs} organs involved "
                f"({', '.join(profile.sites)}): check the count; no single-metastasis "
                "subtype is given",
                "ESTRO20",
            )
        )
    conflicts += _marker_conflicts(profile, profiles)
    return tuple(conflicts)


def _marker_conflicts(
    profile: CaseProfile, profiles: Mapping[str, tuple[str, ...]]
) -> list[Conflict]:
    """Markers of two lineages positive at once [ESMO23]: shown, not resolved."""
    conflicts: list[Conflict] = []
    lineages = {s: set(m) for s, m in profiles.items() if s not in DIFFERENTIATION_PROFILES}
    lone_s100 = profile.positive("S100") and "melanoma" not in lineages
    lineages_found = {s: profiles[s] for s in lineages}
    if lone_s100 and lineages:
        conflicts.append(
            Conflict(
                "marker_conflict",
                f"S100+ alone beside {_others_text(lineages_found)}: "
                "S100 is not specific for melanoma; SOX10, HMB45 or Melan-A would say more",
            )
        )
    sites = list(lineages)
    for i, first in enumerate(sites):
        for second in sites[i + 1 :]:
            if lineages[first] & lineages[second]:
                continue  # a shared marker read two ways is a ranking question
            conflicts.append(
                Conflict(
                    "marker_conflict",
                    f"Two lineages positive: {_profile_text(first, profiles[first])} and "
                    f"{_profile_text(second, profiles[second])}",
                )
            )
    return conflicts


# ---------------------------------------------------------------------------------
# Molecular findings: reading the report [contract version 2]


def _gene_in(token: str) -> bool:
    return token not in NOT_GENES and not VARIANT.fullmatch(token) and not token.isdigit()


def _actionable_gene(gene: str) -> str:
    return GENE_ALIASES.get(gene, gene)


_TARGET_GENES: frozenset[str] = frozenset(t.gene for t in ACTIONABLE_TARGETS)
_GENE_PAIR = re.compile(r"\b([A-Z][A-Z0-9]{1,9})(?:-|::)([A-Z][A-Z0-9]{1,9})\b")


def parse_alteration_text(text: str) -> tuple[Alteration, ...]:
    """The findings written in one report line. Several findings may be separated by
    "," or ";" and each is read on its own: a negation negates its own finding only
    ("BRAF V600E, TP53 WT" is a BRAF V600E finding). The kind is read from the words:
    a fusion is named as one or as two genes joined ("KIF5B-RET", "ETV6::NTRK3");
    "RET-mutant (M918T)" is a mutation and "NTRK1-positive (pan-TRK IHC)" a stain
    (kind "other"), neither of them a fusion."""
    findings: list[Alteration] = []
    for piece in ALTERATION_SEPARATORS.split(text):
        piece = piece.strip()
        if not piece:
            continue
        upper = piece.upper()
        detected = NEGATED_ALTERATION.search(upper) is None
        pairs = [(a, b) for a, b in _GENE_PAIR.findall(upper) if _gene_in(a) and _gene_in(b)]
        variant_match = VARIANT.search(upper)
        variant = variant_match.group(1) if variant_match else None
        genes = [g for g in GENE_TOKEN.findall(upper) if _gene_in(g)]
        if FUSION_WORDS.search(upper) or pairs:
            kind = "fusion"
            partners = list(pairs[0]) if pairs else genes
            actionable = [g for g in partners if _actionable_gene(g) in _TARGET_GENES]
            gene = (actionable or partners or [upper.split()[0]])[0]
            variant = "-".join(pairs[0]) if pairs else variant
        else:
            if IHC_WORDS.search(upper):
                kind = "other"  # a protein stain, not a genomic finding
            elif AMPLIFICATION_WORDS.search(upper):
                kind = "amplification"
            elif MUTATION_WORDS.search(upper) or variant:
                kind = "mutation"
            elif DELETION_WORDS.search(upper):
                kind = "deletion"
            else:
                kind = "other"
            gene = (genes or [upper.split()[0]])[0]
        findings.append(Alteration(gene, kind, variant, detected, piece))
    return tuple(findings)


def alteration_findings(profile: CaseProfile) -> tuple[Alteration, ...]:
    """Every finding of the molecular report(s), text read item by item."""
    return _memo(profile, "_alteration_findings", _read_alterations)


def _read_alterations(profile: CaseProfile) -> tuple[Alteration, ...]:
    findings: list[Alteration] = []
    for item in profile.alterations:
        if isinstance(item, Alteration):
            findings.append(item)
        else:
            findings += parse_alteration_text(item)
    return tuple(findings)


def _variant_text(alteration: Alteration) -> str:
    return " ".join(x for x in (alteration.variant, alteration.text) if x).upper()


def _is_braf_v600e(alteration: Alteration) -> bool:
    return (
        alteration.detected
        and alteration.gene == "BRAF"
        and alteration.kind in ("mutation", "other")
        and re.search(r"V600E|VAL600GLU", _variant_text(alteration)) is not None
    )


def _is_fusion_of(alteration: Alteration, gene: str) -> bool:
    return (
        alteration.detected
        and alteration.kind == "fusion"
        and _actionable_gene(alteration.gene) == gene
    )


def _colorectal_context(profile: CaseProfile) -> bool:
    """A colorectal profile on tissue or by subtype: the tumour-agnostic BRAF label
    (dabrafenib + trametinib) excludes colorectal cancer [TA]."""
    if "colorectal" in tissue_profiles(profile):
        return True
    return _colorectal_profile(profile) is not None


# ---------------------------------------------------------------------------------
# Tumour-agnostic biomarkers [TA]


def _biomarker_evidence(profile: CaseProfile) -> dict[str, str]:
    evidence: dict[str, str] = {}
    if profile.msi == "MSI-H":
        evidence["MSI-H"] = "MSI-H"
    if profile.mmr == "deficient":
        evidence["dMMR"] = "MMR deficient"
    if profile.tmb is not None and profile.tmb >= TMB_HIGH_MIN:
        evidence["TMB-high"] = f"TMB {_number(profile.tmb)} mut/Mb"
    colorectal = _colorectal_context(profile)
    for alteration in alteration_findings(profile):
        # Only a fusion is tumour-agnostic for NTRK and RET: a point mutation or a
        # pan-TRK stain is not [TA].
        if _is_fusion_of(alteration, "NTRK"):
            evidence.setdefault("NTRK fusion", alteration.label)
        if _is_fusion_of(alteration, "RET"):
            evidence.setdefault("RET fusion", alteration.label)
        if _is_braf_v600e(alteration) and not colorectal:
            evidence.setdefault("BRAF V600E", alteration.label)
    if profile.positive("HER2"):  # HER2 "positive" is recorded for IHC 3+ (markers.py)
        evidence["HER2 3+"] = "HER2 IHC 3+"
    return evidence


def _tumour_agnostic(profile: CaseProfile) -> tuple[BiomarkerFinding, ...]:
    evidence = _biomarker_evidence(profile)
    return tuple(
        BiomarkerFinding(b.name, b.therapy, b.decision, evidence[b.name], b.source)
        for b in TUMOUR_AGNOSTIC_BIOMARKERS
        if b.name in evidence
    )


def _actionable(profile: CaseProfile) -> tuple[ActionableAlteration, ...]:
    """Detected alterations ESCAT I-II ranks as targets [ESCAT], [CUPISCO]."""
    found: list[ActionableAlteration] = []
    colorectal = _colorectal_context(profile)
    for alteration in alteration_findings(profile):
        if not alteration.detected:
            continue
        gene = _actionable_gene(alteration.gene)
        for target in ACTIONABLE_TARGETS:
            if target.gene != gene or alteration.kind not in target.kinds:
                continue
            if target.variant and not target.variant.search(_variant_text(alteration)):
                continue
            therapy = target.therapy
            if gene == "BRAF" and colorectal:
                therapy = BRAF_COLORECTAL_THERAPY
            found.append(ActionableAlteration(alteration, therapy, target.tier))
            break
    return tuple(found)


# ---------------------------------------------------------------------------------
# Required workup, docs/clinical-rules.md section 1 [ESMO23, NICE, SVF]


@dataclass(frozen=True)
class _Presentation:
    sex: str
    sites: frozenset[str]
    histology: str | None
    lesions: int | None
    ecog: int | None
    ihc: Mapping[str, str]
    age: int | None = None
    symptoms: frozenset[str] = frozenset()
    germ_cell_serum_raised: bool = False  # AFP or beta-hCG above its limit

    def positive(self, marker: str) -> bool:
        return self.ihc.get(marker) == "positive"


@dataclass(frozen=True)
class _WorkupRule:
    code: str
    reason: str
    source: str
    applies: Callable[[_Presentation], bool]


def _presentation_squamous(p: _Presentation) -> bool:
    if p.histology == "squamous_cell_carcinoma":
        return True
    return p.histology == "poorly_differentiated_carcinoma" and any(
        all(p.positive(m) for m in markers) for markers in SQUAMOUS_MARKER_SETS
    )


def _cervical_scc(p: _Presentation) -> bool:
    return _presentation_squamous(p) and "cervical_nodes" in p.sites


def _oligometastatic_presentation(p: _Presentation) -> bool:
    organs = organ_count(p.sites)
    return (
        p.lesions is not None
        and 1 <= p.lesions <= OLIGO_MAX_LESIONS
        and organs <= OLIGO_MAX_ORGANS
        and p.lesions >= organs
    )


def _young(p: _Presentation) -> bool:
    return p.sex == "male" and p.age is not None and p.age < GERM_CELL_MAX_AGE


def _always(_: _Presentation) -> bool:
    return True


def _symptom_rule(symptom: str, code: str, source: str = "SVF") -> _WorkupRule:
    label = SYMPTOMS[symptom].lower()
    return _WorkupRule(code, f"symptom: {label}", source, lambda p: symptom in p.symptoms)


# Not required by any rule here, by design: GEP is for selected cases, no OS benefit
# alone [HAYASHI], [GEFCAPI04]. Imaging of brain and spine follows symptoms [ESMO23].
_WORKUP_RULES: tuple[_WorkupRule, ...] = (
    _WorkupRule("history_exam", "all patients", "SVF", _always),
    _WorkupRule("blood_panel", "all patients; LDH is prognostic", "ESMO23", _always),
    _WorkupRule("ct_cap", "all patients", "ESMO23", _always),
    _WorkupRule("biopsy", "all patients: tissue for IHC and NGS", "SVF", _always),
    _WorkupRule("histopathology_ihc", "all patients", "ESMO23", _always),
    _WorkupRule("mammography", "women", "ESMO23", lambda p: p.sex == "female"),
    _symptom_rule("breast_lump", "mammography"),
    _WorkupRule(
        "breast_mri",
        "woman with axillary nodes",
        "ESMO23",
        lambda p: p.sex == "female" and "axillary_nodes" in p.sites,
    ),
    _WorkupRule("pet_ct", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc),
    _WorkupRule(
        "pet_ct",
        "oligometastatic disease (1-5 lesions in at most two organs): before local therapy",
        "SVF",
        _oligometastatic_presentation,
    ),
    _symptom_rule("neurological", "mri_brain", "ESMO23"),
    _WorkupRule("psa", "men", "ESMO23", lambda p: p.sex == "male"),
    # SVF block A asks for hCG + AFP in midline tumours, with no age or sex limit;
    # ESMO23 adds young men with a poorly differentiated carcinoma. The test is a
    # blood sample and the germ-cell tumour it finds is curable.
    _WorkupRule(
        "afp_bhcg",
        "midline (mediastinal/retroperitoneal) nodes: germ-cell tumour",
        "SVF",
        lambda p: bool(p.sites & MIDLINE_SITES),
    ),
    _WorkupRule("afp_bhcg", "isolated liver tumour (AFP)", "SVF", lambda p: p.sites == {"liver"}),
    _WorkupRule(
        "afp_bhcg",
        "young man with a poorly differentiated carcinoma: germ-cell tumour",
        "ESMO23",
        lambda p: _young(p) and p.histology in GERM_CELL_HISTOLOGIES,
    ),
    _WorkupRule(
        "ca125",
        "woman with peritoneal disease",
        "ESMO23",
        lambda p: p.sex == "female" and "peritoneum" in p.sites,
    ),
    # Endoscopies are guided by symptoms, IHC and site, never blind [ESMO23].
    _WorkupRule(
        "upper_endoscopy",
        "CK7+ with CDX2+ points to upper GI",
        "ESMO23",
        lambda p: p.positive("CK7") and p.positive("CDX2"),
    ),
    _symptom_rule("dysphagia", "upper_endoscopy"),
    _WorkupRule(
        "colonoscopy",
        "IHC points to colorectal (CDX2+/SATB2+ or CK7-/CK20+)",
        "ESMO23",
        lambda p: (
            p.positive("CDX2")
            or p.positive("SATB2")
            or (p.ihc.get("CK7") == "negative" and p.positive("CK20"))
        ),
    ),
    _symptom_rule("rectal_bleeding", "colonoscopy"),
    _WorkupRule(
        "bronchoscopy",
        "IHC points to lung (TTF-1+/napsin A+)",
        "ESMO23",
        lambda p: (
            (p.positive("TTF-1") or p.positive("Napsin A"))
            and not p.positive("Thyroglobulin")
            and not p.positive("PAX8")
        ),
    ),
    _symptom_rule("haemoptysis", "bronchoscopy"),
    _WorkupRule(
        "ent_panendoscopy", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc
    ),
    _WorkupRule(
        "ngs",
        "fit patient (ECOG 0-1) who could be treated",
        "ESMO23",
        lambda p: p.ecog is not None and p.ecog <= 1,
    ),
    _WorkupRule("hpv_ebv", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc),
    _symptom_rule("back_pain", "mri_spine", "NICE"),
    _WorkupRule(
        "testicular_ultrasound",
        "man under 50 with midline nodes or raised AFP/beta-hCG",
        "ESMO23",
        lambda p: _young(p) and (bool(p.sites & MIDLINE_SITES) or p.germ_cell_serum_raised),
    ),
    _symptom_rule("testicular_mass", "testicular_ultrasound"),
    _WorkupRule(
        "thyroid_ultrasound",
        "thyroglobulin+, or TTF-1+ with PAX8+: thyroid",
        "ESMO23",
        lambda p: p.positive("Thyroglobulin") or (p.positive("TTF-1") and p.positive("PAX8")),
    ),
    _symptom_rule("haematuria", "cystoscopy", "NICE"),
    _WorkupRule(
        "gynaecological_exam",
        "woman with peritoneal, pelvic or inguinal disease",
        "SVF",
        lambda p: p.sex == "female" and bool(p.sites & {"peritoneum", "inguinal_nodes"}),
    ),
    _WorkupRule(
        "myeloma_screen",
        "bone metastases (lytic or mixed above all): calcium, albumin, protein "
        "electrophoresis, free light chains",
        "SVF",
        lambda p: "bone" in p.sites,
    ),
    _WorkupRule(
        "chromogranin_a",
        "neuroendocrine histology or markers",
        "SVF",
        lambda p: (
            p.histology in ("neuroendocrine_tumour", "neuroendocrine_carcinoma")
            or any(p.positive(m) for m in NEUROENDOCRINE_MARKERS)
        ),
    ),
)


def workup_requirements(
    sex: str,
    sites: Iterable[str],
    histology: str | None = None,
    *,
    lesions: int | None = None,
    ecog: int | None = None,
    ihc: Mapping[str, str] | None = None,
    age: int | None = None,
    symptoms: Iterable[str] = (),
    germ_cell_serum_raised: bool = False,
) -> tuple[RequiredInvestigation, ...]:
    """The investigations required for this sex and presentation, with why, in
    catalogue order. ``ihc`` must use canonical marker names (CaseProfile.ihc does).
    For a whole case prefer :func:`profile_requirements`, which passes everything."""
    presentation = _Presentation(
        sex,
        frozenset(sites),
        histology,
        lesions,
        ecog,
        ihc or {},
        age,
        frozenset(symptoms),
        germ_cell_serum_raised,
    )
    reasons: dict[str, list[_WorkupRule]] = {}
    for rule in _WORKUP_RULES:
        if rule.applies(presentation):
            reasons.setdefault(rule.code, []).append(rule)
    return tuple(
        RequiredInvestigation(
            code,
            INVESTIGATIONS_BY_CODE[code].label,
            "; ".join(r.reason for r in reasons[code]),
            reasons[code][0].source,
        )
        for code in INVESTIGATION_CODES
        if code in reasons
    )


def required_investigations(
    sex: str,
    sites: Iterable[str],
    histology: str | None = None,
    *,
    lesions: int | None = None,
    ecog: int | None = None,
    ihc: Mapping[str, str] | None = None,
    age: int | None = None,
    symptoms: Iterable[str] = (),
) -> tuple[str, ...]:
    """Codes of the required investigations, in catalogue order (see
    :func:`workup_requirements` for the reasons)."""
    required = workup_requirements(
        sex, sites, histology, lesions=lesions, ecog=ecog, ihc=ihc, age=age, symptoms=symptoms
    )
    return tuple(r.code for r in required)


def profile_requirements(profile: CaseProfile) -> tuple[RequiredInvestigation, ...]:
    """The investigations this case requires, with why, from its whole profile."""
    raised = bool(_raised(profile, "AFP") or _raised(profile, "beta-hCG"))
    return workup_requirements(
        profile.sex,
        profile.sites,
        profile.histology,
        lesions=profile.lesions,
        ecog=profile.ecog,
        ihc=profile.ihc,
        age=profile.age,
        symptoms=profile.symptoms,
        germ_cell_serum_raised=raised,
    )


_profile_requirements = profile_requirements


def _missing(profile: CaseProfile, required: Iterable[RequiredInvestigation]) -> tuple[str, ...]:
    # Absent, to_request, requested or booked is missing; declined and not_indicated
    # are not [assess contract].
    return tuple(
        r.code
        for r in required
        if profile.workup.get(r.code) is None or profile.workup[r.code] in MISSING_STATUSES
    )


def missing_workup(profile: CaseProfile) -> tuple[str, ...]:
    """Required investigations still outstanding for this case, in catalogue order."""
    return _missing(profile, profile_requirements(profile))


# ---------------------------------------------------------------------------------
# Prognosis [CULINE]


def _prognosis(profile: CaseProfile) -> Prognosis:
    ecog, ldh = profile.ecog, profile.serum.get("LDH")
    liver = "; liver metastases are a further adverse factor" if "liver" in profile.sites else ""
    if ecog is not None and ecog > GOOD_PROGNOSIS_MAX_ECOG:
        return Prognosis("poor", f"ECOG {ecog}: poor risk, median 3.9 months, 1-year 11 %{liver}")
    if ldh == "raised":
        return Prognosis("poor", f"LDH raised: poor risk, median 3.9 months, 1-year 11 %{liver}")
    if ecog is not None and ldh == "normal":
        return Prognosis(
            "good",
            f"ECOG {ecog} and normal LDH: good risk, median 11.7 months, 1-year 45 %{liver}",
        )
    unknown = " and ".join(n for n, v in (("ECOG", ecog), ("LDH", ldh)) if v is None)
    return Prognosis("unknown", f"needs ECOG and LDH; {unknown} not recorded")


# ---------------------------------------------------------------------------------
# Options, best supported first [ESMO23], [CUPISCO], [TA], [ESCAT], [ESTRO20]


def _options(
    profile: CaseProfile,
    subtypes: tuple[SubtypeMatch, ...],
    exclusions: tuple[Exclusion, ...],
    biomarkers: tuple[BiomarkerFinding, ...],
    missing: tuple[str, ...],
    primary_found: PrimaryFound | None = None,
    actionable: tuple[ActionableAlteration, ...] = (),
) -> tuple[Option, ...]:
    options: dict[str, Option] = {}

    def add(code: str, reason: str, source: str) -> None:
        options.setdefault(code, Option(code, DECISION_LABELS[code], reason, source))

    managed = {SUBTYPE_MANAGES_ENTITY.get(s.code) for s in subtypes}
    exclusions = tuple(e for e in exclusions if e.entity not in managed)
    ecog = profile.ecog
    unfit = ecog is not None and ecog >= BSC_FLAG_MIN_ECOG
    if primary_found is not None:
        # A primary found on tissue is treated as that cancer (contract version 2).
        add(
            "site_specific",
            f"Primary found on tissue: {primary_found.label.lower()} "
            f"({', '.join(primary_found.evidence)}); manage as that cancer",
            primary_found.source,
        )
    if unfit and not subtypes and primary_found is None:
        # Discussed early, never decided here [ESMO23].
        add(
            "best_supportive_care",
            f"ECOG {ecog} with unfavourable CUP usually means best supportive care",
            "ESMO23",
        )
    if missing:
        # The MDT decides either further workup or diagnosis and treatment [SVF].
        labels = ", ".join(INVESTIGATIONS_BY_CODE[c].label for c in missing)
        add("further_workup", f"Required workup outstanding: {labels}", "SVF")
    if profile.histology is None:
        add("further_workup", "Histology needed before any treatment", "ESMO23")
    melanoma = profile.histology == "melanoma"
    if melanoma:
        add("site_specific", "Melanoma of unknown primary: manage as melanoma", "ESMO23")
    # Lymphoma, sarcoma or germ-cell tumour are treated differently: rule out first.
    to_rule_out = [e.label.lower() for e in exclusions if not (melanoma and e.entity == "melanoma")]
    if to_rule_out:
        add("further_workup", f"Rule out {_and_list(to_rule_out)} first", "ESMO23")
    for subtype in subtypes:
        for code in subtype.decisions:
            add(code, f"{subtype.label}: {subtype.management}", subtype.source)
    for biomarker in biomarkers:
        add(biomarker.decision, f"{biomarker.biomarker}: {biomarker.therapy}", biomarker.source)
    if actionable:
        named = "; ".join(f"{a.alteration.label}: {a.therapy}" for a in actionable)
        add("targeted_therapy", f"Actionable alteration (ESCAT I-II): {named}", "ESCAT")
    carcinoma_to_treat = not exclusions or (
        melanoma and {e.entity for e in exclusions} <= {"melanoma"}
    )
    if (
        _oligometastatic(profile)
        and profile.histology in LOCAL_THERAPY_HISTOLOGIES
        and carcinoma_to_treat
    ):
        add(
            "local_therapy",
            f"Oligometastatic disease ({profile.lesions} lesion(s) in "
            f"{organ_count(profile.sites)} organ(s)): local therapy (surgery, SBRT/RT) "
            "after PET-CT",
            "ESTRO20",
        )
    # Empiric treatment only for a confirmed carcinoma with no favourable subtype and
    # no primary found. A NEC is a subtype (platinum-etoposide), never platinum-taxane.
    empiric = (
        not subtypes
        and not exclusions
        and profile.histology is not None
        and primary_found is None
        and not _nec(profile)
    )
    if empiric and (ecog is None or ecog <= 1):
        fit = "" if ecog is not None else " if ECOG 0-1"
        add(
            "empiric_platinum_taxane",
            f"Unfavourable CUP{fit}: carboplatin + paclitaxel "
            "(cisplatin + gemcitabine alternative)",
            "ESMO23",
        )
    elif empiric and ecog == 2:
        add(
            "empiric_platinum_taxane",
            "ECOG 2: empiric chemotherapy only after weighing benefit against toxicity",
            "ESMO23",
        )
        add("best_supportive_care", "ECOG 2 with unfavourable CUP", "ESMO23")
    if primary_found is None and (ecog is None or ecog <= 2):
        # Exclusions never remove every option: a fit patient can always be offered a
        # trial (contract version 2) [CUPISCO].
        squamous = _squamous(profile) is not None
        trial = (
            "Clinical trial if available (CUPISCO enrolled non-squamous CUP only)"
            if squamous or profile.histology is None
            else "Molecularly guided therapy after NGS improved PFS over platinum in "
            "unfavourable non-squamous CUP with ECOG 0-1 (HR 0.72); trial if available"
        )
        add("clinical_trial", trial, "CUPISCO")
    if unfit:
        add("best_supportive_care", f"ECOG {ecog}: weigh fitness for treatment", "ESMO23")
    return tuple(options.values())


# ---------------------------------------------------------------------------------
# Referrals to consider beside the decision [SVF], [FERRELL17], [ESMO19HGI]


def _referrals(
    profile: CaseProfile,
    subtypes: tuple[SubtypeMatch, ...],
    exclusions: tuple[Exclusion, ...],
    biomarkers: tuple[BiomarkerFinding, ...],
    primary_found: PrimaryFound | None,
) -> tuple[ReferralPrompt, ...]:
    prompts: dict[str, ReferralPrompt] = {}

    def prompt(code: str, reason: str, source: str) -> None:
        # One prompt per kind: the first (strongest) reason names it.
        prompts.setdefault(code, ReferralPrompt(code, REFERRAL_KIND_LABELS[code], reason, source))

    ecog = profile.ecog
    # Palliative care early, beside any treatment, for a patient who is unwell or whose
    # CUP is unfavourable [FERRELL17]; in CUP "from diagnosis onward" [SVF]. Unfavourable
    # means confirmed on tissue with no favourable subtype, no primary found and nothing
    # left to rule out: until then the presentation is not yet known to be unfavourable.
    if ecog is not None and PALLIATIVE_MIN_ECOG <= ecog < 5:
        prompt(
            "palliative_care",
            f"ECOG {ecog}: palliative care from diagnosis, beside any treatment",
            "FERRELL17",
        )
    unfavourable = (
        profile.histology is not None
        and not subtypes
        and primary_found is None
        and not exclusions
        and ecog != 5
    )
    if unfavourable:
        prompt(
            "palliative_care",
            "Unfavourable CUP: palliative care from diagnosis onward, beside any treatment",
            "SVF",
        )
    # MSI-H or dMMR may be Lynch syndrome: germline testing unless a germline result is
    # already known [ESMO19HGI].
    hereditary = [b.biomarker for b in biomarkers if b.biomarker in GENETICS_BIOMARKERS]
    if profile.germline_tested is not True:
        if hereditary:
            prompt(
                "clinical_genetics",
                f"{' and '.join(hereditary)} without a known germline result: germline "
                "testing for Lynch syndrome",
                "ESMO19HGI",
            )
        if ADULT_AGE <= profile.age < GENETICS_YOUNGER_THAN:
            prompt(
                "clinical_genetics",
                f"Cancer at {profile.age}, under {GENETICS_YOUNGER_THAN}: genetics "
                "assessment for a hereditary cancer syndrome",
                "ESMO19HGI",
            )
    return tuple(prompts.values())


# ---------------------------------------------------------------------------------
# Warnings, each with its stable code (contract version 2 warning_codes)


def _and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _warnings(
    profile: CaseProfile,
    exclusions: tuple[Exclusion, ...],
    primaries: tuple[LikelyPrimary, ...],
    subtypes: tuple[SubtypeMatch, ...],
    biomarkers: tuple[BiomarkerFinding, ...],
    missing: tuple[str, ...] = (),
) -> tuple[GuidanceWarning, ...]:
    warnings: list[GuidanceWarning] = []

    def warn(code: str, text: str, source: str) -> None:
        warnings.append(GuidanceWarning(text, source, code))

    if profile.age < ADULT_AGE:
        warn(
            "paediatric",
            f"Patient is {profile.age}, under {ADULT_AGE}: refer to paediatric oncology the "
            "same day; the adult CUP pathway does not apply.",
            "SVF",
        )
    if profile.previous_malignancy is not None:
        label = _site_label(profile.previous_malignancy)
        warn(
            "previous_malignancy",
            f"Previous {label} cancer: exclude a recurrence of it before calling this "
            "carcinoma of unknown primary.",
            "SVF",
        )
    if profile.histology is None:
        warn(
            "no_histology",
            "No histology recorded: CUP needs histologically confirmed malignancy "
            "before this guidance applies.",
            "ESMO23",
        )
    if exclusions:
        labels = [e.label.lower() for e in exclusions]
        warn(
            "rule_out_first",
            f"Rule out {_and_list(labels)} before calling this carcinoma of unknown primary.",
            "ESMO23",
        )
    if missing:
        labels = [INVESTIGATIONS_BY_CODE[c].label for c in missing]
        warn(
            "missing_required_workup",
            f"Required workup still missing: {', '.join(labels)}.",
            "SVF",
        )
    ecog = profile.ecog
    if ecog is None:
        warn(
            "ecog_not_recorded",
            "ECOG performance status not recorded: prognosis and options depend on it.",
            "CULINE",
        )
    elif ecog >= 5:
        warn("ecog_3_plus", "ECOG 5 means the patient has died: check the record.", "ECOG")
    elif ecog >= BSC_FLAG_MIN_ECOG:
        which = "with a favourable subtype" if subtypes else "with unfavourable CUP"
        warn(
            "ecog_3_plus",
            f"ECOG {ecog} {which}: discuss best supportive care; the board decides.",
            "ESMO23",
        )
    pdl1 = [v for v in (profile.pdl1_tps, profile.pdl1_cps) if v is not None]
    immuno = any(b.biomarker in IMMUNOTHERAPY_BIOMARKERS for b in biomarkers)
    if any(v >= PDL1_POSITIVE_MIN for v in pdl1) and not immuno:
        warn(
            "pd_l1_not_tumour_agnostic",
            "PD-L1 is the only immunotherapy biomarker and it is not tumour-agnostic: it "
            "does not make a case for immunotherapy in CUP (nivolumab is approved for CUP "
            "in Japan only).",
            "TA",
        )
    if profile.pregnant is True and profile.serum_value("beta-hCG") is not None:
        warn(
            "pregnancy_hcg",
            "The patient is pregnant: beta-hCG is raised by pregnancy and is not read as a "
            "germ-cell marker.",
            "SVF",
        )
    confidence = profile.tissue_of_origin_confidence
    if profile.tissue_of_origin is not None and (confidence or 0) < TOO_HIGH_CONFIDENCE:
        warn(
            "low_confidence_too",
            f"Tissue-of-origin call {profile.tissue_of_origin} with confidence "
            f"{_number(confidence or 0)} (below {_number(TOO_HIGH_CONFIDENCE)}): not used.",
            "HAYASHI",
        )
    if primaries and all(f.source == "HAYASHI" for f in primaries[0].evidence):
        warn(
            "too_alone",
            "The leading primary rests on the tissue-of-origin prediction alone; "
            "site-specific therapy guided by gene-expression profiling alone did not "
            "improve survival.",
            "HAYASHI",
        )
    return tuple(warnings)


# ---------------------------------------------------------------------------------
# Public entry points


def assess_case(profile: CaseProfile) -> Guidance:
    """Everything the case page shows as guidance, derived from the profile alone."""
    exclusions = _exclusions(profile)
    found = _primary_found(profile)
    primaries = _rank_primaries(profile, found)
    subtypes, subtype_conflicts = _matched_subtypes(profile)
    biomarkers = _tumour_agnostic(profile)
    actionable = _actionable(profile)
    required = profile_requirements(profile)
    missing = _missing(profile, required)
    return Guidance(
        favourable_subtype=subtypes[0] if subtypes else None,
        other_favourable_subtypes=subtypes[1:],
        likely_primaries=primaries,
        exclude_first=exclusions,
        tumour_agnostic=biomarkers,
        immunotherapy_candidate=any(b.biomarker in IMMUNOTHERAPY_BIOMARKERS for b in biomarkers),
        required_workup=required,
        missing_workup=missing,
        prognosis=_prognosis(profile),
        options=_options(profile, subtypes, exclusions, biomarkers, missing, found, actionable),
        warnings=_warnings(profile, exclusions, primaries, subtypes, biomarkers, missing),
        primary_found=found,
        conflicts=_conflicts(profile, subtype_conflicts),
        actionable_alterations=actionable,
        referrals_to_consider=_referrals(profile, subtypes, exclusions, biomarkers, found),
    )


def referral_prompts(profile: CaseProfile) -> tuple[ReferralPrompt, ...]:
    """:attr:`Guidance.referrals_to_consider` alone, for lists of cases (the worklist):
    it reads only what the prompts depend on, not the whole guidance."""
    subtypes, _ = _matched_subtypes(profile)
    return _referrals(
        profile,
        subtypes,
        _exclusions(profile),
        _tumour_agnostic(profile),
        _primary_found(profile),
    )


def decision_notes(profile: CaseProfile, decision_code: str) -> tuple[GuidanceWarning, ...]:
    """Warnings about recording this decision for this case (the board may still)."""
    if decision_code not in DECISION_CODES:
        raise ValueError(f"unknown decision code {decision_code!r}")
    guidance = assess_case(profile)
    label = DECISION_LABELS[decision_code]
    notes: list[GuidanceWarning] = []
    if decision_code != "further_workup" and guidance.missing_workup:
        outstanding = ", ".join(INVESTIGATIONS_BY_CODE[c].label for c in guidance.missing_workup)
        # The MDT decides on diagnosis and treatment once the workup is complete [SVF].
        notes.append(
            GuidanceWarning(
                f"{label} is recorded while required workup is outstanding: {outstanding}.",
                "SVF",
            )
        )
    if decision_code == "immunotherapy" and not guidance.immunotherapy_candidate:
        notes.append(
            GuidanceWarning(
                "Immunotherapy is recorded without a tumour-agnostic biomarker (MSI-H, dMMR "
                "or TMB-high); PD-L1 alone is not tumour-agnostic.",
                "TA",
            )
        )
    targeted = [b for b in guidance.tumour_agnostic if b.decision == "targeted_therapy"]
    detected = [a for a in alteration_findings(profile) if a.detected]
    if decision_code == "targeted_therapy" and not targeted and not detected:
        notes.append(
            GuidanceWarning(
                "Targeted therapy is recorded but no actionable alteration is reported.",
                "CUPISCO",
            )
        )
    if (
        decision_code == "site_specific"
        and guidance.favourable_subtype is None
        and guidance.primary_found is None
    ):
        notes.append(
            GuidanceWarning(
                "Site-specific therapy outside a favourable subtype: site-specific therapy "
                "guided by gene-expression profiling alone did not improve survival.",
                "HAYASHI",
            )
        )
    return tuple(notes)


def decision_warnings(profile: CaseProfile, decision_code: str) -> tuple[str, ...]:
    """:func:`decision_notes` as plain sentences, each ending with its source tag."""
    return tuple(f"{n.text} [{n.source}]" for n in decision_notes(profile, decision_code))


def guidance_to_contract(guidance: Guidance) -> dict[str, Any]:
    """Exactly the output of the assess contract (docs/assess-contract.md), nothing
    extra."""
    subtype = guidance.favourable_subtype
    found = guidance.primary_found
    return {
        "favourable_subtype": None
        if subtype is None
        else {"code": subtype.code, "manage_as": subtype.manage_as, "source": subtype.source},
        "primary_found": None
        if found is None
        else {"site": found.site, "evidence": list(found.evidence)},
        "likely_primaries": [
            {"site": p.site, "evidence": [f.text for f in p.evidence]}
            for p in guidance.likely_primaries
        ],
        "exclude_first": [e.entity for e in guidance.exclude_first],
        "tumour_agnostic": [
            {"biomarker": b.biomarker, "therapy": b.therapy, "source": b.source}
            for b in guidance.tumour_agnostic
        ],
        "immunotherapy_candidate": guidance.immunotherapy_candidate,
        "missing_workup": list(guidance.missing_workup),
        "prognosis": guidance.prognosis.group,
        "options": [o.code for o in guidance.options],
        "referrals_to_consider": [
            {"code": r.code, "reason": r.reason, "source": r.source}
            for r in guidance.referrals_to_consider
        ],
        "conflicts": [{"code": c.code, "message": c.message} for c in guidance.conflicts],
        "warnings": [w.text for w in guidance.warnings],
        "warning_codes": [w.code for w in guidance.warnings],
    }
