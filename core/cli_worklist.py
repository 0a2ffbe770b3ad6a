"""``claimbridge remits …`` and ``claimbridge denials …``: what payers paid, and the denials to work.

Text output is for a terminal (aligned columns, money with two decimals); ``--json`` is for programs (money
as strings holding the exact decimal, dates in ISO 8601).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import click

from claimbridge.claims.denials import ACTIONS, CATEGORIES

#: ``denials resolve --as`` choices (``claimbridge.claims.worklist.RESOLUTIONS``; kept here so the command
#: line starts without loading the store)
RESOLVE_AS = ("appeal", "write_off", "bill_patient", "rebill_other_payer", "dismiss")
_CENT = Decimal("0.01")
_actor = click.option("--actor", envvar="USER", default="biller", show_default="$USER",
                      help="who decides (recorded in the audit log)")
_json_flag = click.option("--json", "as_json", is_flag=True, help="one JSON document (money as strings)")


@click.group()
def remits() -> None:
    """Posted remittances (835) and the unmatched-remittance queue."""


@click.group()
def denials() -> None:
    """The denial work queue: each denial with its category and next action."""


# -- denials ------------------------------------------------------------------------------------------------------


@denials.command("list")
@click.option("--status", type=click.Choice(["open", "resolved", "all"]), default="open", show_default=True)
@click.option("--category", type=click.Choice(CATEGORIES), help="only this category")
@click.option("--action", type=click.Choice(ACTIONS), help="only this next action")
@click.option("--payer", help="payer id, or part of the payer's name")
@click.option("--claim", "pcn", help="PCN of any version of the claim")
@_json_flag
@click.pass_obj
def denials_list(obj, status: str, category: str | None, action: str | None, payer: str | None,
                 pcn: str | None, as_json: bool) -> None:
    """Denials oldest first, with totals by category."""
    from claimbridge.claims.worklist import list_denials

    with obj.runtime() as runtime:
        queue = list_denials(runtime.store, status=None if status == "all" else status, category=category,
                             action=action, payer=payer, claim=pcn)
    if as_json:
        _echo_json(queue.to_dict())
        return
    if not queue.rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}denials")
        return
    rows = [[f"#{r['id']}", f"{r['created_at']:%Y-%m-%d}", r["resolution"] or r["status"], r["category"],
             r["action"], " ".join([r["code"], *r["remarks"]]), _money(r["amount"]), r["pcn"], r["payer"]]
            for r in queue.rows]
    _table(["ID", "DATE", "STATUS", "CATEGORY", "ACTION", "CODES", "AMOUNT", "PCN", "PAYER"], rows, right={6})
    click.echo("")
    click.echo("totals by category:")
    _table(["CATEGORY", "COUNT", "AMOUNT"],
           [[name, str(t["count"]), _money(t["amount"])] for name, t in queue.totals.items()], right={1, 2},
           indent="  ")


@denials.command("show")
@click.argument("denial_id", metavar="ID", type=int)
@_json_flag
@click.pass_obj
def denials_show(obj, denial_id: int, as_json: bool) -> None:
    """One denial: claim, payer, amounts, codes with their texts, what to do, and the claim's history."""
    from claimbridge.claims.denials import code_lists_for
    from claimbridge.claims.worklist import show_denial

    with obj.runtime() as runtime:
        d = show_denial(runtime.store, denial_id, codes=code_lists_for(runtime.config_path))
    if as_json:
        _echo_json(d)
        return
    state = d["status"] if d["status"] == "open" else (f"resolved: {d['resolution']} by {d['resolved_by']} on "
                                                        f"{d['resolved_at']:%Y-%m-%d}")
    if d["replacement_version"]:
        state += f" (replacement version {d['replacement_version']})"
    claim = d["claim"]
    echo = click.echo
    echo(f"denial #{d['id']} — {state}")
    if d["claim_id"] is None:
        echo(f"claim:       PCN {claim['pcn']} as sent; matched no claim (`claimbridge remits unmatched`)")
    else:
        echo(f"claim:       {d['pcn']} version {d['version']}, {d['claim_status']}"
             + (f"; now at {claim['current_pcn']} ({claim['current_status']})"
                if claim["current_pcn"] != d["pcn"] else ""))
    echo(f"payer:       {d['payer']} ({d['payer_key']}), trace {d['trace_number']}"
         + (f", paid on {d['payment_date']:%Y-%m-%d}" if d["payment_date"] else "")
         + f"; payer claim number {claim['payer_claim_number'] or '—'}")
    echo(f"amounts:     denied {_money(d['amount'])}; claim charge {_money(claim['charge'])}, paid "
         f"{_money(claim['paid'])}, patient responsibility {_money(claim['patient_responsibility'])}"
         + (f", allowed {_money(claim['allowed'])}" if claim["allowed"] is not None else ""))
    if d["line"]:
        line = d["line"]
        echo(f"line:        {' '.join([line['procedure'], *line['modifiers']])}"
             + (f" on {line['service_date']:%Y-%m-%d}" if line["service_date"] else "")
             + f": charge {_money(line['charge'])}, paid {_money(line['paid'])}")
    echo(f"code:        {d['code']}: {d['carc_text']}")
    for text in d["remark_texts"]:
        echo(f"remark:      {text}")
    echo(f"category:    {d['category']}")
    echo(f"next action: {d['action']}")
    echo(f"what to do:  {d['explanation']}")
    for warning in d["warnings"]:
        echo(f"note:        {warning}")
    if d["other_denials"]:
        echo("")
        echo("other denials of this claim payment:")
        for other in d["other_denials"]:
            echo(f"  #{other['id']} {other['code']} {_money(other['amount'])} {other['category']} "
                 f"({other['resolution'] or other['status']})")
    if d["history"]:
        echo("")
        echo("history:")
        for entry in d["history"]:
            version = f" v{entry['version']}" if entry["version"] else ""
            echo(f"  {entry['at']:%Y-%m-%d %H:%M:%S}{version} {entry['actor']}: {entry['what']}")
    if d["status"] == "open":
        echo("")
        echo(f"work it: claimbridge denials resolve {d['id']} --as {{{','.join(RESOLVE_AS)}}} --reason …"
             f"  |  claimbridge denials resubmit {d['id']}")


