"""What a 271 answer means for one session: a summary a biller reads, and the reasons the session is at risk.

Risks (``RISKS``), each with a sentence saying why:

* ``inactive`` — coverage is not active on the date of service (EB01 6–8, or active dates that end before it);
* ``rejected`` — the payer could not answer (AAA: subscriber not found, invalid member id …), in words;
* ``carve_out`` — mental health is managed by another organisation (2120C/D names it): bill them instead;
* ``not_covered`` — the plan lists the mental-health service types as not covered (EB01 I);
* ``no_visits_left`` — the mental-health visit limit is used up;
* ``authorization_required`` — the payer wants prior authorization for the mental-health service types;
* ``patient_responsibility`` — the patient's share is above ``eligibility.responsibility_threshold``: the
  in-network copay, or the deductible still to meet (the smaller of the two is what a session costs at least).

Money is Decimal throughout; the summary carries it as exact strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from claimbridge.x12.eligibility.model import EligibilityResponse, Limit

__all__ = ["RISK_WORDS", "RISKS", "Assessment", "assess"]

RISKS = ("inactive", "rejected", "carve_out", "not_covered", "no_visits_left", "authorization_required",
         "patient_responsibility")
RISK_WORDS = {
    "inactive": "coverage inactive",
    "rejected": "payer could not answer",
    "carve_out": "mental health carved out",
    "not_covered": "mental health not covered",
    "no_visits_left": "no visits left",
    "authorization_required": "authorization required",
    "patient_responsibility": "high patient responsibility",
    "cannot_check": "cannot be checked",
    "no_answer": "no answer yet",
}


@dataclass
class Assessment:
    coverage_status: str
    summary: dict[str, Any]
    risks: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _limit(limit: Limit, money: bool = True) -> dict[str, str | None]:
    show = _money if money else (lambda v: None if v is None else f"{v.normalize():f}")
    return {"total": show(limit.total), "remaining": show(limit.remaining), "used": show(limit.used)}


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else f"{(value * 100).normalize():f}%"


def assess(response: EligibilityResponse, service_date: date | None, service_types: tuple[str, ...],
           threshold: Decimal) -> Assessment:
    """The summary and risks of ``response`` for a session on ``service_date`` asking about ``service_types``."""
    types = tuple(service_types)
    mh = response.mental_health_status(types)
    active = response.active_on(service_date) if service_date else None
    copay_in, copay_out = response.copay(True, types), response.copay(False, types)
    deductible = response.deductible(True, service_types=types)
    visits = response.visits(types)
    auth = response.prior_authorization_required(types)
    carve_outs = response.carve_outs(types)
    summary = {
        "coverage_status": response.coverage_status, "mental_health_status": mh,
        "active_on_service_date": active, "plan": response.plan_number, "group": response.group_number,
        "group_name": response.group_name,
        "copay": {"in_network": _money(copay_in), "out_of_network": _money(copay_out)},
        "coinsurance": {"in_network": _percent(response.coinsurance(True, types)),
                        "out_of_network": _percent(response.coinsurance(False, types))},
        "deductible": {"in_network": _limit(deductible),
                       "out_of_network": _limit(response.deductible(False, service_types=types))},
        "out_of_pocket": {"in_network": _limit(response.out_of_pocket(True, service_types=types))},
        "visits": _limit(visits, money=False),
        "authorization_required": auth,
        "carve_outs": [{"name": c.entity.name, "id": c.entity.id, "entity": c.entity.entity,
                        "service_types": list(c.service_types),
                        "phone": next((c2.numbers.get("TE") for c2 in c.entity.contacts if c2.numbers.get("TE")),
                                      None)} for c in carve_outs],
        "rejections": [{"code": r.code, "words": r.words, "action": r.action, "action_words": r.action_words,
                        "loop": r.loop} for r in response.rejections],
        "messages": response.messages(),
    }
    risks: list[str] = []
    reasons: list[str] = []

    def flag(risk: str, reason: str) -> None:
        if risk not in risks:
            risks.append(risk)
            reasons.append(reason)

    if response.rejected:
        said = "; ".join(f"{r.words or 'AAA ' + r.code}" + (f" ({r.action_words})" if r.action_words else "")
                         for r in response.rejections)
        flag("rejected", f"the payer could not answer: {said}")
    if active is False or response.coverage_status.startswith("inactive"):
        flag("inactive", f"coverage is not active on {service_date}" if service_date else "coverage is inactive")
    if mh == "carved_out":
        names = ", ".join(filter(None, (c["name"] for c in summary["carve_outs"]))) or "another organisation"
        flag("carve_out", f"mental health is managed by {names}: check eligibility and bill there")
    elif mh == "not_covered":
        flag("not_covered", "the plan does not cover the mental-health service types asked about")
    if visits.exhausted:
        used = f" ({visits.used.normalize():f} used)" if visits.used is not None else ""
        flag("no_visits_left", f"no mental-health visits left of {visits.total.normalize():f}{used}"
             if visits.total is not None else "no mental-health visits left")
    if auth:
        flag("authorization_required", "the payer requires prior authorization for these services")
    owes = [(what, amount) for what, amount in (("copay", copay_in), ("deductible still to meet",
                                                                       deductible.remaining))
            if amount is not None and amount > threshold]
    if owes:
        flag("patient_responsibility", "the patient's share is above $" + _money(threshold) + ": "
             + ", ".join(f"{what} ${_money(amount)}" for what, amount in owes))
    return Assessment(coverage_status=mh if mh != "unknown" else response.coverage_status, summary=summary,
                      risks=risks, reasons=reasons)
