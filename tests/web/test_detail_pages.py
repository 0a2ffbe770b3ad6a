"""The inbound-file and batch detail pages: what the API's detail has, for a biller; links to the batches, claims
and remittances they name; Reprocess for a quarantined file (billers only)."""

from __future__ import annotations

from sqlalchemy import func, select

from claimbridge.inbound import _Check, receive_file
from claimbridge.store.models import AuditEntry, Batch, ClaimVersion, InboundFile, Remittance, utcnow
from tests.web.conftest import csrf_of
from tests.web.test_operations import ack_999, quarantined_999, remit_835


def rejected_999() -> bytes:
    """A 999 rejecting transaction set 0001 of group 4711: NM109 of the billing provider is invalid."""
    return (ack_999().replace(b"IK5*A", b"IK3*NM1*12*2010*8~IK4*9**7~IK5*R*5")
            .replace(b"AK9*A*1*1*1", b"AK9*R*1*1*0").replace(b"SE*6*0001", b"SE*8*0001"))


def sent_batch(world, encounter_id: str = "enc-001") -> tuple[int, str]:
    """Claim ``encounter_id`` sent in a batch of group 4711 (what :func:`ack_999` answers); its id and the PCN."""
    world.pull(encounter_id)
    pcn = world.pcn_of(encounter_id)
    world.advance(pcn, "batched", "submitted")
    with world.store.transaction() as session:
        batch = Batch(clearinghouse="sandbox", partner="SANDBOXCH", status="submitted", isa13=4711, gs06=4711,
                      st02=1, usage="T", file_name="claims-4711.837", claim_count=1, submitted_at=utcnow())
        session.add(batch)
        session.flush()
        session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one().batch_id = batch.id
        return batch.id, pcn


def posted_835(world) -> tuple[int, str]:
    world.pull("enc-001")
    pcn = world.pcn_of("enc-001")
    world.advance(pcn, "batched", "submitted", "accepted")
    outcome = receive_file(world.runtime, "sandbox", "paid.835", remit_835(pcn))
    assert outcome.status == "posted", outcome.reason
    return outcome.file_id, pcn


def another_quarantined_999(world, monkeypatch) -> int:
    """A second quarantined 999 (other bytes than :func:`quarantined_999`'s, so another file)."""
    import claimbridge.inbound as inbound

    monkeypatch.setattr(inbound, "_check", lambda path, name: _Check(kinds=["999"], problem=f"{name}: old bug"))
    outcome = receive_file(world.runtime, "sandbox", "again.999", ack_999().replace(b"4711", b"4713"))
    monkeypatch.undo()
    return outcome.file_id


def audit_count(world) -> int:
    with world.store.transaction() as session:
        return session.execute(select(func.count(AuditEntry.id))).scalar_one()


