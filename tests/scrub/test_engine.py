"""The Scrubber: profile choice, disabled rules, severity overrides, crashing rules, create_scrubber."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from claimbridge import FatalError, hookimpl
from claimbridge.claims.scrub import (
    RULE_FAILED,
    PayerProfile,
    ProfileSet,
    Scrubber,
    ScrubRule,
    Severity,
    builtin_profiles,
    create_scrubber,
    load_profiles,
)
from claimbridge.claims.scrub.rules import ALL_RULES, structure
from claimbridge.plugin_host import create_plugin_host

from .conftest import CLEAN_IDS, context, demo_claim, facts_of, set_payer_id

NO_PLUGINS = {"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir,clearinghouse_sftp,ehr_simplepractice"}
EXAMPLE_PROFILES = Path(__file__).resolve().parents[2] / "config" / "payers"


class Boom(ScrubRule):
    id = "test.boom"
    title = "Always fails"
    fix = "Nothing."
    source = "tests"

    def check(self, facts, profile, context):
        raise RuntimeError(f"member {facts.subscriber_member_id}")  # a message with PHI must not leak


def _profiles(*extra: PayerProfile) -> ProfileSet:
    return ProfileSet([*builtin_profiles().values(), *extra])


def _broken_total():
    claim = demo_claim("enc-002")
    claim["total"]["value"] += 1
    return claim


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber(ALL_RULES, _profiles())


def test_clean_demo_claims_have_no_findings_under_the_demo_payers_profiles():
    scrubber = Scrubber(ALL_RULES, load_profiles(profile_dir=EXAMPLE_PROFILES))
    for encounter_id in CLEAN_IDS:
        result = scrubber.scrub(demo_claim(encounter_id), context=context())
        assert result.profile_name in ("lakeshore", "prairie-medicaid")
        assert result.findings == (), (encounter_id, [f.to_dict() for f in result.findings])


def test_the_profile_is_chosen_by_payer_id_else_default(scrubber):
    claim = demo_claim("enc-002")
    assert scrubber.scrub(claim, context=context()).profile_name == "default"
    set_payer_id(claim, "06102")  # a Medicare MAC listed in medicare.yaml
    assert scrubber.scrub(claim, context=context()).profile_name == "medicare"
    set_payer_id(claim, " 06102 ")
    assert scrubber.scrub(claim, context=context()).profile_name == "medicare"
    assert scrubber.scrub(claim, context=context(), profile="medicaid-example").profile_name == "medicaid-example"
    with pytest.raises(KeyError, match="no payer profile named 'nope'; known: commercial-example, default"):
        scrubber.scrub(claim, profile="nope")


def test_facts_are_accepted_instead_of_the_claim(scrubber):
    result = scrubber.scrub(facts_of(_broken_total()), context=context())
    assert [f.rule for f in result.findings if f.severity is Severity.ERROR] == ["structure.total_charge"]
    assert result.errors == 1


def test_disabled_rules_do_not_run():
    quiet = PayerProfile(name="quiet", payer_ids=["LKSHP"], disabled_rules=["structure.total_charge"])
    result = Scrubber(ALL_RULES, _profiles(quiet)).scrub(_broken_total(), context=context())
    assert result.profile_name == "quiet" and not result.held
    assert "structure.total_charge" not in {f.rule for f in result.findings}


def test_severity_overrides_change_a_rules_findings():
    lenient = PayerProfile(name="lenient", payer_ids=["LKSHP"], severity_overrides={"structure.total_charge": "warning"})
    result = Scrubber(ALL_RULES, _profiles(lenient)).scrub(_broken_total(), context=context())
    assert (result.errors, result.held) == (0, False)
    assert [f.severity for f in result.findings if f.rule == "structure.total_charge"] == [Severity.WARNING]
    strict = PayerProfile(name="strict", payer_ids=["LKSHP"], timely_filing_days=30, timely_filing_warning_days=10,
                          severity_overrides={"dates.timely_filing": "error"})
    result = Scrubber(ALL_RULES, _profiles(strict)).scrub(demo_claim("enc-002"), context=context())
    assert [f.severity for f in result.findings if f.rule == "dates.timely_filing"] == [Severity.ERROR]


def test_a_rule_that_raises_is_an_error_finding_naming_it_and_the_others_still_run(caplog):
    scrubber = Scrubber([Boom, structure.TotalCharge], _profiles())
    with caplog.at_level(logging.ERROR):
        result = scrubber.scrub(_broken_total(), context=context())
    assert [f.rule for f in result.findings] == [RULE_FAILED, "structure.total_charge"]
    failed = result.findings[0]
    assert failed.severity is Severity.ERROR and "rule test.boom failed (RuntimeError)" in failed.message
    assert "LKH" not in failed.message and result.errors == 2
    assert "test.boom" in caplog.text


def test_a_crashing_rule_can_be_disabled():
    off = PayerProfile(name="off", payer_ids=["LKSHP"], disabled_rules=["test.boom"])
    assert Scrubber([Boom], _profiles(off)).scrub(demo_claim("enc-002")).findings == ()


def test_unusable_rule_classes_are_refused():
    class NoId(ScrubRule):
        title = fix = source = "x"

        def check(self, facts, profile, context):
            return ()

    class BadId(NoId):
        id = "Not Dotted"

    class Twin(NoId):
        id = "structure.total_charge"

    for rules, message in (([NoId], "id None"), ([BadId], "'Not Dotted' is not dotted"),
                           ([structure.TotalCharge, Twin], "used by both TotalCharge and Twin"),
                           ([dict], "not a subclass of ScrubRule")):
        with pytest.raises(FatalError, match=message):
            Scrubber(rules, _profiles())


def test_profiles_naming_unknown_rules_are_logged(caplog):
    odd = PayerProfile(name="odd", disabled_rules=["no.such_rule"])
    with caplog.at_level(logging.WARNING):
        Scrubber(ALL_RULES, _profiles(odd))
    assert "odd names rules that are not registered: no.such_rule" in caplog.text


def test_create_scrubber_takes_plugin_rules_and_profiles_and_the_practice_folder(tmp_path):
    class Referral(ScrubRule):
        id = "acme.referral"
        severity = Severity.WARNING
        title = "Acme wants a referral"
        fix = "Get one."
        source = "Acme manual"

        def check(self, facts, profile, context):
            if profile.name == "acme":
                yield self.finding("no referral on file")

    class Acme:
        @hookimpl
        def register_scrub_rules(self, register):
            register(Referral)

        @hookimpl
        def register_payer_profiles(self, register):
            register(PayerProfile(name="acme", payer_ids=["ACME1"]))

    host = create_plugin_host(env=NO_PLUGINS, extra_plugins=[Acme()])
    (tmp_path / "lakeshore.yaml").write_text("payer_ids: [LKSHP]\ntimely_filing_days: 20\n")
    (tmp_path / "default.yaml").write_text("timely_filing_days: 365\n")
    scrubber = create_scrubber(host, profile_dir=tmp_path)
    assert {"acme", "lakeshore", "medicare"} <= set(scrubber.profiles.names)
    assert scrubber.profiles.get("default").timely_filing_days == 365  # the practice's default replaces ours
    assert "acme.referral" in scrubber.rule_ids and "structure.billing_npi" in scrubber.rule_ids

    claim = demo_claim("enc-002")
    result = scrubber.scrub(claim, context=context())
    assert result.profile_name == "lakeshore" and "dates.timely_filing" in {f.rule for f in result.findings}
    assert "acme.referral" not in {f.rule for f in result.findings}
    set_payer_id(claim, "ACME1")
    result = scrubber.scrub(claim, context=context())
    assert result.profile_name == "acme"
    assert [f.severity for f in result.findings if f.rule == "acme.referral"] == [Severity.WARNING]


def test_create_scrubber_without_arguments_uses_the_installed_plugins():
    scrubber = create_scrubber()
    assert {r.id for r in scrubber.rules} >= {r.id for r in ALL_RULES}
    assert scrubber.profiles.default.name == "default"
