"""Bad answers from a FHIR server, injected by a real local HTTP server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from claimbridge import AuthError, BadRecord, Record, SourceError, TransientSourceError
from claimbridge.plugins.ehr_fhir.client import redact, retry_after_seconds
from claimbridge.plugins.ehr_fhir.source import FhirSource

from .scripted_server import Reply, ScriptedServer, SeenRequest, searchset

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Quill", "given": ["Harriet"]}],
           "identifier": [{"system": "urn:mrn", "value": "MRN-5551234"}]}


def encounter(eid: str, stamp: str = "2026-11-27T10:00:00.000Z", **extra) -> dict:
    return {"resourceType": "Encounter", "id": eid, "status": "finished", "meta": {"lastUpdated": stamp},
            "subject": {"reference": "Patient/p1"}, **extra}


class FakeSleep:
    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_source(server: ScriptedServer, sleep: FakeSleep | None = None, **settings) -> FhirSource:
    base = {"base_url": f"{server.url}/fhir", "max_retries": 3, "backoff": 0.5, "timeout": 5}
    return FhirSource("clinic-ehr", {**base, **settings}, sleep=sleep or FakeSleep())


def ehr(encounters: list, patient: dict | None = PATIENT):
    """A tiny EHR: one page of encounters, the patient, empty searches for everything else."""

    def script(request: SeenRequest) -> Reply:
        if request.path == "/fhir/Encounter":
            return Reply(body=searchset(encounters))
        if request.path == "/fhir/Patient/p1" and patient:
            return Reply(body=patient)
        if request.path.count("/") == 2:  # a search
            return Reply(body=searchset([]))
        return Reply(404, {"resourceType": "OperationOutcome", "issue": []})

    return script


def sequence(*replies: Reply, then: Reply | None = None):
    queue = list(replies)

    def script(request: SeenRequest) -> Reply:
        return queue.pop(0) if queue else (then or Reply(body={"resourceType": "Patient", "id": "p1"}))

    return script


def test_401_is_an_auth_error_naming_the_source_and_url_but_not_the_token():
    with ScriptedServer(sequence(then=Reply(401, {"resourceType": "OperationOutcome"}))) as server:
        source = make_source(server, auth={"type": "bearer", "token": "s3cret-token"})
        with pytest.raises(AuthError) as caught:
            source.client.read("Patient", "p1")
    message = str(caught.value)
    assert "clinic-ehr" in message and f"{server.url}/fhir/Patient/p1" in message and "401" in message
    assert "s3cret-token" not in message
    assert server.requests[0].headers["authorization"] == "Bearer s3cret-token"
    assert len(server.requests) == 1


def test_403_is_an_auth_error():
    with ScriptedServer(sequence(then=Reply(403, {}))) as server, pytest.raises(AuthError, match="403"):
        make_source(server).client.read("Patient", "p1")


def test_429_with_retry_after_is_honoured_then_succeeds():
    sleep = FakeSleep()
    with ScriptedServer(sequence(Reply(429, {}, headers={"Retry-After": "7"}))) as server:
        assert make_source(server, sleep).client.read("Patient", "p1")["id"] == "p1"
    assert sleep.waits == [7.0]
    assert len(server.requests) == 2


def test_retry_after_as_an_http_date():
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= retry_after_seconds(format_datetime(later, usegmt=True)) <= 30
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(format_datetime(NOW - timedelta(days=1), usegmt=True)) == 0.0


def test_503_is_retried_with_exponential_backoff():
    sleep = FakeSleep()
    with ScriptedServer(sequence(Reply(503, "down", content_type="text/plain"), Reply(502, ""))) as server:
        assert make_source(server, sleep).client.read("Patient", "p1")["id"] == "p1"
    assert sleep.waits == [0.5, 1.0]


def test_retries_are_bounded_and_end_in_a_transient_error():
    sleep = FakeSleep()
    with ScriptedServer(sequence(then=Reply(503, ""))) as server, pytest.raises(TransientSourceError, match="HTTP 503 after 4 attempts"):
        make_source(server, sleep).client.read("Patient", "p1")
    assert len(server.requests) == 4
    assert sleep.waits == [0.5, 1.0, 2.0]


def test_a_retry_after_beyond_backoff_max_fails_at_once():
    sleep = FakeSleep()
    with ScriptedServer(sequence(then=Reply(429, {}, headers={"Retry-After": "3600"}))) as server, pytest.raises(TransientSourceError, match="3600"):
        make_source(server, sleep, backoff_max=60).client.read("Patient", "p1")
    assert sleep.waits == []


def test_timeouts_are_retried_then_transient():
    sleep = FakeSleep()
    with ScriptedServer(sequence(then=Reply(body={}, delay=2))) as server, pytest.raises(TransientSourceError, match="Timeout"):
        make_source(server, sleep, timeout=0.2, max_retries=1).client.read("Patient", "p1")
    assert len(server.requests) == 2


def test_html_is_a_source_error_naming_url_and_content_type():
    login_page = Reply(200, "<html><body>Please log in</body></html>", content_type="text/html; charset=utf-8")
    with ScriptedServer(sequence(then=login_page)) as server, pytest.raises(SourceError) as caught:
        list(make_source(server).streams()[0].read(None, NOW))
    message = str(caught.value)
    assert "clinic-ehr" in message and "text/html" in message and f"{server.url}/fhir/Encounter" in message
    assert "status=…" in message and "finished" not in message  # query values are not shown


def test_json_that_is_not_a_bundle_and_text_that_is_not_json_are_source_errors():
    broken = Reply(200, "{not json", content_type="application/json")
    with ScriptedServer(sequence(then=broken)) as server, pytest.raises(SourceError, match="not JSON"):
        list(make_source(server).streams()[0].read(None, NOW))
    patient = Reply(200, {"resourceType": "Patient", "id": "x"})
    with ScriptedServer(sequence(then=patient)) as server, pytest.raises(SourceError, match="not a Bundle"):
        list(make_source(server).streams()[0].read(None, NOW))


def test_a_malformed_encounter_becomes_a_bad_record_and_the_page_goes_on():
    page = [
        encounter("good-1"),
        encounter("bad-subject", subject="Patient/p1"),
        encounter("bad-participant", participant={"individual": {"reference": "Practitioner/x"}}),
        "not a resource",
        encounter("no-patient", subject={"reference": "Patient/missing"}),
        encounter("good-2", stamp="2026-11-27T10:00:01.000Z"),
    ]
    with ScriptedServer(ehr(page)) as server:
        results = list(make_source(server).streams()[0].read(None, NOW))
    good = [r.key for r in results if isinstance(r, Record)]
    bad = {r.key: r for r in results if isinstance(r, BadRecord)}
    assert good == ["Encounter/good-1", "Encounter/good-2"]
    assert bad["Encounter/bad-subject"].field == "Encounter.subject"
    assert bad["Encounter/bad-participant"].field == "Encounter.participant"
    assert bad["Encounter/no-patient"].field == "Encounter.subject"
    assert bad["Encounter/no-patient"].payload["id"] == "no-patient"
    assert bad["Encounter/no-patient"].cursor == "2026-11-27T10:00:00.000Z"
    invalid = [r for key, r in bad.items() if key.startswith("Encounter/invalid-")]
    assert len(invalid) == 1 and invalid[0].payload == "not a resource"


def test_a_search_the_server_cannot_do_is_left_out():
    def script(request: SeenRequest) -> Reply:
        if request.path == "/fhir/ChargeItem":
            return Reply(400, {"resourceType": "OperationOutcome",
                               "issue": [{"severity": "error", "code": "not-supported"}]})
        return ehr([encounter("e1"), encounter("e2")])(request)

    with ScriptedServer(script) as server:
        results = list(make_source(server).streams()[0].read(None, NOW))
    assert [type(r) for r in results] == [Record, Record]
    assert sum(1 for r in server.requests if r.path == "/fhir/ChargeItem") == 1, "asked once per run"


def test_a_next_link_to_another_server_is_refused():
    def script(request: SeenRequest) -> Reply:
        if request.path == "/fhir/Encounter":
            return Reply(body=searchset([encounter("e1")], next_url="http://elsewhere.example/fhir/Encounter?p=2"))
        return ehr([])(request)

    with ScriptedServer(script) as server, pytest.raises(SourceError, match="elsewhere.example"):
        list(make_source(server).streams()[0].read(None, NOW))


def test_a_server_that_ignores_offset_is_caught_instead_of_looping():
    same_page = [encounter(f"e{i}", stamp="2026-11-27T10:00:00.000Z") for i in range(3)]
    with ScriptedServer(ehr(same_page)) as server, pytest.raises(SourceError, match="ignore _offset"):
        list(make_source(server, page_size=3).streams()[0].read(None, NOW))


def test_offset_paging_restarts_at_the_last_timestamp():
    stamps = ["2026-11-27T10:00:00.000Z", "2026-11-27T10:00:01.000Z", "2026-11-27T10:00:01.000Z",
              "2026-11-27T10:00:02.000Z", "2026-11-27T10:00:03.000Z"]
    everything = [encounter(f"e{i}", stamp=s) for i, s in enumerate(stamps)]

    def script(request: SeenRequest) -> Reply:
        if request.path != "/fhir/Encounter":
            return ehr([])(request)
        query = request.query
        lower = [v for k, v in query if k == "_lastUpdated" and v.startswith("ge")]
        chosen = [e for e in everything if not lower or e["meta"]["lastUpdated"] >= lower[0][2:]]
        offset = int(dict(query).get("_offset", 0))
        return Reply(body=searchset(chosen[offset:offset + 2]))

    with ScriptedServer(script) as server:
        results = list(make_source(server, page_size=2).streams()[0].read(None, NOW))
    assert [r.key for r in results] == [f"Encounter/e{i}" for i in range(5)]
    pages = [{k: v for k, v in r.query if k != "_lastUpdated"} | {"lower": [v for _, v in r.query if v[:2] == "ge"]}
             for r in server.requests if r.path == "/fhir/Encounter"]
    assert pages[1]["lower"] == ["ge2026-11-27T10:00:01.000Z"] and pages[1]["_offset"] == "1"
    assert pages[2]["lower"] == ["ge2026-11-27T10:00:02.000Z"] and pages[2]["_offset"] == "1"
    assert len(pages) == 3


def test_logs_carry_no_resource_bodies_or_query_values(caplog):
    caplog.set_level(logging.DEBUG, logger="claimbridge")
    with ScriptedServer(ehr([encounter("e1", subject="bad")])) as server:
        list(make_source(server).streams()[0].read(NOW - timedelta(days=1), NOW))
    text = caplog.text
    assert "clinic-ehr" in text
    for secret in ("Quill", "Harriet", "MRN-5551234", "2026-11-26T12", "finished"):
        assert secret not in text


def test_redact_keeps_the_path_and_parameter_names():
    shown = redact("https://ehr.example/fhir/Coverage?beneficiary=Patient/42&_count=5", [("x", "1")])
    assert shown == "https://ehr.example/fhir/Coverage?beneficiary=…&_count=…&x=…"


def test_unsorted_results_turn_off_mid_stream_checkpoints():
    page = [encounter("e1", stamp="2026-11-27T10:00:05.000Z"), encounter("e2", stamp="2026-11-27T10:00:01.000Z")]
    with ScriptedServer(ehr(page)) as server:
        stream = make_source(server).streams()[0]
        reader = stream.read(None, NOW)
        next(reader)
        assert stream.is_sorted
        next(reader)
        assert not stream.is_sorted
        assert [r.key for r in reader] == []
