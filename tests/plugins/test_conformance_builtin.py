"""The conformance checks of ``claimbridge.testing`` over the built-in plugins, over deliberately broken ones
(to pin the error text), and the pytest plugin used the way a plugin author uses it."""

from __future__ import annotations

import dataclasses
import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from claimbridge import ConnectorSettings
from claimbridge.claims.scrub.base import Finding, ScrubRule, Severity
from claimbridge.claims.scrub.rules import ALL_RULES
from claimbridge.claims.scrub.rules.structure import RULES as STRUCTURE_RULES
from claimbridge.connectors import BadRecord, EhrSource, Record, Stream
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings
from claimbridge.plugins.ehr_fhir.settings import FhirBulkSourceSettings, FhirSourceSettings
from claimbridge.testing import (
    ConformanceError,
    check_scrub_rule,
    check_settings_model,
    check_source,
    make_plugin_host,
)
from tests.scrub.conftest import TODAY, context, default_profile, demo_claim, facts_of

pytest_plugins = ["pytester"]


# ------------------------------------------------------------------------------------------ built-in plugins


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.id)
def test_builtin_scrub_rule_conforms(rule):
    check_scrub_rule(rule)


def test_builtin_rules_registered_by_the_core_plugin_all_conform():
    host = make_plugin_host()
    assert list(host.scrub_rules) == [rule.id for rule in ALL_RULES]
    for rule in host.scrub_rules.values():
        check_scrub_rule(rule)


def _billing_npi_rule() -> type[ScrubRule]:
    return next(rule for rule in STRUCTURE_RULES if rule.id == "structure.billing_npi")


def test_builtin_rule_passes_and_fails_its_examples():
    good = facts_of(demo_claim())
    bad = dataclasses.replace(good, billing_npi=None)
    check_scrub_rule(_billing_npi_rule(), passes=[good], fails=[bad], profile=default_profile(),
                     context=context())


def test_examples_that_contradict_the_rule_are_reported():
    good = facts_of(demo_claim())
    with pytest.raises(ConformanceError) as info:
        check_scrub_rule(_billing_npi_rule(), passes=[], fails=[good], context=context(today=TODAY),
                         require_examples=False)
    assert info.value.problems == ["did not flag its failing example #1; fix the rule or the example"]
    assert str(info.value).startswith(f"rule {_billing_npi_rule().__name__} (structure.billing_npi): ")


@pytest.mark.parametrize("model", [FhirSourceSettings, FhirBulkSourceSettings, SftpSettings],
                         ids=lambda model: model.__name__)
def test_builtin_settings_model_conforms(model):
    check_settings_model(model)


# ------------------------------------------------------------------------------------- broken on purpose


class NoMetadataRule(ScrubRule):
    severity = "fatal"  # type: ignore[assignment]
    path = "Encounter"

    def check(self, facts, profile, context):
        yield from ()


class NoCheckRule(ScrubRule):
    id = "broken.no_check"
    title = "Never checks anything"
    fix = "Nothing to fix"


class WrongFindingRule(ScrubRule):
    id = "broken.wrong_finding"
    title = "Flags every claim with a finding of another rule"
    fix = "Nothing to fix"

    def check(self, facts, profile, context):
        yield Finding(rule="someone.else", severity=Severity.ERROR, message="", fix="x", path="Claim")


def test_broken_rule_lists_every_problem_with_its_fix():
    with pytest.raises(ConformanceError) as info:
        check_scrub_rule(NoMetadataRule, require_examples=True)
    message = str(info.value)
    lines = message.splitlines()
    assert all(line.startswith("rule NoMetadataRule: ") for line in lines)
    assert "rule NoMetadataRule: has no id; add a class attribute id = \"yourplugin.rule_name\"" in message
    assert "severity 'fatal' is not a Severity; set severity = Severity.ERROR" in message
    assert "has no title; add a class attribute title = " in message
    assert "has no fix; add a class attribute fix = " in message
    assert "path 'Encounter' is not a FHIR path into the Claim" in message
    assert "has no examples; add at least one claim it passes and one it flags" in message
    assert info.value.subject == "rule NoMetadataRule"
    assert len(info.value.problems) == 6


def test_rule_without_check_is_reported():
    with pytest.raises(ConformanceError, match=r"rule NoCheckRule \(broken.no_check\): does not implement check; "
                                               r"add def check\(self, facts, profile, context\)"):
        check_scrub_rule(NoCheckRule)


