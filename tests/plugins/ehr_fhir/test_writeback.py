"""Write-back of posted 835 results (``write_back: true``) through the ``remittance_posted`` hook: against Medplum's
FHIR router (idempotent, references resolved, off by default) and a scripted server (errors, no conditional
update)."""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from claimbridge import SourceError
from claimbridge.claims.build import build_claim
from claimbridge.claims.identifiers import make_pcn
from claimbridge.claims.money import claim_to_json
from claimbridge.claims.results import (
    RECONCILIATION_SYSTEM,
    RESPONSE_SYSTEM,
    PostedClaimResponse,
    RemittancePosted,
    claim_response,
    payment_reconciliation,
)
from claimbridge.config import ClaimSettings, PayerSettings, PracticeSettings, Settings
from claimbridge.plugin_host import create_plugin_host
from claimbridge.plugins.ehr_fhir import demo_data
from claimbridge.plugins.ehr_fhir.writeback import write_back, write_back_targets
from claimbridge.x12.responses import parse_x12
from tests.fixtures.fhir_server import DEMO_DAY, demo_resources_for_tests, put_resources

from .scripted_server import Reply, ScriptedServer, searchset

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLAIMBRIDGE    *260302*1405*^*00501*000000001*0*T*:~"
SOURCE = "medplum"


def remittance_for(pcn: str, trace: str):
    """A parsed 835 paying the demo claim of enc-001 (one 90791 line) under ``pcn``."""
    segments = (f"ST*835*0001~BPR*I*150.50*C*ACH*CCP*01*999999999*DA*1*1512345678**01*999988880*DA*2*20260310~"
                f"TRN*1*{trace}*1512345678~N1*PR*LAKESHORE HEALTH PLAN~REF*2U*LKSHP~"
                f"N1*PE*RIVERBEND COUNSELING*XX*1234567893~LX*1~"
                f"CLP*{pcn}*1*200.00*150.50*30*12*LK-{trace}*11*1~NM1*QC*1*DOE*JANE****MI*M123~"
                f"SVC*HC:90791*200.00*150.50**1~DTM*472*20261119~CAS*CO*45*19.50~CAS*PR*3*30~REF*6R*{pcn}001~"
                f"AMT*B6*180.50~LQ*HE*N130~"
                f"PLB*1234567893*20261231*L6:INT*-1.25*WO:OLD1*1.25~")
    count = segments.count("~") + 1
    text = (ISA + "GS*HP*PAYER*CB*20260302*1405*7*X*005010X221A1~" + segments
            + f"SE*{count}*0001~GE*1*7~IEA*1*000000001~")
    [tx] = parse_x12(text).transactions
    return tx


def settings_for(base_url: str, **source_settings: Any) -> Settings:
    return Settings.model_validate({
        "practice": demo_data.demo_practice_settings(),
        "submitter": {"id": "RIVERBEND01", "name": "Riverbend", "contact": {"name": "Billing"}},
        "sources": [{"name": SOURCE, "type": "fhir", "settings": {"base_url": base_url, **source_settings}}],
    })


def posted_results(base_url: str, *, encounter: str = "enc-001", **source_settings: Any) -> RemittancePosted:
    """One posted remittance paying the demo claim of ``encounter`` with fresh identifiers."""
    unique = uuid.uuid4().hex[:10]
    pcn = make_pcn("CB", int(unique[:6], 16), 1)
    bundle = demo_data.encounter_bundle(copy.deepcopy(demo_resources_for_tests()), encounter)
    claim = build_claim(bundle, source=SOURCE, pcn=pcn, version=1, created=DEMO_DAY,
                        claim_settings=ClaimSettings(fee_schedule=demo_data.demo_fee_schedule(), payers={
                            k: PayerSettings(**v) for k, v in demo_data.demo_payer_settings().items()}),
                        practice=PracticeSettings(**demo_data.demo_practice_settings()))
    remittance = remittance_for(pcn, f"T{unique}")
    response_id = f"test-{unique}/1"
    response = claim_response(remittance.claims[0], remittance, outcome="paid", claim=claim, line_sequences=[1],
                              identifier=response_id)
    return RemittancePosted(
        remittance_id=1, payer_key="1512345678", trace_number=f"T{unique}",
        payment_reconciliation=payment_reconciliation(remittance, identifier=f"test-{unique}",
                                                      response_identifiers=[response_id]),
        claim_responses=(PostedClaimResponse(claim_id=1, pcn=pcn, source=SOURCE, encounter_key=f"Encounter/{encounter}",
                                             outcome="paid", resource=response),),
        settings=settings_for(base_url, **source_settings), config_dir=Path("."))


