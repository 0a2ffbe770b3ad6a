"""``claimbridge scrub FILE [FILE…] [--payer-profile NAME] [--json]`` (issue 3, "Command contract").

Needs no database and no configuration file: the rules and profiles come from the plugin host (built-in and
installed plugins), the default profile applies unless ``--payer-profile`` names another or a profile lists the
claim's payer id. Exit 0: no errors (warnings allowed); 1: at least one error; 2: a file cannot be read or is
not a FHIR Claim bundle (the message names the file and the problem; the other files are still scrubbed).
"""

from __future__ import annotations

import json
import sys

import click

from claimbridge.claims.scrub.engine import Scrubber, ScrubResult, create_scrubber
from claimbridge.claims.scrub.facts import ScrubInputError, claim_from_file
from claimbridge.errors import FatalError

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2


def result_json(file: str, result: ScrubResult) -> dict:
    """The contract's JSON object for one file (``fix`` added to each finding)."""
    return {"file": file, "errors": result.errors, "warnings": result.warnings,
            "findings": [{"rule": f.rule, "severity": str(f.severity), "message": f.message, "path": f.path,
                          "fix": f.fix} for f in result.findings]}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command("scrub")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--payer-profile", "profile_name", metavar="NAME",
              help="scrub under this payer profile instead of the one chosen by the claim's payer id")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per file, one per line")
def scrub(files: tuple[str, ...], profile_name: str | None, as_json: bool) -> None:
    """Check FHIR Claim bundles for what a payer would reject, without sending anything.

    FILE is a FHIR R4 Bundle (collection or transaction) holding one Claim and the resources it refers to, or a
    Claim with contained resources. Exit 0: no errors; 1: errors found; 2: a file is unreadable.
    """
    try:
        scrubber = create_scrubber()
    except FatalError as exc:
        raise click.ClickException(str(exc)) from exc
    if profile_name is not None and profile_name not in scrubber.profiles:
        raise click.BadParameter(f"no payer profile named {profile_name!r}; known: "
                                 f"{', '.join(scrubber.profiles.names)}", param_hint="--payer-profile")
    sys.exit(scrub_files(scrubber, files, profile_name=profile_name, as_json=as_json))


def scrub_files(scrubber: Scrubber, files: tuple[str, ...] | list[str], *, profile_name: str | None = None,
                as_json: bool = False) -> int:
    """Scrub each file, print the results, and return the exit code."""
    code = EXIT_OK
    for file in files:
        try:
            claim = claim_from_file(file)
        except ScrubInputError as exc:
            click.echo(f"{file}: {exc.reason}", err=True)
            code = EXIT_UNREADABLE
            continue
        result = scrubber.scrub(claim, profile=profile_name)
        if result.errors and code == EXIT_OK:
            code = EXIT_ERRORS
        if as_json:
            click.echo(json.dumps(result_json(file, result), ensure_ascii=False))
            continue
        for finding in result.findings:
            click.echo(f"{file}: {finding.severity}: {finding.rule}: {finding.message} ({finding.path}) "
                       f"— fix: {finding.fix}")
        click.echo(f"{file}: {_plural(result.errors, 'error')}, {_plural(result.warnings, 'warning')} "
                   f"(payer profile {result.profile_name})")
    return code


if __name__ == "__main__":  # python -m claimbridge.claims.scrub.cli FILE …
    scrub(prog_name="claimbridge scrub")
