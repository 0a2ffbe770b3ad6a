"""Encode :class:`~claimbridge.x12.eligibility.model.EligibilityInquiry` s as one 270 interchange
(005010X279A1).

One ISA/GS (functional id HS)/ST holds every inquiry. Inquiries are grouped under their payer (2000A, HL 20)
and provider (2000B, HL 21), in the order they first appear; each inquiry gets its own subscriber level
(2000C, HL 22) and, when the patient is a dependent, a dependent level (2000D, HL 23) under it:

    ST*270 · BHT*0022*13 · HL*20 NM1*PR (PI payer id) · HL*21 NM1*1P (XX NPI) ·
    HL*22 [TRN] NM1*IL (MI member id) [DMG] [DTP*291] [EQ] · (HL*23 TRN NM1*03 DMG DTP*291 EQ) · SE GE IEA

The trace number (TRN02, with ``trace_originator`` as TRN03) sits on the patient's level and comes back in the
271; EQ01 carries the service types separated by the repetition separator (ISA11). Names are upper-cased and
cut to their element's length, as in the 837P. The envelope (:class:`~claimbridge.x12.encode_837p.Envelope`)
and its control numbers come from the caller, who allocates them like the 837P's.

    encoded = encode_270(inquiries, envelope=envelope, trace_originator="9123456789")
    encoded.text
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from claimbridge.claims.build import npi_check_digit_ok
from claimbridge.x12._claim_loops import upper_text
from claimbridge.x12.eligibility.codes import SERVICE_TYPES, code_table
from claimbridge.x12.eligibility.model import EligibilityInquiry, Member, Payer, Provider
from claimbridge.x12.encode_837p import Envelope, write_envelope_start
from claimbridge.x12.reader import Delimiters
from claimbridge.x12.writer import DEFAULT_DELIMITERS, SegmentWriter, clean_value

__all__ = ["Encoded270", "InquiryEncodeError", "check_inquiry", "encode_270"]

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HS"
MAX_SERVICE_TYPES = 99  # EQ01 repeats at most 99 times


class InquiryEncodeError(ValueError):
    """An inquiry lacks something the 270 requires. Names the inquiry by its trace number and the field,
    never the person's name or member id."""

    def __init__(self, trace_number: str, field_name: str, reason: str):
        self.trace_number = trace_number
        self.field = field_name
        super().__init__(f"eligibility inquiry {trace_number or '(no trace number)'}: {field_name}: {reason}")


@dataclass
class Encoded270:
    """The encoded file. ``segment_count`` is SE01 (ST through SE); ``inquiry_segments`` maps each trace
    number to the segments of its subscriber (and dependent) levels, each with its terminator."""

    text: str
    segment_count: int
    inquiry_segments: dict[str, list[str]] = field(default_factory=dict)


class _Writer(SegmentWriter):
    """The project's segment writer plus repeated elements (EQ01), which the 837P never needs."""

    def repeated(self, seg_id: str, values: Sequence[str]) -> str:
        repetition = self.delimiters.repetition
        assert repetition is not None
        element = repetition.join(clean_value(v, self.delimiters) for v in values)
        text = f"{seg_id}{self.delimiters.element}{element}{self.delimiters.segment}"
        self._segments.append(text)
        return text


def encode_270(inquiries: Sequence[EligibilityInquiry], *, envelope: Envelope, trace_originator: str,
               reference: str | None = None, delimiters: Delimiters = DEFAULT_DELIMITERS,
               newline: bool = True) -> Encoded270:
    """Encode ``inquiries`` as one 270 interchange. ``trace_originator`` is TRN03: 10 characters, ``1`` and
    the practice's EIN or ``9`` and an id of its own. ``reference`` is BHT03 (default: ISA13).

    Raises :class:`InquiryEncodeError` (trace number and field) for an inquiry the 270 cannot carry and
    ValueError for an empty batch, a trace number used twice or a bad originator."""
    if not inquiries:
        raise ValueError("encode_270 needs at least one inquiry")
    if len(trace_originator) != 10 or trace_originator[0] not in "139" or not trace_originator.isalnum():
        raise ValueError("trace_originator (TRN03) must be 10 letters or digits starting with 1 (EIN), "
                         "3 (DUNS) or 9 (an id of your own)")
    if delimiters.repetition is None:
        raise ValueError("a 5010 interchange needs a repetition separator (ISA11)")
    seen: set[str] = set()
    for inquiry in inquiries:
        check_inquiry(inquiry)
        if inquiry.trace_number in seen:
            raise ValueError(f"trace number {inquiry.trace_number} appears twice in one 270 batch; each "
                             f"inquiry needs its own")
        seen.add(inquiry.trace_number)

    out = _Writer(delimiters, newline=newline)
    write_envelope_start(out, envelope, FUNCTIONAL_ID, IMPLEMENTATION)
    st_start = len(out)
    control = f"{envelope.st02:04d}"
    created = envelope.created
    out.segment("ST", "270", control, IMPLEMENTATION)
    out.segment("BHT", "0022", "13", reference or f"{envelope.isa13:09d}", created.strftime("%Y%m%d"),
                created.strftime("%H%M"))
    inquiry_segments = _write_hierarchy(out, inquiries, trace_originator)
    count = len(out) - st_start + 1
    out.segment("SE", str(count), control)
    out.segment("GE", "1", str(envelope.gs06))
    out.segment("IEA", "1", f"{envelope.isa13:09d}")
    return Encoded270(out.text(), count, inquiry_segments)