def test_bad_findings_are_reported():
    facts = facts_of(demo_claim())
    with pytest.raises(ConformanceError) as info:
        check_scrub_rule(WrongFindingRule, fails=[facts], require_examples=False)
    message = str(info.value)
    assert ("failing example #1: finding has rule 'someone.else', not the rule's id 'broken.wrong_finding'"
            in message)
    assert "failing example #1: finding has no message; say what is wrong with this claim" in message


def test_non_rule_is_reported():
    with pytest.raises(ConformanceError, match="rule dict: is not a subclass of .*ScrubRule; subclass ScrubRule"):
        check_scrub_rule(dict)


class LooseSettings(BaseModel):
    host: str = Field(description="host name")
    port: int = 22


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a"] = "a"  # a tag: needs no description
    depth: int = 1


class OuterSettings(ConnectorSettings):
    inner: Inner | None = Field(None, description="nested settings")


def test_loose_settings_model_is_reported():
    with pytest.raises(ConformanceError) as info:
        check_settings_model(LooseSettings)
    assert str(info.value).splitlines() == [
        "settings model LooseSettings: accepts unknown keys, so a misspelt setting is silently ignored; subclass "
        "claimbridge.ConnectorSettings or set model_config = ConfigDict(extra=\"forbid\")",
        "settings model LooseSettings: field 'port' has no description; declare it as "
        "port: … = Field(…, description=\"what it is, its unit and default\")",
    ]


def test_nested_settings_models_are_checked():
    with pytest.raises(ConformanceError) as info:
        check_settings_model(OuterSettings)
    assert info.value.problems == [
        "OuterSettings.inner (Inner): field 'depth' has no description; declare it as "
        "depth: … = Field(…, description=\"what it is, its unit and default\")",
    ]


def test_non_model_is_reported():
    with pytest.raises(ConformanceError, match="settings model dict: is not a pydantic model"):
        check_settings_model(dict)


# ------------------------------------------------------------------------------------------------- sources

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 27, tzinfo=UTC)
#: records of the fake EHR: (key, cursor)
ROWS = [("e1", SINCE - timedelta(days=3)), ("e2", SINCE + timedelta(days=1)), ("e3", SINCE + timedelta(days=2))]
_counter = itertools.count()


class FakeSettings(ConnectorSettings):
    label: str = Field("x", description="a label")


class FakeStream(Stream):
    name = "encounters"
    cursor_field = "lastUpdated"

    def __init__(self, *, filters: bool = True, stable: bool = True):
        self.filters, self.stable = filters, stable

    def read(self, since, until):
        yield BadRecord(key="broken", reason="unusable")  # allowed: quarantined by the runner
        for key, cursor in ROWS:
            if self.filters and ((since is not None and cursor <= since) or cursor > until):
                continue
            data = {"id": key} if self.stable else {"id": key, "read": next(_counter)}
            yield Record(key=key, cursor=cursor.isoformat(), data=data)


class FakeSource(EhrSource):
    type_name = "fake"
    settings_model = FakeSettings

    def __init__(self, **stream_options):
        super().__init__("fake", FakeSettings())
        self.stream_options = stream_options

    def streams(self):
        return [FakeStream(**self.stream_options)]


def test_well_behaved_source_conforms():
    check_source(FakeSource, since=SINCE, until=UNTIL)


def test_source_yielding_records_older_than_since_is_reported():
    with pytest.raises(ConformanceError) as info:
        check_source(lambda: FakeSource(filters=False), since=SINCE, until=UNTIL)
    assert info.value.problems == [
        "stream 'encounters': yielded record 'e1' with cursor 2026-10-29T00:00:00+00:00, not after "
        "since=2026-11-01T00:00:00+00:00; filter on the cursor (the runner already subtracted the stream's "
        "lookback)",
    ]
    assert str(info.value).startswith("source FakeSource: stream 'encounters': yielded record 'e1'")


def test_source_whose_reread_changes_payloads_is_reported():
    with pytest.raises(ConformanceError, match=r"source FakeSource: stream 'encounters': re-reading the same "
                                               r"window changed the payload of \['e2', 'e3'\]; keep read time"):
        check_source(lambda: FakeSource(stable=False), since=SINCE, until=UNTIL)


def test_unknown_stream_is_reported():
    with pytest.raises(ConformanceError, match="has no stream named claims; streams: encounters"):
        check_source(FakeSource, since=SINCE, until=UNTIL, streams=["claims"])


# ------------------------------------------------------------------------------ as a plugin author uses it


