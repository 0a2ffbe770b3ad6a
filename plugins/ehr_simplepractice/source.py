"""The ``simplepractice`` source: a folder (local, or mirrored from SFTP) of SimplePractice report downloads.

Streams:

* ``encounters`` — one encounter bundle per billable session (``bundles.py``); the cursor is when the newest file
  the session is built from arrived in the folder, so a pull reads what arrived since the last one, and a
  re-dropped or overlapping export yields the same records with the same payloads (stored once).
* ``insurance_payments`` — the insurance payments the practice recorded in SimplePractice (kept in
  ``source_records``, to compare with the 835s).

Unusable rows and files come out as :class:`~claimbridge.BadRecord` (file, row number, field, reason, the cells),
so the sync runner quarantines them and the rest of the file goes on.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from claimbridge import BadRecord, EhrSource, Record, Stream
from claimbridge.errors import FatalError, TransmitError

from .bundles import Joiner, digest
from .export import EXPORT_SUFFIXES, Export, RowProblem, load_export
from .settings import SimplePracticeSettings

log = logging.getLogger(__name__)

#: files that arrived within this long before the bookmark are read again (clock steps, slow copies)
LOOKBACK = timedelta(minutes=5)


def _cursor(stamp: datetime) -> str:
    return stamp.isoformat()


def _bad(problem: RowProblem) -> BadRecord:
    """A row (with its cells, so nothing is lost) or a whole file the runner quarantines."""
    payload: dict[str, Any] = {"file": problem.file}
    if problem.row is not None:
        payload.update(row=problem.row, cells=list(problem.cells))
    return BadRecord(key=problem.key, reason=problem.reason, field=problem.field,
                     cursor=_cursor(problem.stamp) if problem.stamp else None, payload=payload)


class _ExportStream(Stream):
    cursor_field = "arrived"
    is_sorted = False
    lookback = LOOKBACK

    def __init__(self, source: SimplePracticeSource):
        self.source = source


class EncounterStream(_ExportStream):
    """Billable sessions as encounter bundles."""

    name = "encounters"
    primary_key = "session"

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        export = self.source.export(until)
        joiner = Joiner(export, self.source.settings)
        for problem in export.problems:
            if since is None or problem.stamp is None or problem.stamp > since:
                yield _bad(problem)
        for session in joiner.sessions():
            if isinstance(session, RowProblem):
                if since is None or session.stamp is None or session.stamp > since:
                    yield _bad(session)
                continue
            if since is not None and session.stamp <= since:
                continue
            yield Record(key=session.key, cursor=_cursor(session.stamp), data=joiner.bundle(session))


class PaymentStream(_ExportStream):
    """Insurance payments recorded in SimplePractice."""

    name = "insurance_payments"
    primary_key = "payment"

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        export = self.source.export(until)
        for payment in export.payments:
            stamp = payment.origin.stamp
            if since is not None and stamp <= since:
                continue
            key = "sp-payment-" + digest(payment.reference, payment.payment_date, payment.payer_id or payment.payer_name,
                                         payment.client_name_key, payment.date_of_service, payment.code,
                                         payment.amount)
            yield Record(key=key, cursor=_cursor(stamp), data={
                "payment_date": payment.payment_date.isoformat(), "payer_name": payment.payer_name,
                "payer_id": payment.payer_id, "reference": payment.reference,
                "date_of_service": payment.date_of_service.isoformat() if payment.date_of_service else None,
                "billing_code": payment.code, "amount": str(payment.amount),
            })


class SimplePracticeSource(EhrSource):
    """SimplePractice report downloads dropped in a folder or an SFTP inbox."""

    type_name = "simplepractice"
    settings_model = SimplePracticeSettings

    def __init__(self, name: str, settings: SimplePracticeSettings | dict[str, Any]):
        if isinstance(settings, dict):
            settings = SimplePracticeSettings.model_validate(settings)
        super().__init__(name, settings)
        self.settings: SimplePracticeSettings = settings
        self._exports: dict[datetime, Export] = {}
        self._mirrored = False

    def streams(self) -> list[Stream]:
        streams: list[Stream] = [EncounterStream(self)]
        if self.settings.read_payments:
            streams.append(PaymentStream(self))
        return streams

    def check(self) -> None:
        folder = self.settings.folder
        if self.settings.sftp is None and not folder.is_dir():
            raise FatalError(f"source {self.name}: import folder {folder} does not exist; create it or fix "
                             "settings.folder")
        if self.settings.sftp is not None:
            self._mirror()

    def export(self, until: datetime) -> Export:
        """Every export file that arrived by ``until``, read once per source instance."""
        if until not in self._exports:
            self._mirror()
            folder = self.settings.folder
            if not folder.is_dir():
                raise FatalError(f"source {self.name}: import folder {folder} does not exist; create it or fix "
                                 "settings.folder")
            self._exports = {until: load_export(folder, until=until, overrides=self.settings.columns)}
        return self._exports[until]

    # -- the SFTP inbox -------------------------------------------------------------------------------------

    def _mirror(self) -> None:
        """Download the SFTP folder's export files that are new or changed (by name and size) into ``folder``;
        each lands under a temporary name and is renamed when complete. Nothing is deleted remotely."""
        inbox = self.settings.sftp
        if inbox is None or self._mirrored:
            return
        from claimbridge.plugins.clearinghouse_sftp.connection import open_session

        folder = self.settings.folder
        folder.mkdir(parents=True, exist_ok=True)
        session = open_session(inbox)
        try:
            sftp = session.sftp
            try:
                entries = sftp.listdir_attr(inbox.remote_folder)
            except OSError as exc:
                raise FatalError(f"source {self.name}: cannot list {inbox.remote_folder} on {inbox.endpoint}: "
                                 f"{exc}; check sftp.remote_folder") from exc
            for entry in entries:
                name = entry.filename
                if (name.startswith(".") or not stat.S_ISREG(entry.st_mode or 0)
                        or not name.lower().endswith(EXPORT_SUFFIXES)):
                    continue
                local = folder / name
                if local.exists() and local.stat().st_size == entry.st_size:
                    continue
                temp = folder / f".{name}.part"
                try:
                    sftp.get(posixpath.join(inbox.remote_folder, name), str(temp))
                except (OSError, EOFError) as exc:
                    temp.unlink(missing_ok=True)
                    raise TransmitError(f"source {self.name}: downloading {name} from {inbox.endpoint} failed: "
                                        f"{exc}; will retry") from exc
                os.replace(temp, local)
                log.info("source %s: downloaded %s (%d bytes)", self.name, name, entry.st_size or 0)
        finally:
            session.close()
        self._mirrored = True
