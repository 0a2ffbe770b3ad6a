"""The ``simplepractice`` source: a folder (local, or mirrored from SFTP) of SimplePractice report downloads.

Streams:

* ``encounters`` — one encounter bundle per billable session (``bundles.py``); the cursor is when the newest file
  the session is built from arrived in the folder, so a pull reads what arrived since the last one, and a
  re-dropped or overlapping export yields the same records with the same payloads (stored once).
* ``insurance_payments`` — the insurance payments the practice recorded in SimplePractice (kept in
  ``source_records``, to compare with the 835s).
* ``appointments`` — upcoming appointments as appointment bundles (``appointments.py``), for eligibility checks;
  read whole every run (no cursor).

Unusable rows and files come out as :class:`~claimbridge.BadRecord` (file, row number, field, reason, the cells),
so the sync runner quarantines them and the rest of the file goes on.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from claimbridge import BadRecord, EhrSource, Record, Stream
from claimbridge.errors import FatalError, TransmitError
from claimbridge.plugins.ehr_fhir.appointments import STREAM as APPOINTMENTS_STREAM
from claimbridge.plugins.ehr_fhir.appointments import appointment_window

from .appointments import UpcomingAppointments
from .bundles import Joiner, digest
from .export import EXPORT_SUFFIXES, Export, RowProblem, load_export
from .files import file_digest
from .settings import SimplePracticeSettings

log = logging.getLogger(__name__)

#: files that arrived within this long before the bookmark are read again (clock steps, slow copies)
LOOKBACK = timedelta(minutes=5)
#: SFTP gives modification times in whole seconds: a copy downloaded within this long of the server's last
#: change is downloaded again (and compared) next time, so a same-size rewrite in that second is not missed
SETTLED_SECONDS = 2


#: the SFTP inbox's record of what it downloaded (hidden: the folder scan skips dot-files)
MANIFEST = ".claimbridge-downloads.json"


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


class AppointmentStream(Stream):
    """Upcoming appointments (today through ``appointments.days_ahead`` days later) as appointment bundles, from
    every appointments export in the folder. No cursor: each run reads its whole window, so a cancellation in a
    newer export replaces the booked record."""

    name = APPOINTMENTS_STREAM
    primary_key = "id"
    cursor_field = None
    is_sorted = False

    def __init__(self, source: SimplePracticeSource):
        self.source = source

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        export = self.source.export(until)
        window = appointment_window(until if until.tzinfo else until.replace(tzinfo=UTC),
                                    self.source.settings.appointments)
        for item in UpcomingAppointments(Joiner(export, self.source.settings), window).read():
            if isinstance(item, RowProblem):
                yield _bad(item)
            else:
                key, bundle = item
                yield Record(key=key, cursor=None, data=bundle)


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
        if self.settings.appointments.enabled:
            streams.append(AppointmentStream(self))
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
        """Download the SFTP folder's export files that are new or changed into ``folder``; each lands under a
        temporary name and is renamed when complete. Nothing is deleted remotely.

        ``folder/.claimbridge-downloads.json`` remembers each download (size, the server's modification time,
        sha256, when). A file whose size and modification time match is skipped, unless it was downloaded within
        :data:`SETTLED_SECONDS` of that time (SFTP times are whole seconds: a same-size rewrite in that second
        would look the same); then it is downloaded again and replaces the local copy only if its bytes differ,
        so an unchanged file keeps its arrival time and yields nothing new."""
        inbox = self.settings.sftp
        if inbox is None or self._mirrored:
            return
        from claimbridge.plugins.clearinghouse_sftp.connection import open_session

        folder = self.settings.folder
        folder.mkdir(parents=True, exist_ok=True)
        manifest_path = folder / MANIFEST
        try:
            manifest: dict[str, dict[str, Any]] = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            manifest = {}
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
                known = manifest.get(name)
                remote_mtime = int(entry.st_mtime or 0)
                if (known is not None and local.exists() and known["size"] == entry.st_size
                        and known["mtime"] == remote_mtime
                        and known["downloaded"] - remote_mtime >= SETTLED_SECONDS):
                    continue
                temp = folder / f".{name}.part"
                try:
                    sftp.get(posixpath.join(inbox.remote_folder, name), str(temp))
                except (OSError, EOFError) as exc:
                    temp.unlink(missing_ok=True)
                    raise TransmitError(f"source {self.name}: downloading {name} from {inbox.endpoint} failed: "
                                        f"{exc}; will retry") from exc
                digest_hex = file_digest(temp)
                if known is not None and local.exists() and known.get("sha256") == digest_hex:
                    temp.unlink()  # unchanged: the local copy (and its arrival time) stays
                else:
                    os.replace(temp, local)
                    log.info("source %s: downloaded %s (%d bytes)", self.name, name, entry.st_size or 0)
                manifest[name] = {"size": entry.st_size, "mtime": remote_mtime, "sha256": digest_hex,
                                  "downloaded": time.time()}
                _write_json_atomically(manifest_path, manifest)
        finally:
            session.close()
        self._mirrored = True


def _write_json_atomically(path, data) -> None:
    temp = path.with_name(path.name + ".part")
    temp.write_text(json.dumps(data, sort_keys=True, indent=1), encoding="utf-8")
    os.replace(temp, path)
