"""Correct and resubmit, and replacements made by intake: frequency 7 with the payer's claim number (REF*F8),
built from the encounter as stored now, scrubbed, released by a person, and written into the next 837."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.worklist import release_claim, resubmit_denial
from claimbridge.errors import FatalError
from claimbridge.outbound import Outbound, OutboundResult
from claimbridge.store.models import AuditEntry, ClaimEvent, ClaimVersion, Denial
from tests.claims.test_worklist import SENT, World, audit, denial

PAYER_CLAIM_NUMBER = "2026330000001"


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    yield made
    made.close()


def session_end(minutes_after_nine: int):
    """A change the clinician makes in the EHR: the session of enc-002 (09:00-09:55) ends at another time."""
    def change(bundle: dict) -> None:
        period = bundle["entry"][0]["resource"]["period"]
        period["end"] = period["end"].replace("09:55", f"09:{minutes_after_nine:02d}")
    return change


def no_coverage(bundle: dict) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Coverage"]


def resubmit(world: World, denial_id: int, reason: str = "rendering NPI fixed in the EHR", recorder=None):
    recorder = recorder or StatusRecorder()
    runtime = world.runtime
    with world.store.transaction() as session:
        done = resubmit_denial(session, denial_id, settings=runtime.settings, plugins=runtime.plugins,
                               reviewer=runtime.reviewer(), recorder=recorder, actor="jdoe", reason=reason)
    return done, recorder


def release(world: World, pcn: str, reason: str = "checked against the chart"):
    runtime = world.runtime
    recorder = StatusRecorder()
    with world.store.transaction() as session:
        outcome, answered = release_claim(session, pcn, settings=runtime.settings, plugins=runtime.plugins,
                                          reviewer=runtime.reviewer(), recorder=recorder, actor="jdoe",
                                          reason=reason)
    return outcome, answered, recorder


def related(version: ClaimVersion) -> str | None:
    claim = json.loads(version.fhir)
    return (claim.get("related") or [{}])[0].get("reference", {}).get("value")


def send_ready(world: World) -> dict[str, str]:
    """What outbound writes for every ready claim (batch, 837P, validation), PCN → its 837 segments."""
    settings = world.runtime.settings
    entry = settings.clearinghouses[0]
    outbound = Outbound(world.store, settings, world.runtime.plugins)
    for batch_id in outbound.allocate_batches(entry):
        assert outbound.encode_batch(batch_id, entry, OutboundResult())
    with world.store.transaction() as session:
        return {v.pcn: v.x12_segments for v in session.execute(
            select(ClaimVersion).where(ClaimVersion.x12_segments.is_not(None))).scalars()}


# -- correct and resubmit ----------------------------------------------------------------------------------------


def test_resubmit_uses_the_encounter_as_corrected_in_the_ehr_and_the_next_837_carries_frequency_7(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",), payer_claim_number=PAYER_CLAIM_NUMBER)
    with world.store.transaction() as session:
        remitted_id = session.get(Denial, denial_id).remittance_claim_id
    sibling = world.deny(remitted_id, "CO", "11", "0.00")
    # the user fixes the session in the EHR; the next pull makes a held replacement of the denied claim
    intake = world.pull("enc-002", bundle_change=session_end(58))
    assert intake.replacements == 1
    held = world.claim(pcn)
    assert (held.current_version, held.status) == (2, "held")

    done, recorder = resubmit(world, denial_id)
    new = world.version(done.replacement.version.pcn)
    assert (new.version, new.frequency, new.status, new.pcn) == (2, "7", "ready", held.pcn)
    assert related(new) == PAYER_CLAIM_NUMBER
    assert json.loads(new.fhir)["item"]  # built from the stored encounter
    assert world.version(pcn).status == "corrected"
    assert world.claim(pcn).status == "ready"
    assert done.resolution == "resubmitted" and done.resolved == [denial_id, sibling]
    for denial_row in (denial(world, denial_id), denial(world, sibling)):
        assert (denial_row.status, denial_row.resolution, denial_row.replacement_version) == \
            ("resolved", "resubmitted", 2)
    assert {(c.pcn, c.new) for c in recorder.changes} == {(new.pcn, "ready"), (pcn, "corrected")}
    [entry] = audit(world)
    assert entry.action == "denial_resubmit" and new.pcn in entry.detail and "rendering NPI fixed" in entry.detail

    segments = send_ready(world)[new.pcn]
    clm = next(s for s in segments.splitlines() if s.startswith("CLM*"))
    assert clm.split("*")[5].split(":")[2] == "7"
    assert f"REF*F8*{PAYER_CLAIM_NUMBER}~" in segments
    assert world.version(new.pcn).status == "batched"


def test_resubmit_without_an_ehr_change_adds_a_replacement_version(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    done, _ = resubmit(world, denial_id, reason="")
    new = done.replacement.version
    assert (new.version, new.frequency, done.replacement.ready) == (2, "7", True)
    assert world.claim(pcn).current_version == 2 and world.version(pcn).status == "corrected"
    assert related(world.version(new.pcn)) == PAYER_CLAIM_NUMBER
    # nothing changed in the EHR, so the next intake leaves the replacement alone
    assert world.pull("enc-002").rebuilt == 0 and world.version(new.pcn).status == "ready"


def test_a_replacement_the_scrubber_finds_wrong_is_held_with_its_findings(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    world.pull("enc-002", bundle_change=session_end(30))  # 30 minutes no longer fits 90837
    done, _ = resubmit(world, denial_id)
    new = world.version(done.replacement.version.pcn)
    assert new.status == "held" and "psychotherapy.time_band" in new.hold_reason
    assert "psychotherapy.time_band" in {f["rule"] for f in json.loads(new.findings)}
    assert world.version(pcn).status == "corrected"
    assert denial(world, denial_id).resolution == "resubmitted"


def test_resubmit_changes_nothing_when_the_encounter_cannot_be_built(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    world.pull("enc-002", bundle_change=no_coverage)
    with pytest.raises(FatalError, match="cannot be built from the encounter as stored.*fix it in the EHR"):
        resubmit(world, denial_id)
    assert denial(world, denial_id).status == "open" and world.version(pcn).status == "denied"
    assert audit(world) == []


def test_resubmit_refuses_a_claim_already_replaced_and_a_denial_with_no_claim(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",))
    remittance = world.remit()
    stray = world.deny(world.remit_claim(remittance, "NOPE1", matched=False), "CO", "16", "10.00")
    with pytest.raises(FatalError, match="matched no claim; there is nothing to resubmit"):
        resubmit(world, stray)
    resubmit(world, denial_id)
    new_pcn = world.claim(pcn).pcn
    world.advance(new_pcn, *SENT)
    second = world.deny(world.remit_claim(world.remit(), pcn), "CO", "16", "5.00")
    with pytest.raises(FatalError, match=rf"already replaced by version 2 \({new_pcn}, accepted\)"):
        resubmit(world, second)


# -- replacements made by intake, and releasing them ---------------------------------------------------------------


def test_intake_builds_a_replacement_as_frequency_7_with_the_payer_claim_number_it_knows(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    world.advance(pcn, *SENT)
    with world.store.transaction() as session:  # as posting stores the 277CA's REF*1K
        session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one().payer_claim_number = \
            "277CA-0042"
    result = world.pull("enc-002", bundle_change=session_end(58))
    replacement = world.version(world.claim(pcn).pcn)
    assert result.replacements == 1 and replacement.status == "held"
    assert replacement.frequency == "7" and related(replacement) == "277CA-0042"
    assert "changed in the EHR after version 1" in replacement.hold_reason
    assert f"claimbridge claims release {replacement.pcn}" in replacement.hold_reason


def test_a_replacement_without_a_payer_claim_number_stays_held_until_one_arrives(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    world.advance(pcn, *SENT)
    world.pull("enc-002", bundle_change=session_end(58))
    replacement = world.version(world.claim(pcn).pcn)
    assert replacement.status == "held" and replacement.fhir is None and replacement.frequency == "7"
    assert "needs the payer's claim number" in replacement.hold_reason
    with pytest.raises(FatalError, match=f"payer's claim number of {pcn} is not known"):
        release(world, replacement.pcn)
    assert world.version(replacement.pcn).status == "held"

    # the payer's 835 names it (here: a denial), and the release builds the replacement with it
    world.advance(pcn, "denied")
    denial_id = world.deny(world.remit_claim(world.remit(), pcn, payer_claim_number="ICN-77"), "CO", "16", "150.00")
    outcome, answered, recorder = release(world, replacement.pcn, reason="session length corrected")
    released = world.version(replacement.pcn)
    assert outcome.ready and released.status == "ready" and related(released) == "ICN-77"
    assert world.version(pcn).status == "corrected" and answered == [denial_id]
    assert denial(world, denial_id).replacement_version == released.version
    assert [c.new for c in recorder.changes] == ["ready", "corrected"]
    [entry] = audit(world)
    assert entry.action == "release" and entry.actor == "jdoe" and "session length corrected" in entry.detail
    with world.store.transaction() as session:
        reasons = [e.reason for e in session.execute(select(ClaimEvent).where(
            ClaimEvent.version == released.version).order_by(ClaimEvent.id)).scalars()]
    assert reasons[-2:] == ["release asked: session length corrected",
                            "released by jdoe: session length corrected"]


def test_a_version_still_with_the_payer_keeps_its_status_when_its_replacement_is_released(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    world.advance(pcn, *SENT)
    with world.store.transaction() as session:
        session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one().payer_claim_number = "X1"
    world.pull("enc-002", bundle_change=session_end(58))
    outcome, _answered, _ = release(world, world.claim(pcn).pcn)
    assert outcome.ready and not outcome.corrected and world.version(pcn).status == "accepted"


def test_a_claim_rejected_before_adjudication_is_replaced_by_a_new_original(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    world.advance(pcn, "batched", "submitted", "rejected")
    world.pull("enc-002", bundle_change=session_end(58))
    replacement = world.version(world.claim(pcn).pcn)
    assert replacement.frequency == "1" and related(replacement) is None and replacement.status == "held"
    assert "new original (frequency 1)" in replacement.hold_reason
    outcome, _answered, _ = release(world, replacement.pcn)
    assert outcome.ready and world.version(pcn).status == "corrected"
    segments = send_ready(world)[replacement.pcn]
    assert next(s for s in segments.splitlines() if s.startswith("CLM*")).split("*")[5].endswith(":1")
    assert "REF*F8" not in segments


def test_a_replacement_rebuilt_in_place_stays_a_held_frequency_7(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    world.advance(pcn, *SENT)
    with world.store.transaction() as session:
        session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn)).scalar_one().payer_claim_number = "X2"
    world.pull("enc-002", bundle_change=session_end(58))
    replacement_pcn = world.claim(pcn).pcn
    release(world, replacement_pcn)
    assert world.version(replacement_pcn).status == "ready"
    # the encounter changes again before the replacement left: it is rebuilt and held for review again,
    # never sent as a new original
    result = world.pull("enc-002", bundle_change=session_end(59))
    again = world.version(replacement_pcn)
    assert (result.rebuilt, result.replacements) == (1, 0)
    assert (again.version, again.status, again.frequency, related(again)) == (2, "held", "7", "X2")
    assert send_ready(world) == {}


def test_release_refuses_what_is_not_a_held_replacement(world):
    world.pull("enc-002", "enc-028")
    with pytest.raises(FatalError, match="is an original \\(version 1\\)"):
        release(world, world.pcn_of("enc-028"))
    with pytest.raises(FatalError, match="is ready; only a held replacement"):
        release(world, world.pcn_of("enc-002"))
    with pytest.raises(FatalError, match="no claim version with PCN NOPE"):
        release(world, "NOPE")
    with pytest.raises(FatalError, match="written reason"):
        release(world, world.pcn_of("enc-002"), reason=" ")
    with world.store.transaction() as session:
        assert session.execute(select(AuditEntry)).first() is None
