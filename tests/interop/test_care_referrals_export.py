"""The FHIR export carries the referrals beside the decision as ServiceRequests
(issue 21), each with its kind, reason, receiving centre and status, on SQLite and
PostgreSQL; the bundle still validates and imports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from cupboard.fhir import record_from_bundle
from cupboard.knowledge import fhir_codes as fc
from cupboard.services.context import ServiceContext
from cupboard.services.interop import export_case_fhir
from cupboard.services.referrals import ReferralDraft, move_referral, request_referrals

TODAY = dt.date.today()


def _care_referrals(bundle: dict) -> list[dict]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
        and any(c.get("system") == fc.CS_CARE_REFERRAL for c in e["resource"]["code"]["coding"])
    ]


def test_each_referral_is_a_service_request_with_its_status(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    palliative, _ = request_referrals(
        contexts["oncologist"],
        case_id,
        [
            ReferralDraft("palliative_care", "ECOG 2: early palliative care"),
            ReferralDraft("second_opinion", "patient asks", detail="CUP clinic Uppsala"),
        ],
    )
    move_referral(contexts["navigator"], palliative, "declined_by_patient", 1)
    export = export_case_fhir(contexts["navigator"], case_id)
    requests = _care_referrals(json.loads(export.content))
    assert [r["code"]["coding"][0]["code"] for r in requests] == [
        "palliative_care",
        "second_opinion",
    ]
    declined, second = requests
    assert declined["status"] == "revoked" and declined["intent"] == "order"
    assert declined["reasonCode"][0]["text"] == "ECOG 2: early palliative care"
    statuses = {e["url"]: e for e in declined["extension"]}
    assert statuses[fc.EXT_CARE_REFERRAL_STATUS]["valueCoding"]["code"] == "declined_by_patient"
    assert statuses[fc.EXT_CARE_REFERRAL_STATUS_DATE]["valueDate"] == TODAY.isoformat()
    assert declined["authoredOn"] == TODAY.isoformat()
    assert second["status"] == "active"
    assert second["performer"][0]["display"] == "CUP clinic Uppsala"
    # The bundle still reads back; referrals are not imported yet, and each is said so.
    parsed = record_from_bundle(export.content)
    assert parsed.record is not None and parsed.problems == ()
    assert sum("ServiceRequest" in note for note in parsed.notes) >= 2


def test_a_case_without_referrals_exports_none(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    bundle = json.loads(export_case_fhir(contexts["navigator"], case_id).content)
    assert _care_referrals(bundle) == []
