"""Encode profile Claims (docs/claim-profile.md) as one X12 837P 005010X222A1 interchange.

One ISA/GS/ST holds every claim. Claims are grouped under their billing provider (2000A), subscriber (2000B)
and, for dependants, patient (2000C); groups keep the order in which the claims first name them. The mapping
follows the table at the end of the claim profile; the loops are:

    1000A NM1*41/PER · 1000B NM1*40 · 2000A HL*20 PRV*BI · 2010AA NM1*85 N3 N4 REF*EI ·
    2000B HL*22 SBR · 2010BA NM1*IL (N3 N4 DMG) · 2010BB NM1*PR ·
    2000C HL*23 PAT · 2010CA NM1*QC N3 N4 DMG ·
    2300 CLM REF*G1 REF*F8 HI · 2310B NM1*82 PRV*PE · 2310C NM1*77 N3 N4 · 2310D NM1*DQ ·
    2400 LX SV1 DTP*472 REF*6R

A claim that lacks something the 837P requires raises :class:`ClaimEncodeError` naming its PCN and the Claim
field; scrub claims before encoding so one bad claim does not hold back a batch.

    encoded = encode_837p(claims, envelope=envelope, submitter=submitter, receiver_name="STEDI")
    encoded.text                      # the file
    encoded.claim_segments["CB7Q2M4K9X1"]   # ['CLM*CB7Q2M4K9X1*150***10:B:1*Y*A*Y*Y~', 'HI*ABK:F411~', …]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from claimbridge.x12._claim_loops import ClaimParts, Seg, claim_parts, upper_text
from claimbridge.x12._claim_view import ClaimEncodeError
from claimbridge.x12.reader import Delimiters
from claimbridge.x12.writer import DEFAULT_DELIMITERS, SegmentWriter

__all__ = ["ClaimEncodeError", "Encoded837", "Envelope", "Submitter", "encode_837p"]

IMPLEMENTATION = "005010X222A1"
MAX_CLAIMS_PER_HL = 100  # loop 2300 repeats at most 100 times under one 2000B/2000C


@dataclass(frozen=True)
class Envelope:
    """Interchange and group addressing plus control numbers (allocated by the caller, unique per partner)."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    gs_sender: str
    gs_receiver: str
    usage: str
    isa13: int
    gs06: int
    st02: int
    created: datetime
    ack_requested: bool = False  # ISA14: ask for a TA1

    def __post_init__(self) -> None:
        problems = []
        if self.usage not in ("T", "P"):
            problems.append(f"usage must be 'T' or 'P', got {self.usage!r}")
        for name in ("isa13", "gs06", "st02"):
            number = getattr(self, name)
            if not isinstance(number, int) or not 0 < number <= 999_999_999:
                problems.append(f"{name} must be an integer from 1 to 999999999, got {number!r}")
        for name in ("sender_qualifier", "receiver_qualifier"):
            if len(getattr(self, name)) != 2:
                problems.append(f"{name} must be 2 characters")
        for name in ("sender_id", "receiver_id", "gs_sender", "gs_receiver"):
            if not 2 <= len(getattr(self, name)) <= 15:
                problems.append(f"{name} must be 2 to 15 characters")
        for name in ("sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id", "gs_sender",
                     "gs_receiver"):
            value = getattr(self, name)
            if not all(" " <= ch <= "~" for ch in value) or any(ch in "*:^~" for ch in value):
                problems.append(f"{name} must be printable ASCII without X12 delimiters (* : ^ ~)")
        if self.created.tzinfo is None:
            problems.append("created must be a timezone-aware datetime")
        if problems:
            raise ValueError("invalid 837P envelope: " + "; ".join(problems))


@dataclass(frozen=True)
class Submitter:
    """Loop 1000A: who sends the file (the practice or its billing service) and whom to call about it."""

    id: str
    name: str
    contact_name: str
    phone: str
    email: str = ""


@dataclass
class Encoded837:
    """The encoded file. ``segment_count`` is SE01 (ST through SE); ``claim_segments`` maps each PCN to the
    segments of its 2300 loop and 2400 lines, each with its terminator, in file order."""

    text: str
    segment_count: int
    claim_segments: dict[str, list[str]] = field(default_factory=dict)


# -- assembling the file ------------------------------------------------------------------------------------


def _group(parts: Sequence[ClaimParts]) -> dict:
    """billing → subscriber → patient (None for self) → claims, each level in first-seen order."""
    tree: dict = {}
    for part in parts:
        tree.setdefault(part.billing, {}).setdefault(part.subscriber, {}).setdefault(part.patient, []).append(
            part)
    return tree


