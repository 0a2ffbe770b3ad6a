"""``claimbridge quarantine …``: the records and files a source could not use, kept whole with the reason.

The list shows where each came from (source, stream, the record key — for a file-based source the file and row
number), the field and the reason; none of that holds patient data. ``show`` prints the kept payload too (the
row's cells or the record as read), which may: it is for the person fixing the data.
"""

from __future__ import annotations

import json

import click

from claimbridge.store.models import QuarantinedRecord, utcnow


@click.group()
def quarantine() -> None:
    """Records and files a source could not use (each with the reason)."""


def _row(record: QuarantinedRecord) -> dict:
    return {"id": record.id, "source": record.source, "stream": record.stream, "record": record.record_key,
            "field": record.field, "reason": record.reason, "run_id": record.run_id,
            "created_at": record.created_at.isoformat() if record.created_at else None,
            "resolved_at": record.resolved_at.isoformat() if record.resolved_at else None}


@quarantine.command("list")
@click.option("--source", help="only this source")
@click.option("--all", "include_resolved", is_flag=True, help="also the records marked resolved")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.pass_obj
def quarantine_list(obj, source: str | None, include_resolved: bool, limit: int, as_json: bool) -> None:
    """Quarantined records, newest first: source, stream, record (file and row), field and reason."""
    from sqlalchemy import func, select

    with obj.runtime() as runtime, runtime.store.transaction() as session:
        query = select(QuarantinedRecord)
        counting = select(func.count(QuarantinedRecord.id))
        if source:
            query = query.where(QuarantinedRecord.source == source)
            counting = counting.where(QuarantinedRecord.source == source)
        if not include_resolved:
            query = query.where(QuarantinedRecord.resolved_at.is_(None))
            counting = counting.where(QuarantinedRecord.resolved_at.is_(None))
        total = session.execute(counting).scalar_one()
        rows = [_row(r) for r in session.execute(
            query.order_by(QuarantinedRecord.id.desc()).limit(limit)).scalars()]
    if as_json:
        click.echo(json.dumps({"total": total, "records": rows}))
        return
    if not rows:
        click.echo("nothing quarantined" if not include_resolved else "no quarantined records")
        return
    for row in rows:
        where = f" [{row['field']}]" if row["field"] else ""
        done = "  (resolved)" if row["resolved_at"] else ""
        click.echo(f"#{row['id']:<6} {row['source']}/{row['stream']}  {row['record']}{where}{done}")
        click.echo(f"        {row['reason']}")
    if total > len(rows):
        click.echo(f"… {total - len(rows)} more (--limit)")


@quarantine.command("show")
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.pass_obj
def quarantine_show(obj, record_id: int, as_json: bool) -> None:
    """One quarantined record with its kept payload (may hold patient data)."""
    with obj.runtime() as runtime, runtime.store.transaction() as session:
        record = session.get(QuarantinedRecord, record_id)
        if record is None:
            raise click.ClickException(f"no quarantined record #{record_id}; see `claimbridge quarantine list`")
        row = _row(record)
        payload = record.payload
    try:
        row["payload"] = json.loads(payload) if payload else None
    except ValueError:
        row["payload"] = payload
    if as_json:
        click.echo(json.dumps(row))
        return
    for key in ("id", "source", "stream", "record", "field", "reason", "run_id", "created_at", "resolved_at"):
        if row[key] is not None:
            click.echo(f"{key + ':':<12} {row[key]}")
    click.echo("payload:")
    click.echo(json.dumps(row["payload"], indent=2) if not isinstance(row["payload"], str) else row["payload"])


@quarantine.command("resolve")
@click.argument("record_ids", type=int, nargs=-1, required=True)
@click.pass_obj
def quarantine_resolve(obj, record_ids: tuple[int, ...]) -> None:
    """Mark records resolved (fixed in the EHR, or not to be billed); they leave the list, kept for history."""
    with obj.runtime() as runtime, runtime.store.transaction() as session:
        missing = [i for i in record_ids if session.get(QuarantinedRecord, i) is None]
        if missing:
            raise click.ClickException(f"no quarantined record {', '.join(f'#{i}' for i in missing)}; nothing "
                                       "changed")
        for record_id in record_ids:
            record = session.get(QuarantinedRecord, record_id)
            if record.resolved_at is None:
                record.resolved_at = utcnow()
    click.echo(f"{len(record_ids)} record(s) resolved")
