"""The sandbox clearinghouse's answers to an 837P: TA1, 999 and 277CA, as a real clearinghouse sends them.

* **TA1** when the interchange asks for one (ISA14 = 1), and always when the interchange envelope itself is
  broken (ISA/IEA problems: TA104 ``R``, and nothing else is answered).
* **999** (005010X231A1) per file, one ST per 837 functional group: ``IK5*A`` for each transaction set that
  passes :func:`claimbridge.x12.validate.validate_x12`, ``IK5*R`` with ``IK3``/``IK4`` (and ``CTX*CLM01``)
  derived from the validation problems otherwise; ``AK9`` ``A``, ``P`` or ``R`` (see :mod:`.responder_acks`).
* **277CA** (005010X214) per interchange for the accepted transaction sets: one 2200D per claim,
  ``TRN02`` = the PCN, ``STC*A1:19:PR`` and ``STC*A2:20:PR`` with ``REF*1K`` (a generated payer claim
  control number) when the claim passes the sandbox's front-end checks, ``STC*A7`` with the status and
  entity otherwise (see :mod:`.responder_277ca`).
* **835** (005010X221A1) per payer for the claims the 277CA accepted, only when an
  :class:`~.responder_835.AdjudicationModel` is given (see :mod:`.responder_835`).

Control numbers (ISA13, and GS06 equal to it) come from a counter the sandbox keeps in its private folder.
The upload is read by :mod:`.received_837`. A TA1-only interchange is valid X12 (``IEA01`` = 0), but pyx12's
control map expects a functional group in every interchange, so :func:`validate_x12` reports the ``.ta1``
files as missing a GS loop; the 999, 277CA and 835 files validate without findings.

    answers = answer_837(data, control_numbers=ControlNumberCounter(root / ".sandbox" / "isa13"))
    write_answers(root / "outbound", "batch-0001.837", answers)   # batch-0001.837.999, .277, .ta1
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from claimbridge.x12.reader import X12SyntaxError
from claimbridge.x12.validate import validate_x12
from claimbridge.x12.writer import SegmentWriter

from .received_837 import FunctionalGroup, Interchange, read_837
from .responder_277ca import judge_claims, write_277ca_group
from .responder_835 import AdjudicationModel, write_835s
from .responder_acks import ValidationVerdict, open_interchange, write_999, write_ta1

__all__ = ["AdjudicationModel", "Answers", "ControlNumberCounter", "answer_837", "open_interchange", "write_answers"]

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Answers:
    """The response files for one upload (None where there is nothing to send). ``accepted`` is True when
    the 999 accepted every transaction set (claims may still be rejected in the 277CA)."""

    ta1: bytes | None = None
    ack_999: bytes | None = None
    ack_277ca: bytes | None = None
    accepted: bool = False
    #: payer id → 835
    remittances: Mapping[str, bytes] = field(default_factory=dict)

    def files(self, upload_name: str) -> dict[str, bytes]:
        """Response file names (``<upload>.ta1``, ``.999``, ``.277``, ``.<payer id>.835``) and contents."""
        named = {".ta1": self.ta1, ".999": self.ack_999, ".277": self.ack_277ca}
        files = {upload_name + suffix: content for suffix, content in named.items() if content is not None}
        for payer_id, content in self.remittances.items():
            files[f"{upload_name}.{_SAFE_NAME.sub('_', payer_id)}.835"] = content
        return files


class ControlNumberCounter:
    """ISA13 numbers for the sandbox's own interchanges, persisted in ``path`` (one integer) so they stay
    unique across restarts. Thread-safe within one process."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            try:
                current = int(self.path.read_text().strip() or 0)
            except FileNotFoundError:
                current = 0
            number = current % 999_999_999 + 1
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.path, f"{number}\n".encode())
            return number


def answer_837(data: bytes | str, *, control_numbers: Callable[[], int], name: str = "<upload>",
               now: datetime | None = None, adjudication: AdjudicationModel | None = None) -> Answers:
    """The sandbox's answers to the 837P ``data``. ``control_numbers`` hands out ISA13 values;
    ``adjudication`` (optional) makes the payer send 835s for the claims the 277CA accepted.

    Data that is not X12 (or has no ISA) gets no answer at all: without an envelope there is nobody to
    address one to.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        interchanges = read_837(data, name=name)
    except X12SyntaxError as exc:
        log.info("sandbox: %s is not X12 (%s); not answered", name, exc.reason)
        return Answers()
    if not interchanges:
        log.info("sandbox: %s has no ISA envelope; not answered", name)
        return Answers()
    report = validate_x12(data, name=name)
    verdict = ValidationVerdict(interchanges, report.problems)

    ta1 = None
    first = interchanges[0]
    if first.ack_requested or verdict.interchange_problems:
        ta1 = write_ta1(first, verdict.interchange_problems, control_numbers(), now).encode()
    if verdict.interchange_problems:
        return Answers(ta1=ta1)
    groups = [g for i in interchanges for g in i.groups if g.functional_id == "HC"]
    if not groups:
        log.info("sandbox: %s holds no 837 functional group; only the interchange is acknowledged", name)
        return Answers(ta1=ta1)
    ack = write_999(first, groups, verdict, control_numbers(), now)
    accepted_sets = [t for g in groups if not verdict.group_rejected(g) for t in g.transactions
                     if not verdict.transaction_problems(t)]
    ack_277 = None
    remittances: dict[str, bytes] = {}
    if accepted_sets:
        control_number = control_numbers()
        judged = judge_claims(accepted_sets, control_number, now)
        ack_277 = _ack_277ca(first, groups[0], judged, control_number, now).encode()
        if adjudication is not None:
            remits = write_835s(first, judged, adjudication, control_numbers, now, open_interchange)
            remittances = {payer: text.encode() for payer, text in remits.items()}
    every = [t for g in groups for t in g.transactions]
    return Answers(ta1=ta1, ack_999=ack.encode(), ack_277ca=ack_277,
                   accepted=len(accepted_sets) == len(every) and bool(every), remittances=remittances)


def write_answers(folder: Path | str, upload_name: str, answers: Answers) -> list[Path]:
    """Write the response files into ``folder``, each under a hidden temporary name first and then renamed,
    so a client listing the folder never sees half a file. Returns the paths written."""
    folder = Path(folder)
    written = []
    for file_name, content in answers.files(upload_name).items():
        target = folder / file_name
        _write_atomically(target, content)
        written.append(target)
    return written


def _write_atomically(target: Path, content: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _ack_277ca(received: Interchange, group: FunctionalGroup, judged: list, control_number: int,
               now: datetime) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    write_277ca_group(out, judged, control_number, now, gs_sender=group.receiver or "SANDBOX",
                      gs_receiver=group.sender or "UNKNOWN")
    out.segment("IEA", "1", f"{control_number:09d}")
    return out.text()
