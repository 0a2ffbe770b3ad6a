"""The ``x12`` command group. The main CLI attaches it: ``main.add_command(claimbridge.x12.cli.x12)``.

    $ claimbridge x12 validate out/0001.837 in/*.835
    out/0001.837: valid
    in/era.835: segment 33 PLB (loop FOOTER) PLB03-1: (CV:CP) is not a valid code for Adjustment Reason Code

Exit status 0 when every file is valid, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click

from claimbridge.x12.validate import validate_x12


@click.group(name="x12")
def x12() -> None:
    """Work with X12 files (837P, 835, 999, 277CA, TA1)."""


@x12.command(name="validate")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--warnings/--no-warnings", default=True, show_default=True,
              help="Also print warnings (they do not make a file invalid).")
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[Path, ...], warnings: bool) -> None:
    """Validate FILE... with pyx12 against the implementation guide named in each GS.

    Prints "FILE: valid" or one line per problem: file, segment position and id, loop, claim (PCN), element
    and message.
    """
    all_valid = True
    for path in files:
        report = validate_x12(path, name=str(path))
        all_valid &= report.ok
        shown = [p for p in report.problems if warnings or p.severity == "error"]
        if report.ok:
            click.echo(f"{path}: valid" + (f" ({len(shown)} warning{'s' if len(shown) != 1 else ''})"
                                           if shown else ""))
        for problem in shown:
            prefix = "warning: " if problem.severity != "error" else ""
            click.echo(f"{path}: {prefix}{problem.describe()}")
    ctx.exit(0 if all_valid else 1)
