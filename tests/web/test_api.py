"""Every /api/v1 operation against a real store, and the OpenAPI document kept true."""

from __future__ import annotations

import json

from flask import Flask

from claimbridge.store.models import QuarantinedRecord
from claimbridge.web.api import OPERATIONS, openapi_document


def test_claims_page_by_keyset_filter_by_status_and_count(client, token_for, world):
    headers = token_for("viewer")
    first = client.get("/api/v1/claims?limit=2&count=true", headers=headers).json
    assert first["total"] == 6 and len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/claims?limit=2&cursor={first['next_cursor']}", headers=headers).json
    third = client.get(f"/api/v1/claims?limit=2&cursor={second['next_cursor']}", headers=headers).json
    pcns = [c["pcn"] for page in (first, second, third) for c in page["items"]]
    assert len(set(pcns)) == 6 and third["next_cursor"] is None and "total" not in second
    held = client.get("/api/v1/claims?status=held&count=true", headers=headers).json
    assert held["total"] == 3 and {c["status"] for c in held["items"]} == {"held"}
    assert all(c["hold_reason"] for c in held["items"]) and {c["source"] for c in held["items"]} == {"demo-fhir"}
    bad = client.get("/api/v1/claims?limit=0", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["message"] == "limit must be between 1 and 500"


def test_a_list_answers_304_while_nothing_changed(client, token_for):
    headers = token_for("viewer")
    first = client.get("/api/v1/claims", headers=headers)
    again = client.get("/api/v1/claims", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_claim_detail_has_the_claim_its_findings_and_history(client, token_for, world):
    pcn = world.pcn_of("enc-028")
    detail = client.get(f"/api/v1/claims/{pcn.lower()}", headers=token_for("viewer")).json
    assert detail["pcn"] == pcn and detail["status"] == "held"
    assert [f["rule"] for f in detail["findings"] if f["severity"] == "error"] == ["psychotherapy.time_band"]
    assert detail["fhir"]["resourceType"] == "Claim" and detail["history"][-1]["to"] == "held"
    assert detail["versions"] == [{"pcn": pcn, "version": 1, "status": "held", "frequency": "1"}]
    missing = client.get("/api/v1/claims/NOPE", headers=token_for("viewer"))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_a_biller_overrides_a_finding_and_the_claim_becomes_ready(client, token_for, world):
    pcn = world.pcn_of("enc-028")
    held = client.get("/api/v1/held-claims", headers=token_for("viewer")).json["items"]
    assert pcn in [h["pcn"] for h in held]
    done = client.post(f"/api/v1/claims/{pcn}/overrides", headers=token_for("biller"),
                       json={"rule": "psychotherapy.time_band", "reason": "payer agreed by phone, ref 123"})
    assert done.status_code == 200 and done.json == {"pcn": pcn, "rule": "psychotherapy.time_band", "held": False,
                                                     "hold_reason": None}
    assert world.version(pcn).status == "ready"
    again = client.post(f"/api/v1/claims/{pcn}/overrides", headers=token_for("biller"),
                        json={"rule": "psychotherapy.time_band", "reason": "again"})
    assert again.status_code == 409
    empty = client.post(f"/api/v1/claims/{pcn}/overrides", headers=token_for("biller"), json={"rule": "x"})
    assert empty.status_code == 400 and "reason is required" in empty.json["error"]["message"]


def test_quarantine_lists_and_resolves(client, token_for, world):
    with world.store.transaction() as session:
        session.add(QuarantinedRecord(source="office", stream="encounters", record_key="billing.csv:row 4",
                                      field="total_fee", reason="column 'Total Fee': not an amount"))
    listed = client.get("/api/v1/quarantine?count=true", headers=token_for("viewer")).json
    assert listed["total"] == 1 and listed["items"][0]["record"] == "billing.csv:row 4"
    record_id = listed["items"][0]["id"]
    done = client.post(f"/api/v1/quarantine/{record_id}/resolve", headers=token_for("biller"))
    assert done.status_code == 200 and done.json["resolved_at"]
    assert client.get("/api/v1/quarantine", headers=token_for("viewer")).json["items"] == []
    assert len(client.get("/api/v1/quarantine?all=true", headers=token_for("viewer")).json["items"]) == 1


def test_denials_are_listed_and_resolved(client, token_for, world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",), amount="150.00", days_ago=2)
    queue = client.get("/api/v1/denials", headers=token_for("viewer")).json
    assert [row["id"] for row in queue["denials"]] == [denial_id]
    done = client.post(f"/api/v1/denials/{denial_id}/resolve", headers=token_for("biller"),
                       json={"resolution": "write_off", "reason": "below the appeal threshold"})
    assert done.status_code == 200 and done.json["resolution"] == "written_off" and done.json["pcn"] == pcn
    assert client.get("/api/v1/denials", headers=token_for("viewer")).json["denials"] == []
    wrong = client.post(f"/api/v1/denials/{denial_id}/resolve", headers=token_for("biller"),
                        json={"resolution": "shred", "reason": "x"})
    assert wrong.status_code == 400


def test_sources_and_reports(client, token_for):
    headers = token_for("viewer")
    sources = client.get("/api/v1/sources", headers=headers).json["items"]
    assert [(s["name"], s["type"], s["last_run"]) for s in sources] == [("demo-fhir", "fhir", None)]
    by_status = client.get("/api/v1/reports/claims-by-status", headers=headers).json["items"]
    assert {row["status"]: row["count"] for row in by_status} == {"held": 3, "ready": 3}
    revenue = client.get("/api/v1/reports/revenue", headers=headers).json
    assert revenue["billed"] == "0.00"


def test_the_openapi_document_lists_every_operation_and_nothing_else(client, token_for, app: Flask):
    document = client.get("/api/v1/openapi.json", headers=token_for("viewer")).json
    assert document["openapi"].startswith("3.") and document == json.loads(json.dumps(openapi_document()))
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in ("api.openapi", "api.unknown"):
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")
        routed |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    for op in OPERATIONS:
        entry = document["paths"][op.path][op.method.lower()]
        assert entry["summary"] and entry["description"] == f"Needs the {op.role} role."
        assert set(entry["responses"]) >= {str(op.status), "401", "403"}


def test_claims_filter_by_payer_provider_dates_and_patient(client, token_for, world):
    headers = token_for("viewer")
    pcn = world.pcn_of("enc-002")
    detail = client.get(f"/api/v1/claims/{pcn}", headers=headers).json
    assert detail["payer"] and detail["provider"] and detail["patient"] and detail["service_date"]

    def pcns(**params) -> set[str]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return {c["pcn"] for c in client.get(f"/api/v1/claims?limit=500&{query}", headers=headers).json["items"]}

    every = pcns()
    assert pcn in pcns(payer=detail["payer"].lower()) and pcn in pcns(provider=detail["provider"])
    assert pcn in pcns(patient=detail["patient"])
    assert pcns(patient="no-such-patient") == set()
    assert pcn in pcns(service_from=detail["service_date"], service_to=detail["service_date"])
    day = detail["service_date"]
    assert all(c["service_date"] >= day for c in client.get(
        f"/api/v1/claims?limit=500&service_from={day}", headers=headers).json["items"])
    assert pcns(service_to="1990-01-01") == set() and len(every) == 6
    bad = client.get("/api/v1/claims?service_from=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["message"] == "service_from must be a date, YYYY-MM-DD"
