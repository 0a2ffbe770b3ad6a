"""270/271 transactions in the JSON of ``claimbridge x12 parse FILE --json`` (the contract in
:mod:`claimbridge.x12.responses.as_json`: money a string with at least two decimals, percent and quantities
the file's decimal as written, dates ISO, absent values null).

A 271: ``{"type": "271", "control_number", "version", "interchange_control_number", "reference", "date",
"purpose", ...the first answer..., "responses": [every answer]}``. A real-time 271 answers one patient; the
fields of that answer (``level``, ``trace_numbers``, ``payer``, ``provider``, ``subscriber``, ``dependent``,
``coverage``, ``plan_number``, ``group_number``, ``dates``, ``benefits``, ``rejections``, ``mental_health``)
are repeated at the top so readers of single answers need not look into ``responses``.

Each benefit: ``{"code", "words", "service_types", "coverage_level", "in_network", "time_period", "amount",
"percent", "quantity", "quantity_qualifier", "authorization_required", "messages", "dates", "entities", …}``;
each rejection: ``{"code", "words", "action", "action_words", "loop", "valid"}``.

Personal data is never printed: the subscriber and dependent appear with their entity code and id qualifier
only (no names, member ids or birth dates); match an answer to its inquiry by ``trace_numbers``.
"""

from __future__ import annotations

from typing import Any

from claimbridge.x12.eligibility.model import (
    Benefit,
    BenefitDate,
    Eligibility270,
    Eligibility271,
    EligibilityResponse,
    Limit,
    Party,
    Rejection,
)
from claimbridge.x12.responses._values import format_decimal, format_money

__all__ = ["eligibility_270_json", "eligibility_271_json", "response_json"]


def eligibility_271_json(tx: Eligibility271) -> dict[str, Any]:
    answers = [response_json(r) for r in tx.responses]
    head = {"type": "271", "control_number": tx.control_number, "version": tx.version,
            "interchange_control_number": tx.interchange_control_number, "reference": tx.reference,
            "date": tx.date.isoformat() if tx.date else None, "purpose": tx.purpose}
    return head | (answers[0] if answers else response_json(EligibilityResponse())) | {"responses": answers}


def eligibility_270_json(tx: Eligibility270) -> dict[str, Any]:
    return {"type": "270", "control_number": tx.control_number, "version": tx.version,
            "interchange_control_number": tx.interchange_control_number, "reference": tx.reference,
            "date": tx.date.isoformat() if tx.date else None, "purpose": tx.purpose,
            "inquiries": [{"trace_number": q.trace_number, "payer": {"id": q.payer.id, "name": q.payer.name},
                           "provider": {"npi": q.provider.npi, "name": q.provider.name},
                           "level": "dependent" if q.dependent else "subscriber",
                           "service_date": q.service_date.isoformat() if q.service_date else None,
                           "service_types": list(q.service_types)} for q in tx.inquiries]}


def response_json(r: EligibilityResponse) -> dict[str, Any]:
    return {
        "level": r.level,
        "trace_numbers": [{"type": t.type, "number": t.number, "originator": t.originator}
                          for t in r.trace_numbers],
        "payer": _organisation(r.payer), "provider": _organisation(r.provider),
        "subscriber": _member(r.subscriber), "dependent": _member(r.dependent),
        "coverage": r.coverage_status, "rejected": r.rejected, "plan_number": r.plan_number, "group_number": r.group_number,
        "dates": [_date(d) for d in r.dates],
        "benefits": [_benefit(b) for b in r.benefits],
        "rejections": [_rejection(rj) for rj in r.rejections],
        "mental_health": _mental_health(r) if r.benefits else None,
    }


def _organisation(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"entity": party.entity, "name": party.name, "first_name": party.first_name,
            "id_qualifier": party.id_qualifier, "id": party.id,
            "contacts": [{"function": c.function, "name": c.name, "numbers": dict(c.numbers)}
                         for c in party.contacts]}


def _member(party: Party | None) -> dict[str, Any] | None:
    return None if party is None else {"entity": party.entity, "id_qualifier": party.id_qualifier}


def _date(d: BenefitDate) -> dict[str, Any]:
    return {"qualifier": d.qualifier, "start": d.start.isoformat() if d.start else None,
            "end": d.end.isoformat() if d.end else None}


def _rejection(rj: Rejection) -> dict[str, Any]:
    return {"code": rj.code, "words": rj.words, "action": rj.action, "action_words": rj.action_words,
            "loop": rj.loop, "valid": rj.valid}


def _benefit(b: Benefit) -> dict[str, Any]:
    return {
        "code": b.code, "words": b.words, "service_types": list(b.service_types),
        "service_type_words": b.service_type_words, "coverage_level": b.coverage_level,
        "coverage_level_words": b.coverage_level_words, "insurance_type": b.insurance_type,
        "plan_description": b.plan_description, "in_network": b.in_network, "network_code": b.network_code,
        "time_period": b.time_period, "time_period_words": b.time_period_words,
        "amount": format_money(b.amount), "percent": format_decimal(b.percent),
        "quantity": format_decimal(b.quantity), "quantity_qualifier": b.quantity_qualifier,
        "authorization_required": b.authorization_required, "procedure": b.procedure,
        "dates": [_date(d) for d in b.dates], "messages": list(b.messages),
        "deliveries": [{"quantity_qualifier": d.quantity_qualifier, "quantity": format_decimal(d.quantity),
                        "unit": d.unit, "time_period": d.time_period,
                        "period_count": format_decimal(d.period_count)} for d in b.deliveries],
        "entities": [_organisation(e.party) | {"entity_words": e.entity_words} for e in b.entities],
        "rejections": [_rejection(rj) for rj in b.rejections],
    }


def _limit(limit: Limit, money: bool = True) -> dict[str, Any]:
    fmt = format_money if money else format_decimal
    return {"total": fmt(limit.total), "remaining": fmt(limit.remaining), "used": fmt(limit.used)}


def _mental_health(r: EligibilityResponse) -> dict[str, Any]:
    """What the helpers of :class:`EligibilityResponse` read for the default mental-health service types."""
    return {
        "status": r.mental_health_status(),
        "copay": {"in_network": format_money(r.copay(True)), "out_of_network": format_money(r.copay(False))},
        "coinsurance": {"in_network": format_decimal(r.coinsurance(True)),
                        "out_of_network": format_decimal(r.coinsurance(False))},
        "deductible": {"in_network": _limit(r.deductible(True)), "out_of_network": _limit(r.deductible(False))},
        "out_of_pocket": {"in_network": _limit(r.out_of_pocket(True)),
                          "out_of_network": _limit(r.out_of_pocket(False))},
        "visits": _limit(r.visits(), money=False),
        "prior_authorization_required": r.prior_authorization_required(),
        "carve_outs": [{"service_types": list(c.service_types), "code": c.code,
                        "entity": _organisation(c.entity)} for c in r.carve_outs()],
    }