def found(base_url: str, resource_type: str, system: str, value: str) -> list[dict]:
    bundle = requests.get(f"{base_url}/{resource_type}", params={"identifier": f"{system}|{value}"}, timeout=10).json()
    return [e["resource"] for e in bundle.get("entry") or []]


def response_id(posted: RemittancePosted) -> str:
    return posted.claim_responses[0].resource["identifier"][0]["value"]


@pytest.mark.fhir_server
def test_write_back_twice_leaves_one_claim_response_referring_to_the_servers_patient(medplum_server):
    posted = posted_results(medplum_server, write_back=True)
    host = create_plugin_host(env={})
    assert host.notify("remittance_posted", remittance=posted) == []
    [first] = found(medplum_server, "ClaimResponse", RESPONSE_SYSTEM, response_id(posted))
    assert host.notify("remittance_posted", remittance=posted) == []
    [again] = found(medplum_server, "ClaimResponse", RESPONSE_SYSTEM, response_id(posted))
    assert again["id"] == first["id"]

    assert again["patient"] == {"reference": "Patient/pat-01", "type": "Patient"}  # enc-001's subject
    assert again["request"]["identifier"]["value"] == posted.claim_responses[0].pcn
    assert again["item"][0]["adjudication"][2]["amount"] == {"value": 150.5, "currency": "USD"}
    assert posted.claim_responses[0].resource["patient"]["identifier"]  # the posted resource was not changed

    [reconciliation] = found(medplum_server, "PaymentReconciliation", RECONCILIATION_SYSTEM,
                             posted.payment_reconciliation["identifier"][0]["value"])
    payment, *adjustments = reconciliation["detail"]
    assert payment["response"]["reference"] == f"ClaimResponse/{first['id']}"
    assert sum(Decimal(str(d["amount"]["value"])) for d in reconciliation["detail"]) == \
        Decimal(str(reconciliation["paymentAmount"]["value"])) == Decimal("150.50")
    assert len(adjustments) == 2


@pytest.mark.fhir_server
def test_the_servers_claim_with_the_pcn_becomes_the_request(medplum_server):
    posted = posted_results(medplum_server, encounter="enc-007", write_back=True)
    pcn = posted.claim_responses[0].pcn
    claim = json.loads(claim_to_json(build_claim(
        demo_data.encounter_bundle(copy.deepcopy(demo_resources_for_tests()), "enc-007"), source=SOURCE, pcn=pcn,
        version=1, created=DEMO_DAY, claim_settings=ClaimSettings(fee_schedule=demo_data.demo_fee_schedule()),
        practice=PracticeSettings(**demo_data.demo_practice_settings()))))
    claim_id = f"claim-{pcn.lower()}"
    put_resources(medplum_server, [{**claim, "id": claim_id}])
    assert write_back(posted).written == {SOURCE: 2}
    [stored] = found(medplum_server, "ClaimResponse", RESPONSE_SYSTEM, response_id(posted))
    assert stored["request"]["reference"] == f"Claim/{claim_id}"
    assert stored["patient"]["reference"] == "Patient/pat-02"
    [reconciliation] = found(medplum_server, "PaymentReconciliation", RECONCILIATION_SYSTEM,
                             posted.payment_reconciliation["identifier"][0]["value"])
    assert reconciliation["detail"][0]["request"]["reference"] == f"Claim/{claim_id}"