@denials.command("resolve")
@click.argument("denial_id", metavar="ID", type=int)
@click.option("--as", "resolution", type=click.Choice(RESOLVE_AS), required=True, help="what was done")
@click.option("--reason", required=True, help="why, or what was sent (kept in the claim's history)")
@_actor
@click.pass_obj
def denials_resolve(obj, denial_id: int, resolution: str, reason: str, actor: str) -> None:
    """Record what was done about a denial: an appeal or a bill to another payer was sent, the balance was
    written off or billed to the patient, or the denial is dismissed."""
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import resolve_denial

    recorder = StatusRecorder()
    with obj.runtime() as runtime:
        with runtime.store.transaction() as session:
            done = resolve_denial(session, denial_id, resolution=resolution, reason=reason, actor=actor,
                                  recorder=recorder)
        recorder.announce(runtime.plugins)
    claim = f"claim {done.pcn} is {done.claim_status}" if done.claim_status else f"PCN {done.pcn} matched no claim"
    also = [f"#{i}" for i in done.resolved if i != done.denial_id]
    click.echo(f"denial #{done.denial_id}: {done.resolution.replace('_', ' ')}; {claim}"
               + (f"; also resolved {', '.join(also)}" if also else ""))


@denials.command("resubmit")
@click.argument("denial_id", metavar="ID", type=int)
@click.option("--reason", default="", help="what was corrected (kept in the claim's history)")
@_actor
@click.pass_obj
def denials_resubmit(obj, denial_id: int, reason: str, actor: str) -> None:
    """Correct and resubmit: a replacement claim (frequency 7, REF*F8 = the payer's claim number) built from
    the encounter as stored now, scrubbed, and sent with the next sync when it is ready. Fix the encounter
    in the EHR and let a sync pull it first."""
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import resubmit_denial

    recorder = StatusRecorder()
    with obj.runtime() as runtime:
        with runtime.store.transaction() as session:
            done = resubmit_denial(session, denial_id, settings=runtime.settings, plugins=runtime.plugins,
                                   reviewer=runtime.reviewer(), recorder=recorder, actor=actor, reason=reason)
            new, old = done.replacement.version, done.replacement.replaced
            summary = (f"denial #{done.denial_id}: {new.pcn} (version {new.version}, frequency {new.frequency}) "
                       f"replaces {old.pcn}")
            if done.replacement.ready:
                after = "it is ready and leaves with the next sync"
            else:
                after = (f"it is held: {done.replacement.review.hold_reason()}; see `claimbridge claims held`")
            corrected = f"{old.pcn} is {old.status}"
        recorder.announce(runtime.plugins)
    also = [f"#{i}" for i in done.resolved if i != done.denial_id]
    click.echo(f"{summary}; {after}; {corrected}" + (f"; also resolved {', '.join(also)}" if also else ""))


