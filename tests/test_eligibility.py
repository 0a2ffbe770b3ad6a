"""Eligibility before each session, end to end against the real SFTP sandbox clearinghouse: appointment bundles
stored as the sync runner stores them → 270 batches (checked structurally, delivered exactly once) → 271 answers
fetched and posted to their questions → the sessions at risk, each with its reason."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from claimbridge import hookimpl
from claimbridge.eligibility.service import check_now, check_upcoming, list_checks, send_pending
from claimbridge.inbound import fetch_responses, receive_file
from claimbridge.store.models import Batch, Claim, EligibilityCheck, SourceRecord, utcnow
from claimbridge.x12.eligibility import check_270
from claimbridge.x12.responses import iter_transactions
from tests.test_end_to_end import Environment

NIIP = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NIIP"}]},
        "value": "LKSHP"}
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    yield environment
    environment.close()


def appointment_bundle(number: int, member_id: str, *, days: int = 1, status: str = "booked",
                       dependent: bool = False) -> dict:
    """An appointment bundle as docs/claim-profile.md describes it."""
    day = utcnow().date() + timedelta(days=days)
    patient = {"resourceType": "Patient", "id": f"pt-{number}", "name": [{"family": f"Doe{number}", "given": ["Sam"]}],
               "birthDate": "2012-05-04" if dependent else "1985-02-03", "gender": "female"}
    coverage = {"resourceType": "Coverage", "id": f"cov-{number}", "status": "active", "order": 1,
                "subscriberId": member_id, "beneficiary": {"reference": f"Patient/pt-{number}"},
                "payor": [{"reference": "Organization/payer-lakeshore"}],
                "relationship": {"coding": [{"system": RELATIONSHIP, "code": "child" if dependent else "self"}]}}
    entries = [
        {"resourceType": "Appointment", "id": f"appt-{number}", "status": status,
         "start": f"{day.isoformat()}T10:00:00-05:00", "end": f"{day.isoformat()}T10:53:00-05:00",
         "participant": [{"actor": {"reference": f"Patient/pt-{number}"}, "status": "accepted"},
                         {"actor": {"reference": "Practitioner/pr-1"}, "status": "accepted"}]},
        patient, coverage,
        {"resourceType": "Organization", "id": "payer-lakeshore", "name": "Lakeshore Health Plan",
         "identifier": [NIIP]},
        {"resourceType": "Practitioner", "id": "pr-1", "name": [{"family": "Rivera", "given": ["Ana"]}],
         "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1245319599"}]},
    ]
    if dependent:
        coverage["subscriber"] = {"reference": f"RelatedPerson/rp-{number}"}
        entries.append({"resourceType": "RelatedPerson", "id": f"rp-{number}", "patient": {"reference":
                        f"Patient/pt-{number}"}, "name": [{"family": f"Doe{number}", "given": ["Pat"]}],
                        "birthDate": "1980-01-01", "gender": "male"})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]}


def store_appointments(runtime, bundles: dict[str, dict], source: str = "demo-fhir") -> None:
    with runtime.store.transaction() as session:
        for key, bundle in bundles.items():
            payload = json.dumps(bundle, sort_keys=True)
            session.add(SourceRecord(source=source, stream="appointments", key=key, payload=payload,
                                     payload_sha256=str(hash(payload))))


def checks(runtime) -> list[EligibilityCheck]:
    with runtime.store.transaction() as session:
        return list(session.execute(select(EligibilityCheck).order_by(EligibilityCheck.id)).scalars())


def test_upcoming_sessions_go_out_once_as_a_checked_270(env):
    with env.runtime() as runtime:
        store_appointments(runtime, {
            "Appointment/appt-1": appointment_bundle(1, "LK100001"),
            "Appointment/appt-2": appointment_bundle(2, "LK100002", dependent=True, days=2),
            "Appointment/appt-3": appointment_bundle(3, "LK100003", status="cancelled"),
            "Appointment/appt-4": appointment_bundle(4, "LK100004", days=9),  # beyond the 3 days
            "Appointment/appt-5": appointment_bundle(5, "LK100005", days=-1),  # yesterday
        })
        run = check_upcoming(runtime)
        assert run.counts() | {} == {"appointments": 3, "inquiries_asked": 2, "inquiries_fresh": 0,
                                     "appointments_not_active": 1, "appointments_cannot_check": 0,
                                     "eligibility_batches": 1, "inquiries_sent": 2}
        assert run.errors == []
        files = sorted((env.root / "clearinghouse" / "inbound").glob("*.270"))
        assert len(files) == 1
        assert check_270(files[0]).ok, check_270(files[0]).problems
        (sent,) = list(iter_transactions(files[0]))
        assert sent.type == "270" and len(sent.inquiries) == 2
        asked = {i.trace_number: i for i in sent.inquiries}
        stored = {c.trace_number: c for c in checks(runtime)}
        assert set(asked) == set(stored) and all(c.status == "sent" for c in stored.values())
        dependent = next(i for i in sent.inquiries if i.dependent is not None)
        assert dependent.subscriber.member_id == "LK100002" and dependent.dependent.member_id is None
        assert dependent.service_types == ("MH",)
        # a second run asks nothing again: the answers are awaited
        again = check_upcoming(runtime)
        assert (again.asked, again.fresh, again.batches) == (0, 2, [])
        with runtime.store.transaction() as session:
            batch = session.execute(select(Batch).where(Batch.kind == "270")).scalar_one()
            assert batch.status == "submitted" and batch.file_name.endswith(".270")


def test_a_batch_left_half_done_is_finished_once_and_claims_submission_leaves_it_alone(env):
    from claimbridge.pipeline import submit

    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK100001")})
        check_upcoming(runtime)  # sent
        store_appointments(runtime, {"Appointment/appt-6": appointment_bundle(6, "LK100006")})
        run = check_upcoming(runtime)
        assert run.asked == 1
        # as if the process died after the batch was written but before it was sent
        with runtime.store.transaction() as session:
            batch = session.execute(select(Batch).where(Batch.kind == "270").order_by(Batch.id.desc())
                                    .limit(1)).scalar_one()
            batch.status = "validated"
        submit(runtime)  # the 837 sender does not touch 270 batches
        with runtime.store.transaction() as session:
            assert session.get(Batch, batch.id).status == "validated"
        done = send_pending(runtime)
        assert [b["status"] for b in done] == ["submitted"]
        assert len(list((env.root / "clearinghouse" / "inbound").glob("*.270"))) == 2
        assert send_pending(runtime) == []


def test_answers_are_posted_to_their_questions_with_the_risks_in_words(env):
    encode_271 = pytest.importorskip("claimbridge.plugins.clearinghouse_sftp.encode_271",
                                     reason="the sandbox's 271 writer")
    del encode_271
    with env.runtime() as runtime:
        store_appointments(runtime, {
            "Appointment/appt-1": appointment_bundle(1, "LK100001"),
            "Appointment/appt-2": appointment_bundle(2, "LK1INACTIVE"),
            "Appointment/appt-3": appointment_bundle(3, "LK1CARVEOUT"),
            "Appointment/appt-4": appointment_bundle(4, "LK1NOVISITS"),
            "Appointment/appt-5": appointment_bundle(5, "LK1AUTH"),
            "Appointment/appt-6": appointment_bundle(6, "LK1HIGHDED"),
            "Appointment/appt-7": appointment_bundle(7, "LK1NOTFOUND"),
            "Appointment/appt-8": appointment_bundle(8, "LK100008", dependent=True),
        })
        check_upcoming(runtime)
        fetched = fetch_responses(runtime)
        assert not fetched.errors, fetched.errors
        rows = {row["appointment"]: row for row in list_checks(runtime.store)}
        assert {k: r["status"] for k, r in rows.items()} == {
            **{f"Appointment/appt-{n}": "answered" for n in (1, 2, 3, 4, 5, 6, 8)},
            "Appointment/appt-7": "rejected"}
        assert rows["Appointment/appt-1"]["risks"] == [] and rows["Appointment/appt-8"]["risks"] == []
        assert rows["Appointment/appt-2"]["risks"] == ["inactive"]
        assert rows["Appointment/appt-3"]["risks"] == ["carve_out"]
        assert "MAGELLAN BEHAVIORAL HEALTH" in rows["Appointment/appt-3"]["reasons"][0]
        assert rows["Appointment/appt-4"]["risks"] == ["no_visits_left"]
        assert rows["Appointment/appt-5"]["risks"] == ["authorization_required"]
        assert rows["Appointment/appt-6"]["risks"] == ["patient_responsibility"]
        assert "deductible still to meet $2750.00" in rows["Appointment/appt-6"]["reasons"][0]
        assert rows["Appointment/appt-7"]["risks"] == ["rejected"]
        assert "subscriber" in rows["Appointment/appt-7"]["reasons"][0].lower()
        at_risk = list_checks(runtime.store, at_risk=True)
        assert len(at_risk) == 6
        # the same 271 again (another name): posted once
        path = sorted((env.root / "clearinghouse" / "archive").rglob("*.271"))[0]
        again = receive_file(runtime, "sandbox", "again.271", path.read_bytes())
        assert again.status == "duplicate"


def test_a_999_rejecting_the_270_fails_its_questions(env):
    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK100001")})
        check_upcoming(runtime)
        with runtime.store.transaction() as session:
            batch = session.execute(select(Batch).where(Batch.kind == "270")).scalar_one()
            group, isa13 = batch.gs06, batch.isa13
        reject = ("ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*CLAIMBRIDGE    *261127*1200*^*00501*"
                  f"{isa13 + 500:09d}*0*T*:~GS*FA*SANDBOXCH*CLAIMBRIDGE*20261127*1200*{group + 500}*X*005010X231A1~"
                  f"ST*999*0001*005010X231A1~AK1*HS*{group}*005010X279A1~AK2*270*{batch.st02:04d}*005010X279A1~"
                  "IK5*R*5~AK9*R*1*1*0~SE*6*0001~GE*1*" f"{group + 500}~IEA*1*{isa13 + 500:09d}~")
        posted = receive_file(runtime, "sandbox", "reject.999", reject.encode())
        assert posted.status == "posted" and posted.counts.get("inquiries_failed") == 1
        (check,) = checks(runtime)
        assert check.status == "failed" and check.risks == "cannot_check" and "999" in check.error
        assert list_checks(runtime.store, at_risk=True)[0]["risk_words"] == ["cannot be checked"]


def test_an_appointment_that_cannot_make_a_question_is_listed_with_the_field(env):
    bundle = appointment_bundle(1, "LK100001")
    bundle["entry"][2]["resource"].pop("subscriberId")
    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": bundle})
        run = check_upcoming(runtime)
        assert run.cannot_check == 1 and run.asked == 0
        (row,) = list_checks(runtime.store, at_risk=True)
        assert row["risks"] == ["cannot_check"]
        assert row["reasons"] == ["the coverage has no member id (Coverage.subscriberId)"]
        check_upcoming(runtime)  # not recorded twice
        with runtime.store.transaction() as session:
            assert session.execute(select(func.count(EligibilityCheck.id))).scalar_one() == 1


def test_a_check_on_demand_without_a_real_time_transport_goes_as_a_file(env):
    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK100001", days=2)})
        row = check_now(runtime, patient="pt-1", actor="cli:jdoe")
        assert row["status"] == "sent" and row["transport"] == "batch" and row["appointment"] is None
        assert row["service_date"] == utcnow().date().isoformat()
        assert len(list((env.root / "clearinghouse" / "inbound").glob("*.270"))) == 1
        with pytest.raises(Exception, match="no stored appointment of Patient/nobody"):
            check_now(runtime, patient="nobody")


class SandboxRealtime:
    """A plugin registering a real-time eligibility transport for the ``sftp`` clearinghouse type: it hands the
    270 to the sandbox's own responder in this process and returns its 271 (as a clearinghouse's API would)."""

    def __init__(self):
        self.inquiries: list[bytes] = []

    @hookimpl
    def register_eligibility_transports(self, register):
        from claimbridge.connectors import EligibilityTransport
        from claimbridge.plugins.clearinghouse_sftp.responder_271 import answer_270

        plugin = self

        class Realtime(EligibilityTransport):
            type_name = "sftp"

            def inquire(self, content: bytes) -> bytes:
                plugin.inquiries.append(content)
                counter = iter(range(9000, 10000))
                answers = answer_270(content, control_numbers=lambda: next(counter), name="realtime.270")
                assert answers.accepted
                return answers.eligibility_271

        register(Realtime)


def test_a_check_on_demand_through_a_real_time_transport_is_answered_at_once(env):
    from claimbridge.plugin_host import create_plugin_host

    plugin = SandboxRealtime()
    with env.runtime(create_plugin_host([plugin])) as runtime:
        assert "sftp" in runtime.plugins.eligibility_transports
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK1NOVISITS", days=1)})
        day = utcnow().date() + timedelta(days=1)
        row = check_now(runtime, patient="Patient/pt-1", payer="LKSHP", service_date=day, actor="web:biller")
        assert len(plugin.inquiries) == 1 and check_270(plugin.inquiries[0]).ok
        assert row["transport"] == "realtime" and row["status"] == "answered"
        assert row["risks"] == ["no_visits_left"] and row["service_date"] == day.isoformat()
        assert row["summary"]["visits"]["remaining"] == "0"
        # nothing went through the SFTP folder
        assert list((env.root / "clearinghouse" / "inbound").glob("*.270")) == []
        with pytest.raises(Exception, match="with payer NOPE"):
            check_now(runtime, patient="pt-1", payer="NOPE")


def test_a_claim_for_a_day_the_payer_said_coverage_was_inactive_is_held(tmp_path, db_url):
    from tests.claims.test_worklist import World

    world = World(tmp_path, db_url)
    try:
        world.pull("enc-002")
        with world.store.transaction() as session:
            claim = session.execute(select(Claim).where(Claim.pcn == world.pcn_of("enc-002"))).scalar_one()
            key, payer, day = claim.patient_key, claim.payer_id, claim.service_date
            session.add(EligibilityCheck(
                patient_key=key, payer_id=payer, service_date=day, service_types="MH", trace_number="CBTEST1",
                inquiry="{}", inquiry_sha256="", status="answered", coverage_status="inactive",
                summary=json.dumps({"active_on_service_date": False}), answered_at=utcnow()))

        def touched(bundle):  # the clinician amends the note: the claim is built and scrubbed again
            bundle["entry"][0]["resource"].setdefault("extension", []).append(
                {"url": "https://example.org/amended", "valueBoolean": True})

        world.pull("enc-002", bundle_change=touched)
        version = world.version(world.pcn_of("enc-002"))
        assert version.status == "held"
        assert "eligibility.coverage_inactive" in version.hold_reason
    finally:
        world.close()


def test_the_web_lists_sessions_at_risk_shows_a_check_and_asks_on_demand(env):
    from claimbridge.web import create_app
    from claimbridge.web.auth import add_user, create_token
    from tests.web.conftest import csrf_of, login

    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK100001"),
                                     "Appointment/appt-2": appointment_bundle(2, "LK1CARVEOUT")})
        check_upcoming(runtime)
        fetch_responses(runtime)
        for role in ("biller", "viewer"):
            add_user(runtime.store, role, "correct horse battery", role)
        app = create_app(runtime)
        app.config["TESTING"] = True
        client = app.test_client()
        viewer = {"Authorization": f"Bearer {create_token(runtime.store, 'viewer', 't')}"}
        listed = client.get("/api/v1/eligibility?at_risk=true", headers=viewer).json["items"]
        assert [(r["appointment"], r["risks"]) for r in listed] == [("Appointment/appt-2", ["carve_out"])]
        shown = client.get(f"/api/v1/eligibility/{listed[0]['id']}", headers=viewer).json
        assert shown["summary"]["carve_outs"][0]["name"] == "MAGELLAN BEHAVIORAL HEALTH"
        assert client.post("/api/v1/eligibility/check", headers=viewer, json={"patient": "pt-1"}).status_code == 403
        biller = {"Authorization": f"Bearer {create_token(runtime.store, 'biller', 't')}"}
        asked = client.post("/api/v1/eligibility/check", headers=biller, json={"patient": "pt-1", "date": "nope"})
        assert asked.status_code == 400
        asked = client.post("/api/v1/eligibility/check", headers=biller, json={"patient": "pt-1"})
        assert asked.status_code == 200 and asked.json["status"] == "sent"

        login(client, "biller", "correct horse battery")
        page = client.get("/eligibility?at_risk=1").get_data(as_text=True)
        assert "mental health carved out" in page and "MAGELLAN BEHAVIORAL HEALTH" in page and "appt-1" not in page
        assert "carved_out" not in client.get("/eligibility?format=csv").get_data(as_text=True).split("\n")[0]
        detail = client.get(f"/eligibility/{listed[0]['id']}").get_data(as_text=True)
        assert "carved out to" in detail and "MAGELLAN BEHAVIORAL HEALTH" in detail
        done = client.post("/eligibility/check", data={"csrf_token": csrf_of(client), "patient": "Patient/pt-2"},
                           follow_redirects=True).get_data(as_text=True)
        assert "sent as a 270 file" in done
        assert client.get("/eligibility/999999").status_code == 404


@pytest.mark.parametrize("sample", sorted((Path(__file__).parent / "x12" / "data" / "271" / "malformed").glob("*.271"))
                         if (Path(__file__).parent / "x12" / "data" / "271" / "malformed").exists() else [])
def test_a_malformed_271_is_quarantined_whole_with_the_segment_and_the_rest_goes_on(env, sample):
    with env.runtime() as runtime:
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK100001")})
        check_upcoming(runtime)
        broken = receive_file(runtime, "sandbox", sample.name, sample.read_bytes())
        assert broken.status == "quarantined", broken
        assert sample.name in broken.reason and "segment" in broken.reason
        (check,) = checks(runtime)
        assert check.status == "sent"  # nothing of the broken file was posted
        fetched = fetch_responses(runtime)  # the sandbox's good answer still posts
        assert not fetched.errors
        (check,) = checks(runtime)
        assert check.status == "answered"


def test_the_dashboard_lists_the_upcoming_sessions_at_risk(env):
    from claimbridge.web import create_app
    from claimbridge.web.auth import add_user
    from tests.web.conftest import login

    with env.runtime() as runtime:
        add_user(runtime.store, "viewer", "correct horse battery", "viewer")
        app = create_app(runtime)
        app.config["TESTING"] = True
        client = app.test_client()
        login(client, "viewer", "correct horse battery")
        assert "No upcoming session is at risk (or none was checked yet)" in client.get("/").get_data(as_text=True)
        store_appointments(runtime, {"Appointment/appt-1": appointment_bundle(1, "LK1NOVISITS"),
                                     "Appointment/appt-2": appointment_bundle(2, "LK100002")})
        check_upcoming(runtime)
        fetch_responses(runtime)
        page = client.get("/").get_data(as_text=True)
        section = page.split('id="sessions-at-risk"')[1].split("</table>")[0]
        assert "no visits left" in section and "no mental-health visits left of 20" in section
        assert section.count("<tr>") == 2  # the header and the one session at risk


def test_an_answer_is_summarised_in_plain_numbers():
    from decimal import Decimal

    from claimbridge.eligibility.assess import assess
    from claimbridge.x12.eligibility.model import Benefit, EligibilityResponse

    response = EligibilityResponse(benefits=[
        Benefit(code="1", service_types=("MH",)),
        Benefit(code="F", service_types=("MH",), quantity=Decimal("30"), quantity_qualifier="VS", time_period="23"),
        Benefit(code="F", service_types=("MH",), quantity=Decimal("18"), quantity_qualifier="VS", time_period="29"),
        Benefit(code="A", service_types=("MH",), percent=Decimal("0.20"), in_network=False),
        Benefit(code="B", service_types=("MH",), amount=Decimal("25"), in_network=True)])
    summary = assess(response, utcnow().date(), ("MH",), Decimal("250")).summary
    assert summary["visits"] == {"total": "30", "remaining": "18", "used": None}
    assert summary["coinsurance"]["out_of_network"] == "20%" and summary["copay"]["in_network"] == "25.00"


def test_an_appointment_the_ehr_no_longer_has_is_not_asked_about(env):
    from claimbridge import EhrSource, Record, Stream
    from claimbridge.sync import SyncRunner

    class Appointments(Stream):
        name = "appointments"

        def __init__(self, bundles):
            self.bundles = bundles

        def read(self, since, until):
            for key, bundle in self.bundles.items():
                yield Record(key=key, cursor=None, data=bundle)

    class Calendar(EhrSource):
        type_name = "calendar"

        def __init__(self, bundles):
            super().__init__("demo-fhir", None)
            self.stream = Appointments(bundles)

        def streams(self):
            return [self.stream]

    bundles = {"Appointment/appt-1": appointment_bundle(1, "LK100001"),
               "Appointment/appt-2": appointment_bundle(2, "LK100002")}
    with env.runtime() as runtime:
        SyncRunner(runtime.store).run(Calendar(bundles))
        assert check_upcoming(runtime).appointments == 2
        del bundles["Appointment/appt-1"]  # deleted in the EHR: the next read no longer yields it
        result = SyncRunner(runtime.store).run(Calendar(bundles))
        assert result.total("unchanged") == 1
        from claimbridge.eligibility.service import upcoming_appointments

        assert [key for _s, key, _b in upcoming_appointments(runtime, utcnow().date())] == ["Appointment/appt-2"]
