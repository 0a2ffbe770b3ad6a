"""``claimbridge eligibility …``: insurance verification before each session (docs/eligibility.md).

The lists show the session's date, the source's appointment key, the payer and what the 271 said; the patient
is named by a key that carries no PHI. ``show`` prints the whole answer (plan, copay, deductible, visits …).
"""

from __future__ import annotations

import json
import time
from datetime import date

import click

from claimbridge.eligibility.assess import RISK_WORDS


@click.group()
def eligibility() -> None:
    """Insurance verification: 270 questions for upcoming sessions, the 271 answers, sessions at risk."""


def _line(row: dict) -> list[str]:
    when = (row["appointment_start"] or row["service_date"] or "")[:16].replace("T", " ") + " UTC"
    risks = ", ".join(RISK_WORDS.get(r, r) for r in row["risks"]) or "ok"
    head = f"#{row['id']:<6} {when:<16} {row['payer_id'] or '-':<10} {row['status']:<9} {risks}"
    lines = [head]
    if row["appointment"]:
        lines.append(f"        {row['source']} {row['appointment']}")
    lines += [f"        {reason}" for reason in row["reasons"]]
    return lines


@eligibility.command("list")
@click.option("--at-risk", is_flag=True, help="only sessions at risk (inactive, carve-out, no visits left …)")
@click.option("--all", "everything", is_flag=True, help="past sessions too (default: from today on)")
@click.option("--status", type=click.Choice(["pending", "sent", "answered", "rejected", "failed"]))
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.pass_obj
def eligibility_list(obj, at_risk: bool, everything: bool, status: str | None, limit: int, as_json: bool) -> None:
    """The latest check of each upcoming session, soonest first, with the reasons it is at risk."""
    from claimbridge.eligibility.service import list_checks
    from claimbridge.store.models import utcnow

    with obj.runtime() as runtime:
        rows = list_checks(runtime.store, at_risk=at_risk, status=status, limit=limit,
                           upcoming_from=None if everything else utcnow().date())
    if as_json:
        click.echo(json.dumps({"checks": rows}, indent=2))
        return
    if not rows:
        click.echo("no sessions at risk" if at_risk else "no eligibility checks")
        return
    for row in rows:
        for line in _line(row):
            click.echo(line)


@eligibility.command("show")
@click.argument("check_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eligibility_show(obj, check_id: int, as_json: bool) -> None:
    """One check: the question, the answer in words (plan, copay, coinsurance, deductible, visits, carve-outs)."""
    from claimbridge.eligibility.service import describe
    from claimbridge.store.models import EligibilityCheck

    with obj.runtime() as runtime:
        with runtime.store.transaction() as session:
            if session.get(EligibilityCheck, check_id) is None:
                raise click.ClickException(f"no eligibility check #{check_id}")
        row = describe(runtime, check_id)
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    for line in _line(row):
        click.echo(line)
    summary = row.get("summary") or {}
    if summary:
        click.echo(f"  coverage: {summary.get('coverage_status')}, mental health: "
                   f"{summary.get('mental_health_status')}; plan {summary.get('plan') or '-'}, group "
                   f"{summary.get('group') or '-'}")
        copay, coins = summary.get("copay") or {}, summary.get("coinsurance") or {}
        click.echo(f"  copay in/out of network: {copay.get('in_network') or '-'} / "
                   f"{copay.get('out_of_network') or '-'}; coinsurance: {coins.get('in_network') or '-'} / "
                   f"{coins.get('out_of_network') or '-'}")
        deductible = (summary.get("deductible") or {}).get("in_network") or {}
        click.echo(f"  deductible (in network): {deductible.get('total') or '-'} total, "
                   f"{deductible.get('remaining') or '-'} remaining")
        visits = summary.get("visits") or {}
        auth = {True: "required", False: "not required", None: "not said"}[summary.get("authorization_required")]
        click.echo(f"  visits: {visits.get('total') or '-'} allowed, {visits.get('remaining') or '-'} remaining; "
                   f"prior authorization: {auth}")
        for carve in summary.get("carve_outs") or ():
            click.echo(f"  carved out to {carve.get('name')} ({carve.get('id') or 'no id'}"
                       f"{', phone ' + carve['phone'] if carve.get('phone') else ''})")
        for rejection in summary.get("rejections") or ():
            click.echo(f"  rejected: {rejection.get('words') or rejection.get('code')}"
                       f"{' — ' + rejection['action_words'] if rejection.get('action_words') else ''}")


@eligibility.command("run")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eligibility_run(obj, as_json: bool) -> None:
    """Ask now about every upcoming session without a fresh answer (what the scheduled job does)."""
    from claimbridge.eligibility.service import check_upcoming

    with obj.runtime() as runtime:
        run = check_upcoming(runtime)
    if as_json:
        click.echo(json.dumps({**run.counts(), "batches": run.batches, "errors": run.errors}, indent=2))
    else:
        counts = run.counts()
        click.echo(f"{counts['appointments']} upcoming session(s): {counts['inquiries_asked']} asked, "
                   f"{counts['inquiries_fresh']} already answered or waiting, {counts['appointments_not_active']} "
                   f"cancelled, {counts['appointments_cannot_check']} cannot be checked")
        for batch in run.batches:
            click.echo(f"  270 batch #{batch['id']} {batch['file']}: {batch['inquiries']} inquiry(ies), "
                       f"{batch['status']}" + (f" ({batch['error']})" if batch["error"] else ""))
        for error in run.errors:
            click.echo(error, err=True)
    if run.errors:
        raise SystemExit(1)


@eligibility.command("check")
@click.option("--patient", required=True, help="the EHR's patient id (Patient/<id> or the bare id)")
@click.option("--payer", help="payer id (default: the patient's primary coverage)")
@click.option("--date", "service_date", type=click.DateTime(["%Y-%m-%d"]), help="date of service (default today)")
@click.option("--wait", type=click.IntRange(0, 3600), default=0, show_default=True,
              help="without a real-time transport: fetch responses for up to this many seconds for the answer")
@click.option("--actor", envvar="USER", default="cli", show_default="$USER")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def eligibility_check(obj, patient: str, payer: str | None, service_date, wait: int, actor: str,
                      as_json: bool) -> None:
    """One inquiry now, from the coverage of the patient's stored appointments."""
    from claimbridge.eligibility.service import check_now, describe
    from claimbridge.errors import ClaimbridgeError
    from claimbridge.inbound import fetch_responses

    day = service_date.date() if service_date else date.today()
    with obj.runtime() as runtime:
        try:
            row = check_now(runtime, patient=patient, payer=payer, service_date=day, actor=f"cli:{actor}")
        except ClaimbridgeError as exc:
            raise click.ClickException(str(exc)) from None
        deadline = time.monotonic() + wait
        while row["status"] in ("pending", "sent") and time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            fetch_responses(runtime, clearinghouse_names=[runtime.settings.eligibility.clearinghouse]
                            if runtime.settings.eligibility.clearinghouse else None)
            row = describe(runtime, row["id"])
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    for line in _line(row):
        click.echo(line)
    if row["status"] in ("pending", "sent"):
        click.echo("  sent; the answer comes with the next `claimbridge responses fetch` (or use --wait)")