def test_a_posted_835_file_shows_its_delivery_and_links_its_remittance(as_role, world):
    file_id, _ = posted_835(world)
    with world.store.transaction() as session:
        file_row = session.get(InboundFile, file_id)
        remittance = session.execute(select(Remittance).where(Remittance.file_id == file_id)).scalar_one()
        sha256, remittance_id = file_row.sha256, remittance.id
    client = as_role("viewer")
    listed = client.get("/inbound").get_data(as_text=True)
    assert f'href="/inbound/{file_id}"' in listed
    before = audit_count(world)
    page = client.get(f"/inbound/{file_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert audit_count(world) == before  # the API's detail is not audited either: it names no claim's details
    for expected in ("Inbound file #", "paid.835", sha256, "sandbox", "835", "posted", "first delivery",
                     f'href="/remittances/{remittance_id}"', "TRC-WEB-1", "50.00", "remittances 1"):
        assert expected in text, expected
    assert "Reprocess" not in text and "No acknowledgments in this file." in text
    assert client.get(f"/remittances/{remittance_id}").status_code == 200


def test_a_quarantined_file_shows_the_reason_and_a_biller_reprocesses_it_from_its_page(as_role, world, monkeypatch):
    file_id = quarantined_999(world, monkeypatch)
    viewer = as_role("viewer")
    seen = viewer.get(f"/inbound/{file_id}").get_data(as_text=True)
    assert "quarantined" in seen and "answer.999: old bug" in seen and "kept; it can be posted again" in seen
    assert "Reprocess" not in seen
    refused = viewer.post(f"/inbound/{file_id}/reprocess", data={"back": "file", "csrf_token": csrf_of(viewer)})
    assert refused.status_code == 403 and "needs the biller role" in refused.get_data(as_text=True)
    with world.store.transaction() as session:
        assert session.get(InboundFile, file_id).status == "quarantined"

    biller = as_role("biller")
    page = biller.get(f"/inbound/{file_id}").get_data(as_text=True)
    assert f'action="/inbound/{file_id}/reprocess"' in page and 'name="back" value="file"' in page
    done = biller.post(f"/inbound/{file_id}/reprocess", data={"back": "file", "csrf_token": csrf_of(biller)})
    assert done.status_code == 302 and done.headers["Location"] == f"/inbound/{file_id}"
    after = biller.get(done.headers["Location"]).get_data(as_text=True)
    assert f"File #{file_id} (answer.999) posted: acknowledgments 1" in after
    assert 'id="file-status">posted' in after and "Reprocess</button>" not in after
    assert "control number 4711/0001; matched nothing we sent" in after  # no batch 4711 in this world
    # from the list, back to the list (as before)
    other = another_quarantined_999(world, monkeypatch)
    back = biller.post(f"/inbound/{other}/reprocess", data={"csrf_token": csrf_of(biller)})
    assert back.headers["Location"] == "/inbound"


def test_a_batch_shows_its_claims_and_the_999_that_rejected_it_in_words(as_role, world):
    batch_id, pcn = sent_batch(world)
    answered = receive_file(world.runtime, "sandbox", "rejected.999", rejected_999())
    assert answered.status == "posted", answered.reason
    client = as_role("viewer")
    assert f'href="/batches/{batch_id}"' in client.get("/batches").get_data(as_text=True)
    before = audit_count(world)
    page = client.get(f"/batches/{batch_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert audit_count(world) == before
    for expected in ("Batch #", "claims-4711.837", "interchange (ISA13) 4711", "group (GS06) 4711",
                     "transaction set (ST02) 1", "submitted", "<dt>usage</dt><dd>test<", f'href="/claims/{pcn}"', "rejected",
                     "segment NM1 #12 (loop 2010): segment has data element errors; NM109: invalid code value", f'href="/inbound/{answered.file_id}"', "(original)"):
        assert expected in text, expected
    assert world.version(pcn).status == "rejected"
    # and the 999's file links back to the batch it answered
    carried = client.get(f"/inbound/{answered.file_id}").get_data(as_text=True)
    assert f'href="/batches/{batch_id}"' in carried and "rejected" in carried
    assert client.get(f"/claims/{pcn}").status_code == 200


def test_an_unknown_id_is_a_404_page(as_role):
    client = as_role("viewer")
    for path in ("/inbound/9999", "/batches/9999", f"/batches/{2**63}", "/inbound/0"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "text/html" in page.content_type


def test_form_actions_check_the_role_before_the_fields_and_the_fields_before_acting(as_role, world):
    _, replacement = world.held_replacement("enc-002")
    viewer = as_role("viewer")
    for path in (f"/claims/{replacement}/release", "/remittances/unmatched/1/match", "/remittances/unmatched/1/dismiss"):
        assert viewer.post(path, data={"csrf_token": csrf_of(viewer)}).status_code == 403, path
    biller = as_role("biller")
    empty = biller.post(f"/claims/{replacement}/release", data={"reason": "  ", "csrf_token": csrf_of(biller)},
                        follow_redirects=True)
    assert "Give the reason the replacement may go." in empty.get_data(as_text=True)
    assert world.version(replacement).status == "held"
    no_pcn = biller.post("/remittances/unmatched/1/match", data={"reason": "x", "csrf_token": csrf_of(biller)},
                         follow_redirects=True)
    assert "Give the PCN of the claim and the reason it belongs to it." in no_pcn.get_data(as_text=True)
    unknown = biller.post("/remittances/unmatched/9999/dismiss", data={"reason": "x", "csrf_token": csrf_of(biller)},
                          follow_redirects=True)
    assert "no claim payment #9999" in unknown.get_data(as_text=True)