def check_inquiry(inquiry: EligibilityInquiry) -> None:
    """Raise :class:`InquiryEncodeError` when ``inquiry`` lacks what the 270 requires."""
    trace = inquiry.trace_number

    def fail(name: str, reason: str) -> InquiryEncodeError:
        return InquiryEncodeError(trace, name, reason)

    if not trace or len(trace) > 50 or clean_value(trace) != trace:
        raise fail("trace_number", "must be 1-50 printable characters without X12 delimiters")
    if not inquiry.payer.id.strip() or not inquiry.payer.name.strip():
        raise fail("payer", "the payer id and name are required (2100A NM1*PR)")
    if not npi_check_digit_ok(inquiry.provider.npi):
        raise fail("provider.npi", "not a valid NPI (10 digits with the Luhn check digit); correct it in "
                                   "the provider profile")
    if not inquiry.provider.name.strip():
        raise fail("provider.name", "the provider's name is required (2100B NM1*1P)")
    if not inquiry.provider.organization and not inquiry.provider.first_name.strip():
        raise fail("provider.first_name", "a person's first name is required")
    subscriber = inquiry.subscriber
    if not (subscriber.member_id or "").strip():
        raise fail("subscriber.member_id", "the member id is required (2100C NM109)")
    if not subscriber.last_name.strip():
        raise fail("subscriber.last_name", "the subscriber's last name is required")
    for who, member in (("subscriber", subscriber), ("dependent", inquiry.dependent)):
        if member is not None and member.gender not in (None, "F", "M", "U"):
            raise fail(f"{who}.gender", "must be F, M or U")
    if inquiry.dependent is not None:
        dependent = inquiry.dependent
        if not dependent.last_name.strip() or not dependent.first_name.strip():
            raise fail("dependent", "the dependent's last and first name are required (2100D NM1*03)")
        if dependent.birth_date is None:
            raise fail("dependent.birth_date", "the dependent's birth date is required (2100D DMG)")
    if not inquiry.service_types:
        raise fail("service_types", "at least one service type is required (EQ01)")
    if len(inquiry.service_types) > MAX_SERVICE_TYPES:
        raise fail("service_types", f"at most {MAX_SERVICE_TYPES} service types")
    unknown = [c for c in inquiry.service_types if c not in code_table(SERVICE_TYPES)]
    if unknown:
        raise fail("service_types", f"not service type codes: {', '.join(unknown)}")


def _group(inquiries: Iterable[EligibilityInquiry]) -> dict[Payer, dict[Provider, list[EligibilityInquiry]]]:
    tree: dict[Payer, dict[Provider, list[EligibilityInquiry]]] = {}
    for inquiry in inquiries:
        tree.setdefault(inquiry.payer, {}).setdefault(inquiry.provider, []).append(inquiry)
    return tree


def _write_hierarchy(out: _Writer, inquiries: Sequence[EligibilityInquiry],
                     originator: str) -> dict[str, list[str]]:
    written: dict[str, list[str]] = {}
    hl = 0

    def open_hl(parent: int | None, level: str, has_children: bool) -> int:
        nonlocal hl
        hl += 1
        out.segment("HL", str(hl), "" if parent is None else str(parent), level, "1" if has_children else "0")
        return hl

    for payer, providers in _group(inquiries).items():
        payer_hl = open_hl(None, "20", True)
        out.segment("NM1", "PR", "2", upper_text(payer.name, 60), "", "", "", "", "PI", payer.id)
        for provider, members in providers.items():
            provider_hl = open_hl(payer_hl, "21", True)
            if provider.organization:
                out.segment("NM1", "1P", "2", upper_text(provider.name, 60), "", "", "", "", "XX", provider.npi)
            else:
                out.segment("NM1", "1P", "1", upper_text(provider.name, 60), upper_text(provider.first_name, 35),
                            "", "", "", "XX", provider.npi)
            for inquiry in members:
                first = len(out)
                dependent = inquiry.dependent
                subscriber_hl = open_hl(provider_hl, "22", dependent is not None)
                if dependent is None:
                    _write_patient(out, inquiry, inquiry.subscriber, "IL", originator)
                else:
                    _write_member(out, inquiry.subscriber, "IL")
                    open_hl(subscriber_hl, "23", False)
                    _write_patient(out, inquiry, dependent, "03", originator)
                written[inquiry.trace_number] = out.segments[first:]
    return written


def _write_member(out: _Writer, member: Member, entity: str) -> None:
    """NM1 (with the member id for the subscriber) and DMG when there is a birth date or gender."""
    ident = ("MI", member.member_id) if entity == "IL" and member.member_id else ("", "")
    out.segment("NM1", entity, "1", upper_text(member.last_name, 60), upper_text(member.first_name, 35),
                upper_text(member.middle_name, 25), "", upper_text(member.suffix, 10), *ident)
    if member.birth_date is not None or member.gender:
        birth = member.birth_date.strftime("%Y%m%d") if member.birth_date else ""
        out.segment("DMG", "D8" if birth else "", birth, member.gender or "")


def _write_patient(out: _Writer, inquiry: EligibilityInquiry, member: Member, entity: str,
                   originator: str) -> None:
    """The patient's level: TRN, the name loop (2100C/2100D) and the inquiry (2110C/2110D EQ)."""
    out.segment("TRN", "1", inquiry.trace_number, originator)
    _write_member(out, member, entity)
    if inquiry.service_date is not None:
        out.segment("DTP", "291", "D8", inquiry.service_date.strftime("%Y%m%d"))
    out.repeated("EQ", inquiry.service_types)
