"""The ``x12`` command group. The main CLI attaches it: ``main.add_command(claimbridge.x12.cli.x12)``.

    $ claimbridge x12 validate out/0001.837 in/*.835
    out/0001.837: valid
    in/era.835: segment 33 PLB (loop FOOTER) PLB03-1: (CV:CP) is not a valid code for Adjustment Reason Code

Exit status 0 when every file is valid, 1 otherwise.

    $ claimbridge x12 parse in/era.835 --json
    {"file": "in/era.835", "transactions": [{"type": "835", "payment": {"amount": "150000.00", ...}, ...}]}

``parse`` reads TA1, 999, 277CA, 835 and 271 (and our own 270s; see :mod:`claimbridge.x12.responses.as_json` for the JSON
contract). Exit status 0 when the file was read; 2 when it is not X12 (one line on stderr naming the file); 1
when it is X12 but a transaction cannot be read (one line naming the file, segment and element).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from claimbridge.x12.eligibility.check_270 import check_270
from claimbridge.x12.eligibility.model import Eligibility271
from claimbridge.x12.reader import X12SyntaxError, iter_segments
from claimbridge.x12.responses import X12ParseError, balance_835, file_to_json, parse_x12
from claimbridge.x12.responses._values import format_money
from claimbridge.x12.responses.parse import ParsedFile
from claimbridge.x12.validate import validate_x12


@click.group(name="x12")
def x12() -> None:
    """Work with X12 files (837P, 835, 999, 277CA, TA1, 270/271)."""


@x12.command(name="validate")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--warnings/--no-warnings", default=True, show_default=True,
              help="Also print warnings (they do not make a file invalid).")
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[Path, ...], warnings: bool) -> None:
    """Validate FILE... with pyx12 against the implementation guide named in each GS (a 270, for which
    pyx12 has no 5010 map, gets claimbridge's own structural check).

    Prints "FILE: valid" or one line per problem: file, segment position and id, loop, claim (PCN), element
    and message.
    """
    all_valid = True
    for path in files:
        # pyx12 has no 5010 map for the 270: claimbridge checks its structure itself
        report = check_270(path, name=str(path)) if _holds_270(path) else validate_x12(path, name=str(path))
        all_valid &= report.ok
        shown = [p for p in report.problems if warnings or p.severity == "error"]
        if report.ok:
            click.echo(f"{path}: valid" + (f" ({len(shown)} warning{'s' if len(shown) != 1 else ''})"
                                           if shown else ""))
        for problem in shown:
            prefix = "warning: " if problem.severity != "error" else ""
            click.echo(f"{path}: {prefix}{problem.describe()}")
    ctx.exit(0 if all_valid else 1)


@x12.command(name="parse")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the contract other tools read).")
@click.pass_context
def parse_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Read FILE (TA1, 999, 277CA, 835, 271, 270) and print what it says: a short summary, or with --json one object
    ``{"file": ..., "transactions": [...]}``. Money in the JSON is a string holding the exact decimal
    (``"150000.00"``). pyx12 is not run: use ``x12 validate`` for that."""
    try:
        parsed = parse_x12(file, name=str(file))
    except X12ParseError as exc:
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        ctx.exit(1)
    except X12SyntaxError as exc:
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        ctx.exit(2)
    if as_json:
        click.echo(json.dumps(file_to_json(parsed), ensure_ascii=False))
        return
    for line in _summary(parsed):
        click.echo(line)


def _holds_270(path: Path) -> bool:
    """Whether the first transaction set of ``path`` is a 270 (False for anything unreadable: pyx12 then
    reports it)."""
    try:
        for seg in iter_segments(path, name=str(path)):
            if seg.id == "ST":
                return seg[1] == "270"
    except X12SyntaxError:
        return False
    return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary(parsed: ParsedFile) -> list[str]:
    counts = Counter(tx.type for tx in parsed.transactions)
    lines = [f"{parsed.name}: " + (", ".join(f"{n} × {t}" for t, n in counts.items()) or "no transactions")]
    for tx in parsed.transactions:
        if tx.type == "835":
            p = tx.payment
            problems = balance_835(tx)
            lines.append(f"  835 {tx.control_number}: {p.method} {format_money(p.amount)} on {p.date} trace {p.trace_number} "
                         f"payer {p.payer_id}: {len(tx.claims)} claim(s), {len(tx.provider_adjustments)} provider "
                         f"adjustment(s), " + ("balances" if not problems else
                                                f"does NOT balance ({len(problems)} discrepancies)"))
            lines += [f"    {d}" for d in problems[:5]]
        elif tx.type in ("999", "997"):
            status = tx.group_status
            rejected = [s for s in tx.sets if not s.accepted]
            lines.append(f"  {tx.type} {tx.control_number} for group {tx.group_control_number}: "
                         f"{status.meaning if status else 'no AK9'}; {len(tx.sets)} set(s), "
                         f"{len(rejected)} rejected")
            for s in rejected:
                for e in s.segment_errors:
                    lines.append(f"    set {s.control_number}: {e.segment_id} at {e.position}: {e.meaning}"
                                 + (f" (claim {e.claim_id})" if e.claim_id else ""))
        elif tx.type in ("277CA", "277"):
            outcomes = Counter(c.outcome for c in tx.claims)
            lines.append(f"  {tx.type} {tx.control_number}: {len(tx.claims)} claim(s) "
                         + ", ".join(f"{n} {o}" for o, n in outcomes.items()))
        elif tx.type == "271":
            lines += _eligibility_summary(tx)
        elif tx.type == "270":
            lines.append(f"  270 {tx.control_number}: {len(tx.inquiries)} inquiry(ies)")
        elif tx.type == "TA1":
            lines.append(f"  TA1 for interchange {tx.control_number}: {tx.code} {tx.code_meaning}"
                         + (f"; {tx.note_code} {tx.note}" if tx.note_code else ""))
        else:
            lines.append(f"  {tx.type} {tx.control_number}: not a response claimbridge reads")
    return lines


def _eligibility_summary(tx: Eligibility271) -> list[str]:
    """One line per answer: trace number, level, coverage, then mental-health facts or the rejections (no
    names or member ids)."""
    lines = [f"  271 {tx.control_number}: {len(tx.responses)} answer(s)"]
    for answer in tx.responses:
        trace = ", ".join(answer.our_trace_numbers) or "no trace number"
        if answer.rejected:
            reasons = "; ".join(f"{r.code} {r.words}" + (f" ({r.action_words})" if r.action else "")
                                for r in answer.rejections)
            lines.append(f"    {trace} ({answer.level}): rejected: {reasons}")
            continue
        facts = [f"coverage {answer.coverage_status}", f"mental health {answer.mental_health_status()}"]
        copay, visits = answer.copay(), answer.visits()
        if copay is not None:
            facts.append(f"copay {format_money(copay)}")
        if visits.total is not None or visits.remaining is not None:
            facts.append(f"visits {visits.remaining if visits.remaining is not None else '?'} of "
                         f"{visits.total if visits.total is not None else '?'} left")
        if answer.prior_authorization_required():
            facts.append("prior authorization required")
        facts += [f"carved out to {c.entity.name or c.entity.id}" for c in answer.carve_outs()]
        lines.append(f"    {trace} ({answer.level}): " + ", ".join(facts))
    return lines
