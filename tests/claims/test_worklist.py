"""The denial work queue and the remittance views: listing, showing, resolving. Claims are made by the intake
path from demo encounters; remittances and denials are written the way posting writes them."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from claimbridge.claims.denials import classify
from claimbridge.claims.intake import build_pending_claims
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.states import ClaimStatus
from claimbridge.claims.worklist import (
    RESOLUTIONS,
    dismiss_unmatched,
    list_denials,
    list_remittances,
    resolve_denial,
    show_denial,
    show_remittance,
    unmatched_remittances,
)
from claimbridge.demo import client_key, demo_config, write_payer_profiles
from claimbridge.errors import FatalError
from claimbridge.pipeline import Runtime
from claimbridge.plugins.ehr_fhir import demo_data
from claimbridge.store.models import (
    AuditEntry,
    Claim,
    ClaimEvent,
    ClaimVersion,
    Denial,
    InboundFile,
    ProviderAdjustmentRow,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    StoredEncounter,
    utcnow,
)
from claimbridge.sync import canonical_json

SOURCE = "demo-fhir"
SENT = ("batched", "submitted", "accepted")


class World:
    """A configured claimbridge (SQLite or the test PostgreSQL) with demo encounters pulled as the sync runner
    stores them, claims built by intake, and remittances/denials written as posting writes them."""

    def __init__(self, root: Path, db_url: str):
        key = client_key(root / "keys")
        known_hosts = root / "keys" / "known_hosts"
        known_hosts.write_text("")
        config = yaml.safe_load(demo_config("http://127.0.0.1:9/fhir", 2222, key, known_hosts))
        config["database"]["url"] = db_url
        write_payer_profiles(root / "payers")
        self.config_path = root / "claimbridge.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.resources = demo_data.demo_resources(utcnow().date())
        self.runtime = Runtime.open(self.config_path)
        self.store = self.runtime.store
        self._files = 0

    def close(self) -> None:
        self.runtime.close()

    # -- encounters and claims -------------------------------------------------------------------------
    def encounter(self, encounter_id: str) -> dict:
        return next(r for r in self.resources if r["resourceType"] == "Encounter" and r["id"] == encounter_id)

    def pull(self, *encounter_ids: str, bundle_change=None):
        """Store the encounters (as the sync runner does) and run intake. ``bundle_change(bundle)`` may alter
        each bundle first (what the clinician changed in the EHR)."""
        with self.store.transaction() as session:
            for encounter_id in encounter_ids:
                bundle = demo_data.encounter_bundle(copy.deepcopy(self.resources), encounter_id)
                if bundle_change:
                    bundle_change(bundle)
                payload = canonical_json(bundle)
                digest = hashlib.sha256(payload.encode()).hexdigest()
                key = f"Encounter/{encounter_id}"
                stored = session.execute(select(StoredEncounter).where(
                    StoredEncounter.source == SOURCE, StoredEncounter.key == key)).scalar_one_or_none()
                if stored is None:
                    session.add(StoredEncounter(source=SOURCE, key=key, payload=payload, payload_sha256=digest))
                else:
                    stored.payload, stored.payload_sha256 = payload, digest
        return build_pending_claims(self.store, self.runtime.settings, self.runtime.plugins,
                                    reviewer=self.runtime.reviewer())

    def pcn_of(self, encounter_id: str) -> str:
        with self.store.transaction() as session:
            return session.execute(select(Claim.pcn).join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
                                   .where(StoredEncounter.key == f"Encounter/{encounter_id}")).scalar_one()

    def advance(self, pcn: str, *statuses: str) -> None:
        """Move the claim version ``pcn`` through ``statuses`` as outbound and posting would."""
        recorder = StatusRecorder()
        with self.store.transaction() as session:
            version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one()
            claim = session.get(Claim, version.claim_id)
            for status in statuses:
                recorder.set_status(session, claim, version, ClaimStatus(status), actor="test", reason="test")

    def version(self, pcn: str) -> ClaimVersion:
        with self.store.transaction() as session:
            return session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one()

    def claim(self, pcn: str) -> Claim:
        with self.store.transaction() as session:
            return session.get(Claim, self.version(pcn).claim_id)

    def held_replacement(self, encounter_id: str = "enc-002", *, payer_claim_number: str = "ICN-1"
                         ) -> tuple[str, str]:
        """Pull ``encounter_id`` and send it (the payer knows it as ``payer_claim_number``); then the clinician
        moves the session's end to 09:58 in the EHR and the next pull makes a held replacement. Returns the PCN
        sent and the held replacement's PCN."""
        self.pull(encounter_id)
        pcn = self.pcn_of(encounter_id)
        self.advance(pcn, *SENT)
        with self.store.transaction() as session:
            session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one() \
                .payer_claim_number = payer_claim_number

        def end_at_09_58(bundle: dict) -> None:
            period = bundle["entry"][0]["resource"]["period"]
            period["end"] = period["end"][:11] + "09:58" + period["end"][16:]

        self.pull(encounter_id, bundle_change=end_at_09_58)
        return pcn, self.claim(pcn).pcn

    # -- what posting writes ---------------------------------------------------------------------------
    def remit(self, *, payer_key: str = "60054", payer_name: str = "AETNA", amount: str = "0.00",
              days_ago: int = 0) -> int:
        """An inbound file and one remittance (BPR/TRN) in it; returns the remittance id."""
        self._files += 1
        with self.store.transaction() as session:
            inbound = InboundFile(clearinghouse="sandbox", name=f"remit-{self._files}.835",
                                  sha256=hashlib.sha256(f"file {self._files}".encode()).hexdigest(), size=100,
                                  kinds="835", status="posted")
            session.add(inbound)
            session.flush()
            remittance = Remittance(file_id=inbound.id, payer_key=payer_key, trace_number=f"TRC{self._files:05d}",
                                    payer_name=payer_name, payee_name="RIVERBEND COUNSELING", payee_id="1234567893",
                                    control_number=f"{self._files:04d}", amount=Decimal(amount), method="ACH",
                                    payment_date=utcnow().date() - timedelta(days=days_ago),
                                    posted_at=utcnow() - timedelta(days=days_ago))
            session.add(remittance)
            session.flush()
            return remittance.id

    def remit_claim(self, remittance_id: int, pcn: str, *, outcome: str = "denied", charge: str = "150.00",
                    paid: str = "0.00", patient: str = "0.00", payer_claim_number: str | None = "PCN-ICN-1",
                    adjustments: list[tuple[str, str, str]] = (), matched: bool = True, status_code: str = "4",
                    remarks: tuple[str, ...] = ()) -> int:
        with self.store.transaction() as session:
            version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one_or_none() \
                if matched else None
            remitted = RemittanceClaim(
                remittance_id=remittance_id, claim_id=version.claim_id if version else None,
                version=version.version if version else None, pcn=pcn, status_code=status_code,
                outcome=outcome if version else "unmatched", charge=Decimal(charge), paid=Decimal(paid),
                patient_responsibility=Decimal(patient), payer_claim_number=payer_claim_number,
                adjustments=json.dumps([{"group": g, "reason": r, "amount": a, "quantity": None}
                                        for g, r, a in adjustments]),
                remarks=json.dumps(list(remarks)), match="matched" if version else "unmatched")
            session.add(remitted)
            session.flush()
            remittance = session.get(Remittance, remittance_id)
            remittance.claim_count += 1
            return remitted.id

    def deny(self, remittance_claim_id: int, group: str, reason: str, amount: str, *,
             remarks: tuple[str, ...] = (), line: str | None = None, days_ago: int = 0) -> int:
        """A denial row as posting writes it, classified with the shipped code lists."""
        with self.store.transaction() as session:
            remitted = session.get(RemittanceClaim, remittance_claim_id)
            line_id = None
            if line:
                row = RemittanceLine(remittance_claim_id=remitted.id, sequence=1, matched_by="control_number",
                                     procedure=line, modifiers="HJ", charge=remitted.charge, paid=remitted.paid,
                                     units="1", control_number=f"{remitted.pcn}-1",
                                     service_date=utcnow().date() - timedelta(days=20),
                                     adjustments=json.dumps([{"group": group, "reason": reason, "amount": amount,
                                                              "quantity": None}]),
                                     remarks=json.dumps(list(remarks)))
                session.add(row)
                session.flush()
                line_id = row.id
            denial_class = classify(group, reason, remarks)
            denial = Denial(remittance_claim_id=remitted.id, remittance_line_id=line_id, claim_id=remitted.claim_id,
                            group=group, reason=reason, remarks=" ".join(remarks), amount=Decimal(amount),
                            category=denial_class.category, action=denial_class.action,
                            explanation=denial_class.explanation,
                            created_at=utcnow() - timedelta(days=days_ago))
            session.add(denial)
            session.flush()
            return denial.id

    def denied_claim(self, encounter_id: str, group: str = "CO", reason: str = "16",
                     remarks: tuple[str, ...] = ("N290",), *, amount: str = "150.00", days_ago: int = 0,
                     payer_claim_number: str = "2026330000001", payer_name: str = "AETNA") -> tuple[str, int]:
        """Pull ``encounter_id``, send it, and post an 835 that denies it; returns its PCN and the denial id."""
        self.pull(encounter_id)
        pcn = self.pcn_of(encounter_id)
        self.advance(pcn, *SENT, "denied")
        remittance = self.remit(days_ago=days_ago, payer_name=payer_name)
        remitted = self.remit_claim(remittance, pcn, charge=amount, payer_claim_number=payer_claim_number,
                                    adjustments=[(group, reason, amount)])
        return pcn, self.deny(remitted, group, reason, amount, remarks=remarks, line="90837", days_ago=days_ago)


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    yield made
    made.close()


