"""The loop closed for real: claims go to the sandbox clearinghouse, its TA1/999/277CA/835 answers come back over
SFTP and are posted — to the cent, exactly once, under re-delivery, broken files and a kill at any moment."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from claimbridge.inbound import fetch_responses, receive_file
from claimbridge.plugins.clearinghouse_sftp.responder_835 import AdjudicationModel
from claimbridge.store.models import (
    Acknowledgment,
    Batch,
    ClaimEvent,
    ClaimVersion,
    Denial,
    InboundDelivery,
    InboundFile,
    QuarantinedRecord,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from claimbridge.x12.responses import Remittance835, parse_x12
from tests.test_end_to_end import Environment

MODEL = AdjudicationModel(denial_rate=Decimal("0.3"), reversal_rate=Decimal("0.25"), interest=Decimal("1.25"))


@pytest.fixture
def loop(tmp_path, db_url):
    """Claims submitted to a sandbox payer that answers everything (acks, 835s, reprocessing)."""
    environment = Environment(tmp_path, db_url)
    environment.sftp.adjudication = MODEL
    environment.run()
    yield environment
    environment.close()


def answers(env: Environment, suffix: str = "") -> list[Path]:
    folder = env.root / "clearinghouse" / "outbound"
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))


def remits_in(paths) -> list[Remittance835]:
    return [tx for path in paths for tx in parse_x12(path).transactions if isinstance(tx, Remittance835)]


def count(runtime, model, *where) -> int:
    with runtime.store.transaction() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_the_whole_loop_posts_every_answer_to_the_cent_once(loop):
    files = answers(loop)
    remits = remits_in(p for p in files if p.name.endswith(".835"))
    assert remits, "the sandbox payer sent no 835"
    with loop.runtime() as runtime:
        summary = fetch_responses(runtime)
        assert summary.ok, summary.errors
        assert [f.status for f in summary.files] == ["posted"] * len(files)
        assert not answers(loop), "every fetched file is archived"
        with runtime.store.transaction() as session:
            posted = session.execute(select(Remittance)).scalars().all()
            assert sorted((r.payer_key, r.trace_number) for r in posted) == sorted(
                ((r.payment.payer_id or "").upper(), r.payment.trace_number) for r in remits)
            assert sum(r.amount for r in posted) == sum(r.payment.signed_amount for r in remits)
            paid = session.execute(select(func.sum(RemittanceClaim.paid))).scalar_one()
            plb = sum(a.amount for r in remits for a in r.provider_adjustments)
            assert paid - plb == sum(r.payment.signed_amount for r in remits)
            statuses = Counter(v.status for v in session.execute(
                select(ClaimVersion).where(ClaimVersion.batch_id.is_not(None))).scalars())
            assert set(statuses) <= {"paid", "partially_paid", "denied"}, statuses
            assert statuses["denied"] > 0 and statuses["paid"] > 0
            unmatched = session.execute(select(RemittanceClaim).where(RemittanceClaim.match != "matched")).all()
            assert unmatched == []
            reversals = session.execute(select(RemittanceClaim).where(RemittanceClaim.outcome == "reversal")
                                        ).scalars().all()
            assert reversals, "the model reprocesses a quarter of the paid claims"
            for reversal in reversals:
                original = session.get(RemittanceClaim, reversal.reverses_id)
                assert original.reversed_by_id == reversal.id and original.claim_id == reversal.claim_id
                assert reversal.paid == -original.paid
            # every version the 277CA accepted carries the payer's claim number
            assert all(v.payer_claim_number for v in session.execute(
                select(ClaimVersion).where(ClaimVersion.batch_id.is_not(None))).scalars())
            denials = session.execute(select(Denial)).scalars().all()
            assert denials and all(d.category and d.action and d.explanation for d in denials)
            assert {d.action for d in denials} - {"contractual", "bill_patient"} == {d.action for d in denials}
            lines = session.execute(select(RemittanceLine)).scalars().all()
            assert lines and all(line.matched_by == "control_number" for line in lines)
            batch = session.execute(select(Batch)).scalars().first()
            assert batch.ack_status == "accepted"
            # the results as FHIR R4: one ClaimResponse per claim payment, one PaymentReconciliation per payment
            from fhir.resources.R4B.claimresponse import ClaimResponse
            from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

            for row in session.execute(select(RemittanceClaim)).scalars():
                response = ClaimResponse.model_validate_json(row.fhir)
                assert [i.itemSequence for i in response.item or []] == sorted(
                    line.sequence for line in session.execute(select(RemittanceLine).where(
                        RemittanceLine.remittance_claim_id == row.id)).scalars())
            for remittance in posted:
                reconciliation = PaymentReconciliation.model_validate_json(remittance.fhir)
                assert Decimal(str(reconciliation.paymentAmount.value)) == remittance.amount
            assert session.execute(select(func.count()).select_from(Acknowledgment)
                                   .where(Acknowledgment.kind == "277CA")).scalar_one() == statuses.total()
        again = fetch_responses(runtime)
        assert again.files == []
        assert count(runtime, Remittance) == len(remits)


def test_the_same_835_twice_and_under_two_names_posts_once(loop):
    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    content = remit.read_bytes()
    with loop.runtime() as runtime:
        first = receive_file(runtime, "sandbox", remit.name, content)
        assert first.status == "posted" and first.counts["remittances"] == 1
        claims = count(runtime, RemittanceClaim)
        events = count(runtime, ClaimEvent)
        again = receive_file(runtime, "sandbox", remit.name, content)
        renamed = receive_file(runtime, "sandbox", "renamed-by-the-clearinghouse.x12", content)
        assert (again.status, renamed.status) == ("duplicate", "duplicate")
        assert "already received as" in renamed.reason
        # the same payment inside another interchange (new ISA13 and dates: other bytes, other sha256)
        text = content.decode()
        other = re.sub(r"^(ISA(?:\*[^*]*){12}\*)\d{9}", r"\g<1>000000777", text)
        other = re.sub(r"IEA\*1\*\d{9}", "IEA*1*000000777", other)
        assert other != text
        inside_another = receive_file(runtime, "sandbox", "another-file.835", other.encode())
        assert inside_another.status == "posted"
        assert inside_another.counts.get("duplicate_remittances") == 1
        assert "remittances" not in inside_another.counts
        assert count(runtime, Remittance) == 1
        assert count(runtime, RemittanceClaim) == claims
        assert count(runtime, ClaimEvent) == events
        assert count(runtime, InboundDelivery) == 4
        assert count(runtime, InboundDelivery, InboundDelivery.duplicate.is_(True)) == 2


def test_a_file_that_does_not_balance_is_quarantined_whole_with_the_numbers(loop):
    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    text = remit.read_text()
    bpr = re.search(r"BPR\*I\*([0-9.]+)\*", text)
    wrong = text.replace(bpr.group(0), f"BPR*I*{Decimal(bpr.group(1)) + Decimal('10.00')}*", 1)
    with loop.runtime() as runtime:
        outcome = receive_file(runtime, "sandbox", "short-paid.835", wrong.encode())
        assert outcome.status == "quarantined"
        assert "does not balance" in outcome.reason and "BPR02" in outcome.reason
        assert "difference 10.00" in outcome.reason
        assert count(runtime, Remittance) == 0
        assert count(runtime, RemittanceClaim) == 0
        with runtime.store.transaction() as session:
            row = session.execute(select(QuarantinedRecord)).scalar_one()
            assert row.record_key == "short-paid.835" and row.field.startswith("segment ")
            kept = session.execute(select(InboundFile)).scalar_one()
            assert Path(kept.stored_path).read_text() == wrong
        # a claim that does not balance names the claim and both numbers
        clp = re.search(r"CLP\*([A-Z0-9]+)\*1\*([0-9.]+)\*", text)
        bad_claim = text.replace(clp.group(0), f"CLP*{clp.group(1)}*1*{Decimal(clp.group(2)) + 5}*", 1)
        outcome = receive_file(runtime, "sandbox", "bad-claim.835", bad_claim.encode())
        assert outcome.status == "quarantined" and f"claim {clp.group(1)}" in outcome.reason
        # the good file still posts
        assert receive_file(runtime, "sandbox", remit.name, remit.read_bytes()).status == "posted"


def test_files_that_are_not_x12_are_quarantined_and_the_rest_go_on(loop):
    outbound = loop.root / "clearinghouse" / "outbound"
    (outbound / "report.pdf").write_bytes(b"%PDF-1.4 not an edi file")
    (outbound / "truncated.835").write_text(answers(loop, ".835")[0].read_text()[:300])
    with loop.runtime() as runtime:
        summary = fetch_responses(runtime)
        by_name = {f.name: f for f in summary.files}
        assert by_name["report.pdf"].status == "quarantined"
        assert "not readable X12" in by_name["report.pdf"].reason
        assert by_name["truncated.835"].status == "quarantined"
        assert Counter(f.status for f in summary.files)["posted"] == len(summary.files) - 2
        assert count(runtime, QuarantinedRecord) == 2


def test_a_claim_that_is_not_ours_goes_to_the_unmatched_queue(loop):
    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    text = remit.read_text()
    pcn = re.search(r"CLP\*([A-Z0-9]+)\*", text).group(1)
    with loop.runtime() as runtime:
        outcome = receive_file(runtime, "sandbox", "strange.835", text.replace(f"CLP*{pcn}*", "CLP*ZZ999999999*")
                               .encode())
        assert outcome.status == "posted" and outcome.counts["unmatched"] == 1
        with runtime.store.transaction() as session:
            row = session.execute(select(RemittanceClaim).where(RemittanceClaim.match == "unmatched")).scalar_one()
            assert row.pcn == "ZZ999999999" and row.claim_id is None
            assert "no claim of ours" in row.match_note
            version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one()
            assert version.status == "submitted"


def _ack(batch: Batch, body: list[str]) -> bytes:
    segments = [
        "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*RIVERBEND01    *261127*1200*^*00501*000000901*0*T*:",
        "GS*FA*SANDBOXCH*RIVERBEND01*20261127*1200*901*X*005010X231A1",
        "ST*999*0001*005010X231A1", *body,
    ]
    segments.append(f"SE*{len(segments) - 1}*0001")
    segments += ["GE*1*901", "IEA*1*000000901"]
    return ("~".join(segments) + "~").encode()


def test_a_rejecting_999_rejects_the_batch_claims_with_the_errors_in_words(tmp_path, db_url):
    env = Environment(tmp_path, db_url)
    env.sftp.answer = False
    try:
        env.run()
        with env.runtime() as runtime:
            with runtime.store.transaction() as session:
                batch = session.execute(select(Batch)).scalar_one()
                sent = [v.pcn for v in session.execute(select(ClaimVersion).where(
                    ClaimVersion.batch_id == batch.id)).scalars()]
            content = _ack(batch, [
                f"AK1*HC*{batch.gs06}*005010X222A1", f"AK2*837*{batch.st02:04d}*005010X222A1",
                "IK3*NM1*12*2010AA*8", "IK4*9*67*7", "IK5*R*5", "AK9*R*1*1*0"])
            outcome = receive_file(runtime, "sandbox", "answer.999", content)
            assert outcome.status == "posted", outcome.reason
            assert outcome.counts["claims_rejected"] == len(sent)
            with runtime.store.transaction() as session:
                batch = session.get(Batch, batch.id)
                assert batch.ack_status == "rejected"
                event = session.execute(select(ClaimEvent).where(ClaimEvent.to_status == "rejected")
                                        .limit(1)).scalar_one()
                assert "segment NM1" in event.reason and "loop 2010AA" in event.reason
                assert "NM109" in event.reason
    finally:
        env.close()


def test_a_277ca_rejection_explains_category_status_and_entity(loop):
    status_file = next(p for p in answers(loop, ".277"))
    text = status_file.read_text()
    first_accept = re.search(r"STC\*A2:20:PR", text)
    rejected = text[:first_accept.start()] + "STC*A7:562:85" + text[first_accept.end():]
    with loop.runtime() as runtime:
        outcome = receive_file(runtime, "sandbox", "status.277", rejected.encode())
        assert outcome.status == "posted", outcome.reason
        assert outcome.counts["claims_rejected"] == 1
        with runtime.store.transaction() as session:
            ack = session.execute(select(Acknowledgment).where(Acknowledgment.outcome == "rejected")).scalar_one()
            assert "A7" in ack.detail and "National Provider Identifier" in ack.detail
            assert "billing provider" in ack.detail
            version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == ack.reference)).scalar_one()
            assert version.status == "rejected"


def test_killing_the_fetch_at_any_moment_posts_everything_exactly_once(loop):
    """SIGKILL `claimbridge responses fetch` at a spread of moments, then let one run finish: every payment is
    posted once, no claim payment twice, no status event twice."""
    remits = remits_in(p for p in answers(loop, ".835"))
    command = [sys.executable, "-m", "claimbridge.cli", "--config", str(loop.config_path), "responses", "fetch"]
    environ = os.environ | {"PYTHONUNBUFFERED": "1"}
    for delay in (0.2, 0.6, 1.0, 1.5, 2.2, 3.0):
        if not answers(loop):
            break
        process = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = subprocess.run(command + ["--json"], env=environ, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    assert not answers(loop)
    with loop.runtime() as runtime:
        assert count(runtime, Remittance) == len(remits)
        assert count(runtime, RemittanceClaim) == sum(len(r.claims) for r in remits)
        assert count(runtime, InboundFile) == len({p for p in (loop.root / "clearinghouse" / "archive").iterdir()})
        with runtime.store.transaction() as session:
            events = session.execute(select(ClaimEvent.claim_id, ClaimEvent.to_status, func.count())
                                     .group_by(ClaimEvent.claim_id, ClaimEvent.to_status)).all()
            reversed_claims = {c for (c,) in session.execute(
                select(RemittanceClaim.claim_id).where(RemittanceClaim.outcome == "reversal"))}
            for claim_id, status, n in events:
                allowed = 2 if claim_id in reversed_claims and status in ("paid", "partially_paid") else 1
                assert n <= allowed, (claim_id, status, n)


def test_responses_cli_fetch_list_and_show(loop):
    from click.testing import CliRunner

    from claimbridge.cli import main

    runner = CliRunner()
    config = ["--config", str(loop.config_path)]
    fetched = runner.invoke(main, [*config, "responses", "fetch", "--json"])
    assert fetched.exit_code == 0, fetched.output
    data = json.loads(fetched.output)
    assert data["by_status"] == {"posted": data["files"]}
    assert Decimal(data["money"]["paid"]) > 0
    listed = runner.invoke(main, [*config, "responses", "list", "--json"])
    rows = json.loads(listed.output)
    assert {r["status"] for r in rows} == {"posted"}
    shown = runner.invoke(main, [*config, "responses", "show", str(rows[0]["id"])])
    assert shown.exit_code == 0 and "delivered" in shown.output
    kept = json.loads(runner.invoke(main, [*config, "responses", "show", str(rows[0]["id"]), "--json"]).output)
    posted_again = runner.invoke(main, [*config, "responses", "post", kept["stored_path"]])
    assert posted_again.exit_code == 0, posted_again.output
    assert "duplicate (already received as" in posted_again.output


def test_an_unmatched_claim_payment_matched_by_hand_is_posted_like_any_other(loop):
    from claimbridge.claims.denials import load_code_lists
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.posting.manual import match_by_hand
    from claimbridge.store.models import AuditEntry

    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    text = remit.read_text()
    pcn = re.search(r"CLP\*([A-Z0-9]+)\*1\*", text).group(1)
    with loop.runtime() as runtime:
        receive_file(runtime, "sandbox", "cut-pcn.835", text.replace(f"CLP*{pcn}*", f"CLP*{pcn[:-2]}*").encode())
        with runtime.store.transaction() as session:
            row = session.execute(select(RemittanceClaim).where(RemittanceClaim.match == "unmatched")).scalar_one()
            result = match_by_hand(session, row.id, pcn.lower(), reason="payer cut CLP01", actor="biller",
                                   recorder=StatusRecorder(), codes=load_code_lists())
        assert result["pcn"] == pcn and result["status"] in ("paid", "partially_paid", "denied")
        with runtime.store.transaction() as session:
            row = session.get(RemittanceClaim, row.id)
            assert row.match == "matched" and row.claim_id is not None and "payer cut CLP01" in row.match_note
            assert json.loads(row.fhir)["resourceType"] == "ClaimResponse"
            version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one()
            assert version.status == result["status"]
            lines = session.execute(select(RemittanceLine).where(RemittanceLine.remittance_claim_id == row.id)
                                    ).scalars().all()
            assert all(line.sequence for line in lines)
            assert session.execute(select(AuditEntry).where(AuditEntry.action == "remittance_matched")).scalar_one()
            with pytest.raises(Exception, match="not in the unmatched queue"):
                match_by_hand(session, row.id, pcn, reason="again", actor="biller", recorder=StatusRecorder(),
                              codes=load_code_lists())


def test_remits_match_cli_posts_an_unmatched_payment(loop):
    from click.testing import CliRunner

    from claimbridge.cli import main

    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    text = remit.read_text()
    pcn = re.search(r"CLP\*([A-Z0-9]+)\*1\*", text).group(1)
    runner = CliRunner()
    config = ["--config", str(loop.config_path)]
    with loop.runtime() as runtime:
        receive_file(runtime, "sandbox", "cut-pcn.835", text.replace(f"CLP*{pcn}*", "CLP*X1*").encode())
    queue = json.loads(runner.invoke(main, [*config, "remits", "unmatched", "--json"]).output)
    (item,) = queue if isinstance(queue, list) else queue["claims"]
    done = runner.invoke(main, [*config, "remits", "match", str(item["id"]), pcn, "--reason", "payer typo"])
    assert done.exit_code == 0, done.output
    assert f"matched to {pcn} and posted" in done.output
    again = runner.invoke(main, [*config, "remits", "match", str(item["id"]), pcn, "--reason", "twice"])
    assert again.exit_code != 0 and "not in the unmatched queue" in again.output


def test_an_answer_posted_before_the_senders_bookkeeping_still_applies(loop):
    """The responses job may post a 999/277CA/835 between the upload and the moment the sender marks the claims
    submitted; the answer proves delivery, and the sender's bookkeeping then leaves those claims alone."""
    from sqlalchemy import update

    with loop.runtime() as runtime:
        with runtime.store.transaction() as session:
            session.execute(update(ClaimVersion).where(ClaimVersion.batch_id.is_not(None)).values(status="batched"))
        summary = fetch_responses(runtime)
        assert summary.ok
        with runtime.store.transaction() as session:
            statuses = Counter(v.status for v in session.execute(
                select(ClaimVersion).where(ClaimVersion.batch_id.is_not(None))).scalars())
            assert set(statuses) <= {"paid", "partially_paid", "denied"}, statuses
            delivered = session.execute(select(func.count()).select_from(ClaimEvent).where(
                ClaimEvent.reason.like("delivered: %"))).scalar_one()
            assert delivered == statuses.total()


