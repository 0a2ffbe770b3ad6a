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
    for error in data["errors"]:
        click.echo(f"error: {error}", err=True)
    for hint in data.get("next_steps", []):
        click.echo(hint)
