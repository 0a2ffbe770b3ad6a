"""Write 271 eligibility responses (005010X279A1) from the project's eligibility model: the sandbox payer's
side of a 270.

claimbridge itself only reads 271s (:mod:`claimbridge.x12.eligibility.parse_271`); this writer exists so the
sandbox clearinghouse can answer the 270s claimbridge sends. It is built on the project's segment writer, and
every answer it writes reads back through the project's reader into the same benefits (see the tests).

One ISA/GS (functional id HB)/ST holds every answer. Answers are grouped under their payer (2000A, HL 20)
and provider (2000B, HL 21) as the 270 grouped the inquiries; each gets a subscriber level (2000C, HL 22)
and, when the patient is a dependent, a dependent level (2000D, HL 23):

    HL*22 [TRN*2 TRN*1] NM1*IL REF*18 REF*6P [AAA] [DMG] [DTP*346] · EB [REF] [DTP] [MSG] [LS NM1 PER LE] …
    (HL*23 TRN*2 TRN*1 NM1*03 [AAA] [DMG] [DTP*346] · EB …)

The provider's trace number comes back with TRN01 = 2 (referenced) and the TRN03 the provider sent, on the
level the 270 put it; the payer adds its own with TRN01 = 1.

    text = encode_271([Answer271(inquiry, benefits=[...])], envelope=envelope,
                      trace_originators={"EL0001": "9123456789"}).text
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from claimbridge.x12._claim_loops import upper_text
from claimbridge.x12.eligibility.model import (
    Benefit,
    BenefitDate,
    Contact,
    EligibilityInquiry,
    Member,
    Party,
    Payer,
    Provider,
    Rejection,
)
from claimbridge.x12.encode_837p import Envelope
from claimbridge.x12.reader import Delimiters
from claimbridge.x12.writer import (
    DEFAULT_DELIMITERS,
    SegmentWriter,
    clean_value,
    format_decimal,
    format_money,
)

__all__ = ["IMPLEMENTATION", "Answer271", "Encoded271", "Reference", "encode_271"]

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HB"
#: TRN03 of the sandbox payer's own trace numbers: "9" and an id of its own, 10 characters
PAYER_TRACE_ORIGINATOR = "9SANDBOXCH"

_YES_NO = {True: "Y", False: "N", None: ""}


@dataclass(frozen=True)
class Reference:
    """A REF of the member's loop: qualifier (18 plan number, 6P group number, 1L policy number …), the value
    and its description (REF03: the plan or group name)."""

    qualifier: str
    value: str
    description: str = ""


@dataclass(frozen=True)
class Answer271:
    """The payer's answer to one inquiry of a 270.

    ``benefits`` and ``rejections`` belong to the patient (the dependent when the inquiry names one, else the
    subscriber); ``rejections`` are written as AAA in the patient's name loop (2100C/2100D).
    ``at_subscriber`` answers a dependent's inquiry at the subscriber level instead (the payer could not find
    the subscriber, so there is no dependent to answer for). ``references`` go in the subscriber's loop
    (2100C), ``dates`` (plan begin 346, plan end 347, eligibility 356/357 …) in the patient's."""

    inquiry: EligibilityInquiry
    benefits: Sequence[Benefit] = ()
    rejections: Sequence[Rejection] = ()
    references: Sequence[Reference] = ()
    dates: Sequence[BenefitDate] = ()
    payer_trace_number: str | None = None
    at_subscriber: bool = False


@dataclass
class Encoded271:
    """The encoded file; ``segment_count`` is SE01 (ST through SE)."""

    text: str
    segment_count: int


@dataclass(frozen=True)
class _Repeated:
    """A repeating element (EB03 service types), joined with the repetition separator."""

    values: tuple[str, ...] = field(default=())


class _Writer(SegmentWriter):
    """The project's segment writer plus repeating elements, which the 837P never needs."""

    def write(self, seg_id: str, *elements: object) -> str:
        d = self.delimiters
        parts = [seg_id]
        for element in elements:
            if isinstance(element, _Repeated):
                repetition = d.repetition or "^"
                parts.append(repetition.join(clean_value(v, d) for v in element.values))
            elif isinstance(element, Decimal):
                parts.append(format_decimal(element))
            elif isinstance(element, tuple | list):
                components = [clean_value(c, d) for c in element]
                while components and not components[-1]:
                    components.pop()
                parts.append(d.component.join(components))
            else:
                parts.append(clean_value(element, d))
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        text = d.element.join(parts) + d.segment
        self._segments.append(text)
        return text


