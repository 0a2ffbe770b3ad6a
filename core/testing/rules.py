"""Conformance of scrub rules: the ScrubRule contract, and the rule's own examples."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from claimbridge.testing.problems import ConformanceError, name_of

#: a rule id: dotted, lowercase, at least two parts (``psychotherapy.time_band``)
RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")



def check_scrub_rule(rule_class: Any, *, passes: Iterable[Any] | None = None, fails: Iterable[Any] | None = None,
                     profile: Any = None, context: Any = None, require_examples: bool = True) -> None:
    """Check a scrub rule class against the :class:`~claimbridge.claims.scrub.base.ScrubRule` contract.

    The rule must have a dotted lowercase id, a Severity, a one-line title, a fix hint, a ``Claim…`` path and a
    ``check`` method, be creatable without arguments, and pass and flag its examples: ``passes`` / ``fails``
    (default: the rule's own ``passes`` / ``fails`` class attributes). An example is an
    :class:`~claimbridge.claims.scrub.examples.Example` (built with ``example(...)``: the example claim with
    changes, its own context and profile) or a :class:`ClaimFacts`, checked with ``profile`` (default: the
    shipped ``default`` payer profile) and ``context`` (default: an empty ScrubContext for the example day).
    A flagged example must yield at least one finding of the rule's own (its id, a severity, a message, a fix,
    a ``Claim`` path). ``require_examples`` (default True) makes a rule without a passing and a failing example
    a problem.
    """
    from claimbridge.claims.scrub.base import ClaimFacts, Finding, ScrubRule, Severity
    from claimbridge.claims.scrub.examples import EXAMPLE_TODAY, Example

    subject = f"rule {name_of(rule_class)}"
    if not (isinstance(rule_class, type) and issubclass(rule_class, ScrubRule)):
        raise ConformanceError(subject, ["is not a subclass of claimbridge.claims.scrub.base.ScrubRule; "
                                         "subclass ScrubRule and register the class (not an instance)"])
    problems: list[str] = []
    rule_id = getattr(rule_class, "id", None)
    if not isinstance(rule_id, str) or not rule_id:
        problems.append("has no id; add a class attribute id = \"yourplugin.rule_name\" (dotted, lowercase, "
                        "stable: payer profiles and overrides refer to it)")
    elif not RULE_ID.match(rule_id):
        problems.append(f"id {rule_id!r} is not dotted lowercase; use e.g. \"yourplugin.rule_name\" "
                        "(letters, digits and _, at least two parts)")
    else:
        subject = f"rule {rule_class.__name__} ({rule_id})"
    severity = getattr(rule_class, "severity", None)
    if not isinstance(severity, Severity):
        problems.append(f"severity {severity!r} is not a Severity; set severity = Severity.ERROR (holds the "
                        "claim) or Severity.WARNING")
    for attr, what in (("title", "one line for the docs and the UI"), ("fix", "the default fix hint shown with "
                                                                              "each finding")):
        value = getattr(rule_class, attr, None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"has no {attr}; add a class attribute {attr} = \"…\" ({what})")
        elif attr == "title" and "\n" in value.strip():
            problems.append("title spans several lines; make it one line")
    path = getattr(rule_class, "path", None)
    if not isinstance(path, str) or not path.startswith("Claim"):
        problems.append(f"path {path!r} is not a FHIR path into the Claim; set path = \"Claim…\" "
                        "(e.g. \"Claim.item\")")
    if inspect.isabstract(rule_class):
        missing = ", ".join(sorted(rule_class.__abstractmethods__))
        problems.append(f"does not implement {missing}; add def check(self, facts, profile, context) that "
                        "yields a Finding (self.finding(message)) per problem")
    rule = None
    if not inspect.isabstract(rule_class):
        try:
            rule = rule_class()
        except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
            problems.append(f"cannot be created without arguments ({type(exc).__name__}: {exc}); the engine "
                            "calls rule_class(): take no constructor arguments")
    passes = list(getattr(rule_class, "passes", ()) or () if passes is None else passes)
    fails = list(getattr(rule_class, "fails", ()) or () if fails is None else fails)
    if require_examples and not (passes and fails):
        problems.append("has no examples; add at least one claim it passes and one it flags as class attributes "
                        "passes = (example(\"…\"),) and fails = (example(\"…\", field=value),) "
                        "(from claimbridge.claims.scrub import example)")
    if rule is not None and not problems and (passes or fails):
        if profile is None:
            from claimbridge.claims.scrub.profiles import builtin_profiles

            profile = builtin_profiles()["default"]
        if context is None:
            from claimbridge.claims.scrub.base import ScrubContext

            context = ScrubContext(today=EXAMPLE_TODAY)
        for kind, examples in (("passing", passes), ("failing", fails)):
            for number, given in enumerate(examples, 1):
                label = f"{kind} example #{number}"
                if isinstance(given, Example):
                    label = f"{kind} example #{number} ({given.note})"
                    try:
                        facts, used_profile, used_context = given.build()
                    except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                        problems.append(f"{label} cannot be built ({type(exc).__name__}: {exc}); change only "
                                        "ClaimFacts, Line, ScrubContext and PayerProfile fields")
                        continue
                elif isinstance(given, ClaimFacts):
                    facts, used_profile, used_context = given, profile, context
                else:
                    problems.append(f"{label} is a {type(given).__name__}, not an Example or ClaimFacts; write "
                                    "it with claimbridge.claims.scrub.example(\"what it shows\", field=value)")
                    continue
                try:
                    findings = list(rule.check(facts, used_profile, used_context) or ())
                except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                    problems.append(f"raised {type(exc).__name__}: {exc} on its {label}; a rule must not raise "
                                    "on a claim: yield a Finding (or nothing) instead")
                    continue
                if kind == "passing" and findings:
                    said = "; ".join(getattr(f, "message", repr(f)) for f in findings)
                    problems.append(f"flagged its {label} ({said}); fix the rule or the example")
                elif kind == "failing" and not findings:
                    problems.append(f"did not flag its {label}; fix the rule or the example")
                for finding in findings:
                    problems.extend(f"{label}: {p}" for p in _finding_problems(finding, rule_id, Finding, Severity))
    if problems:
        raise ConformanceError(subject, problems)


def _finding_problems(finding: Any, rule_id: Any, finding_type: type, severity_type: type) -> list[str]:
    if not isinstance(finding, finding_type):
        return [f"yielded {finding!r}, not a Finding; yield self.finding(message)"]
    problems = []
    if finding.rule != rule_id:
        problems.append(f"finding has rule {finding.rule!r}, not the rule's id {rule_id!r}; build findings with "
                        "self.finding(message)")
    if not isinstance(finding.severity, severity_type):
        problems.append(f"finding severity {finding.severity!r} is not a Severity")
    if not isinstance(finding.message, str) or not finding.message.strip():
        problems.append("finding has no message; say what is wrong with this claim")
    if not isinstance(finding.fix, str) or not finding.fix.strip():
        problems.append("finding has no fix; set the rule's fix or pass fix=… to self.finding")
    if not isinstance(finding.path, str) or not finding.path.startswith("Claim"):
        problems.append(f"finding path {finding.path!r} is not a FHIR path into the Claim (\"Claim.item[0]\")")
    return problems
