"""Pure clinical guidance for a CUP case: a case profile in, guidance out.

No Streamlit and no database: the case page and ``python -m cupboard assess`` call the
same functions (shared/reference/assess-contract.md). This is decision *support*: it
shows evidence, flags gaps and lists options worth discussing; the board decides.
Every rule names its source tag; the clinical data live in :mod:`cupboard.knowledge`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cupboard.knowledge.biomarkers import (
    ALTERATION_PATTERNS,
    IMMUNOTHERAPY_BIOMARKERS,
    NEGATED_ALTERATION,
    PDL1_POSITIVE_MIN,
    TMB_HIGH_MIN,
    TUMOUR_AGNOSTIC_BIOMARKERS,
)
from cupboard.knowledge.decisions import DECISION_CODES, DECISION_LABELS
from cupboard.knowledge.favourable_subtypes import (
    CARCINOMA_HISTOLOGIES,
    FAVOURABLE_SUBTYPES_BY_CODE,
    GERM_CELL_MAX_AGE,
    NEUROENDOCRINE_MANAGE_AS,
    SUBTYPE_MANAGES_ENTITY,
    SUBTYPE_PRIORITY,
    TOO_HIGH_CONFIDENCE,
)
from cupboard.knowledge.histology import HISTOLOGY_CATEGORIES
from cupboard.knowledge.ihc_patterns import (
    BREAST_MARKERS,
    CK_QUADRANTS,
    EXCLUSION_ENTITIES,
    HISTOLOGY_POINTERS,
    KEY_NEGATIVES,
    LINEAGE_OPEN_HISTOLOGIES,
    MARKER_COMBINATIONS,
    MARKER_POINTERS,
    PRESENTATION_POINTERS,
    QUADRANT_WEIGHT,
    SARCOMA_SUSPECT_HISTOLOGIES,
    SERUM_POINTERS_BY_MARKER,
    SEX_EXCLUDED_SITES,
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
from cupboard.knowledge.sites import MIDLINE_SITES, PRIMARY_SITE_CODES, PRIMARY_SITES

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
class GuidanceWarning:
    text: str  # a plain sentence
    source: str


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


def _raised(profile: CaseProfile, code: str) -> str | None:
    """Evidence text when a serum marker is above its upper limit, else None."""
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


# ---------------------------------------------------------------------------------
# Entities to rule out first [ESMO23]


_SARCOMA_EVIDENCE = "keratin-negative (CK7-/CK20-), not a carcinoma"


def _sarcoma_suspected(profile: CaseProfile) -> bool:
    """Keratin-negative neoplasm not called carcinoma, with no other lineage [ESMO23]."""
    if profile.histology not in SARCOMA_SUSPECT_HISTOLOGIES:
        return False
    if not (profile.negative("CK7") and profile.negative("CK20")):
        return False
    other_lineages = (m for e in EXCLUSION_ENTITIES for m in e.markers)
    return not any(profile.positive(m) for m in other_lineages)


def _exclusions(profile: CaseProfile) -> tuple[Exclusion, ...]:
    found: list[Exclusion] = []
    for entity in EXCLUSION_ENTITIES:
        evidence = _positives(profile, entity.markers)
        evidence += [t for t in (_raised(profile, s) for s in entity.serum_markers) if t]
        if entity.code == "melanoma" and profile.histology == "melanoma":
            evidence.insert(0, "histology melanoma")
        if entity.code == "sarcoma" and _sarcoma_suspected(profile):
            evidence.append(_SARCOMA_EVIDENCE)
        if not evidence and profile.histology in LINEAGE_OPEN_HISTOLOGIES:
            # Lineage open and this entity's markers untested: it still has to be ruled out.
            untested = entity.markers or ("CK7", "CK20")
            if all(profile.ihc_result(m) is None for m in untested):
                evidence.append(f"undifferentiated neoplasm, {'/'.join(untested)} not tested")
        if evidence:
            found.append(Exclusion(entity.code, entity.label, tuple(evidence), entity.source))
    return tuple(found)


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
    metastatic = set(profile.sites)
    for spread in PRESENTATION_POINTERS:
        if (
            metastatic & spread.metastatic_sites
            and spread.sex in (None, profile.sex)
            and (spread.histologies is None or profile.histology in spread.histologies)
            and spread.bone_pattern in (None, profile.bone_pattern)
        ):
            add(spread.site, spread.evidence, spread.weight, spread.source)
    for pointer in HISTOLOGY_POINTERS:
        if profile.histology == pointer.histology:
            add(pointer.site, pointer.evidence, pointer.weight, pointer.source)
    if _sarcoma_suspected(profile):
        add("sarcoma", _SARCOMA_EVIDENCE, 1, "ESMO23")
    confidence = profile.tissue_of_origin_confidence
    if profile.tissue_of_origin is not None and confidence:
        too = f"TOO {profile.tissue_of_origin} {_number(confidence)}"
        add(profile.tissue_of_origin, too, TOO_MAX_WEIGHT * confidence, "HAYASHI")
    return findings


def _rank_primaries(profile: CaseProfile) -> tuple[LikelyPrimary, ...]:
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
    return tuple(ranked)


# ---------------------------------------------------------------------------------
# Favourable subtypes, cup-clinical.md section 4 [ESMO23]. Each matcher returns its
# evidence, or None. Every subtype needs histologically confirmed disease [ESMO23].

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
    if p.histology != "squamous_cell_carcinoma" or set(p.sites) != {"cervical_nodes"}:
        return None
    return ("squamous cell carcinoma", "cervical nodes only", *_positives(p, ("p16", "p40")))


def _inguinal_nodes_squamous(p: CaseProfile) -> tuple[str, ...] | None:
    if p.histology != "squamous_cell_carcinoma" or set(p.sites) != {"inguinal_nodes"}:
        return None
    return ("squamous cell carcinoma", "isolated inguinal nodes")


def _bone_blastic_psa_men(p: CaseProfile) -> tuple[str, ...] | None:
    if p.sex != "male" or "bone" not in p.sites or p.bone_pattern != "blastic":
        return None
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    psa = _raised(p, "PSA")
    prostate_ihc = _positives(p, ("PSA", "NKX3.1", "PSAP"))
    if not psa and not prostate_ihc:
        return None
    return ("man", "blastic bone metastases", *([psa] if psa else []), *prostate_ihc)


def _neuroendocrine(p: CaseProfile) -> tuple[str, ...] | None:
    if p.histology not in NEUROENDOCRINE_MANAGE_AS:
        return None
    markers = _positives(p, ("Chromogranin A", "Synaptophysin", "INSM1"))
    return (_histology_text(p.histology), *markers)


def _midline_germ_cell_men(p: CaseProfile) -> tuple[str, ...] | None:
    midline = MIDLINE_SITES.intersection(p.sites)
    if p.sex != "male" or p.age >= GERM_CELL_MAX_AGE or not midline:
        return None
    if p.histology not in ("poorly_differentiated_carcinoma", "undifferentiated_neoplasm"):
        return None
    germ_cell = [t for t in (_raised(p, "AFP"), _raised(p, "beta-hCG")) if t]
    germ_cell += _positives(p, ("SALL4", "OCT3/4", "PLAP"))
    if not germ_cell:
        return None
    return (f"man aged {p.age}", "midline nodes", _histology_text(p.histology), *germ_cell)


def _confident_too(p: CaseProfile, site: str) -> str | None:
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
    if too and not p.positive("CK7"):  # colorectal is CK7- [CHU00]
        return ("adenocarcinoma", too)
    return None


def _renal_like(p: CaseProfile) -> tuple[str, ...] | None:
    if p.histology not in CARCINOMA_HISTOLOGIES:
        return None
    renal = _positives(p, ("CD10", "RCC"))
    if p.positive("PAX8") and p.negative("CK7") and p.negative("CK20") and renal:
        return ("PAX8+", "CK7-/CK20-", *renal)
    too = _confident_too(p, "kidney")
    if too and not p.negative("PAX8"):
        return (too,)
    return None


def _single_metastasis(p: CaseProfile) -> tuple[str, ...] | None:
    # One lesion on staging; "oligometastatic" has no agreed count in the sources, so
    # only a single lesion is matched [ESMO23], [GHANNAM].
    if p.lesions != 1 or p.histology is None:
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


def _favourable_subtypes(profile: CaseProfile) -> tuple[SubtypeMatch, ...]:
    matches: list[SubtypeMatch] = []
    for code in SUBTYPE_PRIORITY:
        evidence = _MATCHERS[code](profile)
        if evidence is None:
            continue
        subtype = FAVOURABLE_SUBTYPES_BY_CODE[code]
        manage_as = subtype.manage_as
        if code == "neuroendocrine" and profile.histology is not None:
            manage_as = NEUROENDOCRINE_MANAGE_AS[profile.histology]
        matches.append(
            SubtypeMatch(
                code,
                subtype.label,
                manage_as,
                subtype.management,
                subtype.decisions,
                evidence,
                subtype.source,
            )
        )
    return tuple(matches)


def favourable_subtype(profile: CaseProfile) -> SubtypeMatch | None:
    """The favourable subtype :func:`assess_case` names for this profile (the first
    match in priority order), without the rest of the guidance: for counting subtypes
    over a cohort, where the full assessment costs some 30 times more."""
    matches = _favourable_subtypes(profile)
    return matches[0] if matches else None


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
    for alteration in profile.alterations:
        text = alteration.upper()
        if NEGATED_ALTERATION.search(text):
            continue
        for pattern in ALTERATION_PATTERNS:
            if pattern.gene.search(text) and pattern.qualifier.search(text):
                evidence.setdefault(pattern.biomarker, alteration)
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


# ---------------------------------------------------------------------------------
# Required workup, cup-clinical.md section 2 [ESMO23, NICE, SVF]


@dataclass(frozen=True)
class _Presentation:
    sex: str
    sites: frozenset[str]
    histology: str | None
    lesions: int | None
    ecog: int | None
    ihc: Mapping[str, str]

    def positive(self, marker: str) -> bool:
        return self.ihc.get(marker) == "positive"


@dataclass(frozen=True)
class _WorkupRule:
    code: str
    reason: str
    source: str
    applies: Callable[[_Presentation], bool]


def _cervical_scc(p: _Presentation) -> bool:
    return p.histology == "squamous_cell_carcinoma" and "cervical_nodes" in p.sites


def _always(_: _Presentation) -> bool:
    return True


# Not required by any rule here, by design: MRI brain/spine is symptom-guided and the
# profile records no symptoms [ESMO23]; GEP is for selected cases, no OS benefit alone
# [HAYASHI], [GEFCAPI04].
_WORKUP_RULES: tuple[_WorkupRule, ...] = (
    _WorkupRule("history_exam", "all patients", "SVF", _always),
    _WorkupRule("blood_panel", "all patients; LDH is prognostic", "ESMO23", _always),
    _WorkupRule("ct_cap", "all patients", "ESMO23", _always),
    _WorkupRule("biopsy", "all patients: tissue for IHC and NGS", "SVF", _always),
    _WorkupRule("histopathology_ihc", "all patients", "ESMO23", _always),
    _WorkupRule("mammography", "women", "ESMO23", lambda p: p.sex == "female"),
    _WorkupRule(
        "breast_mri",
        "woman with axillary nodes",
        "ESMO23",
        lambda p: p.sex == "female" and "axillary_nodes" in p.sites,
    ),
    _WorkupRule("pet_ct", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc),
    _WorkupRule(
        "pet_ct", "apparent single site, before local therapy", "SVF", lambda p: p.lesions == 1
    ),
    _WorkupRule("psa", "men", "ESMO23", lambda p: p.sex == "male"),
    # SVF block A asks for hCG + AFP in midline tumours with no age limit; ESMO23 says
    # "young men". All men are asked: the test is a blood sample and the germ-cell
    # tumour it finds is curable.
    _WorkupRule(
        "afp_bhcg",
        "midline nodes in a man (germ-cell tumour)",
        "SVF",
        lambda p: p.sex == "male" and bool(p.sites & MIDLINE_SITES),
    ),
    _WorkupRule("afp_bhcg", "isolated liver tumour (AFP)", "SVF", lambda p: p.sites == {"liver"}),
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
    _WorkupRule(
        "bronchoscopy",
        "IHC points to lung (TTF-1+/napsin A+)",
        "ESMO23",
        lambda p: (
            (p.positive("TTF-1") or p.positive("Napsin A")) and not p.positive("Thyroglobulin")
        ),
    ),
    _WorkupRule(
        "ent_panendoscopy", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc
    ),
    _WorkupRule("hpv_ebv", "squamous carcinoma in cervical nodes", "ESMO23", _cervical_scc),
    _WorkupRule(
        "ngs",
        "fit patient (ECOG 0-1) who could be treated",
        "ESMO23",
        lambda p: p.ecog is not None and p.ecog <= 1,
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
) -> tuple[RequiredInvestigation, ...]:
    """The investigations required for this sex and presentation, with why, in
    catalogue order. ``ihc`` must use canonical marker names (CaseProfile.ihc does)."""
    presentation = _Presentation(sex, frozenset(sites), histology, lesions, ecog, ihc or {})
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
) -> tuple[str, ...]:
    """Codes of the required investigations, in catalogue order (see
    :func:`workup_requirements` for the reasons)."""
    required = workup_requirements(sex, sites, histology, lesions=lesions, ecog=ecog, ihc=ihc)
    return tuple(r.code for r in required)


def _profile_requirements(profile: CaseProfile) -> tuple[RequiredInvestigation, ...]:
    return workup_requirements(
        profile.sex,
        profile.sites,
        profile.histology,
        lesions=profile.lesions,
        ecog=profile.ecog,
        ihc=profile.ihc,
    )


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
    return _missing(profile, _profile_requirements(profile))


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
# Options, best supported first [ESMO23], [CUPISCO], [TA]


def _options(
    profile: CaseProfile,
    subtypes: tuple[SubtypeMatch, ...],
    exclusions: tuple[Exclusion, ...],
    biomarkers: tuple[BiomarkerFinding, ...],
    missing: tuple[str, ...],
) -> tuple[Option, ...]:
    options: dict[str, Option] = {}

    def add(code: str, reason: str, source: str) -> None:
        options.setdefault(code, Option(code, DECISION_LABELS[code], reason, source))

    managed = {SUBTYPE_MANAGES_ENTITY.get(s.code) for s in subtypes}
    exclusions = tuple(e for e in exclusions if e.entity not in managed)
    ecog = profile.ecog
    unfit = ecog is not None and ecog >= BSC_FLAG_MIN_ECOG
    if unfit and not subtypes:
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
    # Empiric treatment only for a confirmed carcinoma with no favourable subtype.
    if not subtypes and not exclusions and profile.histology is not None:
        squamous = profile.histology == "squamous_cell_carcinoma"
        if ecog is None or ecog <= 1:
            fit = "" if ecog is not None else " if ECOG 0-1"
            add(
                "empiric_platinum_taxane",
                f"Unfavourable CUP{fit}: carboplatin + paclitaxel "
                "(cisplatin + gemcitabine alternative)",
                "ESMO23",
            )
            trial = (
                "Clinical trial if available (CUPISCO enrolled non-squamous CUP only)"
                if squamous
                else "Molecularly guided therapy after NGS improved PFS over platinum in "
                "unfavourable non-squamous CUP with ECOG 0-1 (HR 0.72)"
            )
            add("clinical_trial", trial, "CUPISCO")
        elif ecog == 2:
            add(
                "empiric_platinum_taxane",
                "ECOG 2: empiric chemotherapy only after weighing benefit against toxicity",
                "ESMO23",
            )
            add("best_supportive_care", "ECOG 2 with unfavourable CUP", "ESMO23")
    if unfit:
        add("best_supportive_care", f"ECOG {ecog}: weigh fitness for treatment", "ESMO23")
    return tuple(options.values())


# ---------------------------------------------------------------------------------
# Warnings


def _and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _warnings(
    profile: CaseProfile,
    exclusions: tuple[Exclusion, ...],
    primaries: tuple[LikelyPrimary, ...],
    subtypes: tuple[SubtypeMatch, ...],
    biomarkers: tuple[BiomarkerFinding, ...],
) -> tuple[GuidanceWarning, ...]:
    warnings: list[GuidanceWarning] = []

    def warn(text: str, source: str) -> None:
        warnings.append(GuidanceWarning(text, source))

    if profile.age < ADULT_AGE:
        warn(
            f"Patient is {profile.age}, under {ADULT_AGE}: refer to paediatric oncology the "
            "same day; the adult CUP pathway does not apply.",
            "SVF",
        )
    if profile.histology is None:
        warn(
            "No histology recorded: CUP needs histologically confirmed malignancy "
            "before this guidance applies.",
            "ESMO23",
        )
    if exclusions:
        labels = [e.label.lower() for e in exclusions]
        warn(
            f"Rule out {_and_list(labels)} before calling this carcinoma of unknown primary.",
            "ESMO23",
        )
    ecog = profile.ecog
    if ecog is None:
        warn(
            "ECOG performance status not recorded: prognosis and options depend on it.",
            "CULINE",
        )
    elif ecog >= 5:
        warn("ECOG 5 means the patient has died: check the record.", "ECOG")
    elif ecog >= BSC_FLAG_MIN_ECOG:
        which = "with a favourable subtype" if subtypes else "with unfavourable CUP"
        warn(
            f"ECOG {ecog} {which}: discuss best supportive care; the board decides.",
            "ESMO23",
        )
    pdl1 = [v for v in (profile.pdl1_tps, profile.pdl1_cps) if v is not None]
    immuno = any(b.biomarker in IMMUNOTHERAPY_BIOMARKERS for b in biomarkers)
    if any(v >= PDL1_POSITIVE_MIN for v in pdl1) and not immuno:
        warn(
            "PD-L1 is the only immunotherapy biomarker and it is not tumour-agnostic: it "
            "does not make a case for immunotherapy in CUP (nivolumab is approved for CUP "
            "in Japan only).",
            "TA",
        )
    if primaries and all(f.source == "HAYASHI" for f in primaries[0].evidence):
        warn(
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
    primaries = _rank_primaries(profile)
    subtypes = _favourable_subtypes(profile)
    biomarkers = _tumour_agnostic(profile)
    required = _profile_requirements(profile)
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
        options=_options(profile, subtypes, exclusions, biomarkers, missing),
        warnings=_warnings(profile, exclusions, primaries, subtypes, biomarkers),
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
    if decision_code == "targeted_therapy" and not targeted and not profile.alterations:
        notes.append(
            GuidanceWarning(
                "Targeted therapy is recorded but no actionable alteration is reported.",
                "CUPISCO",
            )
        )
    if decision_code == "site_specific" and guidance.favourable_subtype is None:
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
    """Exactly the output of shared/reference/assess-contract.md, nothing extra."""
    subtype = guidance.favourable_subtype
    return {
        "favourable_subtype": None
        if subtype is None
        else {"code": subtype.code, "manage_as": subtype.manage_as, "source": subtype.source},
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
        "warnings": [w.text for w in guidance.warnings],
    }
