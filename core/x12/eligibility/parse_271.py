"""Read 271 eligibility responses (and our own 270 inquiries) of 005010X279A1.

:func:`claimbridge.x12.responses.iter_transactions` hands each 270/271 set, a segment at a time, to an
:class:`EligibilityParser`; the set becomes an :class:`~claimbridge.x12.eligibility.model.Eligibility271`
(one :class:`EligibilityResponse` per subscriber or dependent) or an
:class:`~claimbridge.x12.eligibility.model.Eligibility270` (one inquiry per subscriber or dependent).

The hierarchy (HL03): 20 information source — the payer (2000A/2100A), 21 information receiver — the provider
(2000B/2100B), 22 subscriber (2000C: TRN, 2100C: NM1*IL REF N3 N4 AAA PRV DMG INS HI DTP MPI, 2110C: EB HSD
REF DTP AAA MSG, 2115C III, 2120C: LS NM1 N3 N4 PER PRV LE), 23 dependent (the same as 2000D…2120D). In a 270
the 2110 loop is EQ (AMT III REF DTP) instead of EB.

A set that breaks the guide in a way that changes its meaning — an EB without a known EB01, an amount that
is not a number, an HL whose parent is missing, a benefit outside a subscriber or dependent, a wrong SE
segment count — raises :class:`~claimbridge.x12.responses.X12ParseError` naming the file, the segment number
and the element; names, member ids and birth dates are never quoted.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from claimbridge.x12.eligibility.codes import ELIGIBILITY_BENEFITS, code_table
from claimbridge.x12.eligibility.model import (
    Benefit,
    BenefitDate,
    BenefitEntity,
    Contact,
    Delivery,
    Eligibility270,
    Eligibility271,
    EligibilityInquiry,
    EligibilityResponse,
    Member,
    Party,
    Payer,
    Provider,
    Rejection,
    TraceNumber,
)
from claimbridge.x12.reader import Delimiters
from claimbridge.x12.responses._values import Reader, X12ParseError, to_date

__all__ = ["EligibilityParser", "IMPLEMENTATION"]

IMPLEMENTATION = "005010X279A1"

#: HL03 → loop letter (2000A information source … 2000D dependent)
LOOP_LETTERS = {"20": "A", "21": "B", "22": "C", "23": "D"}
#: the level each HL03 must hang under
PARENT_LEVELS = {"20": None, "21": "20", "22": "21", "23": "22"}
_YES_NO_UNKNOWN = {"Y": True, "N": False, "U": None, "": None}
_NETWORK = {"Y": True, "N": False, "W": None, "U": None, "": None}


class _Level:
    """One HL and what its loops said, before the answer is assembled."""

    __slots__ = ("code", "hl_id", "parent", "index", "party", "trace_numbers", "rejections", "references",
                 "reference_names", "dates", "birth_date", "gender", "benefits", "service_types",
                 "has_children")

    def __init__(self, code: str, hl_id: str, parent: _Level | None, index: int):
        self.code = code
        self.hl_id = hl_id
        self.parent = parent
        self.index = index
        self.party: Party | None = None
        self.trace_numbers: list[TraceNumber] = []
        self.rejections: list[Rejection] = []
        self.references: dict[str, str] = {}
        self.reference_names: dict[str, str] = {}
        self.dates: list[BenefitDate] = []
        self.birth_date: date | None = None
        self.gender: str | None = None
        self.benefits: list[Benefit] = []
        self.service_types: list[str] = []
        self.has_children = False

    @property
    def letter(self) -> str:
        return LOOP_LETTERS[self.code]

    def ancestor(self, code: str) -> _Level | None:
        level: _Level | None = self
        while level is not None and level.code != code:
            level = level.parent
        return level


class EligibilityParser:
    """Feed the segments of one 270 or 271 ST…SE (without SE), then :meth:`finish` with the SE."""

    def __init__(self, reader: Reader, delimiters: Delimiters, st: list[str], index: int, kind: str):
        self.r = reader
        self.component = delimiters.component
        self.repetition = delimiters.repetition
        self.kind = kind
        self.stop_index = 0
        self.st_index = index
        self.control_number = st[2] if len(st) > 2 else ""
        self.version = st[3] if len(st) > 3 and st[3] else None
        self.reference: str | None = None
        self.date: date | None = None
        self.purpose: str | None = None
        self.levels: dict[str, _Level] = {}
        self.order: list[_Level] = []
        self.level: _Level | None = None
        self.stage = "hl"  # hl → name (after NM1) → benefit (after EB/EQ) → entity (inside LS…LE)
        self.benefit: Benefit | None = None
        self.entity: BenefitEntity | None = None
        self.count = 1  # ST

    # -- segments --

    def feed(self, p: list[str], i: int) -> None:
        self.count += 1
        seg_id = p[0]
        handler = _HANDLERS.get(seg_id)
        if handler is not None:
            if len(p) < 15:
                p = p + [""] * (15 - len(p))
            handler(self, p, i)

    def _bht(self, p: list[str], i: int) -> None:
        if p[1] != "0022":
            raise self.r.error(f"the hierarchical structure code must be 0022, got {p[1][:6]!r}", p, i, 1)
        self.purpose = p[2] or None
        self.reference = p[3] or None
        self.date = self.r.date(p, 4, i, "the creation date")

    def _hl(self, p: list[str], i: int) -> None:
        r = self.r
        if not p[1]:
            raise r.error("the hierarchical id number is missing", p, i, 1)
        if p[1] in self.levels:
            raise r.error(f"hierarchical id {p[1][:12]!r} is used twice", p, i, 1)
        code = p[3]
        if code not in PARENT_LEVELS:
            raise r.error(f"{code[:6]!r} is not a {self.kind} level code (20, 21, 22 or 23)", p, i, 3)
        parent = None
        wanted = PARENT_LEVELS[code]
        if wanted is not None:
            parent = self.levels.get(p[2])
            if parent is None:
                reason = ("the parent id is missing" if not p[2]
                          else f"the parent HL {p[2][:12]!r} is not an earlier HL of this set")
                raise r.error(reason, p, i, 2)
            if parent.code != wanted:
                raise r.error(f"a level {code} must hang under a level {wanted}, not {parent.code}", p, i, 2)
            parent.has_children = True
        elif p[2]:
            raise r.error("the information source level (20) has no parent", p, i, 2)
        self.level = _Level(code, p[1], parent, i)
        self.levels[p[1]] = self.level
        self.order.append(self.level)
        self.stage, self.benefit, self.entity = "hl", None, None

    def _need_level(self, p: list[str], i: int) -> _Level:
        if self.level is None:
            raise self.r.error(f"a {p[0]} before the first HL", p, i)
        return self.level

    def _patient_level(self, p: list[str], i: int, what: str) -> _Level:
        level = self._need_level(p, i)
        if level.code not in ("22", "23"):
            raise self.r.error(f"{what} outside a subscriber or dependent level (it is in loop "
                               f"2000{level.letter})", p, i)
        return level

    def _trn(self, p: list[str], i: int) -> None:
        level = self._patient_level(p, i, "a trace number")
        if not p[2]:
            raise self.r.error("the trace number is missing", p, i, 2)
        if p[1] not in ("1", "2"):
            raise self.r.error(f"the trace type must be 1 or 2, got {p[1][:4]!r}", p, i, 1)
        level.trace_numbers.append(TraceNumber(p[1], p[2], p[3] or None))

    def _nm1(self, p: list[str], i: int) -> None:
        level = self._need_level(p, i)
        if not p[1]:
            raise self.r.error("the entity identifier code is missing", p, i, 1)
        if p[2] not in ("1", "2"):
            raise self.r.error(f"the entity type must be 1 (person) or 2 (organisation), got {p[2][:4]!r}",
                               p, i, 2)
        party = Party(p[1], p[3] or None, p[4] or None, p[5] or None, p[8] or None, p[9] or None,
                      person=p[2] == "1", suffix=p[7] or None)
        if self.stage in ("benefit", "entity"):
            if self.benefit is None:
                raise self.r.error("a benefit-related entity without a benefit", p, i)
            self.entity = BenefitEntity(party, i)
            self.benefit.entities.append(self.entity)
            self.stage = "entity"
            return
        if level.party is not None:
            raise self.r.error(f"a second name in loop 2100{level.letter}", p, i)
        level.party = party
        self.stage = "name"
        if level.code == "22" and p[1] != "IL":
            raise self.r.error(f"the subscriber's entity code must be IL, got {p[1][:4]!r}", p, i, 1)
        if level.code == "23" and p[1] != "03":
            raise self.r.error(f"the dependent's entity code must be 03, got {p[1][:4]!r}", p, i, 1)

    def _per(self, p: list[str], i: int) -> None:
        level = self._need_level(p, i)
        party = self.entity.party if self.stage == "entity" and self.entity else level.party
        if party is None:
            return
        numbers = {p[k]: p[k + 1] for k in (3, 5, 7) if p[k] and p[k + 1]}
        party.contacts.append(Contact(p[1], p[2] or None, numbers))

    def _ref(self, p: list[str], i: int) -> None:
        level = self._need_level(p, i)
        if not p[1] or not p[2]:
            raise self.r.error("REF needs a qualifier and a value", p, i, 1 if not p[1] else 2)
        if self.stage in ("benefit", "entity") and self.benefit is not None:
            self.benefit.references[p[1]] = p[2]
            return
        level.references[p[1]] = p[2]
        if p[3]:
            level.reference_names[p[1]] = p[3]

    def _aaa(self, p: list[str], i: int) -> None:
        level = self._need_level(p, i)
        if p[1] not in ("Y", "N"):
            raise self.r.error(f"the valid request indicator must be Y or N, got {p[1][:4]!r}", p, i, 1)
        if not p[3]:
            raise self.r.error("the reject reason code is missing", p, i, 3)
        stage = {"hl": "2000", "name": "2100", "benefit": "2110", "entity": "2120"}[self.stage]
        rejection = Rejection(p[3], p[4] or None, f"{stage}{level.letter}", p[1] == "Y", i)
        level.rejections.append(rejection)
        if self.stage == "benefit" and self.benefit is not None:
            self.benefit.rejections.append(rejection)

    def _dmg(self, p: list[str], i: int) -> None:
        level = self._patient_level(p, i, "demographics")
        if p[2]:
            if p[1] != "D8":
                raise self.r.error(f"the date format must be D8, got {p[1][:4]!r}", p, i, 1)
            birth = to_date(p[2]) if len(p[2]) == 8 else None
            if birth is None:  # the birth date is personal data: not quoted
                raise self.r.error("the birth date is not a date CCYYMMDD", p, i, 2)
            level.birth_date = birth
        if p[3] and p[3] not in ("F", "M", "U"):
            raise self.r.error(f"the gender code must be F, M or U, got {p[3][:4]!r}", p, i, 3)
        level.gender = p[3] or None

    def _dtp(self, p: list[str], i: int) -> None:
        level = self._need_level(p, i)
        if not p[1]:
            raise self.r.error("the date qualifier is missing", p, i, 1)
        if p[2] == "D8":
            if "-" in p[3]:
                raise self.r.error("a D8 date holds one date; use RD8 for a range", p, i, 3)
            start, end = self.r.date(p, 3, i, "the date", required=True), None
        elif p[2] == "RD8":
            if "-" not in p[3]:
                raise self.r.error("an RD8 date is a range CCYYMMDD-CCYYMMDD", p, i, 3)
            start, end = self.r.period(p, 3, i, "the date")
        else:
            raise self.r.error(f"the date format must be D8 or RD8, got {p[2][:4]!r}", p, i, 2)
        entry = BenefitDate(p[1], start, end)
        if self.stage in ("benefit", "entity") and self.benefit is not None:
            self.benefit.dates.append(entry)
        else:
            level.dates.append(entry)

    def _eb(self, p: list[str], i: int) -> None:
        r = self.r
        if self.kind != "271":
            raise r.error("a benefit (EB) in a 270", p, i)
        level = self._patient_level(p, i, "a benefit (EB)")
        if level.party is None:
            raise r.error(f"a benefit before the name of loop 2100{level.letter}", p, i)
        if not p[1]:
            raise r.error("the eligibility or benefit code is missing", p, i, 1)
        if p[1] not in code_table(ELIGIBILITY_BENEFITS):
            raise r.error(f"{p[1][:6]!r} is not an eligibility or benefit code", p, i, 1)
        if p[10] and not p[9]:
            raise r.error("a quantity without its qualifier (EB09)", p, i, 9)
        if p[11] not in _YES_NO_UNKNOWN:
            raise r.error(f"the authorization indicator must be Y, N or U, got {p[11][:4]!r}", p, i, 11)
        if p[12] not in _NETWORK:
            raise r.error(f"the in-network indicator must be Y, N, W or U, got {p[12][:4]!r}", p, i, 12)
        procedure = None
        if p[13]:
            parts = p[13].split(self.component)
            procedure = parts[1] if len(parts) > 1 else None
        benefit = Benefit(
            p[1], p[2] or None, self._repeated(p[3]), p[4] or None, p[5] or None, p[6] or None,
            r.optional_money(p, 7, i, "the benefit amount"), self._optional_number(p, 8, i, "the percent"),
            p[9] or None, self._optional_number(p, 10, i, "the quantity"), _YES_NO_UNKNOWN[p[11]],
            _NETWORK[p[12]], p[12] or None, procedure, segment=i)
        if benefit.percent is not None and not 0 <= benefit.percent <= 1:
            raise r.error("the percent is a fraction from 0 to 1 (0.2 = 20 %)", p, i, 8)
        level.benefits.append(benefit)
        self.benefit, self.entity, self.stage = benefit, None, "benefit"

    def _optional_number(self, p: list[str], position: int, i: int, what: str) -> Decimal | None:
        if not p[position]:
            return None
        return self.r.number(p, position, i, what)

    def _hsd(self, p: list[str], i: int) -> None:
        if self.benefit is None or self.stage != "benefit":
            raise self.r.error("a delivery pattern (HSD) outside a benefit", p, i)
        if p[2] and not p[1]:
            raise self.r.error("a quantity without its qualifier (HSD01)", p, i, 1)
        self.benefit.deliveries.append(Delivery(
            p[1] or None, self._optional_number(p, 2, i, "the quantity"), p[3] or None, p[5] or None,
            self._optional_number(p, 6, i, "the number of periods")))

    def _eq(self, p: list[str], i: int) -> None:
        if self.kind != "270":
            raise self.r.error("an inquiry (EQ) in a 271", p, i)
        level = self._patient_level(p, i, "an inquiry (EQ)")
        if not p[1] and not p[2]:
            raise self.r.error("an inquiry needs a service type (EQ01) or a procedure (EQ02)", p, i, 1)
        level.service_types.extend(self._repeated(p[1]))
        self.stage, self.benefit = "benefit", None

    def _msg(self, p: list[str], i: int) -> None:
        if self.benefit is None:
            raise self.r.error("a message outside a benefit", p, i)
        if p[1]:
            self.benefit.messages.append(p[1])

    def _ls(self, p: list[str], i: int) -> None:
        if self.benefit is None:
            raise self.r.error("a loop header (LS) outside a benefit", p, i)
        self.stage = "entity"

    def _le(self, p: list[str], i: int) -> None:
        if self.stage != "entity":
            raise self.r.error("a loop trailer (LE) without its LS", p, i)
        self.stage, self.entity = "benefit", None

    def _repeated(self, value: str) -> tuple[str, ...]:
        if not value:
            return ()
        if self.repetition is None:
            return (value,)
        return tuple(code for code in value.split(self.repetition) if code)

    # -- the end --

    def finish(self, envelope: dict[str, str | None], trailer: list[str],
               trailer_index: int) -> Eligibility270 | Eligibility271:
        """Check the SE trailer and assemble the set."""
        self._check_trailer(trailer, trailer_index)
        version = self.version or envelope.get("version")
        if self.kind == "270":
            return Eligibility270(self.control_number, self.reference, self.date, self.purpose,
                                  self._inquiries(), version, envelope.get("interchange"), self.st_index)
        return Eligibility271(self.control_number, self.reference, self.date, self.purpose, self._responses(),
                              version, envelope.get("interchange"), self.st_index)

    def _check_trailer(self, se: list[str], index: int) -> None:
        count = self.count + 1
        stated = se[1] if len(se) > 1 else ""
        if stated != str(count):
            raise self.r.error(f"the set has {count} segments (ST to SE) but SE01 says {stated[:10]!r}",
                               se, index, 1)
        control = se[2] if len(se) > 2 else ""
        if control != self.control_number:
            raise self.r.error(f"SE02 {control[:9]!r} does not match ST02 {self.control_number[:9]!r}",
                               se, index, 2)
        if not self.order:
            raise self.r.error(f"transaction set {self.control_number} has no HL levels", se, index)

    def _patients(self) -> list[_Level]:
        """The levels an answer or inquiry is about: dependents, and subscribers without dependents (or with
        benefits or rejections of their own)."""
        return [level for level in self.order
                if level.code == "23" or (level.code == "22" and (not level.has_children or level.benefits))]

    def _responses(self) -> list[EligibilityResponse]:
        answers = []
        for level in self._patients():
            subscriber = level.ancestor("22")
            dependent = level if level.code == "23" else None
            chain = [lv for lv in (level.ancestor("20"), level.ancestor("21"), subscriber, dependent) if lv]
            references = dict(subscriber.references) if subscriber else {}
            names = dict(subscriber.reference_names) if subscriber else {}
            if dependent is not None:
                references.update(dependent.references)
                names.update(dependent.reference_names)
            source, receiver = level.ancestor("20"), level.ancestor("21")
            answers.append(EligibilityResponse(
                payer=source.party if source else None, provider=receiver.party if receiver else None,
                subscriber=subscriber.party if subscriber else None,
                dependent=dependent.party if dependent else None,
                trace_numbers=level.trace_numbers or (subscriber.trace_numbers if subscriber else []),
                benefits=list(level.benefits), rejections=[rj for lv in chain for rj in lv.rejections],
                references=references, reference_names=names,
                dates=list(level.dates) or (list(subscriber.dates) if subscriber else []),
                birth_date=level.birth_date, gender=level.gender, segment=level.index))
        if not answers:  # the payer rejected the whole request (AAA in 2000A/2100A, 2100B)
            top = [lv for lv in self.order if lv.code in ("20", "21")]
            source = next((lv for lv in top if lv.code == "20"), None)
            receiver = next((lv for lv in top if lv.code == "21"), None)
            answers.append(EligibilityResponse(
                payer=source.party if source else None, provider=receiver.party if receiver else None,
                rejections=[rj for lv in top for rj in lv.rejections], segment=top[0].index if top else 0))
        return answers

    def _inquiries(self) -> list[EligibilityInquiry]:
        inquiries = []
        for level in self._patients():
            subscriber = level.ancestor("22")
            payer = self._named(level, level.ancestor("20"), "information source (payer)")
            provider = self._named(level, level.ancestor("21"), "information receiver (provider)")
            self._named(level, subscriber, "subscriber")
            assert subscriber is not None  # _named raised otherwise
            dependent = level if level.code == "23" else None
            service_date = next((d.start for d in level.dates if d.qualifier == "291"), None)
            if service_date is None and dependent is not None:
                service_date = next((d.start for d in subscriber.dates if d.qualifier == "291"), None)
            traces = level.trace_numbers or subscriber.trace_numbers
            inquiries.append(EligibilityInquiry(
                payer=Payer(payer.id or "", payer.name or ""),
                provider=Provider(provider.id or "", provider.name or "", provider.first_name or "",
                                  not provider.person),
                subscriber=_member(subscriber),
                trace_number=traces[0].number if traces else "",
                service_date=service_date,
                service_types=tuple(level.service_types),
                dependent=_member(dependent) if dependent is not None else None))
        return inquiries

    def _named(self, patient: _Level, level: _Level | None, what: str) -> Party:
        """The NM1 of ``level`` above an inquiry; X12ParseError when the level or its name is missing."""
        if level is None or level.party is None:
            raise X12ParseError(f"the inquiry of HL {patient.hl_id} has no {what} name (NM1)",
                                name=self.r.name, segment=patient.index, segment_id="HL")
        return level.party


def _member(level: _Level) -> Member:
    party = level.party
    assert party is not None
    return Member(party.name or "", party.first_name or "", party.id, party.middle_name or "",
                  party.suffix or "", level.birth_date, level.gender)


_HANDLERS = {
    "BHT": EligibilityParser._bht, "HL": EligibilityParser._hl, "TRN": EligibilityParser._trn,
    "NM1": EligibilityParser._nm1, "PER": EligibilityParser._per, "REF": EligibilityParser._ref,
    "AAA": EligibilityParser._aaa, "DMG": EligibilityParser._dmg, "DTP": EligibilityParser._dtp,
    "EB": EligibilityParser._eb, "EQ": EligibilityParser._eq, "MSG": EligibilityParser._msg,
    "LS": EligibilityParser._ls, "LE": EligibilityParser._le, "HSD": EligibilityParser._hsd,
}