def encode_837p(claims: Sequence[Mapping[str, Any]], *, envelope: Envelope, submitter: Submitter,
                receiver_name: str, delimiters: Delimiters = DEFAULT_DELIMITERS,
                newline: bool = True) -> Encoded837:
    """Encode ``claims`` (profile Claim dicts) as one 837P interchange. ``newline`` puts each segment on its
    own line. Raises :class:`ClaimEncodeError` (PCN and field) for a claim the 837P cannot carry and
    ValueError for an empty batch or a PCN that appears twice."""
    if not claims:
        raise ValueError("encode_837p needs at least one claim")
    parts = [claim_parts(claim, position) for position, claim in enumerate(claims)]
    seen: set[str] = set()
    for part in parts:
        if part.pcn in seen:
            raise ValueError(f"PCN {part.pcn} appears twice in one 837P batch; each claim version needs "
                             f"its own")
        seen.add(part.pcn)

    if delimiters.repetition is None:
        raise ValueError("a 5010 interchange needs a repetition separator (ISA11)")
    out = SegmentWriter(delimiters, newline=newline)
    write_envelope_start(out, envelope)
    st_start = len(out)
    control = f"{envelope.st02:04d}"
    out.segment("ST", "837", control, IMPLEMENTATION)
    _write_header(out, envelope, submitter, receiver_name)
    claim_segments = _write_hierarchy(out, parts)
    count = len(out) - st_start + 1
    out.segment("SE", str(count), control)
    out.segment("GE", "1", str(envelope.gs06))
    out.segment("IEA", "1", f"{envelope.isa13:09d}")
    return Encoded837(text=out.text(), segment_count=count, claim_segments=claim_segments)


def write_envelope_start(out: SegmentWriter, envelope: Envelope, functional_id: str = "HC",
                         implementation: str = IMPLEMENTATION) -> None:
    """ISA and GS of one interchange holding one functional group (GS01 ``functional_id``: HC claims, HS
    eligibility inquiries; GS08 ``implementation``)."""
    created, delimiters = envelope.created, out.delimiters
    out.segment("ISA", "00", "", "00", "", envelope.sender_qualifier, envelope.sender_id,
                envelope.receiver_qualifier, envelope.receiver_id, created.strftime("%y%m%d"),
                created.strftime("%H%M"), delimiters.repetition, "00501", f"{envelope.isa13:09d}",
                "1" if envelope.ack_requested else "0", envelope.usage, delimiters.component)
    out.segment("GS", functional_id, envelope.gs_sender, envelope.gs_receiver, created.strftime("%Y%m%d"),
                created.strftime("%H%M"), str(envelope.gs06), "X", implementation)


def _write_header(out: SegmentWriter, envelope: Envelope, submitter: Submitter, receiver_name: str) -> None:
    """BHT, 1000A submitter and 1000B receiver."""
    created = envelope.created
    out.segment("BHT", "0019", "00", f"{envelope.isa13:09d}", created.strftime("%Y%m%d"),
                created.strftime("%H%M"), "CH")
    out.segment("NM1", "41", "2", upper_text(submitter.name, 60), "", "", "", "", "46", submitter.id)
    contact: list[str] = []
    phone = "".join(ch for ch in submitter.phone if ch.isdigit())
    if phone:
        contact += ["TE", phone]
    if submitter.email:
        contact += ["EM", submitter.email]
    if not contact:
        raise ValueError("the submitter needs a phone number or an email address (1000A PER)")
    out.segment("PER", "IC", upper_text(submitter.contact_name, 60), *contact)
    out.segment("NM1", "40", "2", upper_text(receiver_name, 60), "", "", "", "", "46", envelope.gs_receiver)


def _write_hierarchy(out: SegmentWriter, parts: Sequence[ClaimParts]) -> dict[str, list[str]]:
    """The HL tree: 2000A billing provider → 2000B subscriber → (2000C patient) → claims. A subscriber
    or patient with more than 100 claims gets another HL for the rest (loop 2300 repeats at most 100 times).
    Returns each PCN's 2300/2400 segments as written."""
    claim_segments: dict[str, list[str]] = {}
    hl = 0

    def open_hl(parent: int | None, level: str, has_children: bool | None, segments: Sequence[Seg]) -> int:
        nonlocal hl
        hl += 1
        children = "" if has_children is None else ("1" if has_children else "0")
        out.segment("HL", str(hl), "" if parent is None else str(parent), level, children)
        _write_all(out, segments)
        return hl

    def write_claims(members: Sequence[ClaimParts]) -> None:
        for part in members:
            claim_segments[part.pcn] = _write_all(out, part.claim)

    for billing, subscribers in _group(parts).items():
        billing_hl = open_hl(None, "20", True, billing)
        for subscriber, patients in subscribers.items():
            if None in patients:  # the subscriber is the patient
                for chunk in _chunks(patients[None]):
                    open_hl(billing_hl, "22", False, subscriber)
                    write_claims(chunk)
                continue
            subscriber_hl = open_hl(billing_hl, "22", True, subscriber)
            for patient, members in patients.items():
                for chunk in _chunks(members):
                    open_hl(subscriber_hl, "23", False, patient)
                    write_claims(chunk)
    return claim_segments


def _chunks(members: Sequence[ClaimParts], size: int = MAX_CLAIMS_PER_HL) -> list[Sequence[ClaimParts]]:
    return [members[start:start + size] for start in range(0, len(members), size)]


def _write_all(out: SegmentWriter, segments: Sequence[Seg]) -> list[str]:
    return [out.segment(seg_id, *elements) for seg_id, elements in segments]
