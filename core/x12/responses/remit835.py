"""Read one 835 transaction set (005010X221A1) into a :class:`Remittance835`.

Segments come in a run at a time (``feed_run``), so a remittance of any size is read in one pass. Segments
the model does not keep (N3/N4, PER, TS3/TS2, RDM …) are skipped.

A remittance repeats the same CAS, DTM, AMT, SVC and LQ segments thousands of times (one fee schedule, a
few dates, the same adjustments), so those are read in two steps: a ``_read_*`` function turns the segment's
text into an entry of immutable values (the slow part: splitting, Decimal, dates), remembered by text for
the next identical segment, and :meth:`Remit835Parser.feed_run` builds the model objects from the entry
where the segment belongs (inline: this loop runs a million times for a 20 MB file). A segment that cannot
be read raises only where the one-step reading did, in the same order (a CAS outside a claim before its bad
amount; a bad date only when the DTM is one the model keeps).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import islice

from claimbridge.x12.reader import SegmentRun
from claimbridge.x12.responses._values import Reader, X12ParseError
from claimbridge.x12.responses.model835 import (
    Adjustment,
    ClaimPayment,
    Party,
    Payment,
    Person,
    ProcedureCode,
    ProviderAdjustment,
    Remittance835,
    ServiceLine,
)

__all__ = ["Remit835Parser"]

_PAD = [""] * 25
# the field order ClaimPayment and ServiceLine are built in (tests/x12/test_remit835_fast_path.py checks the model)
_CLAIM_FIELDS = ("patient_control_number", "status_code", "charge", "paid", "patient_responsibility",
                 "filing_indicator", "payer_claim_control_number", "facility_code", "frequency_code",
                 "header_number", "adjustments", "lines", "remarks", "statement_start", "statement_end",
                 "received_date", "amounts", "quantities", "rendering_provider_id", "original_reference_number",
                 "patient", "people", "references", "segment")
_LINE_FIELDS = ("adjudicated", "charge", "paid", "revenue_code", "units", "submitted", "original_units",
                "service_date", "service_end", "control_number", "adjustments", "amounts", "remarks", "references",
                "segment")
_STOP = frozenset(("SE", "ST", "GE", "IEA", "ISA", "GS"))


def _pad(p: list[str], size: int) -> list[str]:
    return p if len(p) >= size else p + _PAD[:size - len(p)]


class Remit835Parser:
    """Feed the segments of one ST…SE (ST included), then :meth:`finish`."""

    def __init__(self, reader: Reader, component: str, st: list[str], index: int):
        self.r = reader
        self.component = component
        self.control_number = st[2] if len(st) > 2 else ""
        self.version = st[3] if len(st) > 3 and st[3] else None
        self.start = index
        self.payment: Payment | None = None
        self.trace: tuple[str, str | None, str | None] | None = None
        self.payer = Party()
        self.payee = Party()
        self.party: Party | None = None
        self.claims: list[ClaimPayment] = []
        self.plb: list[ProviderAdjustment] = []
        self.claim: ClaimPayment | None = None
        self.line: ServiceLine | None = None
        self.header_number: str | None = None
        self.production_date = None
        self.receiver_id: str | None = None
        self.stop_index = 0

    def feed_run(self, run: SegmentRun, start: int) -> int:
        """Read the segments of ``run`` from position ``start`` up to the SE; returns the SE's position in the
        run, or that of a segment that opens an envelope or another set (for the caller to report), or -1
        when the run ends first."""
        element = run.delimiters.element
        seen = self.r.segment_values(element, self.component)
        line, claim = self.line, self.claim  # kept in step with self.line and self.claim
        index = run.first + start - 1
        for text in islice(run.texts, start, None) if start else run.texts:
            index += 1
            entry = seen.get(text)
            if entry is None:
                parts = text.split(element)
                seg_id = parts[0]
                read = _READ.get(seg_id)
                if read is None:
                    handler = _HANDLERS.get(seg_id)
                    if handler is not None:
                        handler(self, parts, index)
                        line, claim = self.line, self.claim
                    elif seg_id in _STOP:
                        return index - run.first
                    continue
                try:
                    entry = read(self.r, self.component, parts, index)
                except X12ParseError:
                    if self._kept(seg_id, index):  # a CAS or SVC outside a claim is reported first
                        raise
                    continue
                self.r.remember(seen, text, entry)
            kind = entry[0]
            if kind == _CAS:
                _, group, triplets = entry
                target = line if line is not None else claim
                if target is None:
                    raise self.r.error("a CAS adjustment outside a claim", ["CAS"], index)
                adjustments = target.adjustments
                for reason, amount, quantity in triplets:
                    adjustments.append(Adjustment(group, reason, amount, quantity))
            elif kind == _DTM:
                self._put_date(entry, index)
            elif kind == _SVC:
                if claim is None:
                    raise self.r.error("a service line outside a claim", ["SVC"], index)
                _, adjudicated, charge, paid, revenue_code, units, submitted, original_units = entry
                # every field positional, in _LINE_FIELDS order: half the cost of keywords and defaults
                line = self.line = ServiceLine(
                    ProcedureCode(*adjudicated), charge, paid, revenue_code, units,
                    None if submitted is None else ProcedureCode(*submitted), original_units, None, None, None, [],
                    {}, [], {}, index)
                claim.lines.append(line)
            elif kind == _AMT:
                target = line if line is not None else claim
                if target is not None:
                    target.amounts[entry[1]] = entry[2]
            elif line is not None and entry[1]:  # _LQ: a remark code (LQ*HE) kept on a line
                line.remarks.append(entry[1])
        return -1

    def _kept(self, seg_id: str, i: int) -> bool:
        """Whether a segment of ``seg_id`` is kept where the parser is (so an error reading it counts); raises
        for a CAS or SVC outside a claim."""
        if seg_id == "SVC":
            if self.claim is None:
                raise self.r.error("a service line outside a claim", ["SVC"], i)
            return True
        if self.line is None and self.claim is None:
            if seg_id == "CAS":
                raise self.r.error("a CAS adjustment outside a claim", ["CAS"], i)
            return False
        return True

    def _put_date(self, entry: _DateEntry, i: int) -> None:
        _, day, text, line_field, claim_field, header_field = entry
        if self.line is not None:
            target, field = self.line, line_field
        elif self.claim is not None:
            target, field = self.claim, claim_field
        else:
            target, field = self, header_field
        if field is not None:
            if day is None and text:
                raise self.r.error(f"{field[1]} is not a date CCYYMMDD ({text[:12]!r})", ["DTM"], i, 2)
            setattr(target, field[0], day)

    def finish(self, envelope: dict[str, str | None]) -> Remittance835:
        if self.payment is None:
            raise self.r.error("the 835 has no BPR segment", ["ST"], self.start)
        if self.trace is None:
            raise self.r.error("the 835 has no TRN reassociation trace number", ["ST"], self.start)
        trace_number, company, _ = self.trace
        payment = self.payment
        payment.trace_number = trace_number
        payment.originating_company_id = company
        payment.payer_id = company or self.payer.references.get("2U") or self.payer.id
        return Remittance835(self.control_number, payment, self.payer, self.payee, self.claims, self.plb,
                             self.production_date, self.receiver_id, self.version or envelope.get("version"),
                             envelope.get("interchange"), envelope.get("group"), self.start)

    # -- header ---------------------------------------------------------------------------------------------

    def _bpr(self, p: list[str], i: int) -> None:
        if len(p) < 17:
            p = p + _PAD[:17 - len(p)]
        r = self.r
        self.payment = Payment(r.money(p, 2, i, "the total payment"), p[3], p[4],
                               r.date(p, 16, i, "the payment date", required=True), "", None, p[1], p[5] or None)

    def _trn(self, p: list[str], i: int) -> None:
        if len(p) < 5:
            p = p + _PAD[:5 - len(p)]
        if self.trace is None:
            if not p[2]:
                raise self.r.error("the check or EFT trace number is missing", p, i, 2)
            self.trace = (p[2], p[3] or None, p[4] or None)

    def _n1(self, p: list[str], i: int) -> None:
        if len(p) < 5:
            p = p + _PAD[:5 - len(p)]
        if p[1] == "PR":
            self.party = self.payer
        elif p[1] == "PE":
            self.party = self.payee
        else:
            self.party = None
            return
        self.party.name, self.party.id_qualifier, self.party.id = p[2], p[3] or None, p[4] or None

    def _ref(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        if self.line is not None:
            if p[1] == "6R":
                self.line.control_number = p[2]
            else:
                self.line.references[p[1]] = p[2]
        elif self.claim is not None:
            if p[1] == "F8":
                self.claim.original_reference_number = p[2]
            else:
                self.claim.references[p[1]] = p[2]
        elif self.party is not None:
            self.party.references[p[1]] = p[2]
        elif p[1] == "EV":
            self.receiver_id = p[2]

    def _lx(self, p: list[str], i: int) -> None:
        if len(p) < 2:
            p = p + _PAD[:2 - len(p)]
        self.header_number = p[1]
        self.claim = self.line = None

    def _clp(self, p: list[str], i: int) -> None:
        if len(p) < 10:
            p = p + _PAD[:10 - len(p)]
        r = self.r
        if not p[1]:
            raise r.error("the patient control number is missing", p, i, 1)
        if not p[2]:
            raise r.error("the claim status code is missing", p, i, 2)
        amounts = r.amounts
        charge = amounts.get(p[3]) or r.money(p, 3, i, "the claim charge")
        paid = amounts.get(p[4]) or r.money(p, 4, i, "the claim payment")
        responsibility = (amounts.get(p[5]) or r.money(p, 5, i, "the patient responsibility")) if p[5] else None
        # every field positional, in _CLAIM_FIELDS order: half the cost of keywords and defaults
        claim = ClaimPayment(p[1], p[2], charge, paid, responsibility, p[6] or None, p[7] or None, p[8] or None,
                             p[9] or None, self.header_number, [], [], [], None, None, None, {}, {}, None, None,
                             None, [], {}, i)
        self.claims.append(claim)
        self.claim, self.line = claim, None
        self.party = None

    def _nm1(self, p: list[str], i: int) -> None:
        if len(p) < 10:
            p = p + _PAD[:10 - len(p)]
        claim = self.claim
        if claim is None or self.line is not None:
            return
        if p[1] == "82":
            claim.rendering_provider_id = p[9] or None
            return
        person = Person(p[1], p[3], p[4], p[5], p[8], p[9])
        claim.people.append(person)
        if p[1] == "QC":
            claim.patient = person

    def _moa(self, p: list[str], i: int) -> None:
        if len(p) < 8:
            p = p + _PAD[:8 - len(p)]
        if self.claim is not None:
            self.claim.remarks += [code for code in p[3:8] if code]

    def _mia(self, p: list[str], i: int) -> None:
        if len(p) < 24:
            p = p + _PAD[:24 - len(p)]
        if self.claim is not None:
            self.claim.remarks += [code for code in (p[5], *p[20:24]) if code]

    def _qty(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        if self.line is None and self.claim is not None:
            self.claim.quantities[p[1]] = self.r.number(p, 2, i, "the quantity")

    def _plb(self, p: list[str], i: int) -> None:
        if len(p) < 5:
            p = p + _PAD[:5 - len(p)]
        r = self.r
        self.claim = self.line = None
        fiscal = r.date(p, 2, i, "the fiscal period date")
        if len(p) % 2:
            p = p + [""]
        for position in range(3, min(len(p), 15), 2):
            value = p[position]
            if not value:
                continue
            reason, _, reference = value.partition(self.component)
            self.plb.append(ProviderAdjustment(p[1], fiscal, reason, reference or None,
                                               r.money(p, position + 1, i, "the provider adjustment amount"), i))


# -- entries of segments that repeat: functions of the segment alone (``i`` only names it in errors) -------

# what an entry holds, by its first item
_CAS, _DTM, _SVC, _AMT, _LQ = range(5)

_ProcedureValues = tuple[str, str, tuple[str, ...], str | None]
# (_DTM, the date or None, DTM02's text, then for a line, a claim and the header: the field it fills and what
# it is called in errors, or None when it is not kept there)
_DateEntry = tuple[int, date | None, str, tuple[str, str] | None, tuple[str, str] | None, tuple[str, str] | None]

# DTM01 → the field it fills and what it is called in errors, by where the DTM is
_LINE_DATES = {"472": ("service_date", "the service date"), "150": ("service_date", "the service date"),
               "151": ("service_end", "the service end date")}
_CLAIM_DATES = {"232": ("statement_start", "the statement start date"),
                "233": ("statement_end", "the statement end date"),
                "050": ("received_date", "the claim received date")}
_HEADER_DATES = {"405": ("production_date", "the production date")}


def _read_dtm(r: Reader, component: str, p: list[str], i: int) -> _DateEntry:
    """DTM02 as a date (None when empty or not a date: an error only where the date is kept)."""
    if len(p) < 3:
        p = p + _PAD[:3 - len(p)]
    code = p[1]
    return (_DTM, r.try_date(p[2]) if p[2] else None, p[2], _LINE_DATES.get(code), _CLAIM_DATES.get(code),
            _HEADER_DATES.get(code))


def _read_cas(r: Reader, component: str, p: list[str],
              i: int) -> tuple[int, str, tuple[tuple[str, Decimal, Decimal | None], ...]]:
    """The group code and the reason, amount, quantity triplets."""
    if len(p) < 4:
        p = p + _PAD[:4 - len(p)]
    group = p[1]
    if not group:
        raise r.error("the adjustment group code is missing", p, i, 1)
    if len(p) % 3 != 2:
        p = p + _PAD[:3 - (len(p) + 1) % 3]
    amounts = r.amounts
    triplets = []
    for position in range(2, min(len(p), 20), 3):
        reason = p[position]
        value = p[position + 1]
        if not reason:
            if not value:
                continue
            raise r.error("an adjustment amount without a reason code", p, i, position)
        amount = amounts.get(value) or r.money(p, position + 1, i, "the adjustment amount")
        quantity = p[position + 2]
        triplets.append((reason, amount,
                         r.number(p, position + 2, i, "the adjustment quantity") if quantity else None))
    return _CAS, group, tuple(triplets)


def _read_amt(r: Reader, component: str, p: list[str], i: int) -> tuple[int, str, Decimal]:
    if len(p) < 3:
        p = p + _PAD[:3 - len(p)]
    return _AMT, p[1], r.money(p, 2, i, "the amount")


def _read_procedure(r: Reader, component: str, p: list[str], position: int, i: int) -> _ProcedureValues | None:
    value = p[position]
    if not value:
        return None
    parts = value.split(component)
    if len(parts) < 2 or not parts[1]:
        raise r.error(f"the procedure composite has no procedure code (found {value[:12]!r})", p, i, position)
    return (parts[0], parts[1], tuple(m for m in parts[2:6] if m),
            parts[6] if len(parts) > 6 and parts[6] else None)


def _read_svc(r: Reader, component: str, p: list[str], i: int) -> tuple:
    """The ServiceLine's values, in the order the elements are checked: SVC01, 02, 03, 05, 06, 07."""
    if len(p) < 8:
        p = p + _PAD[:8 - len(p)]
    adjudicated = _read_procedure(r, component, p, 1, i)
    if adjudicated is None:
        raise r.error("the procedure composite is missing", p, i, 1)
    return (_SVC, adjudicated, r.money(p, 2, i, "the line charge"), r.money(p, 3, i, "the line payment"),
            p[4] or None, r.number(p, 5, i, "the units paid") if p[5] else None,
            _read_procedure(r, component, p, 6, i), r.number(p, 7, i, "the units submitted") if p[7] else None)


def _read_lq(r: Reader, component: str, p: list[str], i: int) -> tuple[int, str]:
    """The remark code of an LQ*HE ("" for other LQ qualifiers, which are not kept)."""
    if len(p) < 3:
        p = p + _PAD[:3 - len(p)]
    return _LQ, p[2] if p[1] == "HE" else ""


# plain functions, not bound methods kept on the parser: a parser holding its own bound methods is a reference
# cycle, and a finished remittance would then wait for the cyclic collector to be freed
_HANDLERS = {
    "BPR": Remit835Parser._bpr, "TRN": Remit835Parser._trn, "N1": Remit835Parser._n1,
    "REF": Remit835Parser._ref, "LX": Remit835Parser._lx, "CLP": Remit835Parser._clp,
    "NM1": Remit835Parser._nm1, "MOA": Remit835Parser._moa, "MIA": Remit835Parser._mia,
    "QTY": Remit835Parser._qty, "PLB": Remit835Parser._plb,
}
# segments read in two steps (see the module's docstring)
_READ = {"DTM": _read_dtm, "CAS": _read_cas, "AMT": _read_amt, "SVC": _read_svc, "LQ": _read_lq}
