"""Posting one 835 transaction set: a remittance, its claim payments, lines, provider adjustments, denials.

Each CLP finds its claim version by the patient control number we sent (CLP01 = CLM01); each SVC finds the
claim item by its line item control number (REF*6R), else by the code as submitted (SVC06, else SVC01) and
the date of service. What the payer decided becomes the claim's status:

======================  =======================================================================
CLP02                   outcome and claim status
======================  =======================================================================
1, 2, 3                 ``paid``; ``partially_paid`` when part of the charge was denied (an
                        adjustment that is neither contractual nor the patient's share);
                        ``denied`` when nothing was paid and something was denied
4                       ``denied``
19, 20, 21              ``forwarded`` (recorded), the claim's status from the money as above
22                      ``reversal``: the earlier posting of that claim is marked reversed and the
                        claim becomes ``reversed``; its open denials are closed
23                      ``not_ours`` (recorded, the claim keeps its status)
25                      ``predetermination`` (recorded, nothing paid)
======================  =======================================================================

A CLP whose PCN names no claim of ours (or a reversal of a payment never posted here) is kept whole in the
unmatched-remittance queue (``match = unmatched``), never dropped. Every denied adjustment of a matched claim
goes to the denial work queue, classified by :mod:`claimbridge.claims.denials`.

Writes are set-based (one INSERT … RETURNING per table and transaction set) so a large 835 posts at
thousands of claims a second; claim status changes go through :class:`StatusRecorder` like everywhere else.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from claimbridge.claims.denials import CodeLists, DenialClass
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.money import claim_to_json
from claimbridge.claims.results import PostedClaimResponse
from claimbridge.claims.states import TRANSITIONS, ClaimStatus, StatusChange
from claimbridge.posting.acks import ACTOR
from claimbridge.store.models import (
    Claim,
    ClaimEvent,
    ClaimVersion,
    Denial,
    ProviderAdjustmentRow,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    StoredEncounter,
    utcnow,
)
from claimbridge.x12.responses import Adjustment, ClaimPayment, Remittance835

__all__ = ["RemittanceOutcome", "payer_key_of", "post_835"]

_ZERO = Decimal(0)
_CHUNK = 500
_FORWARDED = {"19", "20", "21"}
_STATUS_OF = {"paid": ClaimStatus.PAID, "partially_paid": ClaimStatus.PARTIALLY_PAID,
              "denied": ClaimStatus.DENIED}


@dataclass
class RemittanceOutcome:
    """What posting one transaction set did; ``remittance_id`` None when it was already posted."""

    payer_key: str
    trace_number: str
    remittance_id: int | None = None
    duplicate: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    billed: Decimal = _ZERO
    paid: Decimal = _ZERO
    adjusted: Decimal = _ZERO
    patient_responsibility: Decimal = _ZERO
    payment_reconciliation: dict | None = None
    claims: list[PostedClaimResponse] = field(default_factory=list)


@dataclass(slots=True)
class _Known:
    """A claim version a CLP may name, loaded once per transaction set (columns, not ORM objects: posting
    writes its status changes set-based at the end)."""

    version_id: int
    claim_id: int
    version: int
    pcn: str
    status: str
    fhir_text: str | None
    payer_claim_number: str | None
    current_version: int
    source: str
    encounter_key: str
    original_status: str = ""
    original_payer_claim_number: str | None = None
    _fhir: dict | None = None

    @property
    def fhir(self) -> dict | None:
        if self._fhir is None and self.fhir_text:
            self._fhir = json.loads(self.fhir_text)  # identifiers and items only: no money is read from it
        return self._fhir


def payer_key_of(remittance: Remittance835) -> str:
    """TRN03 (the payer's id for the payment), else the payer's N104, else its name: with the trace number,
    what makes a payment unique."""
    payment, payer = remittance.payment, remittance.payer
    return ((payment.payer_id or payer.id or payer.name or "unknown").strip().upper())[:80]


def _adjustments_json(adjustments: list[Adjustment]) -> str:
    if not adjustments:
        return "[]"
    return json.dumps([{"group": a.group, "reason": a.reason, "amount": str(a.amount),
                        "quantity": None if a.quantity is None else str(a.quantity)} for a in adjustments])


def _codes_json(codes: list[str]) -> str:
    return json.dumps(codes) if codes else "[]"


class _Classifier:
    """``classify`` with a cache: an 835 repeats the same few group/CARC/remark combinations."""

    def __init__(self, codes: CodeLists):
        self.codes = codes
        self.cache: dict[tuple, DenialClass] = {}

    def __call__(self, group: str, reason: str, remarks: tuple[str, ...]) -> DenialClass:
        key = (group, reason, remarks)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self.codes.classify(group, reason, remarks)
        return found


def post_835(session: Session, file_id: int, remittance: Remittance835, recorder: StatusRecorder,
             codes: CodeLists, *, build_results: bool = True, keep_results: bool = True,
             claim_response: Callable[..., dict] | None = None,
             payment_reconciliation: Callable[..., dict] | None = None) -> RemittanceOutcome:
    """Post ``remittance`` (already balanced) inside ``session``'s transaction.

    ``build_results``: make and store the FHIR ClaimResponses and PaymentReconciliation. ``keep_results``: also
    keep each ClaimResponse in the outcome for the ``remittance_posted`` hook (pass False when no plugin
    listens: a large 835 then does not hold every resource in memory)."""
    if build_results and (claim_response is None or payment_reconciliation is None):
        from claimbridge.claims import results

        claim_response = claim_response or results.claim_response
        payment_reconciliation = payment_reconciliation or results.payment_reconciliation
    payer_key, trace = payer_key_of(remittance), remittance.payment.trace_number.strip()
    outcome = RemittanceOutcome(payer_key, trace)
    already = session.execute(select(Remittance.id).where(Remittance.payer_key == payer_key,
                                                          Remittance.trace_number == trace)).first()
    if already is not None:
        outcome.duplicate = True
        outcome.counts = {"duplicate_remittances": 1}
        return outcome
    posting = _Posting(session, file_id, remittance, recorder, _Classifier(codes), outcome,
                       claim_response if build_results else None,
                       payment_reconciliation if build_results else None)
    posting.keep_results = keep_results
    collecting = gc.isenabled()
    gc.disable()  # thousands of small dicts and rows, no cycles: the collector would only rescan them
    try:
        return posting.run()
    finally:
        if collecting:
            gc.enable()


class _Posting:
    def __init__(self, session: Session, file_id: int, remittance: Remittance835, recorder: StatusRecorder,
                 classify: _Classifier, outcome: RemittanceOutcome, claim_response, payment_reconciliation):
        self.session, self.file_id, self.remittance = session, file_id, remittance
        self.recorder, self.classify, self.outcome = recorder, classify, outcome
        self.claim_response, self.payment_reconciliation = claim_response, payment_reconciliation
        self.counts = dict.fromkeys(("claims", "matched", "unmatched", "paid", "partially_paid", "denied",
                                     "reversed", "forwarded", "not_ours", "lines", "lines_unmatched",
                                     "denials", "provider_adjustments"), 0)
        self.taken: set[tuple[str, int]] = set()  # postings already claimed by a reversal
        self.events: list[dict] = []
        self.now = utcnow()
        self.keep_results = True

    # -- the whole transaction set ---------------------------------------------------------------------

    def run(self) -> RemittanceOutcome:
        r, session = self.remittance, self.session
        payment = r.payment
        row = Remittance(
            file_id=self.file_id, payer_key=self.outcome.payer_key, trace_number=self.outcome.trace_number,
            payer_name=(r.payer.name or "")[:100], payee_name=(r.payee.name or "")[:100],
            payee_id=r.payee.npi or r.payee.tax_id or r.payee.id, control_number=r.control_number[:9],
            amount=payment.signed_amount, method=payment.method[:3], payment_date=payment.date,
            claim_count=len(r.claims), total_charge=sum((c.charge for c in r.claims), _ZERO),
            total_paid=sum((c.paid for c in r.claims), _ZERO),
            provider_adjustment_total=sum((a.amount for a in r.provider_adjustments), _ZERO))
        session.add(row)
        session.flush()  # also writes what acknowledgments earlier in the file changed through the ORM
        self.remittance_id = row.id
        known = self._load_claims()
        claim_rows, line_rows, denial_rows, links, line_links = [], [], [], [], []
        identifiers = []
        for index, cp in enumerate(r.claims):
            identifier = f"{self.outcome.payer_key}/{self.outcome.trace_number}/{index + 1}"
            identifiers.append(identifier)
            self._claim(index, cp, known.get(cp.patient_control_number.strip().upper()), identifier,
                        claim_rows, line_rows, denial_rows, links, line_links)
        claim_ids = self._insert(RemittanceClaim, claim_rows)
        for line, (claim_index, _) in zip(line_rows, line_links, strict=True):
            line["remittance_claim_id"] = claim_ids[claim_index]
        line_ids = self._insert(RemittanceLine, line_rows)
        for denial in denial_rows:
            claim_index, line_index = denial.pop("_claim"), denial.pop("_line")
            denial["remittance_claim_id"] = claim_ids[claim_index]
            denial["remittance_line_id"] = None if line_index is None else line_ids[line_index]
        if denial_rows:
            session.execute(insert(Denial.__table__), denial_rows)
        self._link_reversals(links, claim_ids)
        self._write_statuses(known)
        if r.provider_adjustments:
            session.execute(insert(ProviderAdjustmentRow.__table__), [
                {"remittance_id": row.id, "provider_id": a.provider_id[:80], "fiscal_date": a.fiscal_period_date,
                 "reason": a.reason[:2], "reference": (a.reference or None) and a.reference[:80],
                 "amount": a.amount} for a in r.provider_adjustments])
            self.counts["provider_adjustments"] = len(r.provider_adjustments)
        if self.payment_reconciliation is not None:
            resource = self.payment_reconciliation(r, identifier=f"{self.outcome.payer_key}/"
                                                   f"{self.outcome.trace_number}",
                                                   response_identifiers=identifiers)
            row.fhir = claim_to_json(resource, compact=True)
            self.outcome.payment_reconciliation = resource
        self.counts["denials"] = len(denial_rows)
        self.outcome.remittance_id = row.id
        self.outcome.counts = {k: v for k, v in self.counts.items()}
        self.outcome.counts["remittances"] = 1
        return self.outcome

    def _insert(self, table, rows: list[dict]) -> list[int]:
        """INSERT ``rows`` with ids handed out first, so it is one ``executemany`` (an INSERT … RETURNING that
        must keep the rows' order runs row by row on SQLite)."""
        if not rows:
            return []
        ids = self._allocate_ids(table, len(rows))
        for ident, row in zip(ids, rows, strict=True):
            row["id"] = ident
        self.session.execute(insert(table.__table__), rows)
        return ids

    def _allocate_ids(self, table, count: int) -> list[int]:
        core = table.__table__
        if self.session.get_bind().dialect.name == "postgresql":
            sequence = text(f"SELECT nextval(pg_get_serial_sequence('{core.name}', 'id')) "
                            f"FROM generate_series(1, :count)")
            return [ident for (ident,) in self.session.execute(sequence, {"count": count})]
        # SQLite: one writer at a time (transactions begin IMMEDIATE), so the next ids are ours
        start = self.session.execute(select(func.max(core.c.id))).scalar() or 0
        return list(range(start + 1, start + count + 1))

    def _load_claims(self) -> dict[str, _Known]:
        pcns = sorted({cp.patient_control_number.strip().upper() for cp in self.remittance.claims})
        known: dict[str, _Known] = {}
        for start in range(0, len(pcns), _CHUNK):
            chunk = pcns[start:start + _CHUNK]
            query = (select(ClaimVersion.id, ClaimVersion.claim_id, ClaimVersion.version, ClaimVersion.pcn,
                            ClaimVersion.status, ClaimVersion.fhir, ClaimVersion.payer_claim_number,
                            Claim.current_version, StoredEncounter.source, StoredEncounter.key)
                     .join(Claim, Claim.id == ClaimVersion.claim_id)
                     .join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
                     .where(ClaimVersion.pcn.in_(chunk)))
            for row in self.session.execute(query):
                found = _Known(*row)
                found.original_status, found.original_payer_claim_number = found.status, found.payer_claim_number
                known[found.pcn] = found
        return known

    # -- one claim payment -----------------------------------------------------------------------------

    def _claim(self, index: int, cp: ClaimPayment, known: _Known | None, identifier: str,
               claim_rows: list, line_rows: list, denial_rows: list, links: list, line_links: list) -> None:
        counts, out = self.counts, self.outcome
        counts["claims"] += 1
        out.billed += cp.charge
        out.paid += cp.paid
        out.patient_responsibility += cp.patient_responsibility or _ZERO
        claim_remarks = tuple(cp.remarks)
        judged = self._judge(cp, claim_remarks)
        match, note = ("matched", None) if known else (
            "unmatched", "no claim of ours has this patient control number")
        reverses = None
        if judged == "reversal" and known is not None:
            reverses = self._reversed_posting(known, cp, claim_rows)
            if reverses is None:
                match, note = "unmatched", "a reversal of a payment that was never posted here"
        sequences = self._match_lines(cp, known) if known is not None else [None] * len(cp.lines)
        row = {
            "remittance_id": self.remittance_id, "claim_id": known.claim_id if known else None,
            "version": known.version if known else None,
            "pcn": cp.patient_control_number.strip()[:38], "status_code": cp.status_code[:2],
            "outcome": judged, "charge": cp.charge, "paid": cp.paid,
            "patient_responsibility": cp.patient_responsibility or _ZERO, "allowed": _allowed(cp),
            "payer_claim_number": (cp.payer_claim_control_number or None) and cp.payer_claim_control_number[:50],
            "adjustments": _adjustments_json(cp.adjustments), "remarks": _codes_json(cp.remarks),
            "match": match, "match_note": note, "reverses_id": None, "reversed_by_id": None, "fhir": None,
            "segment": cp.segment,
        }
        if reverses is not None:
            links.append((index, reverses))
        if self.claim_response is not None:
            resource = self.claim_response(cp, self.remittance, outcome=judged if known else "unmatched",
                                           claim=known.fhir if known else None,
                                           line_sequences=[s[0] if s else None for s in sequences],
                                           identifier=identifier)
            row["fhir"] = claim_to_json(resource, compact=True)
            if self.keep_results:
                out.claims.append(PostedClaimResponse(known.claim_id if known else None, cp.patient_control_number,
                                              known.source if known else None,
                                              known.encounter_key if known else None, judged, resource))
        claim_rows.append(row)
        for number, (line, sequence) in enumerate(zip(cp.lines, sequences, strict=True)):
            counts["lines"] += 1
            counts["lines_unmatched"] += sequence is None
            line_links.append((index, number))
            line_rows.append({
                "sequence": sequence[0] if sequence else None,
                "matched_by": sequence[1] if sequence else "none",
                "procedure": line.adjudicated.code[:48], "modifiers": " ".join(line.adjudicated.modifiers)[:20],
                "charge": line.charge, "paid": line.paid, "allowed": line.allowed,
                "units": None if line.units is None else str(line.units)[:15],
                "control_number": (line.control_number or None) and line.control_number[:50],
                "service_date": line.service_date or cp.statement_start,
                "adjustments": _adjustments_json(line.adjustments), "remarks": _codes_json(line.remarks),
            })
        if known is None:
            counts["unmatched"] += 1
            return
        counts["matched"] += 1
        if match == "matched" and judged != "reversal":
            self._queue_denials(index, cp, known, claim_remarks, denial_rows, len(line_rows) - len(cp.lines))
        out.adjusted += sum((a.amount for a in cp.adjustments), _ZERO) + sum(
            (a.amount for line in cp.lines for a in line.adjustments), _ZERO)
        self._apply_status(cp, known, judged, match)

    def _judge(self, cp: ClaimPayment, claim_remarks: tuple[str, ...], code: str | None = None) -> str:
        """The outcome of ``cp``; ``code`` stands in for CLP02 (a forwarded claim is judged as CLP02 1)."""
        code = code or cp.status_code
        if code == "22":
            return "reversal"
        if code == "23":
            return "not_ours"
        if code == "25":
            return "predetermination"
        denied = _ZERO
        for adjustment in cp.adjustments:
            if self.classify(adjustment.group, adjustment.reason, claim_remarks).is_denial:
                denied += adjustment.amount
        for line in cp.lines:
            remarks = tuple(line.remarks) or claim_remarks
            for adjustment in line.adjustments:
                if self.classify(adjustment.group, adjustment.reason, remarks).is_denial:
                    denied += adjustment.amount
        if code in _FORWARDED:
            return "forwarded"
        if code == "4" or (cp.paid == 0 and denied > 0):
            return "denied"
        return "partially_paid" if denied > 0 else "paid"

    def _apply_status(self, cp: ClaimPayment, known: _Known, judged: str, match: str) -> None:
        if cp.payer_claim_control_number and judged != "not_ours":
            known.payer_claim_number = cp.payer_claim_control_number[:50]
        if judged in ("not_ours", "predetermination"):
            self.counts["not_ours"] += judged == "not_ours"
            return
        trace = self.outcome.trace_number
        if judged == "reversal":
            if match == "matched" and self._move(known, ClaimStatus.REVERSED,
                                                 f"835 {trace}: the payer reversed its payment"):
                self.counts["reversed"] += 1
            return
        if judged == "forwarded":
            self.counts["forwarded"] += 1
            judged = self._judge(cp, tuple(cp.remarks), code="1")  # the status follows the money
        self.counts[judged] += 1
        target = _STATUS_OF[judged]
        if known.status == ClaimStatus.BATCHED:  # answered before the sender's bookkeeping: it arrived
            self._move(known, ClaimStatus.SUBMITTED, "delivered: the payer's 835 answered it")
        if known.status == ClaimStatus.SUBMITTED and target not in TRANSITIONS[ClaimStatus.SUBMITTED]:
            self._move(known, ClaimStatus.ACCEPTED, "accepted into adjudication (the payer's 835 answered it)")
        self._move(known, target, f"835 {trace}: charge {cp.charge}, paid {cp.paid}, patient responsibility "
                                  f"{cp.patient_responsibility or _ZERO}")

    def _move(self, known: _Known, new: ClaimStatus, reason: str) -> bool:
        """A status change the lifecycle allows, kept for :meth:`_write_statuses`; False when it stays."""
        old = ClaimStatus(known.status)
        if old == new or new not in TRANSITIONS[old]:
            return False
        known.status = new.value
        self.events.append({"claim_id": known.claim_id, "version": known.version, "from_status": old.value,
                            "to_status": new.value, "actor": ACTOR, "reason": reason, "at": self.now})
        self.recorder.changes.append(StatusChange(claim_id=known.claim_id, pcn=known.pcn, version=known.version,
                                                  old=old, new=new, actor=ACTOR, reason=reason, at=self.now))
        return True

    def _write_statuses(self, known: dict[str, _Known]) -> None:
        changed = [k for k in known.values()
                   if k.status != k.original_status or k.payer_claim_number != k.original_payer_claim_number]
        if not changed:
            return
        versions, claims = ClaimVersion.__table__, Claim.__table__
        self.session.execute(
            update(versions).where(versions.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), payer_claim_number=bindparam("b_number")),
            [{"b_id": k.version_id, "b_status": k.status, "b_number": k.payer_claim_number} for k in changed])
        current = [k for k in changed if k.current_version == k.version and k.status != k.original_status]
        if current:
            self.session.execute(
                update(claims).where(claims.c.id == bindparam("b_id"))
                .values(status=bindparam("b_status"), pcn=bindparam("b_pcn"), updated_at=bindparam("b_at")),
                [{"b_id": k.claim_id, "b_status": k.status, "b_pcn": k.pcn, "b_at": self.now} for k in current])
        if self.events:
            self.session.execute(insert(ClaimEvent.__table__), self.events)

    # -- lines, denials, reversals ---------------------------------------------------------------------

    def _match_lines(self, cp: ClaimPayment, known: _Known) -> list[tuple[int, str] | None]:
        items = (known.fhir or {}).get("item") or []
        by_control: dict[str, int] = {}
        by_code_date: dict[tuple[str, str], list[int]] = {}
        for item in items:
            sequence = item.get("sequence")
            for extension in item.get("extension") or ():
                if extension.get("url", "").endswith("line-control-number") and extension.get("valueString"):
                    by_control[extension["valueString"].upper()] = sequence
            coding = ((item.get("productOrService") or {}).get("coding") or [{}])[0]
            served = item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start") or ""
            by_code_date.setdefault((coding.get("code", ""), served), []).append(sequence)
        used: set[int] = set()
        found: list[tuple[int, str] | None] = []
        for line in cp.lines:
            sequence = None
            if line.control_number:
                sequence = by_control.get(line.control_number.strip().upper())
                how = "control_number"
            if sequence is None or sequence in used:
                code = (line.submitted or line.adjudicated).code
                served = line.service_date or cp.statement_start
                candidates = by_code_date.get((code, served.isoformat() if served else ""), [])
                sequence = next((s for s in candidates if s not in used), None)
                how = "code_and_date"
            if sequence is None:
                found.append(None)
                continue
            used.add(sequence)
            found.append((sequence, how))
        return found

    def _queue_denials(self, index: int, cp: ClaimPayment, known: _Known, claim_remarks: tuple[str, ...],
                       denial_rows: list, first_line: int) -> None:
        def queue(adjustment: Adjustment, remarks: tuple[str, ...], line_index: int | None) -> None:
            if adjustment.amount <= 0:
                return
            judged = self.classify(adjustment.group, adjustment.reason, remarks)
            if not judged.is_denial:
                return
            denial_rows.append({
                "_claim": index, "_line": line_index, "claim_id": known.claim_id, "group": adjustment.group[:2],
                "reason": adjustment.reason[:5], "remarks": " ".join(remarks)[:200], "amount": adjustment.amount,
                "category": judged.category, "action": judged.action, "explanation": judged.explanation,
                "status": "open"})

        for adjustment in cp.adjustments:
            queue(adjustment, claim_remarks, None)
        for number, line in enumerate(cp.lines):
            remarks = tuple(line.remarks) or claim_remarks
            for adjustment in line.adjustments:
                queue(adjustment, remarks, first_line + number)

    def _reversed_posting(self, known: _Known, cp: ClaimPayment, claim_rows: list) -> tuple[str, int] | None:
        """The posting this reversal undoes: the latest one of the claim not reversed yet (same payer claim
        number when both have one), in this transaction set first, then in the store."""
        wanted = cp.payer_claim_control_number
        for position in range(len(claim_rows) - 1, -1, -1):
            row = claim_rows[position]
            if (row["claim_id"] == known.claim_id and row["outcome"] != "reversal"
                    and ("new", position) not in self.taken
                    and (not wanted or not row["payer_claim_number"] or row["payer_claim_number"] == wanted)):
                self.taken.add(("new", position))
                return ("new", position)
        query = (select(RemittanceClaim.id, RemittanceClaim.payer_claim_number)
                 .where(RemittanceClaim.claim_id == known.claim_id, RemittanceClaim.outcome != "reversal",
                        RemittanceClaim.reversed_by_id.is_(None), RemittanceClaim.match == "matched")
                 .order_by(RemittanceClaim.id.desc()))
        for ident, number in self.session.execute(query):
            if ("db", ident) in self.taken:
                continue
            if not wanted or not number or number == wanted:
                self.taken.add(("db", ident))
                return ("db", ident)
        return None

    def _link_reversals(self, links: list, claim_ids: list[int]) -> None:
        for index, (kind, target) in links:
            reversal_id = claim_ids[index]
            original_id = claim_ids[target] if kind == "new" else target
            self.session.execute(update(RemittanceClaim).where(RemittanceClaim.id == reversal_id)
                                 .values(reverses_id=original_id))
            self.session.execute(update(RemittanceClaim).where(RemittanceClaim.id == original_id)
                                 .values(reversed_by_id=reversal_id))
            self.session.execute(update(Denial).where(Denial.remittance_claim_id == original_id,
                                                      Denial.status == "open")
                                 .values(status="resolved", resolution="reversed_by_payer",
                                         resolved_by="claimbridge/responses"))


def _allowed(cp: ClaimPayment) -> Decimal | None:
    """The claim's allowed amount: AMT*B6 of every line when each line has one."""
    if cp.lines and all(line.allowed is not None for line in cp.lines):
        return sum((line.allowed for line in cp.lines), _ZERO)
    return None


