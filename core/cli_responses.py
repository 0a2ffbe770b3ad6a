"""``claimbridge responses …``: fetch acknowledgments and remittances, post a file by hand, list what came."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import func, select


def _runtime():
    """The runtime of the ``claimbridge`` command this subcommand runs under (its root context object)."""
    return click.get_current_context().find_root().obj.runtime()


@click.group()
def responses() -> None:
    """Acknowledgments (TA1, 999, 277CA) and remittances (835) from clearinghouses."""


@responses.command("fetch")
@click.option("--clearinghouse", "names", multiple=True, help="only this clearinghouse (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
def responses_fetch(names: tuple[str, ...], as_json: bool) -> None:
    """Fetch every waiting response file, post it exactly once, archive it."""
    from claimbridge.inbound import fetch_responses

    with _runtime() as runtime:
        summary = fetch_responses(runtime, clearinghouse_names=list(names) or None,
                                  progress=None if as_json else click.echo)
    _print_summary(summary.to_dict(), as_json)
    if not summary.ok:
        sys.exit(1)


@responses.command("post")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clearinghouse", default="manual", show_default=True,
              help="the name to record as where the files came from")
@click.option("--json", "as_json", is_flag=True)
def responses_post(files: tuple[Path, ...], clearinghouse: str, as_json: bool) -> None:
    """Post response files from disk (a TA1, 999, 277CA or 835 received some other way). Same rules as
    fetching: a file or payment seen before posts nothing; a broken or unbalanced file is quarantined."""
    from claimbridge.inbound import FetchSummary, receive_file

    summary = FetchSummary()
    with _runtime() as runtime:
        for path in files:
            outcome = receive_file(runtime, clearinghouse, path.name, path.read_bytes())
            summary.files.append(outcome)
            if not as_json:
                click.echo(f"{path.name}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
    _print_summary(summary.to_dict(), as_json)
    if any(f.status == "quarantined" for f in summary.files):
        sys.exit(1)


@responses.command("reprocess")
@click.argument("file_id", metavar="ID", type=int)
@click.option("--actor", envvar="USER", default="biller", show_default="$USER",
              help="who decides (recorded in the audit log)")
@click.option("--json", "as_json", is_flag=True)
def responses_reprocess(file_id: int, actor: str, as_json: bool) -> None:
    """Post a quarantined file again from its kept copy, once what refused it (a code list, a check) is fixed;
    a file that still fails stays quarantined with the new reason."""
    from claimbridge.inbound import reprocess_file

    with _runtime() as runtime:
        outcome = reprocess_file(runtime, file_id, actor=actor)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), default=str))
    else:
        click.echo(f"{outcome.name}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
    if outcome.status != "posted":
        sys.exit(1)


@responses.command("list")
@click.option("--status", help="only files in this status (posted, quarantined)")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def responses_list(status: str | None, limit: int, as_json: bool) -> None:
    """Inbound files, newest first, with what became of them."""
    from claimbridge.store.models import InboundDelivery, InboundFile

    with _runtime() as runtime, runtime.store.transaction() as session:
        deliveries = func.count(InboundDelivery.id)
        query = (select(InboundFile, deliveries).outerjoin(InboundDelivery, InboundDelivery.file_id == InboundFile.id)
                 .group_by(InboundFile.id).order_by(InboundFile.id.desc()).limit(limit))
        if status:
            query = query.where(InboundFile.status == status)
        rows = [{"id": f.id, "name": f.name, "clearinghouse": f.clearinghouse, "kinds": f.kinds or "",
                 "status": f.status, "received_at": f.received_at.isoformat(), "deliveries": n,
                 "error": f.error, "summary": json.loads(f.summary) if f.summary else None}
                for f, n in session.execute(query)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no response files yet")
        return
    for row in rows:
        seen = f" ×{row['deliveries']}" if row["deliveries"] > 1 else ""
        click.echo(f"{row['id']:>6}  {row['status']:<12} {row['kinds']:<12} {row['clearinghouse']:<12} "
                   f"{row['name']}{seen}")
        if row["error"]:
            click.echo(f"        {row['error']}")


@responses.command("show")
@click.argument("file_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def responses_show(file_id: int, as_json: bool) -> None:
    """One inbound file: its deliveries, pyx12 findings, acknowledgments and remittances."""
    from claimbridge.errors import FatalError
    from claimbridge.store.models import Acknowledgment, InboundDelivery, InboundFile, Remittance

    with _runtime() as runtime, runtime.store.transaction() as session:
        row = session.get(InboundFile, file_id)
        if row is None:
            raise FatalError(f"no inbound file {file_id}; `claimbridge responses list` shows them")
        data = {
            "id": row.id, "name": row.name, "clearinghouse": row.clearinghouse, "sha256": row.sha256,
            "size": row.size, "kinds": row.kinds, "status": row.status, "stored_path": row.stored_path,
            "error": row.error, "summary": json.loads(row.summary) if row.summary else None,
            "validation": json.loads(row.validation) if row.validation else [],
            "deliveries": [{"name": d.name, "clearinghouse": d.clearinghouse, "at": d.at.isoformat(),
                            "duplicate": d.duplicate} for d in session.execute(
                select(InboundDelivery).where(InboundDelivery.file_id == file_id).order_by(InboundDelivery.id)
            ).scalars()],
            "acknowledgments": [{"kind": a.kind, "reference": a.reference, "outcome": a.outcome,
                                 "detail": a.detail, "matched": a.matched,
                                 "payer_claim_number": a.payer_claim_number} for a in session.execute(
                select(Acknowledgment).where(Acknowledgment.file_id == file_id).order_by(Acknowledgment.id)
            ).scalars()],
            "remittances": [{"id": r.id, "payer": r.payer_name, "payer_key": r.payer_key,
                             "trace_number": r.trace_number, "amount": str(r.amount), "claims": r.claim_count}
                            for r in session.execute(select(Remittance).where(Remittance.file_id == file_id)
                                                     .order_by(Remittance.id)).scalars()],
        }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"file {data['id']}: {data['name']} from {data['clearinghouse']} — {data['status']} "
               f"({data['kinds'] or 'unknown'}, {data['size']} bytes)")
    click.echo(f"  kept at {data['stored_path']}")
    if data["error"]:
        click.echo(f"  reason: {data['error']}")
    for delivery in data["deliveries"]:
        click.echo(f"  delivered {delivery['at']} as {delivery['name']}"
                   + (" (re-delivery: nothing posted)" if delivery["duplicate"] else ""))
    if data["validation"]:
        click.echo(f"  pyx12: {len(data['validation'])} finding(s)")
        for problem in data["validation"][:20]:
            click.echo(f"    {problem['severity']}: segment {problem['segment']} {problem['segment_id'] or ''} "
                       f"{problem['element'] or ''}: {problem['message']}")
    for ack in data["acknowledgments"]:
        click.echo(f"  {ack['kind']} {ack['reference']}: {ack['outcome']} — {ack['detail']}")
    for remit in data["remittances"]:
        click.echo(f"  835 remittance {remit['id']}: {remit['payer']} trace {remit['trace_number']} "
                   f"{remit['amount']} for {remit['claims']} claim(s)")


def _print_summary(data: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(data["by_status"].items())) or "none"
    click.echo(f"files: {data['files']} ({by_status})")
    counts = {k: v for k, v in data["counts"].items() if v}
    if counts:
        click.echo("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items())))
    if data["money"]:
        click.echo("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data["money"].items()))
    for error in data["errors"]:
        click.echo(f"  error: {error}", err=True)
