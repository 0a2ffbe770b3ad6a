"""How a pipeline summary reads on a terminal (or as one JSON object)."""

from __future__ import annotations

import json

import click


def print_summary(data: dict, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    for source in data["sources"]:
        line = (f"source {source['name']}: {source['read']} read, {source['new']} new, "
                f"{source['changed']} changed, {source['quarantined']} quarantined")
        click.echo(line + (f" — FAILED: {source['error']}" if source["error"] else ""))
    click.echo(f"encounters pulled: {data['encounters_pulled']}")
    click.echo(f"claims built:      {data['claims_built']}")
    if data.get("not_billable"):
        click.echo(f"not billed:        {data['not_billable']} (missed appointments the payer is not billed for)")
    click.echo(f"claims held:       {len(data['claims_held'])}")
    for held in data["claims_held"]:
        where = f" ({held['encounter']})" if held.get("encounter") else ""
        click.echo(f"  {held['pcn']}{where}: {held['reason']}")
    click.echo(f"batches:           {len(data['batches'])}")
    for batch in data["batches"]:
        note = " (already on the server; not sent again)" if batch["already_present"] else ""
        click.echo(f"  {batch['file_name']}: {batch['claims']} claims, {batch['status']}, ISA13 "
                   f"{batch['isa13']:09d} GS06 {batch['gs06']} ST02 {batch['st02']:04d}{note}")
        if batch.get("error"):
            click.echo(f"    {batch['error']}")
    click.echo(f"files sent:        {data['files_sent']} ({data['claims_sent']} claims)")
    for path in data.get("received_files", []):
        click.echo(f"  received by the sandbox: {path}")
    responses = data.get("responses")
    if responses is not None:
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(responses["by_status"].items()))
        click.echo(f"responses fetched: {responses['files']}" + (f" ({by_status})" if by_status else ""))
        counts = responses["counts"]
        if responses["files"]:
            click.echo(f"  acknowledgments {counts.get('acknowledgments', 0)}, claims accepted "
                       f"{counts.get('claims_accepted', 0)}, rejected {counts.get('claims_rejected', 0)}; "
                       f"remittances {counts.get('remittances', 0)} covering {counts.get('claims', 0)} claim "
                       f"payments")
    revenue = data.get("revenue")
    if revenue is not None and revenue["remittances"]:
        outcomes = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(revenue["outcomes"].items()))
        click.echo(f"money (all remittances, {revenue['claims_adjudicated']} claims: {outcomes}):")
        for label, key in (("billed", "billed"), ("paid", "paid"), ("adjusted", "adjusted"),
                           ("patient responsibility", "patient_responsibility"),
                           ("provider adjustments", "provider_adjustments"), ("received", "received")):
            click.echo(f"  {label + ':':<24}{revenue[key]:>12}")
        if revenue["unmatched_claim_payments"]:
            click.echo(f"  unmatched claim payments: {revenue['unmatched_claim_payments']} (claimbridge remits "
                       f"unmatched)")
        if revenue["open_denials"]:
            click.echo("denials to work (by category):")
            for row in revenue["open_denials"]:
                click.echo(f"  {row['category']:<24}{row['count']:>4}  {row['amount']:>10}")
    checked = data.get("eligibility")
    if checked is not None:
        click.echo(f"eligibility:       {checked['appointments']} upcoming session(s), {checked['inquiries_sent']} "
                   f"asked (270); {len(checked['at_risk'])} at risk")
        for row in checked["at_risk"]:
            when = (row["appointment_start"] or row["service_date"] or "")[:16].replace("T", " ") + " UTC"
            click.echo(f"  {when}  {row['payer_id'] or '-':<8} {', '.join(row['risk_words'])}: "
                       f"{'; '.join(row['reasons'])}")
    for error in data["errors"]:
        click.echo(f"error: {error}", err=True)
    for hint in data.get("next_steps", []):
        click.echo(hint)
