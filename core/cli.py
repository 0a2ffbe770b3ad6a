"""The ``claimbridge`` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from claimbridge.errors import ClaimbridgeError, ConfigError

log = logging.getLogger("claimbridge")


class Context:
    def __init__(self, config: Path | None, debug: bool):
        self.config_option = config
        self.debug = debug

    @property
    def config(self) -> Path:
        from claimbridge.config import default_config_path

        return self.config_option or default_config_path()

    def runtime(self):
        from claimbridge.pipeline import Runtime

        return Runtime.open(self.config)


pass_ctx = click.make_pass_decorator(Context)


class Group(click.Group):
    """Turns claimbridge errors into one readable line plus a pointer to --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except ClaimbridgeError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo(f"error: {exc}", err=True)
            click.echo("(run with --debug for details)", err=True)
            sys.exit(1)


@click.group(cls=Group)
@click.option("--config", "config", type=click.Path(path_type=Path), envvar="CLAIMBRIDGE_CONFIG",
              help="configuration file (default: ./claimbridge.yaml or $CLAIMBRIDGE_CONFIG)")
@click.option("--debug", is_flag=True, help="log everything and show tracebacks")
@click.version_option(package_name="claimbridge")
@click.pass_context
def main(ctx: click.Context, config: Path | None, debug: bool) -> None:
    """claimbridge: therapy sessions from the EHR to paid claims."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not debug:
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    ctx.obj = Context(config, debug)


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the database (or bring it up to date) for the configuration."""
    with ctx.runtime() as runtime:
        click.echo(f"database ready: {runtime.store.engine.url.render_as_string(hide_password=True)}")


@main.group()
def config() -> None:
    """Configuration commands."""


@config.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@pass_ctx
def config_check(ctx: Context, file: Path | None) -> None:
    """Validate FILE (default: --config) and print every problem at once."""
    from claimbridge.config import load_config
    from claimbridge.plugin_host import create_plugin_host

    path = file or ctx.config
    try:
        settings = load_config(path, create_plugin_host())
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{path}: ok ({len(settings.sources)} source(s), {len(settings.clearinghouses)} "
               f"clearinghouse(s))")


