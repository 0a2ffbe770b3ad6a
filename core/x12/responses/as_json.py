"""The JSON contract of ``claimbridge x12 parse FILE --json`` (other tools depend on it exactly).

``{"file": ..., "transactions": [...]}``; each transaction has ``"type"``: ``"835"``, ``"999"`` (or
``"997"``), ``"277CA"`` (or ``"277"`` for a 005010X212 claim status response), ``"271"`` (eligibility response; see
:func:`claimbridge.x12.eligibility.as_json.eligibility_271_json`), ``"270"`` (our own inquiries read back),
``"TA1"``, or the ST01 of a transaction claimbridge does not read (with ``"supported": false``).

Money is a JSON string holding the exact decimal of the file normalised to at least two decimals
(``"150000"`` → ``"150000.00"``, ``"-1.27"`` stays, a third decimal is kept, never rounded); quantities (units,
CAS quantities) are strings holding the file's decimal as written; dates are ISO ``"YYYY-MM-DD"``; absent
values are ``null``. Personal data (patient and insured names and ids, IK404 bad values) is never printed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from claimbridge.x12.eligibility.as_json import eligibility_270_json, eligibility_271_json
from claimbridge.x12.eligibility.model import Eligibility270, Eligibility271
from claimbridge.x12.responses._values import format_decimal, format_money
from claimbridge.x12.responses.acks import Ack999, TA1Ack, group_error_meaning, set_error_meaning
from claimbridge.x12.responses.codes import CAS_GROUPS
from claimbridge.x12.responses.model835 import Adjustment, ProcedureCode, Remittance835, ServiceLine
from claimbridge.x12.responses.parse import ParsedFile, Transaction
from claimbridge.x12.responses.status277 import Status, StatusReport

__all__ = ["file_to_json", "transaction_to_json"]


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def file_to_json(parsed: ParsedFile) -> dict[str, Any]:
    return {"file": parsed.name, "transactions": [transaction_to_json(t) for t in parsed.transactions]}


def transaction_to_json(tx: Transaction) -> dict[str, Any]:
    if isinstance(tx, Remittance835):
        return _remittance(tx)
    if isinstance(tx, Ack999):
        return _ack999(tx)
    if isinstance(tx, StatusReport):
        return _status_report(tx)
    if isinstance(tx, Eligibility271):
        return eligibility_271_json(tx)
    if isinstance(tx, Eligibility270):
        return eligibility_270_json(tx)
    if isinstance(tx, TA1Ack):
        return {"type": "TA1", "control_number": tx.control_number, "date": _date(tx.date),
                "time": tx.time.strftime("%H:%M") if tx.time else None, "code": tx.code,
                "code_meaning": tx.code_meaning, "accepted": tx.accepted, "note_code": tx.note_code,
                "note": tx.note, "interchange_control_number": tx.interchange_control_number}
    return {"type": tx.type, "control_number": tx.control_number, "version": tx.version, "supported": False,
            "interchange_control_number": tx.interchange_control_number}


def _adjustment(a: Adjustment) -> dict[str, Any]:
    return {"group": a.group, "group_meaning": CAS_GROUPS.get(a.group), "reason": a.reason,
            "amount": format_money(a.amount), "quantity": format_decimal(a.quantity)}


def _code(code: ProcedureCode | None) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"qualifier": code.qualifier, "procedure": code.code, "modifiers": list(code.modifiers)}


def _line(line: ServiceLine) -> dict[str, Any]:
    return {"procedure": line.procedure, "qualifier": line.adjudicated.qualifier,
            "modifiers": list(line.modifiers), "charge": format_money(line.charge), "paid": format_money(line.paid),
            "units": format_decimal(line.units), "revenue_code": line.revenue_code, "submitted": _code(line.submitted),
            "original_units": format_decimal(line.original_units), "service_date": _date(line.service_date),
            "service_end_date": _date(line.service_end), "control_number": line.control_number,
            "allowed": format_money(line.allowed),
            "adjustments": [_adjustment(a) for a in line.adjustments], "remarks": list(line.remarks)}


def _remittance(tx: Remittance835) -> dict[str, Any]:
    p = tx.payment
    return {
        "type": "835", "control_number": tx.control_number, "version": tx.version,
        "interchange_control_number": tx.interchange_control_number,
        "group_control_number": tx.group_control_number,
        "payment": {"amount": format_money(p.amount), "method": p.method, "date": _date(p.date),
                    "trace_number": p.trace_number, "payer_id": p.payer_id, "credit_debit": p.credit_debit,
                    "handling_code": p.handling_code},
        "production_date": _date(tx.production_date),
        "payer": {"name": tx.payer.name, "id_qualifier": tx.payer.id_qualifier, "id": tx.payer.id},
        "payee": {"name": tx.payee.name, "npi": tx.payee.npi, "tax_id": tx.payee.tax_id,
                  "id_qualifier": tx.payee.id_qualifier, "id": tx.payee.id},
        "claims": [{
            "patient_control_number": c.patient_control_number, "status_code": c.status_code,
            "status": c.status, "charge": format_money(c.charge), "paid": format_money(c.paid),
            "patient_responsibility": format_money(c.patient_responsibility),
            "payer_claim_control_number": c.payer_claim_control_number,
            "claim_filing_indicator": c.filing_indicator, "facility_code": c.facility_code,
            "frequency_code": c.frequency_code, "statement_start": _date(c.statement_start),
            "statement_end": _date(c.statement_end), "received_date": _date(c.received_date),
            "original_reference_number": c.original_reference_number,
            "rendering_provider_id": c.rendering_provider_id,
            "amounts": {k: format_money(v) for k, v in c.amounts.items()},
            "remarks": list(c.remarks),
            "adjustments": [_adjustment(a) for a in c.adjustments],
            "lines": [_line(line) for line in c.lines],
        } for c in tx.claims],
        "provider_adjustments": [{"provider_id": a.provider_id, "fiscal_period_date": _date(a.fiscal_period_date),
                                  "reason": a.reason, "reference": a.reference, "amount": format_money(a.amount)}
                                 for a in tx.provider_adjustments],
    }


def _ack999(tx: Ack999) -> dict[str, Any]:
    status = tx.group_status
    return {
        "type": tx.type, "control_number": tx.control_number, "version": tx.version,
        "interchange_control_number": tx.interchange_control_number,
        "group": {"functional_id": tx.functional_id, "control_number": tx.group_control_number,
                  "version": tx.group_version},
        "sets": [{
            "type": s.type, "control_number": s.control_number, "version": s.version, "status": s.status,
            "status_meaning": s.status_meaning, "accepted": s.accepted,
            "syntax_errors": [{"code": c, "meaning": set_error_meaning(c)} for c in s.syntax_errors],
            "errors": [{
                "segment_id": e.segment_id, "position": e.position, "loop": e.loop, "code": e.code,
                "meaning": e.meaning, "claim_id": e.claim_id, "context": list(e.context),
                "elements": [{"position": el.position, "component": el.component, "repetition": el.repetition,
                              "data_element": el.data_element, "code": el.code, "meaning": el.meaning}
                             for el in e.elements],
            } for e in s.segment_errors],
        } for s in tx.sets],
        "group_status": None if status is None else {
            "code": status.code, "meaning": status.meaning, "included": status.included,
            "received": status.received, "accepted": status.accepted,
            "errors": [{"code": c, "meaning": group_error_meaning(c)} for c in status.errors]},
    }


def _status(s: Status) -> dict[str, Any]:
    return {"codes": [{"category": c.category, "category_meaning": c.category_meaning, "status": c.status,
                       "entity": c.entity, "outcome": c.outcome} for c in s.codes],
            "date": _date(s.date), "action": s.action, "charge": format_money(s.charge),
            "paid": format_money(s.paid), "message": s.message}


def _status_report(tx: StatusReport) -> dict[str, Any]:
    return {
        "type": tx.type, "control_number": tx.control_number, "version": tx.version,
        "interchange_control_number": tx.interchange_control_number, "reference": tx.reference,
        "date": _date(tx.date),
        "levels": [{"level": lv.level, "name": lv.name, "id_qualifier": lv.id_qualifier, "id": lv.id,
                    "trace_numbers": list(lv.trace_numbers), "statuses": [_status(s) for s in lv.statuses],
                    "quantities": {k: format_decimal(v) for k, v in lv.quantities.items()},
                    "amounts": {k: format_money(v) for k, v in lv.amounts.items()}} for lv in tx.levels],
        "claims": [{
            "patient_control_number": c.patient_control_number, "trace_number": c.trace_number,
            "payer_claim_control_number": c.payer_claim_control_number,
            "clearinghouse_trace_number": c.clearinghouse_trace_number, "bill_type": c.bill_type,
            "billing_provider_id": c.billing_provider_id, "outcome": c.outcome,
            "total_charge": format_money(c.total_charge), "service_start": _date(c.service_start),
            "service_end": _date(c.service_end), "statuses": [_status(s) for s in c.statuses],
            "lines": [{"procedure": ln.procedure, "modifiers": list(ln.modifiers),
                       "charge": format_money(ln.charge), "paid": format_money(ln.paid),
                       "control_number": ln.control_number, "service_start": _date(ln.service_start),
                       "service_end": _date(ln.service_end), "statuses": [_status(s) for s in ln.statuses]}
                      for ln in c.lines],
        } for c in tx.claims],
    }