def resolve(world: World, denial_id: int, resolution: str, reason: str = "done", actor: str = "jdoe"):
    recorder = StatusRecorder()
    with world.store.transaction() as session:
        done = resolve_denial(session, denial_id, resolution=resolution, reason=reason, actor=actor,
                              recorder=recorder)
    return done, recorder


def audit(world: World) -> list[AuditEntry]:
    with world.store.transaction() as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


def denial(world: World, denial_id: int) -> Denial:
    with world.store.transaction() as session:
        return session.get(Denial, denial_id)


# -- the queue ---------------------------------------------------------------------------------------------------


def test_denial_queue_is_oldest_first_with_filters_and_totals_by_category(world):
    coding_pcn, coding = world.denied_claim("enc-002", "CO", "16", ("N290",), amount="150.00", days_ago=3)
    auth_pcn, auth = world.denied_claim("enc-003", "CO", "197", (), amount="175.00", days_ago=5,
                                        payer_name="BLUE CROSS")
    late_pcn, late = world.denied_claim("enc-004", "CO", "29", (), amount="120.50", days_ago=1)

    queue = list_denials(world.store)
    assert [r["id"] for r in queue.rows] == [auth, coding, late]
    first = queue.rows[0]
    assert (first["category"], first["action"], first["code"]) == ("authorization", "appeal", "CO-197")
    assert (first["pcn"], first["payer"], first["amount"]) == (auth_pcn, "BLUE CROSS", Decimal("175.00"))
    assert queue.totals == {
        "authorization": {"count": 1, "amount": Decimal("175.00")},
        "coding": {"count": 1, "amount": Decimal("150.00")},
        "timely_filing": {"count": 1, "amount": Decimal("120.50")},
        "all": {"count": 3, "amount": Decimal("445.50")},
    }
    assert [r["id"] for r in list_denials(world.store, category="coding").rows] == [coding]
    assert [r["id"] for r in list_denials(world.store, action="write_off").rows] == [late]
    assert [r["id"] for r in list_denials(world.store, payer="blue").rows] == [auth]
    assert [r["id"] for r in list_denials(world.store, claim=late_pcn.lower()).rows] == [late]
    assert list_denials(world.store, status="resolved").rows == []
    resolve(world, coding, "appeal")
    assert [r["id"] for r in list_denials(world.store).rows] == [auth, late]
    assert [r["id"] for r in list_denials(world.store, status="resolved").rows] == [coding]
    assert len(list_denials(world.store, status=None).rows) == 3
    assert coding_pcn != auth_pcn