def test_a_file_delivered_again_under_another_name_is_archived_and_not_kept_twice(loop):
    outbound = loop.root / "clearinghouse" / "outbound"
    first = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    content = first.read_bytes()
    with loop.runtime() as runtime:
        fetch_responses(runtime)
        (outbound / "redelivered.835").write_bytes(content)
        again = fetch_responses(runtime)
        assert [(f.name, f.status) for f in again.files] == [("redelivered.835", "duplicate")]
        assert not answers(loop)
        kept = [p for p in (loop.root / "inbound").rglob("*") if p.is_file()]
        assert not any(p.name.endswith("redelivered.835") for p in kept)
        assert count(runtime, InboundDelivery, InboundDelivery.duplicate.is_(True)) == 1


def test_forwarded_and_not_our_claim_are_recorded(loop):
    remit = next(p for p in answers(loop, ".835") if "reprocessed" not in p.name)
    text = remit.read_text()
    paid = re.findall(r"CLP\*([A-Z0-9]+)\*1\*", text)
    forwarded, not_ours = paid[0], paid[1]
    changed = text.replace(f"CLP*{forwarded}*1*", f"CLP*{forwarded}*19*").replace(f"CLP*{not_ours}*1*",
                                                                                  f"CLP*{not_ours}*23*")
    with loop.runtime() as runtime:
        outcome = receive_file(runtime, "sandbox", "forwarded.835", changed.encode())
        assert outcome.status == "posted", outcome.reason
        assert (outcome.counts["forwarded"], outcome.counts["not_ours"]) == (1, 1)
        with runtime.store.transaction() as session:
            rows = {r.pcn: r for r in session.execute(select(RemittanceClaim)).scalars()}
            assert rows[forwarded].outcome == "forwarded" and rows[not_ours].outcome == "not_ours"
            versions = {v.pcn: v.status for v in session.execute(
                select(ClaimVersion).where(ClaimVersion.pcn.in_([forwarded, not_ours]))).scalars()}
            assert versions[forwarded] in ("paid", "partially_paid")  # the status follows the money
            assert versions[not_ours] == "submitted"  # the payer says it is not its claim: nothing changes
