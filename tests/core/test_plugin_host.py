import inspect
import logging
from datetime import UTC, datetime
from pathlib import Path

import pluggy
import pytest

from claimbridge import Clearinghouse, EhrSource, FatalError, hookimpl, hookspecs
from claimbridge.claims.states import ClaimStatus, StatusChange
from claimbridge.plugin_host import create_plugin_host

NO_BUILTINS = {"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir,clearinghouse_sftp,ehr_simplepractice"}


class NullSource(EhrSource):
    type_name = "null"

    def streams(self):
        return []


class NullClearinghouse(Clearinghouse):
    type_name = "null"

    def submit(self, file):
        raise NotImplementedError

    def list_inbound(self):
        return []

    def fetch(self, name):
        raise FileNotFoundError(name)

    def archive(self, name):
        pass


class RegistersBoth:
    __version__ = "9.9"

    @hookimpl
    def register_sources(self, register):
        register(NullSource)

    @hookimpl
    def register_clearinghouses(self, register):
        register(NullClearinghouse)


def test_builtin_plugins_load_through_entry_points():
    host = create_plugin_host(env={})
    assert {"fhir", "fhir_bulk"} <= set(host.sources)
    assert "sftp" in host.clearinghouses
    names = {info.name for info in host.describe()}
    assert {"ehr_fhir", "clearinghouse_sftp"} <= names


def test_disable_env_blocks_plugins_by_name():
    host = create_plugin_host(env=NO_BUILTINS)
    assert host.sources == {} and host.clearinghouses == {}


def test_register_hooks_fill_the_registries_and_describe_says_so():
    host = create_plugin_host([RegistersBoth()], env=NO_BUILTINS)
    assert host.source_class("null") is NullSource
    assert host.clearinghouse_class("null") is NullClearinghouse
    info = next(i for i in host.describe() if i.sources)
    assert info.sources == ["null"] and info.clearinghouses == ["null"]
    assert info.version == "9.9"
    assert info.hooks == ["register_clearinghouses", "register_sources"]


def test_unknown_type_is_a_fatal_error_listing_the_known_ones():
    host = create_plugin_host([RegistersBoth()], env=NO_BUILTINS)
    with pytest.raises(FatalError, match="known: null"):
        host.source_class("epic")


def test_a_misspelt_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_source(self, register):  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        create_plugin_host([Typo()], env=NO_BUILTINS)


def test_two_plugins_claiming_one_type_is_an_error():
    class Again:
        @hookimpl
        def register_sources(self, register):
            class Other(NullSource):
                pass
            register(Other)

    with pytest.raises(FatalError, match="registered by both"):
        create_plugin_host([RegistersBoth(), Again()], env=NO_BUILTINS)


def test_registering_something_that_is_not_a_source_is_an_error():
    class Wrong:
        @hookimpl
        def register_sources(self, register):
            register(object)

    with pytest.raises(FatalError, match="not a subclass of EhrSource"):
        create_plugin_host([Wrong()], env=NO_BUILTINS)


def test_event_hook_failures_are_isolated(caplog):
    seen = []

    class Broken:
        @hookimpl
        def claim_status_changed(self, event):
            raise RuntimeError("plugin bug")

    class Listener:
        @hookimpl
        def claim_status_changed(self, event):
            seen.append(event.pcn)

    host = create_plugin_host([Listener(), Broken()], env=NO_BUILTINS)
    event = StatusChange(claim_id=1, pcn="CB1", version=1, old=None, new=ClaimStatus.READY, actor="t",
                         reason="r", at=datetime.now(UTC))
    with caplog.at_level(logging.ERROR):
        host.notify("claim_status_changed", event=event)
    assert seen == ["CB1"]
    assert "plugin bug" in caplog.text


def test_adjust_claim_may_take_fewer_arguments_than_the_spec():
    class Adjuster:
        @hookimpl
        def adjust_claim(self, claim):
            claim["note"] = "adjusted"

    host = create_plugin_host([Adjuster()], env=NO_BUILTINS)
    claim = {}
    host.hook.adjust_claim(claim=claim, context={})
    assert claim == {"note": "adjusted"}


