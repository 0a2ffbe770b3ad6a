"""The sandbox clearinghouse's answers to an 837P: TA1, 999 and 277CA, as a real clearinghouse sends them.

* **TA1** when the interchange asks for one (ISA14 = 1), and always when the interchange envelope itself is
  broken (ISA/IEA problems: TA104 ``R``, and nothing else is answered).
* **999** (005010X231A1) per file, one ST per 837 functional group: ``IK5*A`` for each transaction set that
  passes :func:`claimbridge.x12.validate.validate_x12`, ``IK5*R`` with ``IK3``/``IK4`` (and ``CTX*CLM01``)
  derived from the validation problems otherwise; ``AK9`` ``A``, ``P`` or ``R``.
* **277CA** (005010X214) per interchange for the accepted transaction sets: one 2200D per claim,
  ``TRN02`` = the PCN, ``STC*A1:19:PR`` and ``STC*A2:20:PR`` with ``REF*1K`` (a generated payer claim
  control number) when the claim passes the sandbox's front-end checks, ``STC*A7`` with the status and
  entity otherwise (see :mod:`.responder_277ca`).
* **835** (005010X221A1) per payer for the claims the 277CA accepted, only when an
  :class:`~.responder_835.AdjudicationModel` is given (see :mod:`.responder_835`).

Control numbers (ISA13, and GS06 equal to it) come from a counter the sandbox keeps in its private folder.

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

from claimbridge.x12.problems import Problem
from claimbridge.x12.reader import X12SyntaxError
from claimbridge.x12.validate import validate_x12
from claimbridge.x12.writer import SegmentWriter, clean_value

from .received_837 import FunctionalGroup, Interchange, TransactionSet, read_837
from .responder_277ca import judge_claims, write_277ca_group
from .responder_835 import AdjudicationModel, write_835s

__all__ = ["AdjudicationModel", "Answers", "ControlNumberCounter", "answer_837", "open_interchange", "write_answers"]

log = logging.getLogger(__name__)

ACK_IMPLEMENTATION = "005010X231A1"
CLAIM_IMPLEMENTATION = "005010X222A1"

# codes the 999 implementation guide allows (pyx12 reports problems with these same code lists)
_IK304_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"}
_IK403_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13", "I10", "I11", "I12", "I13",
                "I6", "I9"}
_IK5_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15", "16", "17", "18",
              "19", "23", "24", "25", "26", "27", "I5", "I6"}
_AK9_CODES = {"1", "2", "3", "4", "5", "6", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19",
              "23", "24", "25", "26"}
_TA1_CODES = {f"{n:03d}" for n in range(32)}
# what a 999 may list per IK3 and per IK5/AK9 before it stops being useful
_MAX_IK3 = 50
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MAX_CODES = 5


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
    verdict = _Verdict(interchanges, report.problems)

    ta1 = None
    first = interchanges[0]
    if first.ack_requested or verdict.interchange_problems:
        ta1 = _ta1(first, verdict.interchange_problems, control_numbers(), now).encode()
    if verdict.interchange_problems:
        return Answers(ta1=ta1)
    groups = [g for i in interchanges for g in i.groups if g.functional_id == "HC"]
    if not groups:
        log.info("sandbox: %s holds no 837 functional group; only the interchange is acknowledged", name)
        return Answers(ta1=ta1)
    ack = _ack_999(first, groups, verdict, control_numbers(), now)
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


# -- where each validation problem belongs ------------------------------------------------------------------


class _Verdict:
    """Validation problems sorted by the envelope level they hit."""

    def __init__(self, interchanges: list[Interchange], problems: list[Problem]):
        errors = [p for p in problems if p.severity == "error"]
        self.interchange_problems = [p for p in errors if p.segment_id in ("ISA", "IEA")]
        self._unplaced = [p for p in errors if p.segment_index is None]
        self._by_group: dict[int, list[Problem]] = {}
        self._by_set: dict[int, list[Problem]] = {}
        for problem in errors:
            if problem.segment_index is None or problem in self.interchange_problems:
                continue
            for interchange in interchanges:
                for group in interchange.groups:
                    if not group.holds(problem.segment_index):
                        continue
                    target = next((t for t in group.transactions if t.holds(problem.segment_index)), None)
                    if target is None or problem.code == "no-map":
                        self._by_group.setdefault(id(group), []).append(problem)
                    else:
                        self._by_set.setdefault(id(target), []).append(problem)

    def group_problems(self, group: FunctionalGroup) -> list[Problem]:
        return self._unplaced + self._by_group.get(id(group), [])

    def group_rejected(self, group: FunctionalGroup) -> bool:
        return bool(self.group_problems(group))

    def transaction_problems(self, transaction: TransactionSet) -> list[Problem]:
        return self._unplaced + self._by_set.get(id(transaction), [])


# -- TA1 ----------------------------------------------------------------------------------------------------


def open_interchange(out: SegmentWriter, received: Interchange, control_number: int, now: datetime) -> None:
    """The ISA of a response: sender and receiver of ``received`` swapped, same usage indicator."""
    out.segment("ISA", "00", "", "00", "", received.receiver_qualifier or "ZZ", received.receiver_id or "SANDBOX",
                received.sender_qualifier or "ZZ", received.sender_id or "UNKNOWN", now.strftime("%y%m%d"),
                now.strftime("%H%M"), out.delimiters.repetition or "^", "00501", f"{control_number:09d}", "0",
                received.usage if received.usage in ("T", "P") else "T", out.delimiters.component)


def _ta1(received: Interchange, problems: list[Problem], control_number: int, now: datetime) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    note = "000"
    if problems:
        note = next((p.code for p in problems if p.code in _TA1_CODES), "024")  # 024: invalid content
    out.segment("TA1", received.control_number.rjust(9, "0")[-9:], received.date, received.time,
                "R" if problems else "A", note)
    out.segment("IEA", "0", f"{control_number:09d}")
    return out.text()


# -- 999 ----------------------------------------------------------------------------------------------------


def _ack_999(received: Interchange, groups: list[FunctionalGroup], verdict: _Verdict, control_number: int,
             now: datetime) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    first = groups[0]
    out.segment("GS", "FA", first.receiver or "SANDBOX", first.sender or "UNKNOWN", now.strftime("%Y%m%d"),
                now.strftime("%H%M"), str(control_number), "X", ACK_IMPLEMENTATION)
    for number, group in enumerate(groups, start=1):
        st_start = len(out)
        control = f"{number:04d}"
        out.segment("ST", "999", control, ACK_IMPLEMENTATION)
        out.segment("AK1", group.functional_id, group.control_number, group.implementation)
        group_codes = _codes(verdict.group_problems(group), _AK9_CODES)
        accepted = 0
        for transaction in group.transactions:
            out.segment("AK2", "837", transaction.st02, transaction.implementation)
            problems = verdict.transaction_problems(transaction)
            set_codes = _write_segment_errors(out, transaction, problems)
            if problems or group_codes:
                set_codes = set_codes or ["5"]
                out.segment("IK5", "R", *set_codes[:_MAX_CODES])
            else:
                accepted += 1
                out.segment("IK5", "A")
        count = len(group.transactions)
        rejected = bool(group_codes) or accepted < count
        status = "A" if not rejected else ("P" if accepted else "R")
        out.segment("AK9", status, str(count), str(count), str(accepted), *group_codes[:_MAX_CODES])
        out.segment("SE", str(len(out) - st_start + 1), control)
    out.segment("GE", str(len(groups)), str(control_number))
    out.segment("IEA", "1", f"{control_number:09d}")
    return out.text()


def _ack_277ca(received: Interchange, group: FunctionalGroup, judged: list, control_number: int,
               now: datetime) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    write_277ca_group(out, judged, control_number, now, gs_sender=group.receiver or "SANDBOX",
                      gs_receiver=group.sender or "UNKNOWN")
    out.segment("IEA", "1", f"{control_number:09d}")
    return out.text()


def _codes(problems: list[Problem], allowed: set[str]) -> list[str]:
    codes: list[str] = []
    for problem in problems:
        code = problem.code if problem.code in allowed else ("2" if problem.code == "no-map" else "")
        if code and code not in codes:
            codes.append(code)
    if problems and not codes:
        codes.append("1" if "1" in allowed else "5")
    return codes


def _write_segment_errors(out: SegmentWriter, transaction: TransactionSet, problems: list[Problem]) -> list[str]:
    """IK3 (+ CTX, IK4) per segment in error; returns the IK5 codes for ST/SE-level problems."""
    set_codes: list[str] = []
    by_segment: dict[int, list[Problem]] = {}
    for problem in problems:
        if problem.segment_id in ("ST", "SE") or problem.segment_index is None:
            code = problem.code if problem.code in _IK5_CODES else "5"
            if code not in set_codes:
                set_codes.append(code)
            continue
        by_segment.setdefault(problem.segment_index, []).append(problem)
    for index in sorted(by_segment)[:_MAX_IK3]:
        found = by_segment[index]
        head = found[0]
        segment_level = [p for p in found if not p.element]
        seg_code = next((p.code for p in segment_level if p.code in _IK304_CODES), "8")
        loop = _loop_code(head.loop_id)
        out.segment("IK3", head.segment_id or "", str(transaction.position(index)), loop, seg_code)
        pcn = next((p.pcn for p in found if p.pcn), None)
        if pcn:
            out.segment("CTX", ("CLM01", pcn))
        for problem in found:
            if not problem.element:
                continue
            position = _element_position(problem.element)
            if position is None:
                continue
            code = problem.code if problem.code in _IK403_CODES else "I12"
            bad = clean_value(problem.value or "", out.delimiters)[:99]
            out.segment("IK4", position, "", code, bad)
    if by_segment and "5" not in set_codes:
        set_codes.insert(0, "5")
    return set_codes


def _loop_code(loop_id: str | None) -> str:
    """IK303 holds at most four characters: the loop number (``2010`` for 2010BA); envelope loops omit it."""
    if not loop_id or not loop_id[:1].isdigit():
        return ""
    return loop_id[:4]


def _element_position(element: str) -> tuple[str, ...] | None:
    """``SV103`` → ("3",), ``CLM05-3`` → ("5", "3")."""
    base, _, component = element.partition("-")
    digits = base[-2:]
    if not digits.isdigit():
        return None
    position = (str(int(digits)),)
    return position + (component,) if component.isdigit() else position