# -- remittances --------------------------------------------------------------------------------------------------


@remits.command("list")
@_json_flag
@click.pass_obj
def remits_list(obj, as_json: bool) -> None:
    """Posted remittances, newest payment first."""
    from claimbridge.claims.worklist import list_remittances

    with obj.runtime() as runtime:
        rows = list_remittances(runtime.store)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no remittances posted")
        return
    _table(["ID", "PAID ON", "PAYER", "TRACE", "METHOD", "AMOUNT", "CLAIMS", "FILE"],
           [[f"#{r['id']}", _day(r["payment_date"]), _payer(r), r["trace_number"], r["method"],
             _money(r["amount"]), str(r["claim_count"]), r["file"]] for r in rows], right={5, 6})


@remits.command("show")
@click.argument("remittance_id", metavar="ID", type=int)
@_json_flag
@click.pass_obj
def remits_show(obj, remittance_id: int, as_json: bool) -> None:
    """One remittance: each claim with its outcome, amounts and adjustments, and the provider adjustments."""
    from claimbridge.claims.worklist import show_remittance

    with obj.runtime() as runtime:
        r = show_remittance(runtime.store, remittance_id)
    if as_json:
        _echo_json(r)
        return
    echo = click.echo
    echo(f"remittance #{r['id']} — {_payer(r)} to {r['payee_name'] or r['payee_id'] or '—'}")
    echo(f"payment:  {_money(r['amount'])} by {r['method']} on {_day(r['payment_date'])}, trace "
         f"{r['trace_number']}")
    echo(f"claims:   {r['claim_count']} (charged {_money(r['total_charge'])}, paid {_money(r['total_paid'])}); "
         f"provider adjustments {_money(r['provider_adjustment_total'])}")
    echo(f"file:     {r['file']} (ST02 {r['control_number']})")
    if r["claims"]:
        echo("")
        _table(["ID", "PCN", "OUTCOME", "CHARGE", "PAID", "PATIENT", "ALLOWED", "PAYER CLAIM #"],
               [[f"#{c['id']}", c["pcn"], _outcome(c),
                 _money(c["charge"]), _money(c["paid"]), _money(c["patient_responsibility"]),
                 _money(c["allowed"]), c["payer_claim_number"] or "—"] for c in r["claims"]], right={3, 4, 5, 6})
        for c in r["claims"]:
            details = [f"claim {_adjustment_text(c['adjustments'])}"] if c["adjustments"] else []
            details += [f"line {' '.join([line['procedure'], *line['modifiers']])}: charge "
                        f"{_money(line['charge'])}, paid {_money(line['paid'])}"
                        + (f"; {_adjustment_text(line['adjustments'])}" if line["adjustments"] else "")
                        + (f"; remarks {' '.join(line['remarks'])}" if line["remarks"] else "")
                        for line in c["lines"]]
            if c["remarks"]:
                details.append(f"claim remarks {' '.join(c['remarks'])}")
            if details:
                echo(f"  #{c['id']} {c['pcn']}:")
                for detail in details:
                    echo(f"      {detail}")
    if r["provider_adjustments"]:
        echo("")
        echo("provider adjustments (PLB; positive lowers the payment):")
        _table(["REASON", "REFERENCE", "AMOUNT", "PROVIDER", "FISCAL DATE"],
               [[p["reason"], p["reference"] or "—", _money(p["amount"]), p["provider_id"], _day(p["fiscal_date"])]
                for p in r["provider_adjustments"]], right={2}, indent="  ")