def test_show_denial_has_the_codes_in_words_amounts_and_the_claims_history(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",), amount="150.00")
    shown = show_denial(world.store, denial_id)
    assert shown["pcn"] == pcn and shown["claim_status"] == "denied" and shown["version"] == 1
    assert shown["carc_text"].startswith("Claim/service lacks information")
    assert shown["remark_texts"][0].startswith("N290: ")
    assert shown["explanation"] and shown["category"] == "coding" and shown["action"] == "correct_and_resubmit"
    assert shown["claim"]["charge"] == Decimal("150.00") and shown["claim"]["paid"] == Decimal("0.00")
    assert shown["claim"]["payer_claim_number"] == "2026330000001"
    assert shown["line"]["procedure"] == "90837" and shown["line"]["modifiers"] == ["HJ"]
    assert [entry["what"].split(":")[0] for entry in shown["history"]][-1] == "accepted → denied"
    with pytest.raises(FatalError, match="no denial #999"):
        show_denial(world.store, 999)


# -- resolving ---------------------------------------------------------------------------------------------------


def test_an_appeal_is_noted_and_the_claim_stays_denied(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "197", ())
    done, recorder = resolve(world, denial_id, "appeal", reason="appeal letter faxed with the auth on file")
    assert (done.resolution, done.claim_status, done.resolved) == ("appealed", "denied", [denial_id])
    assert recorder.changes == []  # no status change, nothing to announce
    assert world.claim(pcn).status == "denied"
    row = denial(world, denial_id)
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "appealed", "jdoe")
    [entry] = audit(world)
    assert entry.action == "denial_appeal" and entry.actor == "jdoe"
    assert f"denial #{denial_id}" in entry.detail and "appeal letter faxed" in entry.detail and pcn in entry.detail
    history = show_denial(world.store, denial_id)["history"]
    assert any("appealed: appeal letter faxed" in h["what"] for h in history)


