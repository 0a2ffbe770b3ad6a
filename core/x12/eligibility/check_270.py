"""The structural check of a 270 (005010X279A1): pyx12 ships no 5010 map for 270/271, so claimbridge checks
what would make a payer reject its inquiries.

* the envelope: GS01 HS, GS08/ST03 005010X279A1, SE01 segment count, SE02 = ST02, GE01/GE02, IEA01/IEA02;
* BHT: 0022, purpose 13 (request) or 01 (cancellation), a real date and time;
* the hierarchy: HL01 numbered 1, 2, 3 … in order, HL02 an earlier HL of the right level (21 under 20, 22
  under 21, 23 under 22), HL03 20/21/22/23, HL04 1 exactly when children follow;
* each loop's segments in the guide's order and only those it allows; its required NM1 with the right
  entity code (PR/2B/36/GP/P5 for the source, 1P/FA/… for the receiver, IL for the subscriber, 03 for the
  dependent), qualifiers (PI/XV… payer id, XX NPI, MI member id) and element lengths;
* on the patient's level (the subscriber without dependents, or the dependent): a TRN (TRN01 1, TRN02 ≤ 50,
  TRN03 10 characters) and at least one EQ whose EQ01 repeats are service type codes from the code list;
  no EQ on a subscriber whose dependent is the patient;
* DMG (D8, a valid birth date, gender F/M/U) and DTP (291 plan date, D8 or RD8 matching its value).

Findings are :class:`~claimbridge.x12.problems.Problem` s in a :class:`~claimbridge.x12.problems.ValidationReport`
(the same report ``x12 validate`` prints): segment number and id, loop, element and a message that quotes
codes and counts, never names, member ids or birth dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from claimbridge.x12.eligibility.codes import SERVICE_TYPES, code_table
from claimbridge.x12.problems import Problem, ValidationReport
from claimbridge.x12.reader import Segment, X12Source, X12SyntaxError, iter_segments
from claimbridge.x12.responses._values import to_date, to_time

__all__ = ["check_270"]

IMPLEMENTATION = "005010X279A1"
_LETTERS = {"20": "A", "21": "B", "22": "C", "23": "D"}
_PARENT = {"20": None, "21": "20", "22": "21", "23": "22"}
#: where each segment may stand in a level: the 2000 loop (HL, TRN), the 2100 name loop, the 2110 inquiry
#: loop (from EQ on; REF and DTP there are the 2110 ones)
_ORDER = {
    "20": {"HL": 0, "NM1": 2},
    "21": {"HL": 0, "NM1": 2, "REF": 3, "N3": 4, "N4": 5, "PRV": 6},
    "22": {"HL": 0, "TRN": 1, "NM1": 2, "REF": 3, "N3": 4, "N4": 5, "PRV": 6, "DMG": 7, "INS": 8, "HI": 9,
           "DTP": 10, "EQ": 20, "AMT": 21, "III": 22},
}
_ORDER["23"] = _ORDER["22"]
_IN_2110 = {"EQ": 20, "AMT": 21, "III": 22, "REF": 23, "DTP": 24}
_ENTITIES = {"20": {"PR", "2B", "36", "GP", "P5"}, "21": {"1P", "2B", "36", "80", "FA", "GP", "P5", "PR"},
             "22": {"IL"}, "23": {"03"}}
_ID_QUALIFIERS = {"20": {"24", "46", "FI", "NI", "PI", "XV", "XX"},
                  "21": {"24", "34", "FI", "PI", "PP", "SV", "XV", "XX"}, "22": {"MI", "II"}, "23": set()}
#: NM1 element → (maximum length, what it is)
_NM1_LENGTHS = {3: (60, "last or organisation name"), 4: (35, "first name"), 5: (25, "middle name"),
                7: (10, "suffix"), 9: (80, "identifier")}
_MAX_USE = {"TRN": 2, "REF": 9, "DTP": 2, "NM1": 1, "DMG": 1, "INS": 1, "HI": 1, "N3": 1, "N4": 1, "PRV": 1}


@dataclass
class _Level:
    code: str
    hl_id: str
    index: int
    says_children: bool
    has_children: bool = False
    names: int = 0
    traces: int = 0
    inquiries: int = 0
    last_order: int = 0
    uses: dict[str, int] = field(default_factory=dict)

    def loop(self, seg_id: str) -> str:
        letter = _LETTERS[self.code]
        if self.last_order >= 20:
            return f"2110{letter}"
        if seg_id in ("HL", "TRN"):
            return f"2000{letter}"
        return f"2100{letter}"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.isa13: str | None = None
        self.groups = 0
        self.gs06: str | None = None
        self.sets = 0
        self.st: Segment | None = None
        self.count = 0
        self.levels: dict[str, _Level] = {}
        self.level: _Level | None = None
        self.hl_count = 0
        self.seen_iea = True
        self.bht = False

    # -- reporting --

    def add(self, seg: Segment | _At | None, message: str, *, element: int | str | None = None, code: str = "270",
            loop: str | None = None, severity: str = "error") -> None:
        ref = f"{seg.id}{element:02d}" if isinstance(element, int) and seg is not None else element
        if loop is None and seg is not None and self.level is not None and self.st is not None:
            loop = self.level.loop(seg.id)
        self.problems.append(Problem(severity, seg.index if seg else None, seg.id if seg else None, loop,
                                     ref if isinstance(ref, str) else None, code, message))

    # -- segments --

    def feed(self, seg: Segment) -> None:
        if self.st is not None:
            self.count += 1
        handler = getattr(self, f"_{seg.id.lower()}", None)
        if seg.id in ("ISA", "GS", "ST", "SE", "GE", "IEA"):
            handler(seg)
            return
        if self.st is None:
            self.add(seg, f"a {seg.id} outside a transaction set", code="envelope")
            return
        if seg.id == "BHT":
            self._bht(seg)
            return
        if seg.id == "HL":
            self._hl(seg)
            return
        level = self.level
        if level is None:
            self.add(seg, f"a {seg.id} before the first HL", code="order", loop="HEADER")
            return
        self._place(level, seg)
        if handler is not None:
            handler(seg, level)

    def _place(self, level: _Level, seg: Segment) -> None:
        table = _IN_2110 if level.last_order >= 20 else _ORDER[level.code]
        position = table.get(seg.id)
        if position is None and level.last_order >= 20:
            position = _ORDER[level.code].get(seg.id)
        if position is None:
            self.add(seg, f"{seg.id} is not used in this loop of a 270 (HL {level.code})", code="unexpected")
            return
        if seg.id == "EQ":
            level.inquiries += 1
        elif position < level.last_order:
            self.add(seg, f"{seg.id} is out of order in loop {level.loop(seg.id)}", code="order")
            return
        level.last_order = position
        key = seg.id if position < 20 else f"{seg.id}@2110"
        level.uses[key] = level.uses.get(key, 0) + 1
        most = _MAX_USE.get(seg.id)
        if position < 20 and most is not None and level.uses[key] > most:
            self.add(seg, f"{seg.id} is used more than {most} time(s) in loop {level.loop(seg.id)}", code="max_use")

    def _isa(self, seg: Segment) -> None:
        if not self.seen_iea:
            self.add(seg, "a new interchange before the IEA of the previous one", code="envelope", loop="ISA")
        self.isa13, self.groups, self.seen_iea = seg[13], 0, False
        if seg[12] != "00501":
            self.add(seg, f"ISA12 must be 00501 for 5010, got {seg[12]!r}", element=12, code="envelope",
                     loop="ISA")

    def _gs(self, seg: Segment) -> None:
        self.groups += 1
        self.gs06, self.sets = seg[6], 0
        if seg[1] != "HS":
            self.add(seg, f"GS01 must be HS (eligibility inquiry), got {seg[1]!r}", element=1, code="envelope",
                     loop="GS")
        if seg[8] != IMPLEMENTATION:
            self.add(seg, f"GS08 must be {IMPLEMENTATION}, got {seg[8]!r}", element=8, code="envelope",
                     loop="GS")

    def _st(self, seg: Segment) -> None:
        if self.st is not None:
            self.add(seg, f"transaction set {self.st[2]} has no SE before this ST", code="envelope", loop="ST")
        self.sets += 1
        self.st, self.count, self.levels, self.level, self.hl_count, self.bht = seg, 1, {}, None, 0, False
        if seg[1] != "270":
            self.add(seg, f"ST01 must be 270, got {seg[1]!r}", element=1, code="envelope", loop="HEADER")
        if seg[3] and seg[3] != IMPLEMENTATION:
            self.add(seg, f"ST03 must be {IMPLEMENTATION}, got {seg[3]!r}", element=3, code="envelope",
                     loop="HEADER")
        if not seg[2] or not 4 <= len(seg[2]) <= 9:
            self.add(seg, "ST02 must be a 4-9 character control number", element=2, code="envelope",
                     loop="HEADER")

    def _bht(self, seg: Segment) -> None:
        if self.bht or self.level is not None:
            self.add(seg, "BHT must come once, right after ST", code="order", loop="HEADER")
        self.bht = True
        if seg[1] != "0022":
            self.add(seg, f"BHT01 must be 0022, got {seg[1]!r}", element=1, code="code", loop="HEADER")
        if seg[2] not in ("01", "13"):
            self.add(seg, f"BHT02 must be 13 (request) or 01 (cancellation), got {seg[2]!r}", element=2,
                     code="code", loop="HEADER")
        if not seg[3] or len(seg[3]) > 50:
            self.add(seg, "BHT03 (reference) must be 1-50 characters", element=3, code="length", loop="HEADER")
        if len(seg[4]) != 8 or to_date(seg[4]) is None:
            self.add(seg, f"BHT04 must be a date CCYYMMDD, got {seg[4]!r}", element=4, code="format",
                     loop="HEADER")
        if to_time(seg[5]) is None:
            self.add(seg, f"BHT05 must be a time HHMM[SS], got {seg[5]!r}", element=5, code="format",
                     loop="HEADER")

    def _hl(self, seg: Segment) -> None:
        if not self.bht:
            self.add(seg, "the BHT is missing before the first HL", code="missing", loop="HEADER")
            self.bht = True
        if self.level is not None:
            self._close(self.level)
        self.hl_count += 1
        code = seg[3]
        letter = _LETTERS.get(code, "?")
        loop = f"2000{letter}"
        if seg[1] != str(self.hl_count):
            self.add(seg, f"HL01 must be {self.hl_count} (HL ids count up from 1), got {seg[1]!r}", element=1,
                     code="hl", loop=loop)
        if code not in _PARENT:
            self.add(seg, f"HL03 must be 20, 21, 22 or 23, got {code!r}", element=3, code="hl", loop=loop)
            self.level = None
            return
        wanted = _PARENT[code]
        if wanted is None:
            if seg[2]:
                self.add(seg, "the information source (HL03 20) has no parent; HL02 must be empty", element=2,
                         code="hl", loop=loop)
        else:
            parent = self.levels.get(seg[2])
            if parent is None:
                self.add(seg, "HL02 must name an earlier HL" + (f"; {seg[2]!r} is not one" if seg[2] else
                                                                 " and is missing"), element=2, code="hl",
                         loop=loop)
            elif parent.code != wanted:
                self.add(seg, f"a level {code} must hang under a level {wanted}, HL {seg[2]} is a {parent.code}",
                         element=2, code="hl", loop=loop)
            else:
                parent.has_children = True
        if seg[4] not in ("0", "1"):
            self.add(seg, f"HL04 must be 0 or 1, got {seg[4]!r}", element=4, code="hl", loop=loop)
        level = _Level(code, seg[1], seg.index, seg[4] == "1")
        self.levels[seg[1]] = level
        self.level = level

    def _close(self, level: _Level) -> None:
        """What a level must hold once all of it has been read (its children are checked at SE)."""
        letter = _LETTERS[level.code]
        at = _At(level.index, "HL")
        if level.names == 0:
            entity = {"20": "NM1*PR (payer)", "21": "NM1*1P (provider)", "22": "NM1*IL (subscriber)",
                      "23": "NM1*03 (dependent)"}[level.code]
            self.add(at, f"loop 2100{letter} has no {entity}", code="missing", loop=f"2100{letter}")
        if level.code in ("22", "23"):
            patient = level.code == "23" or not level.says_children
            if patient and level.inquiries == 0:
                self.add(at, f"the patient's level has no EQ (loop 2110{letter})", code="missing",
                         loop=f"2110{letter}")
            if patient and level.traces == 0:
                self.add(at, f"the patient's level has no TRN trace number (loop 2000{letter})",
                         code="missing", loop=f"2000{letter}")
            if not patient and level.inquiries:
                self.add(at, "EQ on a subscriber whose dependent is the patient: it belongs on the dependent "
                             "level (2110D)", code="unexpected", loop="2110C")

    def _nm1(self, seg: Segment, level: _Level) -> None:
        level.names += 1
        if seg[1] not in _ENTITIES[level.code]:
            allowed = ", ".join(sorted(_ENTITIES[level.code]))
            self.add(seg, f"NM101 must be {allowed} in this loop, got {seg[1]!r}", element=1, code="code")
        if seg[2] not in ("1", "2") or (level.code in ("22", "23") and seg[2] != "1"):
            self.add(seg, f"NM102 must be {'1 (person)' if level.code in ('22', '23') else '1 or 2'}, got "
                          f"{seg[2]!r}", element=2, code="code")
        if not seg[3]:
            self.add(seg, "NM103 (last or organisation name) is missing", element=3, code="missing")
        if seg[2] == "2" and any(seg[k] for k in (4, 5, 7)):
            self.add(seg, "an organisation has no first or middle name or suffix (NM104-NM107)", element=4,
                     code="unexpected")
        for position, (most, what) in _NM1_LENGTHS.items():
            if len(seg[position]) > most:
                self.add(seg, f"the {what} is longer than {most} characters", element=position, code="length")
        qualifiers = _ID_QUALIFIERS[level.code]
        if level.code == "23":
            if seg[8] or seg[9]:
                self.add(seg, "a dependent has no member id of its own (NM108/NM109 not used): ask with the "
                              "dependent's id as a subscriber instead", element=8, code="unexpected")
            return
        if not seg[8] or not seg[9]:
            self.add(seg, "the identifier and its qualifier (NM108/NM109) are required", element=8 if not seg[8]
                     else 9, code="missing")
        elif seg[8] not in qualifiers:
            self.add(seg, f"NM108 must be one of {', '.join(sorted(qualifiers))} here, got {seg[8]!r}", element=8,
                     code="code")
        elif len(seg[9]) < 2:
            self.add(seg, "the identifier is shorter than 2 characters", element=9, code="length")
        elif level.code == "21" and seg[8] == "XX" and not (len(seg[9]) == 10 and seg[9].isdigit()):
            self.add(seg, "an NPI is 10 digits", element=9, code="format")

    def _trn(self, seg: Segment, level: _Level) -> None:
        level.traces += 1
        if level.code not in ("22", "23"):
            return
        if seg[1] != "1":
            self.add(seg, f"TRN01 must be 1 (current transaction trace number), got {seg[1]!r}", element=1,
                     code="code")
        if not seg[2] or len(seg[2]) > 50:
            self.add(seg, "TRN02 (trace number) must be 1-50 characters", element=2, code="length")
        if len(seg[3]) != 10:
            self.add(seg, f"TRN03 (trace assigning entity) must be 10 characters, got {len(seg[3])}", element=3,
                     code="length")

    def _dmg(self, seg: Segment, level: _Level) -> None:
        if seg[2]:
            if seg[1] != "D8":
                self.add(seg, f"DMG01 must be D8, got {seg[1]!r}", element=1, code="code")
            if len(seg[2]) != 8 or to_date(seg[2]) is None:
                self.add(seg, "DMG02 (birth date) is not a date CCYYMMDD", element=2, code="format")
        if seg[3] and seg[3] not in ("F", "M", "U"):
            self.add(seg, f"DMG03 must be F, M or U, got {seg[3]!r}", element=3, code="code")

    def _dtp(self, seg: Segment, level: _Level) -> None:
        if seg[1] != "291":
            self.add(seg, f"DTP01 must be 291 (plan date) in a 270, got {seg[1]!r}", element=1, code="code")
        value = seg[3]
        if seg[2] == "D8":
            ok = len(value) == 8 and to_date(value) is not None
        elif seg[2] == "RD8":
            first, _, last = value.partition("-")
            ok = all(len(v) == 8 and to_date(v) is not None for v in (first, last)) and first <= last
        else:
            self.add(seg, f"DTP02 must be D8 or RD8, got {seg[2]!r}", element=2, code="code")
            return
        if not ok:
            self.add(seg, f"DTP03 {value!r} does not match its format {seg[2]}", element=3, code="format")

    def _eq(self, seg: Segment, level: _Level) -> None:
        codes = seg.repetitions(1)
        if not codes and not seg[2]:
            self.add(seg, "EQ needs service types (EQ01) or a procedure (EQ02)", element=1, code="missing")
        known = code_table(SERVICE_TYPES)
        unknown = [c for c in codes if c not in known]
        if unknown:
            self.add(seg, f"not service type codes: {', '.join(repr(c) for c in unknown)}", element=1, code="code")
        if len(codes) > 99:
            self.add(seg, "EQ01 repeats at most 99 times", element=1, code="max_use")

    def _se(self, seg: Segment) -> None:
        if self.st is None:
            self.add(seg, "SE without ST", code="envelope", loop="SE")
            return
        if self.level is not None:
            self._close(self.level)
        for level in self.levels.values():
            if level.says_children != level.has_children:
                self.add(_At(level.index, "HL"), "HL04 says " + ("children follow but none do" if
                         level.says_children else "no children follow but some do"), element="HL04",
                         code="hl", loop=f"2000{_LETTERS[level.code]}")
        if not self.levels:
            self.add(seg, "the transaction set has no HL levels", code="missing", loop="SE")
        if seg[1] != str(self.count):
            self.add(seg, f"SE01 says {seg[1]!r} segments, the set has {self.count} (ST to SE)", element=1,
                     code="count", loop="SE")
        if seg[2] != self.st[2]:
            self.add(seg, f"SE02 {seg[2]!r} does not match ST02 {self.st[2]!r}", element=2, code="count", loop="SE")
        self.st, self.level = None, None

    def _ge(self, seg: Segment) -> None:
        if self.st is not None:
            self.add(seg, f"transaction set {self.st[2]} has no SE", code="envelope", loop="GE")
            self.st = None
        if seg[1] != str(self.sets):
            self.add(seg, f"GE01 says {seg[1]!r} transaction sets, the group has {self.sets}", element=1,
                     code="count", loop="GE")
        if seg[2] != self.gs06:
            self.add(seg, f"GE02 {seg[2]!r} does not match GS06 {self.gs06!r}", element=2, code="count", loop="GE")

    def _iea(self, seg: Segment) -> None:
        self.seen_iea = True
        if seg[1] != str(self.groups):
            self.add(seg, f"IEA01 says {seg[1]!r} groups, the interchange has {self.groups}", element=1,
                     code="count", loop="IEA")
        if seg[2] != self.isa13:
            self.add(seg, f"IEA02 {seg[2]!r} does not match ISA13 {self.isa13!r}", element=2, code="count",
                     loop="IEA")

    def end(self) -> None:
        if self.st is not None:
            self.add(None, f"the data ends inside transaction set {self.st[2]} (no SE)", code="envelope")
        if not self.seen_iea:
            self.add(None, "the data ends without an IEA", code="envelope")
        if self.isa13 is None:
            self.add(None, "no ISA interchange header", code="envelope")


@dataclass
class _At:
    """Stands in for a segment when a finding points back at an HL read earlier."""

    index: int
    id: str


def check_270(data: X12Source, *, name: str | None = None) -> ValidationReport:
    """Check ``data`` (a path, text or bytes) as a 270 interchange; ``ok`` when no finding is an error."""
    checker = _Checker()
    try:
        for seg in iter_segments(data, name=name):
            checker.feed(seg)
    except X12SyntaxError as exc:
        checker.problems.append(Problem("error", exc.segment, None, None, None, "syntax", exc.reason))
    else:
        checker.end()
    ok = not any(p.severity == "error" for p in checker.problems)
    return ValidationReport(ok, checker.problems, "270")
