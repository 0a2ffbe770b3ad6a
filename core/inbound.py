"""What comes back from clearinghouses: fetched, kept, validated, balanced, and posted exactly once.

One inbound file goes through these steps (:func:`receive_file`):

1. **Seen before?** Its sha256 is looked up; a file already received (under any name) is recorded as a
   re-delivery and nothing else happens.
2. **Kept.** The bytes are written under ``WORKDIR/inbound/`` before anything reads them, so the database
   row always has the file behind it.
3. **Read and checked, nothing written yet.** pyx12 validates it (findings are stored with the file); our
   parser reads every transaction; every 835 is balanced (BPR02 = ΣCLP04 − ΣPLB, each claim and line
   against its CAS). A file that is not X12, that pyx12 finds structurally broken (a segment or loop error,
   not an element's value), or that does not balance is **quarantined whole**, with the numbers that
   disagree, and nothing from it is posted.
4. **Posted in one database transaction**: the file row, every acknowledgment, every remittance. A 835
   transaction whose payer and trace number (TRN02) were posted before — the same payment inside another
   file — posts nothing. A crash anywhere before the commit leaves no trace; the file is still in the
   clearinghouse folder and is fetched again.
5. **Archived** on the clearinghouse after the commit (a crash between commit and archive: the next fetch
   finds the sha256 and only archives it).
6. Plugins hear of it after the commit: ``claim_status_changed`` per change, ``remittance_posted`` per
   835 transaction set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from claimbridge.claims.denials import code_lists_for
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.money import CENT
from claimbridge.config import connector_settings
from claimbridge.eligibility.service import post_271
from claimbridge.errors import ClaimbridgeError, FatalError
from claimbridge.posting.acks import post_277ca, post_999, post_ta1
from claimbridge.posting.remittance import RemittanceOutcome, post_835
from claimbridge.store.db import is_conflict
from claimbridge.store.models import InboundDelivery, InboundFile, QuarantinedRecord, utcnow
from claimbridge.x12.eligibility.model import Eligibility271
from claimbridge.x12.reader import X12SyntaxError
from claimbridge.x12.responses import (
    Ack999,
    Remittance835,
    StatusReport,
    TA1Ack,
    balance_835,
    iter_transactions,
)
from claimbridge.x12.validate import validate_x12

__all__ = ["FetchSummary", "FileOutcome", "fetch_responses", "receive_file"]

#: times one file's posting is tried when PostgreSQL rolls it back for a conflict with another writer
CONFLICT_ATTEMPTS = 3

log = logging.getLogger(__name__)

#: files up to this size keep their parsed transactions between checking and posting; larger ones are read
#: twice (memory stays flat)
KEEP_PARSED_BYTES = 16 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_ZERO = Decimal(0)


@dataclass
class FileOutcome:
    """What became of one inbound file: ``posted``, ``quarantined`` or ``duplicate``."""

    name: str
    sha256: str
    status: str
    file_id: int | None = None
    kinds: list[str] = field(default_factory=list)
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    money: dict[str, Decimal] = field(default_factory=dict)
    hook_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "status": self.status, "file_id": self.file_id,
                "kinds": self.kinds, "reason": self.reason, "counts": self.counts,
                "money": {k: str(v.quantize(CENT)) for k, v in self.money.items()}, "hook_errors": self.hook_errors}


@dataclass
class FetchSummary:
    files: list[FileOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def total(self, key: str) -> int:
        return sum(f.counts.get(key, 0) for f in self.files)

    def to_dict(self) -> dict:
        by_status: dict[str, int] = {}
        for outcome in self.files:
            by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
        counts: dict[str, int] = {}
        for outcome in self.files:
            for key, value in outcome.counts.items():
                counts[key] = counts.get(key, 0) + value
        money: dict[str, Decimal] = {}
        for outcome in self.files:
            for key, value in outcome.money.items():
                money[key] = money.get(key, _ZERO) + value
        return {"files": len(self.files), "by_status": by_status, "counts": counts,
                "money": {k: str(v.quantize(CENT)) for k, v in money.items()},
                "details": [f.to_dict() for f in self.files], "errors": self.errors}


def fetch_responses(runtime, *, clearinghouse_names: list[str] | None = None, progress=None) -> FetchSummary:
    """Fetch every file waiting in each enabled clearinghouse's responses folder, receive it, and archive it
    once it is recorded. A clearinghouse that fails is reported; the others go on."""
    settings, plugins = runtime.settings, runtime.plugins
    progress = progress or (lambda message: None)
    summary = FetchSummary()
    entries = [c for c in settings.clearinghouses if c.enabled
               and (not clearinghouse_names or c.name in clearinghouse_names)]
    if clearinghouse_names:
        unknown = sorted(set(clearinghouse_names) - {c.name for c in settings.clearinghouses})
        if unknown:
            raise FatalError(f"no clearinghouse named {', '.join(unknown)} in {runtime.config_path}")
    base = runtime.config_path.parent.resolve()
    for entry in entries:
        cls = plugins.clearinghouse_class(entry.type)
        try:
            with cls(entry.name, connector_settings(entry, cls.settings_model, base)) as clearinghouse:
                waiting = clearinghouse.list_inbound()
                progress(f"{entry.name}: {len(waiting)} file(s) waiting")
                kept = []
                for remote in waiting:
                    content = clearinghouse.fetch(remote.name)
                    sha = hashlib.sha256(content).hexdigest()
                    seen = _record_if_seen(runtime.store, entry.name, remote.name, sha)
                    if seen is not None:  # a re-delivery: recorded, archived, not kept again
                        summary.files.append(seen)
                        progress(f"{remote.name}: {seen.status} ({seen.reason})")
                        clearinghouse.archive(remote.name)
                        continue
                    path = _keep(runtime.settings.workdir, remote.name, sha, content)
                    kept.append((_envelope_order(content, remote.name), remote.name, sha, path, len(content)))
                    del content
                # post in the order the far side made them (ISA date, time, control number): a payer's
                # reversal must not be posted before the payment it reverses
                for _, name, sha, path, size in sorted(kept):
                    outcome = _receive(runtime, entry.name, name, sha, path, size)
                    summary.files.append(outcome)
                    progress(f"{name}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
                    clearinghouse.archive(name)
        except ClaimbridgeError as exc:
            summary.errors.append(f"clearinghouse {entry.name}: {exc}")
            log.error("fetching responses from %s failed: %s", entry.name, exc)
    return summary


def receive_file(runtime, clearinghouse: str, name: str, content: bytes) -> FileOutcome:
    """Keep, check and post one inbound file (see the module docstring). Never raises for bad content: the
    file is quarantined with the reason. Raises only when the store itself fails."""
    sha = hashlib.sha256(content).hexdigest()
    seen = _record_if_seen(runtime.store, clearinghouse, name, sha)
    if seen is not None:
        return seen
    return _receive(runtime, clearinghouse, name, sha, _keep(runtime.settings.workdir, name, sha, content),
                    len(content))


def _receive(runtime, clearinghouse: str, name: str, sha: str, path: Path, size: int) -> FileOutcome:
    store = runtime.store
    seen = _record_if_seen(store, clearinghouse, name, sha)  # another process may have posted it meanwhile
    if seen is not None:
        return seen
    check = _check(path, name)
    if check.problem is not None:
        return _quarantine(store, clearinghouse, name, sha, size, path, check)
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return _post(runtime, clearinghouse, name, sha, size, path, check)
        except IntegrityError:
            # another process recorded the same file (or the same payment) between our look and our commit
            seen = _record_if_seen(store, clearinghouse, name, sha)
            if seen is not None:
                return seen
            raise
        except DBAPIError as exc:
            # PostgreSQL rolled the file's transaction back for a deadlock with another writer (claims sharing
            # summary rows): nothing of it was posted; post it again
            if not is_conflict(exc) or attempt == CONFLICT_ATTEMPTS:
                raise
            log.warning("inbound file %s: the database rolled back a conflicting transaction; posting it again",
                        name)
    raise AssertionError("unreachable")


def _envelope_order(content: bytes, name: str) -> tuple:
    """ISA09 date, ISA10 time and ISA13 of the first interchange (files that are not X12 sort first, by
    name, so they are quarantined without waiting for the rest)."""
    head = content[:512].lstrip(b"\xef\xbb\xbf \r\n\t")
    if len(head) < 106 or not head.startswith(b"ISA"):
        return ("", "", "", name)
    separator = head[3:4]
    parts = head[:106].split(separator)
    if len(parts) < 14:
        return ("", "", "", name)
    date, time, control = (p.decode("ascii", "replace").strip() for p in (parts[9], parts[10], parts[13]))
    return (date, time, control.rjust(9, "0"), name)


# -- steps ---------------------------------------------------------------------------------------------


def _record_if_seen(store, clearinghouse: str, name: str, sha: str) -> FileOutcome | None:
    with store.transaction() as session:
        known = session.execute(select(InboundFile).where(InboundFile.sha256 == sha)).scalar_one_or_none()
        if known is None:
            return None
        session.add(InboundDelivery(file_id=known.id, clearinghouse=clearinghouse, name=name[:255],
                                    duplicate=True))
        log.info("inbound file %s is a re-delivery of file %d (%s); nothing posted", name, known.id, known.name)
        return FileOutcome(name, sha, "duplicate", known.id, (known.kinds or "").split(),
                           f"already received as {known.name} (file {known.id}, {known.status})",
                           {"duplicate_files": 1})


def _keep(workdir: Path, name: str, sha: str, content: bytes) -> Path:
    folder = Path(workdir) / "inbound" / sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha[:16]}-{_SAFE_NAME.sub('_', name)[-80:]}"
    if not path.exists() or path.stat().st_size != len(content):
        temp = path.with_name(path.name + ".part")
        with open(temp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    return path


@dataclass
class _Check:
    kinds: list[str] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)
    problem: str | None = None
    field: str | None = None
    transactions: list | None = None


def _check(path: Path, name: str) -> _Check:
    check = _Check()
    report = validate_x12(path, name=name)
    check.validation = [{"severity": p.severity, "segment": p.segment_index, "segment_id": p.segment_id,
                         "loop": p.loop_id, "element": p.element, "code": p.code,
                         "message": p.redacted_message()} for p in report.problems]
    keep = path.stat().st_size <= KEEP_PARSED_BYTES
    kept: list = []
    try:
        for tx in iter_transactions(path, name=name):
            if tx.type not in check.kinds:
                check.kinds.append(tx.type)
            if isinstance(tx, Remittance835):
                discrepancies = balance_835(tx)
                if discrepancies:
                    shown = "; ".join(str(d) for d in discrepancies[:5])
                    more = f" (and {len(discrepancies) - 5} more)" if len(discrepancies) > 5 else ""
                    check.problem = (f"{name}: 835 transaction {tx.control_number} (trace "
                                     f"{tx.payment.trace_number}) does not balance: {shown}{more}")
                    check.field = f"segment {discrepancies[0].segment}"
                    return check
            if keep:
                kept.append(tx)
    except X12SyntaxError as exc:
        check.problem = f"{name}: not readable X12: {exc.reason}"
        check.field = f"segment {exc.segment}" if exc.segment else None
        return check
    if not check.kinds:
        check.problem = f"{name}: no transaction set in the file"
        return check
    structural = [p for p in report.errors if _structural(p)]
    if structural:
        first = structural[0]
        more = f" (and {len(structural) - 1} more)" if len(structural) > 1 else ""
        check.problem = f"{name}: pyx12 found the file structurally invalid: {first.describe(redact=True)}{more}"
        check.field = f"segment {first.segment_index}" if first.segment_index else None
        return check
    check.transactions = kept if keep else None
    return check


#: pyx12 findings that make a file structurally unusable: envelope and control errors, segments that are
#: unknown or out of place (1, 2), mandatory segments or loops missing (3), loops repeated past their
#: maximum (4), and files pyx12 could not read at all. Element values, a segment repeated once too often
#: (5, e.g. a second CTX in a 999 that pyx12's map allows once), HL/LX numbering quirks and the like are
#: stored as findings and shown, but the file is posted.
STRUCTURAL_CODES = frozenset({"1", "2", "3", "4", "syntax", "no-isa", "pyx12", "pyx12-failure", "no-map"})
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})


def _structural(problem) -> bool:
    if problem.element is not None:
        return False
    return problem.code in STRUCTURAL_CODES or problem.segment_id in _ENVELOPE


def _quarantine(store, clearinghouse: str, name: str, sha: str, size: int, path: Path, check: _Check
                ) -> FileOutcome:
    with store.transaction() as session:
        row = InboundFile(clearinghouse=clearinghouse, name=name[:255], sha256=sha, size=size,
                          kinds=" ".join(check.kinds) or None, status="quarantined", stored_path=str(path),
                          validation=json.dumps(check.validation), error=check.problem, processed_at=utcnow())
        session.add(row)
        session.flush()
        session.add(InboundDelivery(file_id=row.id, clearinghouse=clearinghouse, name=name[:255]))
        session.add(QuarantinedRecord(source=clearinghouse, stream="responses", record_key=name[:300],
                                      field=check.field, reason=check.problem or "", payload=None))
        file_id = row.id
    log.warning("inbound file %s quarantined: %s", name, check.problem)
    return FileOutcome(name, sha, "quarantined", file_id, check.kinds, check.problem, {"quarantined_files": 1})


def _post(runtime, clearinghouse: str, name: str, sha: str, size: int, path: Path, check: _Check
          ) -> FileOutcome:
    plugins = runtime.plugins
    codes = code_lists_for(runtime.config_path)
    recorder = StatusRecorder()
    transactions = check.transactions if check.transactions is not None else iter_transactions(path, name=name)
    listening = _listening(plugins)
    with runtime.store.transaction() as session:
        row = InboundFile(clearinghouse=clearinghouse, name=name[:255], sha256=sha, size=size,
                          kinds=" ".join(check.kinds), status="posted", stored_path=str(path),
                          validation=json.dumps(check.validation))
        session.add(row)
        session.flush()
        session.add(InboundDelivery(file_id=row.id, clearinghouse=clearinghouse, name=name[:255]))
        counts, remittances, money = _post_into(session, row, transactions, recorder, codes, listening,
                                                runtime.settings)
        file_id = row.id
    recorder.announce(plugins)
    hook_errors = _announce_remittances(runtime, remittances)
    log.info("inbound file %s (%s) posted: %s", name, " ".join(check.kinds),
             ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v))
    return FileOutcome(name, sha, "posted", file_id, check.kinds, None, counts, money, hook_errors)


def _post_into(session, row: InboundFile, transactions, recorder: StatusRecorder, codes, listening: bool,
               settings) -> tuple[dict[str, int], list[RemittanceOutcome], dict[str, Decimal]]:
    """Post every transaction of a file into its ``row`` (inside the caller's transaction); the counts, the 835
    outcomes and their money, also written to ``row.summary``."""
    counts: dict[str, int] = {}
    remittances: list[RemittanceOutcome] = []
    for tx in transactions:
        if isinstance(tx, Remittance835):
            outcome = post_835(session, row.id, tx, recorder, codes, keep_results=listening)
            remittances.append(outcome)
            done = outcome.counts
        elif isinstance(tx, TA1Ack):
            done = post_ta1(session, row.id, tx, recorder)
        elif isinstance(tx, Ack999):
            done = post_999(session, row.id, tx, recorder)
        elif isinstance(tx, StatusReport):
            done = post_277ca(session, row.id, tx, recorder)
        elif isinstance(tx, Eligibility271):
            done = post_271(session, row.id, tx, settings)
        else:
            done = {"other_transactions": 1}
        for key, value in done.items():
            counts[key] = counts.get(key, 0) + value
    money = _money(remittances)
    row.summary = json.dumps({"counts": counts, "money": {k: str(v) for k, v in money.items()}})
    row.processed_at = utcnow()
    return counts, remittances, money


def reprocess_file(runtime, file_id: int, *, actor: str) -> FileOutcome:
    """Post a quarantined inbound file again from its kept copy (after what refused it — a code list, a check —
    was fixed). The same checks run first: a file that still fails stays quarantined with the new reason. One
    that passes is posted into the same file row (its deliveries stay) in one transaction, like
    :func:`receive_file`, and its quarantine record is resolved. Each outcome is an audit entry by ``actor``.

    Raises :class:`FatalError` when the file is not quarantined or its kept copy is gone."""
    from claimbridge.store.models import AuditEntry

    with runtime.store.transaction() as session:
        row = session.get(InboundFile, file_id)
        if row is None:
            raise FatalError(f"no inbound file #{file_id}")
        if row.status != "quarantined":
            raise FatalError(f"inbound file #{file_id} is {row.status}, not quarantined; only a quarantined file is "
                             "reprocessed")
        name, clearinghouse, stored, sha = row.name, row.clearinghouse, row.stored_path, row.sha256
    path = Path(stored) if stored else None
    if path is None or not path.is_file():
        raise FatalError(f"the kept copy of inbound file #{file_id} ({name}) is gone ({stored}); post the file "
                         "again with `claimbridge responses post`")
    check = _check(path, name)
    if check.problem is not None:
        with runtime.store.transaction() as session:
            row = session.get(InboundFile, file_id)
            row.error, row.validation, row.processed_at = check.problem, json.dumps(check.validation), utcnow()
            row.kinds = " ".join(check.kinds) or row.kinds
            session.add(AuditEntry(actor=actor, action="inbound_reprocess",
                                   detail=f"inbound file #{file_id} {name}: still quarantined: {check.problem}"))
        return FileOutcome(name, sha, "quarantined", file_id, check.kinds, check.problem, {}, {}, [])
    recorder = StatusRecorder()
    transactions = check.transactions if check.transactions is not None else iter_transactions(path, name=name)
    with runtime.store.transaction() as session:
        row = session.get(InboundFile, file_id)
        if row.status != "quarantined":  # another process reprocessed it meanwhile
            raise FatalError(f"inbound file #{file_id} is {row.status} now")
        row.status, row.kinds, row.error = "posted", " ".join(check.kinds), None
        row.validation = json.dumps(check.validation)
        counts, remittances, money = _post_into(session, row, transactions, recorder,
                                                code_lists_for(runtime.config_path), _listening(runtime.plugins),
                                                runtime.settings)
        for record in session.execute(select(QuarantinedRecord).where(
                QuarantinedRecord.source == clearinghouse, QuarantinedRecord.stream == "responses",
                QuarantinedRecord.record_key == name[:300], QuarantinedRecord.resolved_at.is_(None))).scalars():
            record.resolved_at = utcnow()
        session.add(AuditEntry(actor=actor, action="inbound_reprocess", detail=(
            f"inbound file #{file_id} {name}: posted ("
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) + ")")))
    recorder.announce(runtime.plugins)
    hook_errors = _announce_remittances(runtime, remittances)
    return FileOutcome(name, sha, "posted", file_id, check.kinds, None, counts, money, hook_errors)


def _money(remittances: list[RemittanceOutcome]) -> dict[str, Decimal]:
    posted = [r for r in remittances if not r.duplicate]
    if not posted:
        return {}
    return {"billed": sum((r.billed for r in posted), _ZERO), "paid": sum((r.paid for r in posted), _ZERO),
            "adjusted": sum((r.adjusted for r in posted), _ZERO),
            "patient_responsibility": sum((r.patient_responsibility for r in posted), _ZERO)}


def _listening(plugins) -> bool:
    """Whether any plugin implements ``remittance_posted`` (else its payload is neither kept nor built)."""
    return bool(plugins.pm.hook.remittance_posted.get_hookimpls())


def _announce_remittances(runtime, remittances: list[RemittanceOutcome]) -> list[str]:
    """Tell plugins (``remittance_posted``); a failing plugin is logged and noted on the remittance, the
    posting stands."""
    from claimbridge.claims.results import RemittancePosted
    from claimbridge.store.models import Remittance

    errors: list[str] = []
    if not _listening(runtime.plugins):
        return errors
    for outcome in remittances:
        if outcome.duplicate or outcome.remittance_id is None or outcome.payment_reconciliation is None:
            continue
        event = RemittancePosted(
            remittance_id=outcome.remittance_id, payer_key=outcome.payer_key, trace_number=outcome.trace_number,
            payment_reconciliation=outcome.payment_reconciliation,
            claim_responses=tuple(outcome.claims),
            settings=runtime.settings, config_dir=runtime.config_path.parent.resolve())
        failures = runtime.plugins.notify("remittance_posted", remittance=event)
        if failures:
            text = "; ".join(str(f) for f in failures)
            errors.append(f"remittance {outcome.trace_number}: {text}")
            with runtime.store.transaction() as session:
                remittance = session.get(Remittance, outcome.remittance_id)
                remittance.hook_error = text
    return errors
