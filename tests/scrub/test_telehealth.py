"""telehealth.* rules: place of service, audio-video and audio-only modifiers, in-person modifiers, facility."""

from __future__ import annotations

import pytest

from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.facts import EXT_AUDIO_ONLY
from claimbridge.claims.scrub.rules import telehealth as t
from claimbridge.plugins.ehr_fhir import demo_data

from .conftest import CLEAN_IDS, contained, demo_claim, facts_of, run_rule, set_class, set_modifiers, set_pos
from .test_codes import demo_profile


def audio_only(claim: dict) -> dict:
    contained(claim, "encounter").setdefault("extension", []).append({"url": EXT_AUDIO_ONLY, "valueBoolean": True})
    assert facts_of(claim).audio_only
    return claim


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_clean_demo_claims_pass_every_telehealth_rule(encounter_id):
    claim = demo_claim(encounter_id)
    for rule in t.RULES:
        assert run_rule(rule, claim, profile=demo_profile(claim)) == [], rule.id


def test_medicaid_telehealth_needs_the_medicaid_profile():
    """The demo Medicaid plan wants GT (demo_payer_settings); the default profile wants 95 and holds it."""
    claim = demo_claim("enc-008")
    assert run_rule(t.VideoModifier, claim, profile=demo_profile(claim)) == []
    [finding] = run_rule(t.VideoModifier, claim)
    assert finding.message == ("line 1 (90834): the telehealth line carries GT but lacks modifier 95, which payer "
                               "profile default requires for audio-video telehealth")


def test_demo_encounter_with_95_in_person_is_held():
    claim = demo_claim("enc-029")
    findings = [f for rule in t.RULES for f in run_rule(rule, claim)]
    assert [f.rule for f in findings] == [demo_data.SCRUB_HELD_ENCOUNTERS["enc-029"]]


# --------------------------------------------------------------------------------------------- POS


def test_virtual_session_needs_a_telehealth_pos():
    claim = demo_claim("enc-003")  # VR, POS 10, 95
    assert run_rule(t.PlaceOfService, claim) == []
    set_pos(claim, 0, "11")
    [finding] = run_rule(t.PlaceOfService, claim)
    assert finding.message == ("line 1 (90837): a telehealth session is billed with place of service 11; payer "
                               "profile default accepts 02 or 10")
    assert finding.path == "Claim.item[0].locationCodeableConcept" and finding.severity is Severity.ERROR


def test_telehealth_pos_comes_from_the_profile():
    claim = demo_claim("enc-003")  # POS 10
    [finding] = run_rule(t.PlaceOfService, claim, telehealth_pos=["02"])
    assert "accepts 02" in finding.message
    assert run_rule(t.PlaceOfService, claim, telehealth_pos=["10"]) == []


@pytest.mark.parametrize("pos", ["02", "10"])
def test_in_person_session_must_not_use_telehealth_pos(pos):
    claim = set_pos(demo_claim("enc-002"), 0, pos)
    [finding] = run_rule(t.PlaceOfService, claim)
    assert f"an in-person session is billed with telehealth place of service {pos}" in finding.message


def test_a_session_marked_virtual_with_an_office_pos_fails():
    claim = set_class(demo_claim("enc-002"), "VR")
    assert "place of service 11" in run_rule(t.PlaceOfService, claim)[0].message


def test_without_an_encounter_class_neither_side_is_judged():
    claim = set_pos(demo_claim("enc-002"), 0, "02")
    del contained(claim, "encounter")["class"]
    assert run_rule(t.PlaceOfService, claim) == []
    assert run_rule(t.InPersonModifier, set_modifiers(claim, 0, "95")) == []


# ------------------------------------------------------------------------------------ video modifier


def test_video_modifier_required_by_the_profile():
    claim = demo_claim("enc-003")
    assert run_rule(t.VideoModifier, claim) == []
    set_modifiers(claim, 0)
    [finding] = run_rule(t.VideoModifier, claim)
    assert "line 1 (90837): the telehealth line lacks modifier 95" in finding.message
    assert finding.path == "Claim.item[0].modifier"


