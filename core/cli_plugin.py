"""``claimbridge plugin new``: start a plugin from a scaffold (``claimbridge.scaffold``)."""

from __future__ import annotations

from pathlib import Path

import click

from claimbridge.scaffold import KINDS, ScaffoldError, generate


@click.group()
def plugin() -> None:
    """Write a new plugin (see also: claimbridge plugins list)."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(list(KINDS)),
              help="what the plugin provides: " + "; ".join(f"{k}: {v}" for k, v in KINDS.items()))
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="the package's folder (default: ./claimbridge-NAME); must be empty or new")
@click.option("--force", is_flag=True, help="write into a folder that is not empty, overwriting the generated files")
def plugin_new(name: str, kind: str, directory: Path | None, force: bool) -> None:
    """Create a ready-to-install plugin package NAME (lowercase words joined by '-', e.g. acme-sftp).

    NAME acme-sftp makes the distribution claimbridge-acme-sftp, the module claimbridge_acme_sftp and the entry
    point acme_sftp (group claimbridge). The package holds setup.cfg with the entry point, the hook
    implementation, a skeleton that raises "not implemented: …" until filled in, tests running claimbridge's
    conformance checks, and a README.
    """
    try:
        made = generate(name, kind, directory, force=force)
    except ScaffoldError as exc:
        if exc.param == "name":
            raise click.BadParameter(str(exc), param_hint="NAME") from None
        if exc.param == "kind":
            raise click.BadParameter(str(exc), param_hint="--kind") from None
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {made.target}/: {made.dist}, {kind} plugin {made.plugin} (entry point {made.plugin} = "
               f"{made.module}.plugin)")
    for relative in made.files():
        click.echo(f"  {relative}")
    click.echo("next:")
    click.echo(f"  fill in {made.skeleton} (every \"not implemented: …\")")
    click.echo(f"  cd {made.target} && pip install -e '.[test]' && pytest")
