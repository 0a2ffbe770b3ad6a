"""The sandbox clearinghouse's answers to a 270 eligibility inquiry: a 999 and a 271, as a payer sends them.

* **TA1** when the interchange asks for one (ISA14 = 1), and always when the interchange envelope itself is
  broken (then nothing else is answered) — as for an 837.
* **999** (005010X231A1) for the 270 functional group: ``IK5*A`` for each transaction set that
  :func:`claimbridge.x12.eligibility.check_270` finds clean, ``IK5*R`` with ``IK3``/``IK4`` from its findings
  otherwise; ``AK9`` ``A``, ``P`` or ``R``.
* **271** (005010X279A1) answering every inquiry of the accepted sets: the provider's trace number echoed
  (TRN01 = 2) with the payer's own (TRN01 = 1), the payer, provider, subscriber and — for a dependent — the
  dependent loop, the plan and group numbers, and the benefits of the member's scenario
  (:mod:`.member_scenarios`).

The files are ``<upload>.ta1``, ``<upload>.999`` and ``<upload>.271`` in the responses folder, written like
the 837 answers (:func:`.responder.write_answers`).

    answers = answer_270(data, control_numbers=counter, members=EligibilityModel())
    write_answers(root / "outbound", "elig-0001.270", answers)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from claimbridge.x12.eligibility import check_270
from claimbridge.x12.eligibility.model import Contact, Eligibility270, EligibilityInquiry
from claimbridge.x12.encode_837p import Envelope
from claimbridge.x12.reader import Segment, X12SyntaxError, iter_segments
from claimbridge.x12.responses import X12ParseError, iter_transactions

from .encode_271 import Answer271, Reference, encode_271
from .member_scenarios import NOT_FOUND, EligibilityModel, SandboxPlan, coverage_for
from .received_837 import FunctionalGroup, Interchange, TransactionSet, read_837
from .responder_acks import ValidationVerdict, write_999, write_ta1

__all__ = ["EligibilityAnswers", "answer_270", "is_eligibility_inquiry"]

log = logging.getLogger(__name__)

#: the sandbox payer's provider-services line (2100A PER)
PAYER_CONTACT = Contact("IC", "PROVIDER SERVICES", {"TE": "8005550100"})


@dataclass(frozen=True)
class EligibilityAnswers:
    """The response files for one 270 upload (None where there is nothing to send). ``accepted`` is True
    when the 999 accepted every transaction set."""

    ta1: bytes | None = None
    ack_999: bytes | None = None
    eligibility_271: bytes | None = None
    accepted: bool = False

    def files(self, upload_name: str) -> dict[str, bytes]:
        """Response file names (``<upload>.ta1``, ``.999``, ``.271``) and contents."""
        named = {".ta1": self.ta1, ".999": self.ack_999, ".271": self.eligibility_271}
        return {upload_name + suffix: content for suffix, content in named.items() if content is not None}


def is_eligibility_inquiry(data: bytes | str) -> bool:
    """Whether ``data`` holds a 270: its first functional group is HS or its first set a 270 (an 837 is
    HC/837). Data that is not X12 is no inquiry."""
    try:
        for seg in iter_segments(data):
            if seg.id == "GS":
                return seg[1] == "HS"
            if seg.id == "ST":
                return seg[1] == "270"
    except X12SyntaxError:
        return False
    return False


def answer_270(data: bytes | str, *, control_numbers: Callable[[], int], name: str = "<upload>",
               now: datetime | None = None, members: EligibilityModel | None = None) -> EligibilityAnswers:
    """The sandbox's answers to the 270 ``data``. ``control_numbers`` hands out ISA13 values; ``members``
    says which scenario each member id gets (default: :class:`EligibilityModel`'s suffix rules)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    members = members or EligibilityModel()
    try:
        interchanges = read_837(data, name=name)  # only the envelopes and sets are used
        segments = list(iter_segments(data, name=name))
    except X12SyntaxError as exc:
        log.info("sandbox: %s is not X12 (%s); not answered", name, exc.reason)
        return EligibilityAnswers()
    if not interchanges:
        log.info("sandbox: %s has no ISA envelope; not answered", name)
        return EligibilityAnswers()
    report = check_270(data, name=name)
    verdict = ValidationVerdict(interchanges, report.problems)
    first = interchanges[0]
    ta1 = None
    if first.ack_requested or verdict.interchange_problems:
        ta1 = write_ta1(first, verdict.interchange_problems, control_numbers(), now).encode()
    if verdict.interchange_problems:
        return EligibilityAnswers(ta1=ta1)
    groups = [g for i in interchanges for g in i.groups if g.functional_id == "HS"]
    if not groups:
        log.info("sandbox: %s holds no 270 functional group; only the interchange is acknowledged", name)
        return EligibilityAnswers(ta1=ta1)
    ack = write_999(first, groups, verdict, control_numbers(), now, transaction_type="270")
    accepted_sets = [(g, t) for g in groups if not verdict.group_rejected(g) for t in g.transactions
                     if not verdict.transaction_problems(t)]
    answers: list[Answer271] = []
    originators: dict[str, str] = {}
    reference = None
    for group, transaction in accepted_sets:
        inquiries, traces, bht03 = _read_set(first, group, transaction, segments, name)
        originators.update(traces)
        reference = reference or bht03
        answers.extend(_answer(inquiry, members, transaction) for inquiry in inquiries)
    eligibility = None
    if answers:
        control_number = control_numbers()
        envelope = _reply_envelope(first, groups[0], control_number, now)
        eligibility = encode_271(answers, envelope=envelope, trace_originators=originators,
                                 payer_contact=PAYER_CONTACT, reference=reference).text.encode()
    every = [t for g in groups for t in g.transactions]
    return EligibilityAnswers(ta1=ta1, ack_999=ack.encode(), eligibility_271=eligibility,
                              accepted=len(accepted_sets) == len(every) and bool(every))


def _read_set(interchange: Interchange, group: FunctionalGroup, transaction: TransactionSet,
              segments: list[Segment], name: str) -> tuple[list[EligibilityInquiry], dict[str, str], str | None]:
    """The inquiries of one transaction set the checker accepted, read through the project's reader on a
    copy of the set in its own envelope (so a broken set elsewhere in the file cannot stop it), with the
    TRN03 of each trace number and the BHT03."""
    body = segments[transaction.first_index - 1:transaction.last_index]
    delimiters = body[0].delimiters
    isa = segments[interchange.first_index - 1]
    gs = segments[group.first_index - 1]
    terminator = delimiters.segment
    text = "".join(seg.to_x12() + terminator + "\n" for seg in (isa, gs, *body))
    text += f"GE{delimiters.element}1{delimiters.element}{gs[6]}{terminator}\n"
    text += f"IEA{delimiters.element}1{delimiters.element}{isa[13]}{terminator}\n"
    traces = {seg[2]: seg[3] for seg in body if seg.id == "TRN" and seg[2]}
    bht03 = next((seg[3] for seg in body if seg.id == "BHT"), None) or None
    try:
        sets = [t for t in iter_transactions(text, name=name) if isinstance(t, Eligibility270)]
    except X12ParseError as exc:  # the checker passed it, the reader did not: answer nothing for this set
        log.warning("sandbox: transaction set %s of %s could not be read (%s); not answered",
                    transaction.st02, name, exc)
        return [], traces, bht03
    return [inquiry for s in sets for inquiry in s.inquiries], traces, bht03


def _answer(inquiry: EligibilityInquiry, members: EligibilityModel, transaction: TransactionSet) -> Answer271:
    scenario = members.scenario_for(inquiry.subscriber.member_id)
    dependent = inquiry.dependent is not None and scenario != NOT_FOUND
    coverage = coverage_for(scenario, members.plan, dependent=dependent)
    return Answer271(inquiry, benefits=coverage.benefits, rejections=coverage.rejections,
                     references=_references(members.plan) if coverage.found else (), dates=coverage.dates,
                     payer_trace_number=f"SBX{transaction.st02}{inquiry.trace_number}"[:50],
                     at_subscriber=inquiry.dependent is not None and not dependent)


def _references(plan: SandboxPlan) -> tuple[Reference, ...]:
    return (Reference("18", plan.number, plan.name), Reference("6P", plan.group_number, plan.group_name))


def _reply_envelope(received: Interchange, group: FunctionalGroup, control_number: int,
                    now: datetime) -> Envelope:
    """Sender and receiver of ``received`` swapped, the same usage indicator; ISA13 = GS06."""
    return Envelope(sender_qualifier=received.receiver_qualifier or "ZZ",
                    sender_id=received.receiver_id or "SANDBOX",
                    receiver_qualifier=received.sender_qualifier or "ZZ",
                    receiver_id=received.sender_id or "UNKNOWN",
                    gs_sender=group.receiver or "SANDBOX", gs_receiver=group.sender or "UNKNOWN",
                    usage=received.usage if received.usage in ("T", "P") else "T",
                    isa13=control_number, gs06=control_number, st02=1, created=now)
