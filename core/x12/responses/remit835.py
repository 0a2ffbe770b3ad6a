"""Read one 835 transaction set (005010X221A1) into a :class:`Remittance835`.

Segments come in one at a time (``feed``), as lists whose item n is element n, so a remittance of any size is
read in one pass. Segments the model does not keep (N3/N4, PER, TS3/TS2, RDM …) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from claimbridge.x12.responses._values import Reader
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

    def feed(self, parts: list[str], index: int) -> None:
        handler = _HANDLERS.get(parts[0])
        if handler is not None:
            handler(self, parts, index)

    def consume(self, tokens: Iterator[tuple[list[str], int, int]]) -> list[str] | None:
        """Feed segments from ``tokens`` up to the SE (returned; None when the data ends first). A segment
        that opens an envelope or another set is returned instead, for the caller to report."""
        handlers = _HANDLERS
        for parts, index, _offset in tokens:
            handler = handlers.get(parts[0])
            if handler is not None:
                handler(self, parts, index)
            elif parts[0] in _STOP:
                self.stop_index = index
                return parts
        return None

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

    def _dtm(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        code = p[1]
        if self.line is not None:
            if code in ("472", "150"):
                self.line.service_date = self.r.date(p, 2, i, "the service date")
            elif code == "151":
                self.line.service_end = self.r.date(p, 2, i, "the service end date")
        elif self.claim is not None:
            if code == "232":
                self.claim.statement_start = self.r.date(p, 2, i, "the statement start date")
            elif code == "233":
                self.claim.statement_end = self.r.date(p, 2, i, "the statement end date")
            elif code == "050":
                self.claim.received_date = self.r.date(p, 2, i, "the claim received date")
        elif code == "405":
            self.production_date = self.r.date(p, 2, i, "the production date")

    # -- claims ---------------------------------------------------------------------------------------------

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
        claim = ClaimPayment(p[1], p[2], r.money(p, 3, i, "the claim charge"), r.money(p, 4, i, "the claim payment"),
                             r.optional_money(p, 5, i, "the patient responsibility"), p[6] or None, p[7] or None,
                             p[8] or None, p[9] or None, self.header_number, segment=i)
        self.claims.append(claim)
        self.claim, self.line = claim, None
        self.party = None

    def _cas(self, p: list[str], i: int) -> None:
        if len(p) < 4:
            p = p + _PAD[:4 - len(p)]
        target = self.line if self.line is not None else self.claim
        if target is None:
            raise self.r.error("a CAS adjustment outside a claim", p, i)
        group = p[1]
        if not group:
            raise self.r.error("the adjustment group code is missing", p, i, 1)
        adjustments = target.adjustments
        r = self.r
        if len(p) % 3 != 2:
            p = p + _PAD[:3 - (len(p) + 1) % 3]
        amounts = r.amounts
        for position in range(2, min(len(p), 20), 3):
            reason = p[position]
            value = p[position + 1]
            if not reason:
                if not value:
                    continue
                raise r.error("an adjustment amount without a reason code", p, i, position)
            amount = amounts.get(value) or r.money(p, position + 1, i, "the adjustment amount")
            quantity = p[position + 2]
            adjustments.append(Adjustment(group, reason, amount,
                                          r.number(p, position + 2, i, "the adjustment quantity") if quantity
                                          else None))

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

    def _amt(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        target = self.line if self.line is not None else self.claim
        if target is not None:
            target.amounts[p[1]] = self.r.money(p, 2, i, "the amount")

    def _qty(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        if self.line is None and self.claim is not None:
            self.claim.quantities[p[1]] = self.r.number(p, 2, i, "the quantity")

    def _procedure(self, p: list[str], position: int, i: int) -> ProcedureCode | None:
        value = p[position]
        if not value:
            return None
        parts = value.split(self.component)
        if len(parts) < 2 or not parts[1]:
            raise self.r.error(f"the procedure composite has no procedure code (found {value[:12]!r})", p, i,
                               position)
        return ProcedureCode(parts[0], parts[1], tuple(m for m in parts[2:6] if m),
                             parts[6] if len(parts) > 6 and parts[6] else None)

    def _svc(self, p: list[str], i: int) -> None:
        if len(p) < 8:
            p = p + _PAD[:8 - len(p)]
        claim = self.claim
        r = self.r
        if claim is None:
            raise r.error("a service line outside a claim", p, i)
        adjudicated = self._procedure(p, 1, i)
        if adjudicated is None:
            raise r.error("the procedure composite is missing", p, i, 1)
        line = ServiceLine(adjudicated, r.money(p, 2, i, "the line charge"), r.money(p, 3, i, "the line payment"),
                           p[4] or None, r.number(p, 5, i, "the units paid") if p[5] else None,
                           self._procedure(p, 6, i), r.number(p, 7, i, "the units submitted") if p[7] else None,
                           segment=i)
        claim.lines.append(line)
        self.line = line

    def _lq(self, p: list[str], i: int) -> None:
        if len(p) < 3:
            p = p + _PAD[:3 - len(p)]
        if self.line is not None and p[1] == "HE" and p[2]:
            self.line.remarks.append(p[2])

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


# plain functions, not bound methods kept on the parser: a parser holding its own bound methods is a reference
# cycle, and a finished remittance would then wait for the cyclic collector to be freed
_HANDLERS = {
    "BPR": Remit835Parser._bpr, "TRN": Remit835Parser._trn, "N1": Remit835Parser._n1,
    "REF": Remit835Parser._ref, "DTM": Remit835Parser._dtm, "LX": Remit835Parser._lx,
    "CLP": Remit835Parser._clp, "CAS": Remit835Parser._cas, "NM1": Remit835Parser._nm1,
    "MOA": Remit835Parser._moa, "MIA": Remit835Parser._mia, "AMT": Remit835Parser._amt,
    "QTY": Remit835Parser._qty, "SVC": Remit835Parser._svc, "LQ": Remit835Parser._lq,
    "PLB": Remit835Parser._plb,
}
