"""Working the unmatched-remittance queue by hand: a claim payment whose PCN named no claim of ours (a payer
that cut or changed CLP01, a claim billed outside claimbridge) is matched to the claim a person names, and is
then posted exactly as if the PCN had matched: status, lines, denials, ClaimResponse.

The claim payment is read again from the kept file (the bytes are under ``WORKDIR/inbound``), so nothing
about it has to be re-entered; the row keeps its id, and the audit log records who matched it and why.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from claimbridge.claims.denials import CodeLists
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.errors import FatalError
from claimbridge.posting.remittance import RemittanceOutcome, _Classifier, _Known, _Posting
from claimbridge.store.models import (
    AuditEntry,
    Claim,
    ClaimVersion,
    Denial,
    InboundFile,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    StoredEncounter,
)
from claimbridge.x12.responses import Remittance835, iter_transactions

__all__ = ["match_by_hand"]


def match_by_hand(session: Session, remittance_claim_id: int, pcn: str, *, reason: str, actor: str,
                  recorder: StatusRecorder, codes: CodeLists) -> dict:
    """Match unmatched claim payment ``remittance_claim_id`` to the claim version numbered ``pcn`` and post
    it. Raises :class:`FatalError` naming what is wrong (not in the queue, unknown PCN, file gone)."""
    from claimbridge.claims import results

    row = session.get(RemittanceClaim, remittance_claim_id)
    if row is None:
        raise FatalError(f"no claim payment {remittance_claim_id}; `claimbridge remits unmatched` lists the queue")
    if row.match != "unmatched":
        raise FatalError(f"claim payment {remittance_claim_id} is not in the unmatched queue (it is {row.match})")
    known = _load(session, pcn.strip().upper())
    remittance = session.get(Remittance, row.remittance_id)
    parsed, index = _reread(session, remittance, row)
    payment = parsed.claims[index]
    outcome = RemittanceOutcome(remittance.payer_key, remittance.trace_number)
    posting = _Posting(session, remittance.file_id, parsed, recorder, _Classifier(codes), outcome,
                       results.claim_response, None)
    posting.remittance_id = remittance.id
    claim_rows, line_rows, denial_rows, links, line_links = [], [], [], [], []
    identifier = f"{remittance.payer_key}/{remittance.trace_number}/{index + 1}"
    posting._claim(0, payment, known, identifier, claim_rows, line_rows, denial_rows, links, line_links)
    new = claim_rows[0]
    note = f"matched by hand to {known.pcn} by {actor}: {reason}"
    if new["match"] != "matched":  # a reversal whose payment is not posted stays in the queue
        raise FatalError(f"claim payment {remittance_claim_id} is a reversal and claim {known.pcn} has no posted "
                         f"payment for it to reverse")
    session.execute(update(RemittanceClaim).where(RemittanceClaim.id == row.id).values(
        claim_id=known.claim_id, version=known.version, outcome=new["outcome"], match="matched", match_note=note,
        fhir=new["fhir"]))
    line_ids = list(session.execute(select(RemittanceLine.id).where(
        RemittanceLine.remittance_claim_id == row.id).order_by(RemittanceLine.id)).scalars())
    for line_id, line in zip(line_ids, line_rows, strict=True):
        session.execute(update(RemittanceLine).where(RemittanceLine.id == line_id).values(
            sequence=line["sequence"], matched_by=line["matched_by"]))
    for denial in denial_rows:
        denial.pop("_claim")
        line_index = denial.pop("_line")
        denial["remittance_claim_id"] = row.id
        denial["remittance_line_id"] = None if line_index is None else line_ids[line_index]
        session.add(Denial(**denial))
    for _, (_kind, target) in links:
        session.execute(update(RemittanceClaim).where(RemittanceClaim.id == row.id).values(reverses_id=target))
        session.execute(update(RemittanceClaim).where(RemittanceClaim.id == target).values(reversed_by_id=row.id))
    posting._write_statuses({known.pcn: known})
    session.add(AuditEntry(actor=actor, action="remittance_matched", claim_id=known.claim_id,
                           detail=f"claim payment {row.id} (CLP01 {row.pcn!r}, trace {remittance.trace_number}) "
                                  f"matched to {known.pcn}: {reason}"))
    return {"claim_payment": row.id, "pcn": known.pcn, "outcome": new["outcome"],
            "status": known.status, "denials": len(denial_rows)}


def _load(session: Session, pcn: str) -> _Known:
    query = (select(ClaimVersion.id, ClaimVersion.claim_id, ClaimVersion.version, ClaimVersion.pcn,
                    ClaimVersion.status, ClaimVersion.fhir, ClaimVersion.payer_claim_number, Claim.current_version,
                    StoredEncounter.source, StoredEncounter.key)
             .join(Claim, Claim.id == ClaimVersion.claim_id)
             .join(StoredEncounter, StoredEncounter.id == Claim.encounter_id).where(ClaimVersion.pcn == pcn))
    found = session.execute(query).first()
    if found is None:
        raise FatalError(f"no claim version has PCN {pcn}; `claimbridge claims list` shows them")
    known = _Known(*found)
    known.original_status, known.original_payer_claim_number = known.status, known.payer_claim_number
    return known


def _reread(session: Session, remittance: Remittance, row: RemittanceClaim) -> tuple[Remittance835, int]:
    inbound = session.get(InboundFile, remittance.file_id)
    path = Path(inbound.stored_path or "")
    if not path.is_file():
        raise FatalError(f"the file this payment came in ({inbound.name}) is no longer at {path}; it is needed to "
                         f"post the payment")
    for tx in iter_transactions(path, name=inbound.name):
        if (isinstance(tx, Remittance835) and tx.control_number[:9] == remittance.control_number
                and tx.payment.trace_number.strip() == remittance.trace_number):
            for index, payment in enumerate(tx.claims):
                if payment.segment == row.segment:
                    return tx, index
    raise FatalError(f"claim payment {row.id} was not found again in {inbound.name} (segment {row.segment})")
