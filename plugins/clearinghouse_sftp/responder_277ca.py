"""The sandbox's 277CA (005010X214): per claim, accepted into adjudication or rejected by front-end checks.

Hierarchy per payer: 2000A payer (information source) → 2000B the submitter (information receiver, with
totals) → 2000C billing provider → 2000D patient → 2200D one per claim (``TRN*2*<PCN>``).

Front-end checks a claim must pass (everything else was already checked by the 999's validation):

=============================================  ==============================  =========================
check                                          STC01 (category:status:entity)  where
=============================================  ==============================  =========================
billing provider NPI fails its check digit     ``A7:562:85``                   claim
rendering provider NPI fails its check digit   ``A7:562:82``                   claim
total charge missing or not above zero         ``A7:178``                      claim
CLM02 differs from the sum of the SV102s       ``A3:400``                      claim
service date after the day the file arrived    ``A7:187``                      claim and line (2220D)
=============================================  ==============================  =========================

An accepted claim gets ``STC*A1:19:PR`` (received) and ``STC*A2:20:PR`` (accepted for processing) and a
payer claim control number in ``REF*1K``; a rejected one gets ``STC01`` action code ``U`` and no REF*1K.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from claimbridge.claims.build import npi_check_digit_ok
from claimbridge.x12.writer import SegmentWriter, format_money

from .received_837 import Party, ServiceLine, SubmittedClaim, TransactionSet

__all__ = ["ClaimRejection", "JudgedClaim", "front_end_rejections", "judge_claims", "write_277ca_group"]

CLAIM_ACK_IMPLEMENTATION = "005010X214"


@dataclass(frozen=True)
class ClaimRejection:
    """One failed front-end check: STC01 ``category:status:entity``; ``line`` is the 1-based service line
    for a line-level problem."""

    category: str
    status: str
    entity: str = ""
    line: int | None = None

    @property
    def composite(self) -> tuple[str, ...]:
        return (self.category, self.status, self.entity) if self.entity else (self.category, self.status)


def front_end_rejections(claim: SubmittedClaim, received_on: date) -> list[ClaimRejection]:
    """The sandbox's front-end checks (table in the module docstring); empty when the claim is accepted."""
    found = []
    if not npi_check_digit_ok(claim.billing.id):
        found.append(ClaimRejection("A7", "562", "85"))
    if claim.rendering_npi and not npi_check_digit_ok(claim.rendering_npi):
        found.append(ClaimRejection("A7", "562", "82"))
    if claim.charge is None or claim.charge <= 0:
        found.append(ClaimRejection("A7", "178"))
    elif (claim.lines and all(line.charge is not None for line in claim.lines)
          and sum((line.charge for line in claim.lines), Decimal(0)) != claim.charge):
        found.append(ClaimRejection("A3", "400"))
    for number, line in enumerate(claim.lines, start=1):
        if line.dates and line.dates[1] > received_on:
            found.append(ClaimRejection("A7", "187", line=number))
    return found


@dataclass
class JudgedClaim:
    """A received claim with the front-end verdict; accepted claims carry their payer claim number."""

    claim: SubmittedClaim
    rejections: list[ClaimRejection]
    payer_claim_number: str = ""

    @property
    def accepted(self) -> bool:
        """Passed every front-end check (accepted into adjudication)."""
        return not self.rejections

    @property
    def charge(self) -> Decimal:
        return self.claim.charge if self.claim.charge is not None else Decimal(0)


def judge_claims(transactions: list[TransactionSet], control_number: int, now: datetime
                 ) -> list[tuple[TransactionSet, JudgedClaim]]:
    """Every claim of ``transactions`` with its verdict; accepted claims get a payer claim control number
    made from the date, the 277CA's ISA13 and a sequence (unique as long as ISA13 is)."""
    judged = []
    sequence = 0
    for transaction in transactions:
        for claim in transaction.claims:
            verdict = JudgedClaim(claim, front_end_rejections(claim, now.date()))
            if verdict.accepted:
                sequence += 1
                verdict.payer_claim_number = f"{now:%y%j}{control_number:09d}{sequence:04d}"
            judged.append((transaction, verdict))
    return judged