def test_plugin_author_test_module(pytester):
    pytester.makepyfile(textwrap.dedent('''
        import types

        import pytest
        from pydantic import Field

        from claimbridge import ConnectorSettings, hookimpl
        from claimbridge.claims.scrub import ScrubRule, example
        from claimbridge.testing import check_scrub_rule, check_settings_model

        pytest_plugins = ["claimbridge.testing"]


        class StatePlanRule(ScrubRule):
            id = "stateplan.h_code_modifier"
            title = "H-codes need an HN or HO modifier"
            fix = "Add HN or HO to the line"
            path = "Claim.item"
            passes = (example("not an H-code"), example("H0004 with HO", line={"code": "H0004", "modifiers": ("HO",)}))
            fails = (example("H0004 without a modifier", line={"code": "H0004"}),)

            def check(self, facts, profile, context):
                for line in facts.lines:
                    if line.code and line.code.startswith("H") and not {"HN", "HO"} & set(line.modifiers):
                        yield self.finding(f"line {line.index + 1} needs HN or HO", path=f"Claim.item[{line.index}]")


        class StatePlanSettings(ConnectorSettings):
            region: str = Field(description="the plan's region code")


        @hookimpl
        def register_scrub_rules(register):
            register(StatePlanRule)


        plugin = types.SimpleNamespace(register_scrub_rules=register_scrub_rules)


        @pytest.fixture
        def claimbridge_plugins_under_test():
            return [plugin]


        def test_rule_conforms():
            check_scrub_rule(StatePlanRule)


        def test_settings_conform():
            check_settings_model(StatePlanSettings)


        def test_host_has_only_the_plugin_under_test(claimbridge_plugins):
            assert "stateplan.h_code_modifier" in claimbridge_plugins.scrub_rules
            assert claimbridge_plugins.sources == {}
            assert claimbridge_plugins.clearinghouses == {}
            assert {d.name for d in claimbridge_plugins.disabled} >= {"ehr_fhir", "clearinghouse_sftp"}


        def test_store_is_migrated(claimbridge_store):
            assert claimbridge_store.is_current()
            with claimbridge_store.transaction() as session:
                session.execute(__import__("sqlalchemy").text("select count(*) from claims")).scalar_one()
    '''))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


#: a sorted fake EHR: ten encounters a day apart
SORTED_ROWS = [(f"s{n}", SINCE + timedelta(days=n)) for n in range(1, 11)]


class SortedStream(Stream):
    name = "encounters"
    cursor_field = "lastUpdated"
    is_sorted = True

    def __init__(self, *, order=1, skip_after_resume=False):
        self.order, self.skip_after_resume = order, skip_after_resume

    def read(self, since, until):
        rows = [(k, c) for k, c in SORTED_ROWS if (since is None or c > since) and c <= until][::self.order]
        if self.skip_after_resume and since is not None and since > SINCE:
            rows = rows[1:]  # a paging bug: the first record after a mid-stream bookmark is lost
        for key, cursor in rows:
            yield Record(key=key, cursor=cursor.isoformat(), data={"id": key})


class SortedSource(FakeSource):
    def streams(self):
        return [SortedStream(**self.stream_options)]


def test_sorted_source_conforms():
    check_source(SortedSource, since=SINCE, until=UNTIL)


def test_source_claiming_sorted_but_not_is_reported():
    with pytest.raises(ConformanceError, match=r"declares is_sorted but yielded 's9' .* after 's10' .*set "
                                               r"is_sorted = False"):
        check_source(lambda: SortedSource(order=-1), since=SINCE, until=UNTIL)


def test_source_losing_records_on_resume_is_reported():
    with pytest.raises(ConformanceError) as info:
        check_source(lambda: SortedSource(skip_after_resume=True), since=SINCE, until=UNTIL)
    assert info.value.problems == [
        "stream 'encounters': stopped after 5 of 10 records and resumed from the bookmark "
        "2026-11-06T00:00:00+00:00: 1 record(s) after it did not come again (['s6']); read everything with a "
        "cursor after since, whatever page the crash was on",
    ]


def test_source_raising_on_an_unusable_record_is_reported():
    class Raising(FakeStream):
        def read(self, since, until):
            raise ValueError("Encounter/e9: no subject")

    class RaisingSource(FakeSource):
        def streams(self):
            return [Raising()]

    with pytest.raises(ConformanceError, match=r"\(unusable records\): read raised ValueError: Encounter/e9: no "
                                               r"subject; yield a BadRecord"):
        check_source(FakeSource, since=SINCE, until=UNTIL, bad_records_factory=RaisingSource)