@main.group()
def plugins() -> None:
    """Plugin commands."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
def plugins_list(as_json: bool) -> None:
    """Show each plugin, its version, where it came from and what it registers; and plugins that failed to load.

    A plugin that fails to load is skipped (the others and the core run without it) and listed with the reason.
    """
    from dataclasses import asdict

    from claimbridge.plugin_host import DISABLE_ENV, create_plugin_host

    host = create_plugin_host()
    infos = host.describe()
    if as_json:
        entries = [asdict(i) | {"status": "loaded"} for i in infos]
        entries += [{"name": f.name, "origin": f.origin, "status": "failed", "error": f.reason} for f in host.failed]
        entries += [{"name": d.name, "origin": d.origin, "status": "disabled"} for d in host.disabled]
        click.echo(json.dumps(entries, indent=2))
        return
    for info in infos:
        click.echo(f"{info.name} {info.version} ({info.module}) from {info.origin}")
        if info.sources:
            click.echo(f"  sources: {', '.join(info.sources)}")
        if info.clearinghouses:
            click.echo(f"  clearinghouses: {', '.join(info.clearinghouses)}")
        if info.scrub_rules:
            click.echo(f"  scrub rules: {len(info.scrub_rules)} ({', '.join(info.scrub_rules[:4])}, …)"
                       if len(info.scrub_rules) > 4 else f"  scrub rules: {', '.join(info.scrub_rules)}")
        if info.payer_profiles:
            click.echo(f"  payer profiles: {', '.join(info.payer_profiles)}")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
    for failure in host.failed:
        click.echo(f"{failure.name} FAILED TO LOAD (skipped) from {failure.origin}")
        click.echo(f"  error: {failure.reason}")
    if host.disabled:
        # by count only: the names are the ones in the variable, and a switched-off plugin stays out of the text
        click.echo(f"{len(host.disabled)} plugin(s) disabled by {DISABLE_ENV} (names and origins in --json)")


@main.command()
@click.option("--source", "sources", multiple=True, help="only this source (repeatable)")
@click.option("--reread", is_flag=True, help="read the sources from the start, not from their bookmarks (after a "
                                             "change to a source's settings, e.g. a clinician's NPI or a column "
                                             "mapping); what is unchanged stays as it is")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
@pass_ctx
def sync(ctx: Context, sources: tuple[str, ...], reread: bool, as_json: bool) -> None:
    """Run one pass of the pipeline: pull → build claims → batch → 837P → validate → upload."""
    from claimbridge.pipeline import run_pipeline
    from claimbridge.summary import print_summary

    with ctx.runtime() as runtime:
        summary = run_pipeline(runtime, source_names=list(sources) or None, progress=_progress(as_json),
                               reread=reread)
    print_summary(summary.to_dict(), as_json=as_json)
    if not summary.ok:
        sys.exit(1)


def _progress(quiet: bool):
    def show(message: str) -> None:
        if not quiet:
            click.echo(f"  … {message}", err=True)
    return show


@main.group()
def claims() -> None:
    """Look at claims."""


@claims.command("list")
@click.option("--status", help="only claims in this status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def claims_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """One line per claim: PCN, status, version, encounter, and why it is held."""
    from claimbridge.claims.queries import list_claims

    with ctx.runtime() as runtime:
        rows = list_claims(runtime.store, status=status)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no claims")
    for row in rows:
        held = f"  — {row['hold_reason']}" if row["hold_reason"] else ""
        click.echo(f"{row['pcn']:<17} {row['status']:<10} v{row['version']} {row['encounter']}{held}")


@claims.command("show")
@click.argument("pcn")
@pass_ctx
def claims_show(ctx: Context, pcn: str) -> None:
    """Status history, the FHIR Claim and the 837 segments of the claim version with this PCN."""
    from claimbridge.claims.queries import show_claim

    with ctx.runtime() as runtime:
        click.echo(show_claim(runtime.store, pcn))


@claims.command("held")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def claims_held(ctx: Context, as_json: bool) -> None:
    """The held-claims work queue: each held claim with what to fix."""
    from claimbridge.claims.queries import held_claims

    with ctx.runtime() as runtime:
        rows = held_claims(runtime.store)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no held claims")
    for row in rows:
        click.echo(f"{row['pcn']}  v{row['version']}  {row['encounter']}")
        if not row["findings"]:
            click.echo(f"  {row['hold_reason']}")
        for finding in row["findings"]:
            mark = " (overridden)" if finding.get("overridden") else ""
            click.echo(f"  {finding['severity']:<7} {finding['rule']}{mark}: {finding['message']}")
            click.echo(f"          fix: {finding['fix']}  [{finding['path']}]")


@claims.command("override")
@click.argument("pcn")
@click.argument("rule")
@click.option("--reason", required=True, help="why this finding may pass (kept in the claim's history)")
@click.option("--actor", envvar="USER", default="biller", show_default="$USER",
              help="who decides (recorded in the audit log)")
@pass_ctx
def claims_override(ctx: Context, pcn: str, rule: str, reason: str, actor: str) -> None:
    """Let one scrub finding (RULE) of a held claim pass, with a written reason; the claim is scrubbed again."""
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.review import override_finding

    recorder = StatusRecorder()
    with ctx.runtime() as runtime:
        with runtime.store.transaction() as session:
            review = override_finding(session, runtime.reviewer(), pcn, rule, reason=reason, actor=actor,
                                      recorder=recorder)
        recorder.announce(runtime.plugins)
    if review.blocking:
        click.echo(f"{pcn.upper()}: {rule} overridden; still held: {review.hold_reason()}")
    else:
        click.echo(f"{pcn.upper()}: {rule} overridden; the claim is ready and leaves with the next sync")


@claims.command("release")
@click.argument("pcn")
@click.option("--reason", required=True, help="why this replacement may go to the payer (kept in its history)")
@click.option("--actor", envvar="USER", default="biller", show_default="$USER",
              help="who decides (recorded in the audit log)")
@pass_ctx
def claims_release(ctx: Context, pcn: str, reason: str, actor: str) -> None:
    """Release a held replacement (made when its encounter changed after submission): it is built again from
    the encounter as stored, scrubbed, and leaves with the next sync when nothing blocks it."""
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import release_claim

    recorder = StatusRecorder()
    with ctx.runtime() as runtime:
        with runtime.store.transaction() as session:
            outcome, answered = release_claim(session, pcn, settings=runtime.settings, plugins=runtime.plugins,
                                              reviewer=runtime.reviewer(), recorder=recorder, actor=actor,
                                              reason=reason)
            new, old = outcome.version, outcome.replaced
            head = f"{new.pcn} (frequency {new.frequency}, replaces {old.pcn}, now {old.status})"
            state = ("ready; it leaves with the next sync" if outcome.ready
                     else f"still held: {outcome.review.hold_reason()}")
        recorder.announce(runtime.plugins)
    denials = f"; denials {', '.join(f'#{i}' for i in answered)} resolved as resubmitted" if answered else ""
    click.echo(f"{head}: {state}{denials}")


@main.group()
def sandbox() -> None:
    """The local sandbox clearinghouse (an SFTP server on loopback)."""


@sandbox.command("serve")
@click.option("--root", type=click.Path(path_type=Path), default=Path("claimbridge-sandbox"),
              show_default=True, help="folder the sandbox serves (created if missing)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=2222, show_default=True)
@click.option("--username", default="claimbridge", show_default=True)
@click.option("--authorized-key", "authorized_keys", multiple=True, type=click.Path(path_type=Path),
              help="public key file allowed to log in (repeatable)")
@click.option("--password", envvar="CLAIMBRIDGE_SANDBOX_PASSWORD", help="allow this password (env var)")
def sandbox_serve(root: Path, host: str, port: int, username: str, authorized_keys: tuple[Path, ...],
                  password: str | None) -> None:
    """Serve ROOT over SFTP until Ctrl-C; uploads land in its inbound folder.

    Without --authorized-key or --password, a client key is made once in ROOT/.sandbox/client_ed25519 (the
    sandbox never serves that folder) and allowed to log in.
    """
    from claimbridge.demo import client_key
    from claimbridge.plugins.clearinghouse_sftp.sandbox import serve

    keys = list(authorized_keys)
    if not keys and not password:
        key = client_key(root / ".sandbox", name="client_ed25519")
        keys = [key.with_suffix(".pub")]
        click.echo(f"client key for this sandbox: {key}")
    serve(root, host=host, port=port, username=username, password=password, authorized_key_paths=keys)


@main.command()
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("claimbridge-demo"), show_default=True)
@click.option("--source", "source", type=click.Choice(["fhir", "simplepractice"]), default="fhir",
              show_default=True, help="read the sessions from the FHIR sandbox or from a SimplePractice export")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
def demo(workdir: Path, source: str, as_json: bool) -> None:
    """Run the whole pipeline once on synthetic sessions, with a local clearinghouse and a local FHIR server
    (or a SimplePractice export folder)."""
    from claimbridge.demo import run_demo
    from claimbridge.summary import print_summary

    summary, extra = run_demo(workdir, progress=_progress(as_json), source=source)
    data = summary.to_dict() | extra
    print_summary(data, as_json=as_json)
    if not summary.ok:
        sys.exit(1)


def _attach_subcommands() -> None:
    from claimbridge.claims.scrub.cli import scrub
    from claimbridge.cli_connectors import connectors
    from claimbridge.cli_eligibility import eligibility
    from claimbridge.cli_plugin import plugin
    from claimbridge.cli_quarantine import quarantine
    from claimbridge.cli_responses import responses
    from claimbridge.cli_schedule import jobs, run
    from claimbridge.cli_web import tokens, users, web
    from claimbridge.cli_worklist import denials, remits
    from claimbridge.x12.cli import x12

    for command in (x12, scrub, responses, remits, denials, jobs, run, plugin, quarantine, web, users, tokens,
                    connectors, eligibility):
        main.add_command(command)


_attach_subcommands()


if __name__ == "__main__":
    main()