def write_277ca_group(out: SegmentWriter, judged: list[tuple[TransactionSet, JudgedClaim]],
                      control_number: int, now: datetime, *, gs_sender: str, gs_receiver: str) -> None:
    """Append GS … GE holding one 277CA transaction set for the ``judged`` claims (:func:`judge_claims`)."""
    today = now.date()
    stamp = now.strftime("%Y%m%d")
    out.segment("GS", "HN", gs_sender, gs_receiver, stamp,
                now.strftime("%H%M"), str(control_number), "X", CLAIM_ACK_IMPLEMENTATION)
    st_start = len(out)
    out.segment("ST", "277", "0001", CLAIM_ACK_IMPLEMENTATION)
    out.segment("BHT", "0085", "08", f"{control_number:09d}", stamp, now.strftime("%H%M%S"), "TH")

    hl = 0

    def open_hl(parent: int | None, level: str, children: str) -> int:
        nonlocal hl
        hl += 1
        out.segment("HL", str(hl), "" if parent is None else str(parent), level, children)
        return hl

    for payer_key, by_payer in _grouped(judged, lambda t, j: (j.claim.payer.id, j.claim.payer.last)).items():
        payer_hl = open_hl(None, "20", "1")
        payer = by_payer[0][1].claim.payer
        out.segment("NM1", "PR", "2", payer.last or "UNKNOWN PAYER", "", "", "", "", "PI", payer_key[0] or "UNKNOWN")
        out.segment("TRN", "1", f"{control_number}{payer_hl:03d}")
        out.segment("DTP", "050", "D8", stamp)
        out.segment("DTP", "009", "D8", stamp)
        # one information receiver per payer: the submitter of the first transaction set
        transaction = by_payer[0][0]
        receiver_hl = open_hl(payer_hl, "21", "1")
        submitter = transaction.submitter
        out.segment("NM1", "41", submitter.entity_type if submitter.entity_type in ("1", "2") else "2",
                    submitter.last or "UNKNOWN SUBMITTER", submitter.first, "", "", "", "46",
                    submitter.id or "UNKNOWN")
        out.segment("TRN", "2", transaction.reference or transaction.st02)
        verdicts = [j for _, j in by_payer]
        out.segment("STC", ("A1", "19"), stamp, "WQ", format_money(sum((j.charge for j in verdicts), Decimal(0))))
        _totals(out, verdicts, "90", "AA")
        for _, by_billing in _grouped(by_payer, lambda t, j: (j.claim.billing.id,)).items():
            billing_hl = open_hl(receiver_hl, "19", "1")
            _name(out, "85", by_billing[0][1].claim.billing, "XX")
            out.segment("TRN", "1", f"{control_number}{billing_hl:03d}")
            verdicts = [j for _, j in by_billing]
            out.segment("STC", ("A1", "19", "PR"), "", "WQ",
                        format_money(sum((j.charge for j in verdicts), Decimal(0))))
            _totals(out, verdicts, "QA", "QC")
            for _, by_patient in _grouped(by_billing, lambda t, j: _patient_key(j.claim.patient)).items():
                open_hl(billing_hl, "PT", "")
                patient = by_patient[0][1].claim.patient
                _name(out, "QC", Party("1", patient.last, patient.first, "MI", patient.id), "MI")
                for _, verdict in by_patient:
                    _claim_status(out, verdict, stamp, today)
    out.segment("SE", str(len(out) - st_start + 1), "0001")
    out.segment("GE", "1", str(control_number))


def _claim_status(out: SegmentWriter, verdict: JudgedClaim, stamp: str, today: date) -> None:
    claim = verdict.claim
    out.segment("TRN", "2", claim.pcn)
    charge = format_money(verdict.charge)
    if verdict.accepted:
        out.segment("STC", ("A1", "19", "PR"), stamp, "WQ", charge)
        out.segment("STC", ("A2", "20", "PR"), stamp, "WQ", charge)
        out.segment("REF", "1K", verdict.payer_claim_number)
    else:
        for rejection in _unique_claim_level(verdict.rejections):
            out.segment("STC", rejection.composite, stamp, "U", charge)
    start, end = claim.service_dates or (today, today)
    _service_date(out, start, end)
    for rejection in verdict.rejections:
        if rejection.line is None:
            continue
        line = claim.lines[rejection.line - 1]
        _rejected_line(out, line, rejection, stamp)


def _unique_claim_level(rejections: list[ClaimRejection]) -> list[ClaimRejection]:
    seen: dict[tuple[str, ...], ClaimRejection] = {}
    for rejection in rejections:
        seen.setdefault(rejection.composite, ClaimRejection(rejection.category, rejection.status,
                                                            rejection.entity))
    return list(seen.values())


def _rejected_line(out: SegmentWriter, line: ServiceLine, rejection: ClaimRejection, stamp: str) -> None:
    procedure = line.procedure or ["HC", "UNKNOWN"]
    out.segment("SVC", tuple(procedure[:6]), format_money(line.charge or 0), "", "", "", "", line.units or "1")
    out.segment("STC", rejection.composite, stamp, "U")
    if line.control_number:
        out.segment("REF", "FJ", line.control_number)
    if line.dates:
        _service_date(out, *line.dates)


def _service_date(out: SegmentWriter, start: date, end: date) -> None:
    if start == end:
        out.segment("DTP", "472", "D8", f"{start:%Y%m%d}")
    else:
        out.segment("DTP", "472", "RD8", f"{start:%Y%m%d}-{end:%Y%m%d}")


def _name(out: SegmentWriter, entity: str, party: Party, qualifier: str) -> None:
    if party.entity_type == "1":
        out.segment("NM1", entity, "1", party.last or "UNKNOWN", party.first, "", "", "", qualifier,
                    party.id or "UNKNOWN")
    else:
        out.segment("NM1", entity, "2", party.last or "UNKNOWN", "", "", "", "", qualifier, party.id or "UNKNOWN")


def _totals(out: SegmentWriter, verdicts: list[JudgedClaim], accepted_qty: str, rejected_qty: str) -> None:
    accepted = [j for j in verdicts if j.accepted]
    rejected = [j for j in verdicts if not j.accepted]
    if accepted:
        out.segment("QTY", accepted_qty, str(len(accepted)))
    if rejected:
        out.segment("QTY", rejected_qty, str(len(rejected)))
    if accepted:
        out.segment("AMT", "YU", format_money(sum((j.charge for j in accepted), Decimal(0))))
    if rejected:
        out.segment("AMT", "YY", format_money(sum((j.charge for j in rejected), Decimal(0))))


def _patient_key(patient: Party) -> tuple[str, str, str]:
    return patient.last, patient.first, patient.id


def _grouped(items, key) -> dict:
    """``items`` grouped by ``key(*item)``, groups and members in first-seen order."""
    groups: dict = {}
    for item in items:
        groups.setdefault(key(*item), []).append(item)
    return groups