def test_video_modifier_gt_profile():
    claim = demo_claim("enc-003")  # 95
    assert "carries 95 but lacks modifier GT" in run_rule(t.VideoModifier, claim, telehealth_modifier="GT")[0].message
    set_modifiers(claim, 0, "GT")
    assert run_rule(t.VideoModifier, claim, telehealth_modifier="GT") == []


def test_video_modifier_none_requires_nothing():
    claim = set_modifiers(demo_claim("enc-003"), 0)
    assert run_rule(t.VideoModifier, claim, telehealth_modifier="none") == []


def test_two_video_modifiers_fail():
    claim = set_modifiers(demo_claim("enc-003"), 0, "95", "GT")
    [finding] = run_rule(t.VideoModifier, claim)
    assert "carries GT besides 95" in finding.message


def test_in_person_claims_are_not_checked_for_video_modifiers():
    assert run_rule(t.VideoModifier, demo_claim("enc-002")) == []


# -------------------------------------------------------------------------------------- audio only


def test_audio_only_needs_93_and_not_95():
    claim = audio_only(demo_claim("enc-003"))  # the builder put 95 on it
    findings = run_rule(t.AudioOnlyModifier, claim)
    assert [f.message for f in findings] == [
        "line 1 (90837): an audio-only line lacks modifier 93, which payer profile default requires",
        "line 1 (90837): an audio-only session carries the audio-video modifier 95"]
    assert run_rule(t.VideoModifier, claim) == []  # audio-only lines are this rule's business
    set_modifiers(claim, 0, "93")
    assert run_rule(t.AudioOnlyModifier, claim) == []


def test_audio_only_modifier_from_the_profile():
    claim = set_modifiers(audio_only(demo_claim("enc-003")), 0, "93")
    assert "lacks modifier FQ" in run_rule(t.AudioOnlyModifier, claim, audio_only_modifier="FQ")[0].message
    assert run_rule(t.AudioOnlyModifier, set_modifiers(claim, 0), audio_only_modifier="none") == []


def test_audio_only_flag_from_the_participation_mode():
    claim = demo_claim("enc-003")
    contained(claim, "encounter")["type"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                    "v3-ParticipationMode", "code": "PHONE"}]}]
    assert len(run_rule(t.AudioOnlyModifier, claim)) == 2


# ---------------------------------------------------------------------------------- in-person modifier


@pytest.mark.parametrize("modifier", ["95", "GT", "93", "FQ"])
def test_in_person_lines_carry_no_telehealth_modifier(modifier):
    claim = set_modifiers(demo_claim("enc-002"), 0, "HQ", modifier)
    [finding] = run_rule(t.InPersonModifier, claim)
    assert finding.message == f"line 1 (90837): an in-person session carries telehealth modifier {modifier}"


def test_in_person_with_other_modifiers_passes():
    assert run_rule(t.InPersonModifier, set_modifiers(demo_claim("enc-002"), 0, "HQ", "59")) == []
    assert run_rule(t.InPersonModifier, demo_claim("enc-003")) == []  # virtual


# ---------------------------------------------------------------------------------- service facility


def test_no_service_facility_on_telehealth_claims():
    claim = demo_claim("enc-012")  # in person at the annex: a facility
    assert facts_of(claim).has_service_facility
    assert run_rule(t.ServiceFacility, claim) == []
    set_class(claim, "VR")
    [finding] = run_rule(t.ServiceFacility, claim)
    assert finding.path == "Claim.facility" and "names a service facility" in finding.message
    assert run_rule(t.ServiceFacility, demo_claim("enc-003")) == []


def test_rule_metadata_is_complete():
    for rule in t.RULES:
        assert rule.id.startswith("telehealth.") and rule.title and rule.fix and rule.source and rule.__doc__
