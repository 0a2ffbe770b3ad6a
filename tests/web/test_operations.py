"""The operations part of the admin UI and API: denials, remittances, batches, inbound files (reprocess a
quarantined one), quarantine, connectors, jobs, plugins, the audit log; filters, sorting and CSV export."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from claimbridge.errors import FatalError
from claimbridge.inbound import _Check, receive_file
from claimbridge.pipeline import PullResult, SourceOutcome
from claimbridge.store.models import (
    Acknowledgment,
    AuditEntry,
    Batch,
    ClaimVersion,
    Denial,
    InboundFile,
    ProviderAdjustmentRow,
    QuarantinedRecord,
    RemittanceClaim,
)
from claimbridge.web.ui_operations import csv_cell
from tests.claims.test_worklist import SENT
from tests.web.conftest import csrf_of


def ack_999() -> bytes:
    segments = [
        "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*RIVERBEND01    *261127*1200*^*00501*000000901*0*T*:",
        "GS*FA*SANDBOXCH*RIVERBEND01*20261127*1200*901*X*005010X231A1",
        "ST*999*0001*005010X231A1", "AK1*HC*4711*005010X222A1", "AK2*837*0001*005010X222A1", "IK5*A", "AK9*A*1*1*1"]
    segments.append(f"SE*{len(segments) - 1}*0001")
    segments += ["GE*1*901", "IEA*1*000000901"]
    return ("~".join(segments) + "~").encode()


def remit_835(pcn: str) -> bytes:
    """An 835 paying 50.00 of 150.00 on claim ``pcn`` (CO-45 100.00 at line level)."""
    segments = [
        "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*RIVERBEND01    *261127*1200*^*00501*000000902*0*T*:",
        "GS*HP*SANDBOXCH*RIVERBEND01*20261127*1200*902*X*005010X221A1",
        "ST*835*0001*005010X221A1",
        "BPR*I*50.00*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999999999*DA*123456*20261127",
        "TRN*1*TRC-WEB-1*1512345678", "DTM*405*20261127",
        "N1*PR*AETNA*XV*60054", "N3*PO BOX 1", "N4*HARTFORD*CT*06101", "PER*BL*CLAIMS*TE*8005551212",
        "N1*PE*RIVERBEND COUNSELING*XX*1847293010", "N3*410 HARBOR STREET", "N4*SPRINGFIELD*IL*627011234",
        "LX*1", f"CLP*{pcn}*1*150.00*50.00**12*ICN-WEB-1", "NM1*QC*1*DOE*JANE",
        "SVC*HC:90837*150.00*50.00**1", "DTM*472*20261101", "CAS*CO*45*100.00",
    ]
    segments.append(f"SE*{len(segments) - 1}*0001")
    segments += ["GE*1*902", "IEA*1*000000902"]
    return ("~".join(segments) + "~").encode()


def quarantined_999(world, monkeypatch) -> int:
    """A good 999 that a (since fixed) check refused: quarantined, its bytes kept."""
    import claimbridge.inbound as inbound

    monkeypatch.setattr(inbound, "_check", lambda path, name: _Check(kinds=["999"], problem=f"{name}: old bug",
                                                                     field="segment 1"))
    outcome = receive_file(world.runtime, "sandbox", "answer.999", ack_999())
    monkeypatch.undo()
    assert outcome.status == "quarantined"
    return outcome.file_id


def add_batch(world, *, status="submitted", ack=None, claims=1, clearinghouse="sandbox", pcns=()) -> int:
    with world.store.transaction() as session:
        number = len(session.execute(select(Batch.id)).all()) + 1
        batch = Batch(clearinghouse=clearinghouse, partner="SANDBOXCH", status=status, isa13=900 + number,
                      gs06=900 + number, st02=1, usage="T", file_name=f"claims-{number}.837", claim_count=claims,
                      ack_status=ack, ack_detail="999 accepted" if ack else None)
        session.add(batch)
        session.flush()
        for pcn in pcns:
            session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one().batch_id = batch.id
        if ack:
            session.add(Acknowledgment(file_id=_file(session), kind="999", batch_id=batch.id,
                                       reference=str(batch.gs06), outcome=ack, detail="999 accepted the batch"))
        return batch.id


def _file(session) -> int:
    row = InboundFile(clearinghouse="sandbox", name="ack.999", sha256=f"{len(session.execute(select(InboundFile.id)).all()):064d}",
                      size=10, kinds="999", status="posted")
    session.add(row)
    session.flush()
    return row.id


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# -- denials -----------------------------------------------------------------------------------------------------


def test_a_denial_is_shown_with_its_codes_and_the_view_is_audited(client, token_for, world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",), amount="150.00")
    shown = client.get(f"/api/v1/denials/{denial_id}", headers=token_for("viewer"))
    assert shown.status_code == 200
    data = shown.json
    assert data["id"] == denial_id and data["pcn"] == pcn and data["code"] == "CO-16" and data["amount"] == "150.00"
    assert data["carc_text"] and data["remark_texts"] and data["action"] and data["claim"]["charge"] == "150.00"
    with world.store.transaction() as session:
        assert session.execute(select(AuditEntry).where(AuditEntry.action == "view_denial")).scalar_one().actor \
            == "web:viewer"
    missing = client.get("/api/v1/denials/9999", headers=token_for("viewer"))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_a_biller_resubmits_a_denied_claim(client, token_for, world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    refused = client.post(f"/api/v1/denials/{denial_id}/resubmit", headers=token_for("viewer"), json={})
    assert refused.status_code == 403 and "biller" in refused.json["error"]["message"]
    done = client.post(f"/api/v1/denials/{denial_id}/resubmit", headers=token_for("biller"),
                       json={"reason": "rendering NPI fixed"})
    assert done.status_code == 200, done.json
    assert done.json["replaced"] == pcn and done.json["frequency"] == "7" and done.json["resolved"] == [denial_id]
    assert world.version(done.json["replacement"]).frequency == "7"
    again = client.post(f"/api/v1/denials/{denial_id}/resubmit", headers=token_for("biller"), json={})
    assert again.status_code == 409 and "already resolved" in again.json["error"]["message"]
    assert client.post("/api/v1/denials/9999/resubmit", headers=token_for("biller"), json={}).status_code == 404


def test_a_biller_releases_a_held_replacement(client, token_for, world):
    pcn, replacement = world.held_replacement("enc-002")
    assert replacement != pcn and world.version(replacement).status == "held"
    path = f"/api/v1/claims/{replacement}/release"
    assert client.post(path, headers=token_for("viewer"), json={"reason": "x"}).status_code == 403
    assert client.post(path, headers=token_for("biller"), json={}).status_code == 400
    assert client.post("/api/v1/claims/NOPE/release", headers=token_for("biller"),
                       json={"reason": "x"}).status_code == 404
    done = client.post(path, headers=token_for("biller"), json={"reason": "checked against the chart"})
    assert done.status_code == 200, done.json
    assert done.json["pcn"] == replacement and done.json["replaces"] == pcn and done.json["ready"] is True
    again = client.post(path, headers=token_for("biller"), json={"reason": "again"})
    assert again.status_code == 409


# -- remittances ---------------------------------------------------------------------------------------------------


def paid_remittance(world) -> tuple[int, str]:
    world.pull("enc-001")
    pcn = world.pcn_of("enc-001")
    world.advance(pcn, *SENT)
    remittance = world.remit(amount="117.50", payer_name="AETNA")
    world.remit_claim(remittance, pcn, outcome="paid", charge="185.00", paid="120.00", patient="20.00",
                      adjustments=[("CO", "45", "45.00"), ("PR", "2", "20.00")])
    with world.store.transaction() as session:
        session.add(ProviderAdjustmentRow(remittance_id=remittance, provider_id="1847293010", reason="L6",
                                          reference="INT", amount=Decimal("2.50")))
    return remittance, pcn


def test_remittances_list_and_show_the_payment_balancing_and_posted_claims(client, token_for, world):
    remittance, pcn = paid_remittance(world)
    other = world.remit(payer_key="87726", payer_name="UHC", amount="0.00")
    headers = token_for("viewer")
    listed = client.get("/api/v1/remittances?count=true", headers=headers).json
    assert listed["total"] == 2 and {r["id"] for r in listed["items"]} == {remittance, other}
    first = client.get("/api/v1/remittances?limit=1", headers=headers).json
    second = client.get(f"/api/v1/remittances?limit=1&cursor={first['next_cursor']}", headers=headers).json
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {remittance, other} and not second["next_cursor"]
    only = client.get("/api/v1/remittances?payer=uhc", headers=headers).json["items"]
    assert [r["id"] for r in only] == [other]
    shown = client.get(f"/api/v1/remittances/{remittance}", headers=headers).json
    assert shown["amount"] == "117.50" and [c["pcn"] for c in shown["claims"]] == [pcn]
    assert shown["balancing"] == {"claims_paid": "120.00", "provider_adjustments": "2.50",
                                  "expected_payment": "117.50", "payment": "117.50", "difference": "0.00",
                                  "balanced": True}
    assert client.get("/api/v1/remittances/9999", headers=headers).status_code == 404


def test_unmatched_claim_payments_are_matched_or_dismissed(client, token_for, world):
    world.pull("enc-001")
    pcn = world.pcn_of("enc-001")
    world.advance(pcn, *SENT)
    posted = receive_file(world.runtime, "sandbox", "cut.835", remit_835("ZZ999999999"))
    assert posted.status == "posted", posted.reason
    remittance = world.remit()
    other = world.remit_claim(remittance, "ZZ888888888", matched=False, outcome="paid", paid="10.00")
    listed = client.get("/api/v1/remittances/unmatched", headers=token_for("viewer")).json["items"]
    lost = listed[0]["id"]
    assert [r["id"] for r in listed] == [lost, other] and listed[0]["paid"] == "50.00"
    path = f"/api/v1/remittances/unmatched/{other}/dismiss"
    assert client.post(path, headers=token_for("viewer"), json={"reason": "x"}).status_code == 403
    assert client.post(path, headers=token_for("biller"), json={}).status_code == 400
    done = client.post(path, headers=token_for("biller"), json={"reason": "another practice's patient"})
    assert done.status_code == 200 and done.json["id"] == other and done.json["match"] == "resolved"
    assert client.post(path, headers=token_for("biller"), json={"reason": "again"}).status_code == 409
    assert client.post("/api/v1/remittances/unmatched/9999/dismiss", headers=token_for("biller"),
                       json={"reason": "x"}).status_code == 404
    match = f"/api/v1/remittances/unmatched/{lost}/match"
    assert client.post(match, headers=token_for("viewer"), json={"pcn": pcn, "reason": "x"}).status_code == 403
    assert client.post(match, headers=token_for("biller"), json={"pcn": pcn}).status_code == 400
    assert client.post("/api/v1/remittances/unmatched/9999/match", headers=token_for("biller"),
                       json={"pcn": pcn, "reason": "x"}).status_code == 404
    assert client.post(match, headers=token_for("biller"), json={"pcn": "NOPE", "reason": "x"}).status_code == 409
    done = client.post(match, headers=token_for("biller"), json={"pcn": pcn, "reason": "the payer cut CLP01"})
    assert done.status_code == 200, done.json
    assert done.json == {**done.json, "pcn": pcn, "outcome": "paid", "status": "paid"}
    assert world.version(pcn).status == "paid"
    assert client.get("/api/v1/remittances/unmatched", headers=token_for("viewer")).json["items"] == []
    assert client.post(match, headers=token_for("biller"), json={"pcn": pcn, "reason": "again"}).status_code == 409


# -- batches and inbound files ---------------------------------------------------------------------------------


def test_batches_list_with_their_acknowledgment_and_show_claims(client, token_for, world):
    pcn = world.pcn_of("enc-001")
    accepted = add_batch(world, ack="accepted", pcns=[pcn])
    waiting = add_batch(world, claims=3)
    headers = token_for("viewer")
    listed = client.get("/api/v1/batches?count=true", headers=headers).json
    assert listed["total"] == 2 and [b["id"] for b in listed["items"]] == [waiting, accepted]
    assert [b["id"] for b in client.get("/api/v1/batches?ack=none", headers=headers).json["items"]] == [waiting]
    assert [b["ack_status"] for b in client.get("/api/v1/batches?ack=accepted", headers=headers).json["items"]] \
        == ["accepted"]
    paged = client.get("/api/v1/batches?limit=1", headers=headers).json
    assert paged["next_cursor"] == str(waiting)
    shown = client.get(f"/api/v1/batches/{accepted}", headers=headers).json
    assert [c["pcn"] for c in shown["claims"]] == [pcn] and shown["acknowledgments"][0]["outcome"] == "accepted"
    assert "content" not in shown
    assert client.get("/api/v1/batches/9999", headers=headers).status_code == 404


def test_inbound_files_list_show_and_a_quarantined_one_is_reprocessed(client, token_for, world, monkeypatch):
    posted = receive_file(world.runtime, "sandbox", "first.999", ack_999().replace(b"4711", b"4712")).file_id
    file_id = quarantined_999(world, monkeypatch)
    headers = token_for("viewer")
    listed = client.get("/api/v1/inbound-files?status=quarantined", headers=headers).json["items"]
    assert [f["id"] for f in listed] == [file_id] and listed[0]["error"] == "answer.999: old bug"
    assert len(client.get("/api/v1/inbound-files", headers=headers).json["items"]) == 2
    shown = client.get(f"/api/v1/inbound-files/{file_id}", headers=headers).json
    assert shown["status"] == "quarantined" and shown["kept"] is True and len(shown["deliveries"]) == 1
    assert client.get("/api/v1/inbound-files/9999", headers=headers).status_code == 404
    path = f"/api/v1/inbound-files/{file_id}/reprocess"
    assert client.post(path, headers=token_for("viewer")).status_code == 403
    done = client.post(path, headers=token_for("biller"))
    assert done.status_code == 200, done.json
    assert done.json["status"] == "posted" and done.json["counts"]["acknowledgments"] == 1
    shown = client.get(f"/api/v1/inbound-files/{file_id}", headers=headers).json
    assert shown["status"] == "posted" and shown["error"] is None and len(shown["acknowledgments"]) == 1
    with world.store.transaction() as session:
        record = session.execute(select(QuarantinedRecord).where(QuarantinedRecord.record_key == "answer.999")
                                 ).scalar_one()
        assert record.resolved_at is not None
    assert client.post(path, headers=token_for("biller")).status_code == 409
    assert client.post(f"/api/v1/inbound-files/{posted}/reprocess", headers=token_for("biller")).status_code == 409
    assert client.post("/api/v1/inbound-files/9999/reprocess", headers=token_for("biller")).status_code == 404


def test_a_file_that_still_fails_stays_quarantined_with_the_reason(client, token_for, world):
    bad = receive_file(world.runtime, "sandbox", "broken.835", b"not x12 at all").file_id
    done = client.post(f"/api/v1/inbound-files/{bad}/reprocess", headers=token_for("biller"))
    assert done.status_code == 200 and done.json["status"] == "quarantined"
    assert "not readable X12" in done.json["reason"]


# -- connectors, jobs, plugins -----------------------------------------------------------------------------------


def test_clearinghouses_jobs_and_plugins(client, token_for, world):
    add_batch(world, status="failed")
    headers = token_for("viewer")
    chs = client.get("/api/v1/clearinghouses", headers=headers).json["items"]
    assert [(c["name"], c["type"], c["last_batch"]["status"]) for c in chs] == [("sandbox", "sftp", "failed")]
    jobs = client.get("/api/v1/jobs", headers=headers).json["items"]
    assert {j["job"] for j in jobs} == {"pull:demo-fhir", "eligibility", "submit", "responses:sandbox"}
    plugins = client.get("/api/v1/plugins", headers=headers).json
    by_name = {p["name"]: p for p in plugins["plugins"]}
    assert "fhir" in by_name["ehr_fhir"]["sources"] and "sftp" in by_name["clearinghouse_sftp"]["clearinghouses"]


def test_testing_a_connection_runs_its_check_for_admins_only(client, token_for, world, monkeypatch):
    source_cls = world.runtime.plugins.sources["fhir"]
    clearinghouse_cls = world.runtime.plugins.clearinghouses["sftp"]
    monkeypatch.setattr(source_cls, "check", lambda self: None)

    def refuse(self):
        raise FatalError("sandbox: connection refused")

    monkeypatch.setattr(clearinghouse_cls, "check", refuse)
    assert client.post("/api/v1/sources/demo-fhir/test", headers=token_for("biller")).status_code == 403
    ok = client.post("/api/v1/sources/demo-fhir/test", headers=token_for("admin"))
    assert ok.status_code == 200 and ok.json["ok"] is True and ok.json["error"] is None
    failed = client.post("/api/v1/clearinghouses/sandbox/test", headers=token_for("admin"))
    assert failed.status_code == 200 and failed.json == {**failed.json, "ok": False,
                                                          "error": "sandbox: connection refused"}
    assert client.post("/api/v1/sources/nope/test", headers=token_for("admin")).status_code == 404
    assert client.post("/api/v1/clearinghouses/nope/test", headers=token_for("admin")).status_code == 404
    with world.store.transaction() as session:
        actions = [a for (a,) in session.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions.count("source_test") == 1 and actions.count("clearinghouse_test") == 1


def test_run_now_pulls_the_source_and_builds_claims(client, token_for, world, monkeypatch):
    import claimbridge.pipeline as pipeline

    asked = []

    def pull(runtime, names, **_):
        asked.append(names)
        world.pull("enc-004")  # what the source delivered (stored; the build below finds nothing new)
        return PullResult(sources=[SourceOutcome(name="demo-fhir", status="succeeded", read=1, new=1)])

    monkeypatch.setattr(pipeline, "pull", pull)
    assert client.post("/api/v1/sources/demo-fhir/run", headers=token_for("biller")).status_code == 403
    assert client.post("/api/v1/sources/nope/run", headers=token_for("admin")).status_code == 404
    done = client.post("/api/v1/sources/demo-fhir/run", headers=token_for("admin"))
    assert done.status_code == 200 and asked == [["demo-fhir"]]
    assert done.json["ok"] is True and done.json["pulled"]["new"] == 1 and "claims_built" in done.json["claims"]


# -- pages -------------------------------------------------------------------------------------------------------


def test_every_page_renders_with_real_data(as_role, world, monkeypatch):
    world.denied_claim("enc-002", "CO", "16", ("N290",))
    remittance, _ = paid_remittance(world)
    add_batch(world, ack="accepted")
    file_id = quarantined_999(world, monkeypatch)
    admin = as_role("admin")
    pages = {"/denials": "CO-16", "/remittances": "117.50", f"/remittances/{remittance}": 'id="expected">117.50<',
             "/batches": "accepted", "/inbound": "answer.999", "/quarantine": "old bug",
             "/connectors": "demo-fhir", "/plugins": "ehr_fhir", "/audit": "view_denial"}
    with world.store.transaction() as session:
        denial_id = session.execute(select(Denial.id)).scalar_one()
    pages[f"/denials/{denial_id}"] = 'id="next-action"'
    admin.get(f"/denials/{denial_id}")  # writes the view_denial audit entry the audit page shows
    for path, expected in pages.items():
        page = admin.get(path)
        assert page.status_code == 200, path
        assert expected in page.get_data(as_text=True), path
    text = admin.get("/inbound").get_data(as_text=True)
    assert f'action="/inbound/{file_id}/reprocess"' in text
    nav = admin.get("/denials").get_data(as_text=True)
    for link in ("/denials", "/remittances", "/batches", "/inbound", "/quarantine", "/connectors", "/plugins", "/audit"):
        assert f'href="{link}"' in nav
    viewer = as_role("viewer")
    assert viewer.get("/audit").status_code == 403 and 'href="/audit"' not in viewer.get("/denials").get_data(
        as_text=True)
    assert "Reprocess" not in viewer.get("/inbound").get_data(as_text=True)
    assert viewer.get("/denials/9999").status_code == 404 and viewer.get("/remittances/9999").status_code == 404


def test_lists_filter_and_sort(as_role, world):
    small = add_batch(world, claims=1)
    big = add_batch(world, claims=5, status="failed")
    client = as_role("viewer")
    ascending = client.get("/batches?sort=claim_count&dir=asc").get_data(as_text=True)
    assert ascending.index(f'id="batch-{small}"') < ascending.index(f'id="batch-{big}"')
    descending = client.get("/batches?sort=claim_count&dir=desc").get_data(as_text=True)
    assert descending.index(f'id="batch-{big}"') < descending.index(f'id="batch-{small}"')
    failed = client.get("/batches?status=failed").get_data(as_text=True)
    assert f'id="batch-{big}"' in failed and f'id="batch-{small}"' not in failed
    assert client.get("/batches?sort=content;drop&dir=sideways").status_code == 200  # not whitelisted: ignored
    # the header links keep the filters and flip the direction
    assert re.search(r'href="/batches\?status=failed&amp;sort=claim_count&amp;dir=desc"', failed)


def test_csv_export_has_the_filters_headers_and_no_formulas(as_role, world):
    world.denied_claim("enc-002", "CO", "16", ("N290",), payer_name='=HYPERLINK("http://evil","x")')
    world.denied_claim("enc-003", "PR", "1", (), payer_name="+AETNA")
    client = as_role("viewer")
    export = client.get("/denials?format=csv&sort=payer&dir=asc")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"] == 'attachment; filename="denials.csv"'
    rows = rows_of(export)
    assert [r["payer"] for r in rows] == ["'+AETNA", "'=HYPERLINK(\"http://evil\",\"x\")"]
    assert rows[0]["amount"] == "150.00" and rows[0]["code"] == "PR-1"
    only = rows_of(client.get("/denials?format=csv&payer=hyperlink"))
    assert len(only) == 1 and only[0]["code"] == "CO-16"
    assert 'href="/denials?payer=hyperlink&amp;format=csv"' in client.get("/denials?payer=hyperlink").get_data(
        as_text=True)
    for path, name in (("/remittances", "remittances.csv"), ("/batches", "batches.csv"),
                       ("/inbound", "inbound-files.csv"), ("/quarantine", "quarantine.csv"),
                       ("/plugins", "plugins.csv"), ("/connectors", "jobs.csv")):
        response = client.get(f"{path}?format=csv")
        assert response.status_code == 200 and response.mimetype == "text/csv", path
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    audit = as_role("admin").get("/audit?format=csv")
    assert audit.headers["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    assert client.get("/audit?format=csv").status_code == 403


@pytest.mark.parametrize(("value", "cell"), [("=1+2", "'=1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("-cmd|x", "'-cmd|x"),
                                             ("+1", "'+1"), ("-2.50", "-2.50"), (Decimal("-2.5"), "-2.50"),
                                             ("plain", "plain"), (None, "")])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(value, cell):
    assert csv_cell(value) == cell


def test_a_biller_resolves_a_denial_from_the_queue(as_role, world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    client = as_role("biller")
    queue = client.get("/denials").get_data(as_text=True)
    assert f'id="denial-{denial_id}"' in queue and 'name="resolution"' in queue and "Resubmit corrected" in queue
    done = client.post(f"/denials/{denial_id}/resolve",
                       data={"resolution": "write_off", "reason": "below the appeal threshold",
                             "csrf_token": csrf_of(client)}, follow_redirects=True)
    assert done.status_code == 200
    assert f"Denial #{denial_id}: written off; claim {pcn} is written_off" in done.get_data(as_text=True)
    with world.store.transaction() as session:
        assert session.get(Denial, denial_id).resolution == "written_off"
    assert f'id="denial-{denial_id}"' not in client.get("/denials").get_data(as_text=True)
    missing_reason = client.post(f"/denials/{denial_id}/resolve", data={"resolution": "appeal", "reason": "",
                                                                         "csrf_token": csrf_of(client)},
                                 follow_redirects=True)
    assert "Choose what was done and give the reason." in missing_reason.get_data(as_text=True)
    stale = client.post(f"/denials/{denial_id}/resolve", data={"resolution": "appeal", "reason": "x"})
    assert stale.status_code == 403  # no CSRF token


def test_a_viewer_cannot_resolve_resubmit_or_reprocess(as_role, world, monkeypatch):
    _, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    file_id = quarantined_999(world, monkeypatch)
    client = as_role("viewer")
    assert 'name="resolution"' not in client.get("/denials").get_data(as_text=True)
    token = csrf_of(client)
    for path, data in ((f"/denials/{denial_id}/resolve", {"resolution": "appeal", "reason": "x"}),
                       (f"/denials/{denial_id}/resubmit", {}), (f"/inbound/{file_id}/reprocess", {}),
                       ("/connectors/source/demo-fhir/test", {}), ("/connectors/source/demo-fhir/run", {})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    with world.store.transaction() as session:
        assert session.get(Denial, denial_id).status == "open"
        assert session.get(InboundFile, file_id).status == "quarantined"


def test_a_quarantined_file_is_reprocessed_from_the_inbound_page(as_role, world, monkeypatch):
    file_id = quarantined_999(world, monkeypatch)
    client = as_role("biller")
    done = client.post(f"/inbound/{file_id}/reprocess", data={"csrf_token": csrf_of(client)}, follow_redirects=True)
    assert done.status_code == 200
    assert f"File #{file_id} (answer.999) posted: acknowledgments 1" in done.get_data(as_text=True)
    with world.store.transaction() as session:
        assert session.get(InboundFile, file_id).status == "posted"
        assert session.execute(select(AuditEntry).where(AuditEntry.action == "inbound_reprocess")).scalar_one() \
            .actor == "web:biller"
    assert "Reprocess</button>" not in client.get("/inbound").get_data(as_text=True)
    quarantine = client.get("/quarantine").get_data(as_text=True)
    assert "answer.999" not in quarantine


def test_quarantine_resolve_and_unmatched_dismiss_from_the_pages(as_role, world):
    with world.store.transaction() as session:
        session.add(QuarantinedRecord(source="office", stream="encounters", record_key="billing.csv:row 4",
                                      field="total_fee", reason="not an amount"))
    remittance = world.remit()
    lost = world.remit_claim(remittance, "ZZ999999999", matched=False, outcome="paid", paid="50.00")
    client = as_role("biller")
    page = client.get("/quarantine").get_data(as_text=True)
    record_id = int(re.search(r'id="quarantine-(\d+)"', page).group(1))
    done = client.post(f"/quarantine/{record_id}/resolve", data={"csrf_token": csrf_of(client)},
                       follow_redirects=True)
    assert f"Quarantined record #{record_id} resolved." in done.get_data(as_text=True)
    assert "billing.csv:row 4" in client.get("/quarantine?all=1").get_data(as_text=True)
    assert f'id="unmatched-{lost}"' in client.get("/remittances").get_data(as_text=True)
    done = client.post(f"/remittances/unmatched/{lost}/dismiss", data={"reason": "not ours",
                                                                       "csrf_token": csrf_of(client)},
                       follow_redirects=True)
    assert f"Claim payment #{lost} (PCN ZZ999999999 as sent) dismissed." in done.get_data(as_text=True)
    with world.store.transaction() as session:
        assert session.get(RemittanceClaim, lost).match == "resolved"


def test_an_admin_tests_a_connection_and_runs_a_source_from_the_connectors_page(as_role, world, monkeypatch):
    import claimbridge.pipeline as pipeline

    def refuse(self):
        raise FatalError("source demo-fhir: connection refused")

    monkeypatch.setattr(world.runtime.plugins.sources["fhir"], "check", refuse)
    monkeypatch.setattr(pipeline, "pull", lambda runtime, names, **_: PullResult(
        sources=[SourceOutcome(name="demo-fhir", status="succeeded", read=3, new=2)]))
    client = as_role("admin")
    page = client.get("/connectors").get_data(as_text=True)
    assert "Test connection" in page and "Run now" in page
    tested = client.post("/connectors/source/demo-fhir/test", data={"csrf_token": csrf_of(client)},
                         follow_redirects=True).get_data(as_text=True)
    assert "Source demo-fhir: the connection failed: source demo-fhir: connection refused" in tested
    ran = client.post("/connectors/source/demo-fhir/run", data={"csrf_token": csrf_of(client)},
                      follow_redirects=True).get_data(as_text=True)
    assert "Source demo-fhir: succeeded; read 3, new 2" in ran
    assert "Test connection" not in as_role("biller").get("/connectors").get_data(as_text=True)


def test_responses_reprocess_on_the_command_line(world, monkeypatch):
    import json as json_module

    from click.testing import CliRunner

    from claimbridge.cli import main

    file_id = quarantined_999(world, monkeypatch)
    args = ["--config", str(world.config_path), "responses", "reprocess", str(file_id)]
    done = CliRunner().invoke(main, [*args, "--json"], env={"USER": "dana"})
    assert done.exit_code == 0, done.output
    outcome = json_module.loads(done.output)
    assert outcome["status"] == "posted" and outcome["counts"]["acknowledgments"] == 1
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "is posted, not quarantined" in again.output
    with world.store.transaction() as session:
        from claimbridge.store.models import AuditEntry

        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "inbound_reprocess")).scalar_one()
    assert entry.actor == "dana" and entry.detail.startswith(f"inbound file #{file_id} answer.999: posted")