def encode_271(answers: Sequence[Answer271], *, envelope: Envelope, trace_originators: Mapping[str, str],
               payer_contact: Contact | None = None, reference: str | None = None,
               payer_trace_originator: str = PAYER_TRACE_ORIGINATOR,
               delimiters: Delimiters = DEFAULT_DELIMITERS, newline: bool = True) -> Encoded271:
    """Encode ``answers`` as one 271 interchange.

    ``trace_originators`` maps each inquiry's trace number to the TRN03 the 270 gave it (echoed with it);
    ``payer_contact`` is the payer's PER in 2100A; ``reference`` is BHT03 (the 270's BHT03, default ISA13).
    Raises ValueError for an empty batch."""
    if not answers:
        raise ValueError("encode_271 needs at least one answer")
    out = _Writer(delimiters, newline=newline)
    created = envelope.created
    out.segment("ISA", "00", "", "00", "", envelope.sender_qualifier, envelope.sender_id,
                envelope.receiver_qualifier, envelope.receiver_id, created.strftime("%y%m%d"),
                created.strftime("%H%M"), delimiters.repetition or "^", "00501", f"{envelope.isa13:09d}",
                "1" if envelope.ack_requested else "0", envelope.usage, delimiters.component)
    out.segment("GS", FUNCTIONAL_ID, envelope.gs_sender, envelope.gs_receiver, created.strftime("%Y%m%d"),
                created.strftime("%H%M"), str(envelope.gs06), "X", IMPLEMENTATION)
    st_start = len(out)
    control = f"{envelope.st02:04d}"
    out.segment("ST", "271", control, IMPLEMENTATION)
    out.segment("BHT", "0022", "11", reference or f"{envelope.isa13:09d}", created.strftime("%Y%m%d"),
                created.strftime("%H%M"))
    _write_hierarchy(out, answers, trace_originators, payer_contact, payer_trace_originator)
    count = len(out) - st_start + 1
    out.segment("SE", str(count), control)
    out.segment("GE", "1", str(envelope.gs06))
    out.segment("IEA", "1", f"{envelope.isa13:09d}")
    return Encoded271(out.text(), count)


def _group(answers: Iterable[Answer271]) -> dict[Payer, dict[Provider, list[Answer271]]]:
    tree: dict[Payer, dict[Provider, list[Answer271]]] = {}
    for answer in answers:
        tree.setdefault(answer.inquiry.payer, {}).setdefault(answer.inquiry.provider, []).append(answer)
    return tree


def _write_hierarchy(out: _Writer, answers: Sequence[Answer271], originators: Mapping[str, str],
                     payer_contact: Contact | None, payer_originator: str) -> None:
    hl = 0

    def open_hl(parent: int | None, level: str, has_children: bool) -> int:
        nonlocal hl
        hl += 1
        out.segment("HL", str(hl), "" if parent is None else str(parent), level, "1" if has_children else "0")
        return hl

    for payer, providers in _group(answers).items():
        payer_hl = open_hl(None, "20", True)
        out.segment("NM1", "PR", "2", upper_text(payer.name, 60), "", "", "", "", "PI", payer.id)
        if payer_contact is not None:
            _write_contact(out, payer_contact)
        for provider, members in providers.items():
            provider_hl = open_hl(payer_hl, "21", True)
            if provider.organization:
                out.segment("NM1", "1P", "2", upper_text(provider.name, 60), "", "", "", "", "XX", provider.npi)
            else:
                out.segment("NM1", "1P", "1", upper_text(provider.name, 60), upper_text(provider.first_name, 35),
                            "", "", "", "XX", provider.npi)
            for answer in members:
                inquiry = answer.inquiry
                traces = _traces(answer, originators.get(inquiry.trace_number, ""), payer_originator)
                dependent = None if answer.at_subscriber else inquiry.dependent
                subscriber_hl = open_hl(provider_hl, "22", dependent is not None)
                if dependent is None:
                    _write_traces(out, traces)
                    _write_member(out, inquiry.subscriber, "IL", answer.references)
                    _write_patient(out, answer)
                    continue
                _write_member(out, inquiry.subscriber, "IL", answer.references, patient=False)
                open_hl(subscriber_hl, "23", False)
                _write_traces(out, traces)
                _write_member(out, dependent, "03", ())
                _write_patient(out, answer)