def _hooks():
    return [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "claimbridge_spec")]


def test_every_hook_is_documented_in_the_same_shape():
    assert _hooks()
    for name, fn in _hooks():
        doc = inspect.getdoc(fn) or ""
        for param in inspect.signature(fn).parameters:
            assert f":param {param}:" in doc, f"{name} does not document {param}"
        assert ":return:" in doc, f"{name} does not say what it returns"
        assert "Added in" in doc, f"{name} does not say when it was added"


def test_every_hook_is_exercised_by_a_test():
    tests = Path(__file__).resolve().parents[1]
    text = "\n".join(p.read_text(encoding="utf-8") for p in tests.rglob("test_*.py"))
    for name, _fn in _hooks():
        assert f"def {name}(" in text, f"no test implements the hook {name}"


# ------------------------------------------------------------------------------------- scrub registration


def _scrub_plugin(rule_id="acme.referral_on_file", profile_name="acme-plan"):
    from claimbridge.claims.scrub import PayerProfile, ScrubRule

    class ReferralOnFile(ScrubRule):
        id = rule_id
        title = "A referral is on file"
        fix = "Get the referral."
        source = "Acme plan manual"

        def check(self, facts, profile, context):
            return ()

    class AcmePlugin:
        @hookimpl
        def register_scrub_rules(self, register):
            register(ReferralOnFile)

        @hookimpl
        def register_payer_profiles(self, register):
            register(PayerProfile(name=profile_name, payer_ids=["ACME1"]))

    return AcmePlugin(), ReferralOnFile


def test_scrub_hooks_fill_the_registries_after_the_builtin_ones():
    plugin, rule = _scrub_plugin()
    host = create_plugin_host(env=NO_BUILTINS, extra_plugins=[plugin])
    assert host.scrub_rules["acme.referral_on_file"] is rule
    assert list(host.scrub_rules)[-1] == "acme.referral_on_file"  # built-in rules first
    assert "structure.billing_npi" in host.scrub_rules
    assert {"default", "medicare", "acme-plan"} <= set(host.payer_profiles)
    info = next(i for i in host.describe() if i.scrub_rules == ["acme.referral_on_file"])
    assert info.payer_profiles == ["acme-plan"]
    assert info.hooks == ["register_payer_profiles", "register_scrub_rules"]


def test_scrub_builtin_is_always_registered():
    host = create_plugin_host(env={"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir,clearinghouse_sftp,ehr_simplepractice,scrub_builtin"})
    builtin = next(i for i in host.describe() if i.name == "scrub_builtin")
    assert builtin.module == "claimbridge.claims.scrub.builtin"
    assert "dates.timely_filing" in builtin.scrub_rules and "default" in builtin.payer_profiles


def test_a_rule_id_or_profile_name_registered_twice_is_an_error():
    plugin, _ = _scrub_plugin(rule_id="structure.billing_npi")
    with pytest.raises(FatalError, match="structure.billing_npi.*scrub_builtin"):
        create_plugin_host(env=NO_BUILTINS, extra_plugins=[plugin])
    plugin, _ = _scrub_plugin(profile_name="medicare")
    with pytest.raises(FatalError, match="payer profile 'medicare' is registered by both"):
        create_plugin_host(env=NO_BUILTINS, extra_plugins=[plugin])


def test_registering_something_that_is_not_a_rule_or_profile_is_an_error():
    class Wrong:
        @hookimpl
        def register_scrub_rules(self, register):
            register(object)

    with pytest.raises(FatalError, match="not a subclass of ScrubRule"):
        create_plugin_host(env=NO_BUILTINS, extra_plugins=[Wrong()])

    class WrongProfile:
        @hookimpl
        def register_payer_profiles(self, register):
            register({"name": "x"})

    with pytest.raises(FatalError, match="not a PayerProfile instance"):
        create_plugin_host(env=NO_BUILTINS, extra_plugins=[WrongProfile()])
