"""The scrubber inside the pipeline: held claims with findings, fixes in the EHR, overrides, duplicates."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.queries import held_claims
from claimbridge.claims.review import override_finding
from claimbridge.errors import FatalError
from claimbridge.plugins.ehr_fhir.demo_data import SCRUB_HELD_ENCOUNTERS
from claimbridge.store.models import AuditEntry, ClaimEvent, FindingOverride
from tests.test_end_to_end import Environment


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    environment.run()
    yield environment
    environment.close()


def held_by_encounter(env) -> dict[str, dict]:
    runtime = env.runtime()
    try:
        return {row["encounter"].rsplit("/", 1)[-1]: row for row in held_claims(runtime.store)}
    finally:
        runtime.close()


def encounter(env, encounter_id: str) -> dict:
    return copy.deepcopy(next(r for r in env.resources if r["resourceType"] == "Encounter"
                              and r["id"] == encounter_id))


def test_scrub_held_claims_are_in_the_queue_with_the_rule_and_a_fix(env):
    held = held_by_encounter(env)
    for encounter_id, rule in SCRUB_HELD_ENCOUNTERS.items():
        findings = held[encounter_id]["findings"]
        assert rule in {f["rule"] for f in findings if f["severity"] == "error"}, findings
        assert all(f["fix"] and f["path"].startswith("Claim") for f in findings)
        assert held[encounter_id]["hold_reason"].startswith("1 scrub error")
    assert set(SCRUB_HELD_ENCOUNTERS) <= set(held)
    # nothing the scrubber holds reached the clearinghouse
    assert not {held[e]["pcn"] for e in SCRUB_HELD_ENCOUNTERS} & set(env.received_pcns())


def test_a_claim_fixed_in_the_ehr_is_scrubbed_again_and_sent(env):
    fixed = encounter(env, "enc-028")
    fixed["period"]["end"] = fixed["period"]["end"].replace("09:41", "09:55")  # 55 minutes: 90837 is right
    env.fhir.load([fixed])
    result = env.run().to_dict()
    assert result["encounters_pulled"] == 1
    assert result["files_sent"] == 1 and result["claims_sent"] == 1
    assert "enc-028" not in held_by_encounter(env)


def test_an_override_with_a_reason_releases_the_claim_and_is_on_record(env):
    pcn = held_by_encounter(env)["enc-029"]["pcn"]
    runtime = env.runtime()
    recorder = StatusRecorder()
    with runtime.store.transaction() as session:
        review = override_finding(session, runtime.reviewer(), pcn, "telehealth.in_person_modifier",
                                  reason="payer confirmed by phone that 95 is accepted here (ref 4411)",
                                  actor="jdoe", recorder=recorder)
    assert not review.blocking
    with runtime.store.transaction() as session:
        override = session.execute(select(FindingOverride)).scalar_one()
        assert (override.rule, override.actor) == ("telehealth.in_person_modifier", "jdoe")
        audit = session.execute(select(AuditEntry)).scalar_one()
        assert audit.action == "override" and pcn in audit.detail
        reasons = [e.reason for e in session.execute(select(ClaimEvent).where(
            ClaimEvent.claim_id == override.claim_id).order_by(ClaimEvent.id)).scalars()]
        assert any("override of telehealth.in_person_modifier" in r for r in reasons)
        assert reasons[-1].startswith("released after the override")
    runtime.close()
    assert [c.new for c in recorder.changes] == ["ready"]
    result = env.run().to_dict()
    assert result["claims_sent"] == 1 and pcn in env.received_pcns()


def test_an_override_needs_a_reason_and_a_finding_the_claim_has(env):
    pcn = held_by_encounter(env)["enc-029"]["pcn"]
    runtime = env.runtime()
    try:
        with pytest.raises(FatalError, match="written reason"), runtime.store.transaction() as session:
            override_finding(session, runtime.reviewer(), pcn, "telehealth.in_person_modifier", reason=" ",
                             actor="x", recorder=StatusRecorder())
        with pytest.raises(FatalError, match="no finding of rule codes.icd10_billable"), \
                runtime.store.transaction() as session:
            override_finding(session, runtime.reviewer(), pcn, "codes.icd10_billable", reason="why not",
                             actor="x", recorder=StatusRecorder())
    finally:
        runtime.close()


def test_the_same_session_entered_twice_in_the_ehr_is_held_as_a_duplicate(env):
    twin = encounter(env, "enc-001")
    twin["id"] = "enc-001-again"
    twin["identifier"] = [{"system": "https://example.org/visit", "value": "V001-DUP"}]
    env.fhir.load([twin])
    result = env.run().to_dict()
    assert result["claims_sent"] == 0
    held = held_by_encounter(env)["enc-001-again"]
    assert "duplicates.prior_claim" in {f["rule"] for f in held["findings"]}


def test_claims_held_and_override_commands(env):
    config = str(env.config_path)
    listed = subprocess.run([sys.executable, "-m", "claimbridge.cli", "--config", config, "claims", "held",
                             "--json"], capture_output=True, text=True, timeout=120)
    rows = json.loads(listed.stdout)
    row = next(r for r in rows if r["encounter"].endswith("enc-031"))
    text = subprocess.run([sys.executable, "-m", "claimbridge.cli", "--config", config, "claims", "held"],
                          capture_output=True, text=True, timeout=120).stdout
    assert "psychotherapy.addon_without_em" in text and "fix:" in text
    done = subprocess.run([sys.executable, "-m", "claimbridge.cli", "--config", config, "claims", "override",
                           row["pcn"], "psychotherapy.addon_without_em", "--reason", "E/M billed by the "
                           "psychiatrist on a separate claim", "--actor", "biller1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ready" in done.stdout