def test_a_write_off_moves_the_claim_and_resolves_its_other_denials(world):
    pcn, first = world.denied_claim("enc-002", "CO", "29", ())
    with world.store.transaction() as session:
        remitted_id = session.get(Denial, first).remittance_claim_id
    second = world.deny(remitted_id, "CO", "16", "10.00", remarks=("N290",))
    done, recorder = resolve(world, first, "write_off", reason="filed too late; practice absorbs it")
    assert done.resolved == [first, second] and done.claim_status == "written_off"
    assert [(c.pcn, c.old, c.new, c.actor) for c in recorder.changes] == [(pcn, "denied", "written_off", "jdoe")]
    assert world.claim(pcn).status == "written_off"
    assert denial(world, second).resolution == "written_off"
    [entry] = audit(world)
    assert entry.action == "denial_write_off" and f"also resolved #{second}" in entry.detail
    with world.store.transaction() as session:
        event = session.execute(select(ClaimEvent).order_by(ClaimEvent.id.desc())).scalars().first()
    assert event.to_status == "written_off" and "filed too late" in event.reason


def test_billing_the_patient_moves_the_claim_to_billed_to_patient(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "204", ())
    done, _ = resolve(world, denial_id, "bill_patient", reason="patient signed the waiver")
    assert done.claim_status == "billed_to_patient" and world.claim(pcn).status == "billed_to_patient"
    assert audit(world)[0].action == "denial_bill_patient"


@pytest.mark.parametrize("resolution", ["rebill_other_payer", "dismiss"])
def test_rebilling_and_dismissing_change_only_the_denial(world, resolution):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "22", ())
    done, recorder = resolve(world, denial_id, resolution, reason="Medicaid is secondary; billed them")
    assert done.resolution == RESOLUTIONS[resolution] and not recorder.changes
    assert world.claim(pcn).status == "denied"
    assert audit(world)[0].action == f"denial_{resolution}"


def test_resolving_needs_a_reason_a_known_resolution_and_an_open_denial(world):
    _pcn, denial_id = world.denied_claim("enc-002")
    with pytest.raises(FatalError, match="written reason"):
        resolve(world, denial_id, "appeal", reason="  ")
    with pytest.raises(FatalError, match="not one of appeal, write_off"):
        resolve(world, denial_id, "forgive")
    with pytest.raises(FatalError, match="no denial #4242"):
        resolve(world, 4242, "appeal")
    resolve(world, denial_id, "dismiss")
    with pytest.raises(FatalError, match=rf"denial #{denial_id} is already resolved \(dismissed by jdoe"):
        resolve(world, denial_id, "appeal")
    assert len(audit(world)) == 1


def test_a_status_change_is_refused_for_a_denial_without_a_claim_or_on_an_old_version(world):
    remittance = world.remit()
    stray = world.remit_claim(remittance, "ZZ000000001", matched=False)
    stray_denial = world.deny(stray, "CO", "29", "150.00")
    with pytest.raises(FatalError, match="matched no claim.*dismiss it instead"):
        resolve(world, stray_denial, "write_off")
    assert resolve(world, stray_denial, "dismiss")[0].claim_status is None

    pcn, denial_id = world.denied_claim("enc-002", "CO", "29", ())
    world.pull("enc-002", bundle_change=lambda b: b["entry"][0]["resource"]["period"].update(
        end=b["entry"][0]["resource"]["period"]["end"].replace("09:55", "09:58")))
    assert world.claim(pcn).current_version == 2
    with pytest.raises(FatalError, match="the claim is at version 2"):
        resolve(world, denial_id, "write_off")
    assert denial(world, denial_id).status == "open" and world.version(pcn).status == "denied"


