"""``claimbridge run`` (the scheduler) and ``claimbridge jobs …`` (what it did)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from claimbridge.cli import Context

# click.pass_obj, not claimbridge.cli.pass_ctx: `python -m claimbridge.cli` runs cli.py as __main__, and
# importing claimbridge.cli from here would load a second copy of it
pass_ctx = click.pass_obj


@click.command()
@click.option("--once", is_flag=True, help="run every job once now (pull → submit → responses), print counts, exit")
@click.option("--for", "seconds", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="stop (gracefully) after SECONDS")
@click.option("--json", "as_json", is_flag=True, help="JSON: one object with --once, else one line per run")
@click.option("--web/--no-web", default=True, show_default=True,
              help="also serve the admin UI and API (web.host:web.port) while the jobs run")
@pass_ctx
def run(ctx: Context, once: bool, seconds: float | None, as_json: bool, web: bool) -> None:
    """Run the scheduled jobs until SIGTERM or Ctrl-C: pull each source, submit batches, fetch responses.

    The admin UI and API are served too (web.host:web.port, waitress) unless --no-web or web.enabled is false.
    Several processes may run against one PostgreSQL database (or one SQLite file and work folder); each turn
    of a job is done by one of them. On SIGTERM or Ctrl-C the running jobs finish first; a second signal stops
    at once. Schedules are set in the configuration's `schedule` section (see docs/scheduling.md).
    """
    from claimbridge.schedule import JobScheduler, job_specs, run_once

    if once and seconds is not None:
        raise click.UsageError("--once and --for do not go together: --once exits when its runs are done")
    with ctx.runtime() as runtime:
        if once:
            outcomes = run_once(runtime, on_run=None if as_json else _print_outcome)
            failed = [o for o in outcomes if o.status == "failed"]
            if as_json:
                click.echo(json.dumps({"ok": not failed, "jobs": [o.to_dict() for o in outcomes]}, default=str))
            if failed:
                sys.exit(1)
            return
        specs = job_specs(runtime.settings)
        if not specs:
            raise click.ClickException("no jobs to run: enable a source or a clearinghouse, or a schedule")
        timezone = runtime.settings.schedule.timezone
        click.echo(f"claimbridge run (pid {os.getpid()}): "
                   + "; ".join(f"{s.name} {s.describe(timezone)}" for s in specs)
                   + ("" if seconds is None else f"; stopping after {seconds:g}s"), err=True)
        stop = threading.Event()
        _stop_on_signals(stop)
        server = None
        if web and runtime.settings.web.enabled:
            from claimbridge.web.server import start_web_server

            try:
                server = start_web_server(runtime)
                click.echo(f"claimbridge run: admin UI and API on {server.url}", err=True)
            except OSError as exc:  # another `claimbridge run` serves it already
                click.echo(f"claimbridge run: not serving the UI ({runtime.settings.web.host}:"
                           f"{runtime.settings.web.port}: {exc.strerror or exc}); the jobs run", err=True)
        scheduler = JobScheduler(runtime, on_run=_print_json_line if as_json else _print_outcome,
                                 on_jobs_changed=_print_jobs_changed)
        try:
            scheduler.serve(stop, seconds)
        finally:
            if server is not None:
                server.stop()
        click.echo("claimbridge run: stopped", err=True)


def _print_jobs_changed(added: list[str], removed: list[str]) -> None:
    click.echo(f"claimbridge run: connectors changed: jobs added {', '.join(added) or 'none'}, removed "
               f"{', '.join(removed) or 'none'}", err=True)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum, _frame) -> None:
        if stop.is_set():
            click.echo("claimbridge run: stopping now", err=True)
            os._exit(128 + signum)
        click.echo("claimbridge run: stopping after the running jobs finish (signal again to stop now)", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _print_outcome(outcome) -> None:
    if outcome.status == "busy":
        return
    line = f"{_local(datetime.now().astimezone())}  {outcome.job:<28} {outcome.status:<9} "
    line = (line + _counts_text(outcome.counts)).rstrip()
    if outcome.error:
        line += f"\n    {outcome.error}"
    click.echo(line)


def _counts_text(counts: dict | None, prefix: str = "") -> str:
    """``read 31, new 2, by_status.posted 3`` (nested counts flattened)."""
    parts = []
    for key, value in (counts or {}).items():
        if isinstance(value, dict):
            nested = _counts_text(value, f"{prefix}{key}.")
            if nested:
                parts.append(nested)
        else:
            parts.append(f"{prefix}{key} {value}")
    return ", ".join(parts)


def _print_json_line(outcome) -> None:
    click.echo(json.dumps(outcome.to_dict(), default=str))


def _local(value: datetime | str | None) -> str:
    """A time as the person at this terminal reads it."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


@click.group()
def jobs() -> None:
    """Scheduled jobs and their runs."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON array")
@pass_ctx
def jobs_list(ctx: Context, as_json: bool) -> None:
    """Each job of the configuration: when it runs, its next run, and how its last run went."""
    from claimbridge.schedule import describe_jobs

    with ctx.runtime() as runtime:
        rows = describe_jobs(runtime)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no jobs: enable a source or a clearinghouse")
    for row in rows:
        next_run = _local(row["next_run"]) if row["next_run"] else "not scheduled yet (start claimbridge run)"
        click.echo(f"{row['job']}  {row['trigger']}")
        click.echo(f"  next run:  {next_run}")
        last = row["last_run"]
        if last is None:
            click.echo("  last run:  never")
        else:
            click.echo(f"  last run:  {last['status']} {_local(last['started_at'])} on {last['host']} "
                       f"(pid {last['pid']})")
            if last["error"]:
                click.echo(f"             {last['error']}")
        if row["backoff_until"]:
            click.echo(f"  backing off until {_local(row['backoff_until'])}")


@jobs.command("runs")
@click.option("--job", help="only this job (e.g. submit, pull:main-ehr)")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON array")
@pass_ctx
def jobs_runs(ctx: Context, job: str | None, limit: int, as_json: bool) -> None:
    """The latest job runs, newest first: when, where, what they did, and why they failed or were skipped."""
    from claimbridge.schedule.runs import list_runs

    with ctx.runtime() as runtime:
        rows = [r.to_dict() for r in list_runs(runtime.store, job=job, limit=limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no runs yet")
    for row in rows:
        took = ""
        if row["finished_at"]:
            seconds = (datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(row["started_at"]))
            took = f" ({seconds.total_seconds():.1f}s)"
        click.echo(f"{row['id']:>6} {_local(row['started_at'])}{took}  {row['job']}  {row['status']}  "
                   f"{row['host']}:{row['pid']}")
        counts = _counts_text(row["counts"])
        if counts:
            click.echo(f"         {counts}")
        if row["error"]:
            click.echo(f"         {row['error']}")