@pytest.mark.fhir_server
def test_write_back_is_off_by_default(medplum_server):
    posted = posted_results(medplum_server)
    assert list(write_back_targets(posted)) == []
    assert create_plugin_host(env={}).notify("remittance_posted", remittance=posted) == []
    assert found(medplum_server, "ClaimResponse", RESPONSE_SYSTEM, response_id(posted)) == []


def test_sources_without_write_back_are_never_contacted():
    posted = posted_results("http://127.0.0.1:9/fhir", write_back=False)

    def no_client(name, settings):
        raise AssertionError(f"contacted {name}")

    assert write_back(posted, client_factory=no_client).written == {}


def test_a_refused_write_is_a_source_error_with_the_servers_answer_and_no_phi():
    def script(request):
        if request.method == "GET" and request.path.endswith("/Encounter/enc-001"):
            return Reply(200, {"resourceType": "Encounter", "id": "enc-001", "status": "finished",
                               "class": {"code": "AMB"}, "subject": {"reference": "Patient/p9"}})
        if request.method == "GET":
            return Reply(200, searchset([]))
        return Reply(422, {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "processing", "diagnostics": "ClaimResponse.insurer: profile says no"}]})

    with ScriptedServer(script) as server:
        posted = posted_results(f"{server.url}/fhir", write_back=True)
        failures = create_plugin_host(env={}).notify("remittance_posted", remittance=posted)
    [failure] = failures
    assert failure.plugin == "ehr_fhir" and isinstance(failure.error, SourceError)
    message = str(failure.error)
    assert "2 writes failed" in message and "HTTP 422" in message and "profile says no" in message
    assert "PUT" in message and "/fhir/ClaimResponse?identifier=…" in message
    member_id = posted.claim_responses[0].resource["patient"]["identifier"]["value"]
    for phi in (member_id, "M123", "DOE", "JANE", response_id(posted)):  # query values are redacted too
        assert phi not in message
    puts = [r for r in server.requests if r.method == "PUT"]
    assert {r.path for r in puts} == {"/fhir/ClaimResponse", "/fhir/PaymentReconciliation"}
    body = json.loads(puts[0].body)
    assert body["patient"] == {"reference": "Patient/p9", "type": "Patient"} and "id" not in body
    assert ("identifier", f"{RESPONSE_SYSTEM}|{response_id(posted)}") in puts[0].query


def test_without_conditional_update_it_searches_then_creates_or_updates():
    stored: dict[str, dict] = {}

    def script(request):
        if request.method == "PUT" and not request.path.split("/fhir/")[1].count("/"):
            return Reply(405, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]})
        if request.method == "GET" and request.path.endswith(("/ClaimResponse", "/PaymentReconciliation")):
            resource_type = request.path.rsplit("/", 1)[1]
            return Reply(200, searchset([r for r in stored.values() if r["resourceType"] == resource_type]))
        if request.method == "GET":
            return Reply(404, {"resourceType": "OperationOutcome"})
        body = json.loads(request.body)
        if request.method == "POST":
            body["id"] = f"new{len(stored)}"
            stored[body["id"]] = body
            return Reply(201, "", headers={"Location": f"{request.path}/{body['id']}/_history/1"})
        assert request.path.endswith(f"/{body['id']}")
        stored[body["id"]] = body
        return Reply(200, body)

    with ScriptedServer(script) as server:
        posted = posted_results(f"{server.url}/fhir", write_back=True)
        assert write_back(posted).written == {SOURCE: 2}
        assert write_back(posted).written == {SOURCE: 2}
    assert sorted(r["resourceType"] for r in stored.values()) == ["ClaimResponse", "PaymentReconciliation"]
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 2 and posts[0].headers["if-none-exist"].startswith("identifier=urn")
    conditional_puts = [r for r in server.requests if r.method == "PUT" and r.query]
    assert len(conditional_puts) == 2  # one 405 per run; then the client stops trying
    reconciliation = next(r for r in stored.values() if r["resourceType"] == "PaymentReconciliation")
    assert reconciliation["detail"][0]["response"]["reference"] == "ClaimResponse/new0"