def _traces(answer: Answer271, originator: str, payer_originator: str) -> list[tuple[str, str, str]]:
    traces = [("2", answer.inquiry.trace_number, originator)]
    if answer.payer_trace_number:
        traces.append(("1", answer.payer_trace_number, payer_originator))
    return traces


def _write_traces(out: _Writer, traces: list[tuple[str, str, str]]) -> None:
    for trace in traces:
        out.segment("TRN", *trace)


def _write_member(out: _Writer, member: Member, entity: str, references: Sequence[Reference], *,
                  patient: bool = True) -> None:
    """NM1 (the subscriber with the member id), the plan REFs and — for the patient — DMG echoed back later
    by :func:`_write_patient`; a subscriber who is not the patient gets their DMG here."""
    ident = ("MI", member.member_id) if entity == "IL" and member.member_id else ("", "")
    out.segment("NM1", entity, "1", upper_text(member.last_name, 60), upper_text(member.first_name, 35),
                upper_text(member.middle_name, 25), "", upper_text(member.suffix, 10), *ident)
    for ref in references:
        out.segment("REF", ref.qualifier, clean_value(ref.value)[:50], upper_text(ref.description, 80))
    if not patient:
        _write_demographics(out, member)


def _write_demographics(out: _Writer, member: Member) -> None:
    if member.birth_date is not None or member.gender:
        birth = member.birth_date.strftime("%Y%m%d") if member.birth_date else ""
        out.segment("DMG", "D8" if birth else "", birth, member.gender or "")


def _write_patient(out: _Writer, answer: Answer271) -> None:
    """The rest of the patient's name loop (AAA, DMG, DTP) and the benefits (2110C/2110D, 2120C/2120D)."""
    patient = answer.inquiry.subscriber if answer.at_subscriber else answer.inquiry.patient
    for rejection in answer.rejections:
        out.segment("AAA", "Y" if rejection.valid else "N", "", rejection.code, rejection.action or "")
    _write_demographics(out, patient)
    for when in answer.dates:
        _write_date(out, when)
    for benefit in answer.benefits:
        _write_benefit(out, benefit)


def _write_date(out: _Writer, when: BenefitDate) -> None:
    if when.start is None:
        return
    if when.end is None:
        out.segment("DTP", when.qualifier, "D8", when.start.strftime("%Y%m%d"))
    else:
        out.segment("DTP", when.qualifier, "RD8", f"{when.start:%Y%m%d}-{when.end:%Y%m%d}")


def _write_benefit(out: _Writer, b: Benefit) -> None:
    network = b.network_code or _YES_NO[b.in_network]
    out.write("EB", b.code, b.coverage_level or "", _Repeated(tuple(b.service_types)), b.insurance_type or "",
              upper_text(b.plan_description, 50), b.time_period or "",
              format_money(b.amount) if b.amount is not None else "",
              format_decimal(b.percent) if b.percent is not None else "",
              b.quantity_qualifier or "", format_decimal(b.quantity) if b.quantity is not None else "",
              _YES_NO[b.authorization_required], network)
    for qualifier, value in b.references.items():
        out.segment("REF", qualifier, value)
    for when in b.dates:
        _write_date(out, when)
    for rejection in b.rejections:
        out.segment("AAA", "Y" if rejection.valid else "N", "", rejection.code, rejection.action or "")
    for message in b.messages:
        out.segment("MSG", upper_text(message, 264))
    for related in b.entities:
        out.segment("LS", "2120")
        _write_party(out, related.party)
        for contact in related.party.contacts:
            _write_contact(out, contact)
        out.segment("LE", "2120")


def _write_party(out: _Writer, party: Party) -> None:
    if party.person:
        out.segment("NM1", party.entity, "1", upper_text(party.name, 60), upper_text(party.first_name, 35),
                    upper_text(party.middle_name, 25), "", upper_text(party.suffix, 10), party.id_qualifier or "",
                    party.id or "")
    else:
        out.segment("NM1", party.entity, "2", upper_text(party.name, 60), "", "", "", "",
                    party.id_qualifier or "", party.id or "")


def _write_contact(out: _Writer, contact: Contact) -> None:
    numbers = [value for pair in list(contact.numbers.items())[:3] for value in pair]
    out.segment("PER", contact.function, upper_text(contact.name, 60), *numbers)