# -- remittances ---------------------------------------------------------------------------------------------------


def test_remittances_list_and_show_with_claims_adjustments_and_provider_adjustments(world):
    world.pull("enc-002", "enc-003")
    paid_pcn, denied_pcn = world.pcn_of("enc-002"), world.pcn_of("enc-003")
    older = world.remit(amount="0.00", days_ago=10)
    remittance = world.remit(amount="97.45", payer_name="AETNA")
    paid = world.remit_claim(remittance, paid_pcn, outcome="paid", status_code="1", charge="150.00",
                             paid="100.00", patient="20.00", adjustments=[("CO", "45", "30.00"), ("PR", "3", "20.00")])
    world.remit_claim(remittance, denied_pcn, charge="175.00", adjustments=[("CO", "197", "175.00")])
    world.remit_claim(remittance, "XX999", matched=False, status_code="1", outcome="paid", paid="0.00")
    with world.store.transaction() as session:
        session.add(ProviderAdjustmentRow(remittance_id=remittance, provider_id="1234567893", reason="L6",
                                          reference="INTEREST", amount=Decimal("-2.55")))
        session.add(ProviderAdjustmentRow(remittance_id=remittance, provider_id="1234567893", reason="WO",
                                          reference="OVERPAY 77", amount=Decimal("5.10")))
    rows = list_remittances(world.store)
    assert [r["id"] for r in rows] == [remittance, older]
    assert (rows[0]["amount"], rows[0]["claim_count"], rows[0]["method"]) == (Decimal("97.45"), 3, "ACH")
    assert rows[0]["file"].endswith(".835") and rows[0]["trace_number"].startswith("TRC")

    shown = show_remittance(world.store, remittance)
    assert [c["pcn"] for c in shown["claims"]] == [paid_pcn, denied_pcn, "XX999"]
    first = shown["claims"][0]
    assert first["id"] == paid and first["outcome"] == "paid" and first["paid"] == Decimal("100.00")
    assert first["adjustments"] == [{"group": "CO", "reason": "45", "amount": Decimal("30.00"), "quantity": None},
                                    {"group": "PR", "reason": "3", "amount": Decimal("20.00"), "quantity": None}]
    assert shown["claims"][2]["match"] == "unmatched"
    assert [(p["reason"], p["amount"]) for p in shown["provider_adjustments"]] == [
        ("L6", Decimal("-2.55")), ("WO", Decimal("5.10"))]
    with pytest.raises(FatalError, match="no remittance #777"):
        show_remittance(world.store, 777)


def test_unmatched_queue_and_dismissing_with_a_reason(world):
    remittance = world.remit(payer_key="87726", payer_name="UHC")
    stray = world.remit_claim(remittance, "OTHER0001", matched=False, outcome="paid", status_code="1",
                              paid="80.00", charge="120.00")
    stray_denial = world.deny(stray, "CO", "16", "40.00")
    [row] = unmatched_remittances(world.store)
    assert (row["id"], row["pcn"], row["payer"], row["payer_key"]) == (stray, "OTHER0001", "UHC", "87726")
    assert row["paid"] == Decimal("80.00") and row["trace_number"].startswith("TRC")
    with pytest.raises(FatalError, match="written reason"), world.store.transaction() as session:
        dismiss_unmatched(session, stray, reason="", actor="jdoe")
    with world.store.transaction() as session:
        done = dismiss_unmatched(session, stray, reason="another practice's patient; payer told", actor="jdoe")
    assert done["denials_dismissed"] == [stray_denial]
    assert unmatched_remittances(world.store) == []
    assert denial(world, stray_denial).resolution == "dismissed"
    [entry] = audit(world)
    assert entry.action == "remit_dismiss" and "OTHER0001" in entry.detail and "another practice" in entry.detail
    with pytest.raises(FatalError, match="is resolved, not in the unmatched queue"), \
            world.store.transaction() as session:
        dismiss_unmatched(session, stray, reason="again", actor="jdoe")