@remits.command("unmatched")
@_json_flag
@click.pass_obj
def remits_unmatched(obj, as_json: bool) -> None:
    """The unmatched-remittance queue: paid or denied claims whose PCN names no claim here."""
    from claimbridge.claims.worklist import unmatched_remittances

    with obj.runtime() as runtime:
        rows = unmatched_remittances(runtime.store)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no unmatched remittance claims")
        return
    _table(["ID", "PAYER", "TRACE", "PAID ON", "PCN AS SENT", "CLP02", "CHARGE", "PAID", "PATIENT", "PAYER CLAIM #"],
           [[f"#{r['id']}", _payer(r), r["trace_number"], _day(r["payment_date"]), r["pcn"], r["status_code"],
             _money(r["charge"]), _money(r["paid"]), _money(r["patient_responsibility"]),
             r["payer_claim_number"] or "—"] for r in rows], right={6, 7, 8})


@remits.command("dismiss")
@click.argument("remittance_claim_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="why it needs no posting (kept in the audit log)")
@_actor
@click.pass_obj
def remits_dismiss(obj, remittance_claim_id: int, reason: str, actor: str) -> None:
    """Take a claim off the unmatched-remittance queue (ID as `remits unmatched` shows it)."""
    from claimbridge.claims.worklist import dismiss_unmatched

    with obj.runtime() as runtime, runtime.store.transaction() as session:
        done = dismiss_unmatched(session, remittance_claim_id, reason=reason, actor=actor)
    dismissed = done["denials_dismissed"]
    click.echo(f"remittance claim #{done['id']} (PCN {done['pcn']} as sent) dismissed"
               + (f"; its denials {', '.join(f'#{i}' for i in dismissed)} too" if dismissed else ""))


@remits.command("match")
@click.argument("remittance_claim_id", metavar="ID", type=int)
@click.argument("pcn")
@click.option("--reason", required=True, help="why this payment belongs to that claim (kept in the audit log)")
@_actor
@click.pass_obj
def remits_match(obj, remittance_claim_id: int, pcn: str, reason: str, actor: str) -> None:
    """Match a claim payment from the unmatched queue (ID as `remits unmatched` shows it) to the claim version
    numbered PCN, and post it: status, lines, denials and ClaimResponse, as if the PCN had matched."""
    from claimbridge.claims.denials import code_lists_for
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.posting.manual import match_by_hand

    with obj.runtime() as runtime:
        recorder = StatusRecorder()
        with runtime.store.transaction() as session:
            done = match_by_hand(session, remittance_claim_id, pcn, reason=reason, actor=actor, recorder=recorder,
                                 codes=code_lists_for(runtime.config_path))
        recorder.announce(runtime.plugins)
    click.echo(f"remittance claim #{done['claim_payment']} matched to {done['pcn']} and posted: "
               f"{done['outcome'].replace('_', ' ')}; the claim is now {done['status'].replace('_', ' ')}"
               + (f"; {done['denials']} denial(s) queued" if done["denials"] else ""))


# -- formatting ---------------------------------------------------------------------------------------------------


def _money(amount: Decimal | None) -> str:
    return "—" if amount is None else f"{amount:,.2f}"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _outcome(remitted: dict) -> str:
    """``paid``, ``unmatched``, or ``unmatched (resolved)`` once a person dismissed it."""
    if remitted["match"] in ("matched", remitted["outcome"]):
        return remitted["outcome"]
    return f"{remitted['outcome']} ({remitted['match']})"


def _payer(row: dict) -> str:
    return row["payer"] or row["payer_key"]


def _adjustment_text(adjustments: list[dict]) -> str:
    return ", ".join(f"{a['group']}-{a['reason']} {_money(a['amount'])}" for a in adjustments)


def _table(headers: list[str], rows: list[list[str]], *, right: set[int] = frozenset(), indent: str = "") -> None:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                                  for i, (cell, width) in enumerate(zip(cells, widths, strict=True))).rstrip()

    click.echo(line(headers))
    for row in rows:
        click.echo(line(row))


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value.quantize(_CENT) if value.as_tuple().exponent > -2 else value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_value))
