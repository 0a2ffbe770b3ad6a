"""Claim JSON → :class:`ClaimFacts`, once per claim; and claim files (a Bundle or a bare Claim) → a Claim.

:func:`facts_from_claim` walks plain dicts (no FHIR models: it runs for every claim of every batch) and never
raises for a missing or malformed piece: what it cannot read becomes ``None`` or empty, and the structure rules
say what is missing. :func:`claim_from_file` reads what ``claimbridge scrub FILE`` is given.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from claimbridge.claims.scrub.base import ClaimFacts, Line, Provider
from claimbridge.claims.systems import (
    ACT_CODE,
    EXT_AUDIO_ONLY,
    EXT_FREQUENCY,
    EXT_LINE_CONTROL,
    EXT_MINUTES,
    ICD10CM,
    NPI,
    NUCC,
    PARTICIPATION_MODE,
    PCN_SYSTEM,
    POS,
    PROCEDURE_SYSTEMS,
    TIN,
    V2_0203,
)
from claimbridge.errors import RecordError

__all__ = ["AUDIO_ONLY_MODE", "EXT_AUDIO_ONLY", "ScrubInputError", "claim_from_file", "facts_from_claim",
           "patient_key"]

#: an Encounter extension (valueBoolean) saying the telehealth session was audio-only; or code ``PHONE`` of
#: :data:`AUDIO_ONLY_MODE` in ``Encounter.type`` (both defined with the claim profile's other systems)
AUDIO_ONLY_MODE = PARTICIPATION_MODE

_EMPTY: dict = {}
_NONE: tuple = ()


class ScrubInputError(RecordError):
    """A file given to the scrubber cannot be read or is not a FHIR Claim (or a Bundle holding one).

    ``file`` names the file, ``reason`` the problem; ``claimbridge scrub`` exits with 2.
    """

    def __init__(self, reason: str, *, file: str | Path):
        self.file = str(file)
        super().__init__(reason, record=self.file)


# ------------------------------------------------------------------------------------------ small readers


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else _EMPTY


def _list(value: Any) -> list | tuple:
    return value if isinstance(value, list) else _NONE


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


_DATES: dict[str, date | None] = {}


def _date(value: Any) -> date | None:
    """The date part of a FHIR date or dateTime (as written: no time-zone conversion)."""
    if not isinstance(value, str):
        return None
    key = value[:10]
    try:
        return _DATES[key]
    except KeyError:
        pass
    try:
        parsed = date.fromisoformat(key) if len(key) == 10 else None
    except ValueError:
        parsed = None
    if len(_DATES) < 100_000:
        _DATES[key] = parsed
    return parsed


def _code(concept: Any, systems: tuple[str | None, ...] | None = None) -> tuple[str | None, str | None]:
    """``(code, system)`` of the first coding of ``concept`` in ``systems`` (any system when None)."""
    if isinstance(concept, dict):
        codings = concept.get("coding")
        if isinstance(codings, list):
            for coding in codings:
                if isinstance(coding, dict):
                    system = coding.get("system")
                    if systems is None or system in systems:
                        code = coding.get("code")
                        if isinstance(code, str):
                            code = code.strip()
                            if code:
                                return code, system
    return _NO_CODE


_NO_CODE: tuple[None, None] = (None, None)


def _identifier(resource: dict, system: str) -> str | None:
    for identifier in _list(resource.get("identifier")):
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = _str(identifier.get("value"))
            if value:
                return value
    return None


def _typed_identifier(resource: dict, type_code: str) -> str | None:
    for identifier in _list(resource.get("identifier")):
        if not isinstance(identifier, dict):
            continue
        for coding in _list(_dict(identifier.get("type")).get("coding")):
            if isinstance(coding, dict) and coding.get("code") == type_code and coding.get("system") in (
                    V2_0203, None):
                value = _str(identifier.get("value"))
                if value:
                    return value
    return None


def _name_present(resource: dict) -> bool:
    return any(isinstance(name, dict) and _str(name.get("family")) for name in _list(resource.get("name")))


def _extension(node: dict, url: str) -> dict | None:
    for ext in _list(node.get("extension")):
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def _minutes(encounter: dict) -> Decimal | None:
    length = _dict(encounter.get("length"))
    value = _decimal(length.get("value"))
    if value is not None:
        unit = str(length.get("code") or length.get("unit") or "min").lower()
        if unit in ("h", "hr", "hour", "hours"):
            return value * 60
        return value if unit in ("min", "mins", "minute", "minutes") else None
    period = _dict(encounter.get("period"))
    start, end = period.get("start"), period.get("end")
    if not (isinstance(start, str) and isinstance(end, str) and len(start) > 10 and len(end) > 10):
        return None
    if (len(start) == len(end) >= 19 and start[:10] == end[:10] and start[19:] == end[19:]
            and start[10] == "T" and start[13] == start[16] == end[13] == end[16] == ":"):
        # same day and offset (the usual case): clock arithmetic, much cheaper than fromisoformat
        try:
            seconds = (int(end[11:13]) - int(start[11:13])) * 3600 + (int(end[14:16]) - int(start[14:16])) * 60 \
                + int(end[17:19]) - int(start[17:19])
        except ValueError:
            return None
    else:
        try:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        except (ValueError, TypeError):  # unparseable, or one naive and one aware
            return None
    return Decimal(int(seconds + 30) // 60) if seconds >= 0 else None


_PATIENT_KEYS: dict[tuple[str, date], str] = {}


def patient_key(member_id: str | None, birth_date: date | None) -> str | None:
    """A stable key of a patient that carries no PHI: a hash of the member id and the birth date.

    It keys duplicates and authorization tracking (``ScrubContext``); two claims of one patient with one
    payer share it. A spouse covered under the same member id has another birth date, hence another key.
    """
    if not member_id or birth_date is None:
        return None
    key = _PATIENT_KEYS.get((member_id, birth_date))
    if key is None:
        key = hashlib.blake2b(f"{member_id.upper()}|{birth_date.isoformat()}".encode(),
                              digest_size=10).hexdigest()
        if len(_PATIENT_KEYS) < 100_000:
            _PATIENT_KEYS[(member_id, birth_date)] = key
    return key


def _make(cls: type, values: dict) -> Any:
    """An instance of the frozen dataclass ``cls`` from every field's value, without the generated
    ``__init__`` (which sets each field through ``object.__setattr__``: 10 µs for ClaimFacts, a fifth of the
    whole extraction). ``values`` must name every field."""
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


# --------------------------------------------------------------------------------------------- facts


def _local(contained: dict[str, dict], reference: Any) -> dict:
    """The contained resource a ``{"reference": "#id"}`` names (empty when it names none)."""
    if isinstance(reference, dict):
        ref = reference.get("reference")
        if isinstance(ref, str) and ref[:1] == "#":
            return contained.get(ref[1:], _EMPTY)
    return _EMPTY


def _line(index: int, it: dict, session_minutes: Decimal | None) -> Line:
    code = system = None
    concept = it.get("productOrService")
    if isinstance(concept, dict):
        code, system = _code(concept, PROCEDURE_SYSTEMS)
    modifiers: tuple[str, ...] = ()
    mods = it.get("modifier")
    if isinstance(mods, list) and mods:
        modifiers = tuple([m for m in [_code(mod)[0] for mod in mods] if m])
    minutes = session_minutes
    control = None
    extensions = it.get("extension")
    if isinstance(extensions, list):
        for ext in extensions:  # one pass for both extensions
            if isinstance(ext, dict):
                url = ext.get("url")
                if url == EXT_MINUTES:
                    minutes = _decimal(ext.get("valueDecimal"))
                elif url == EXT_LINE_CONTROL:
                    control = _str(ext.get("valueString"))
    pointers = it.get("diagnosisSequence")
    pointers = tuple([p for p in pointers if isinstance(p, int)]) if isinstance(pointers, list) else ()
    location = it.get("locationCodeableConcept")
    pos = None
    if isinstance(location, dict):
        pos = _code(location, _POS_SYSTEMS)[0] or _code(location)[0]
    service_date = _date(it.get("servicedDate"))
    if service_date is None:
        period = it.get("servicedPeriod")
        service_date = _date(period.get("start")) if isinstance(period, dict) else None
    quantity, unit_price, net = it.get("quantity"), it.get("unitPrice"), it.get("net")
    obj = object.__new__(Line)
    obj.__dict__.update({  # see _make
        "index": index, "code": code, "code_system": system, "modifiers": modifiers, "service_date": service_date,
        "pos": pos, "units": _decimal(quantity.get("value")) if isinstance(quantity, dict) else None,
        "unit_price": _decimal(unit_price.get("value")) if isinstance(unit_price, dict) else None,
        "charge": _decimal(net.get("value")) if isinstance(net, dict) else None, "minutes": minutes,
        "diagnosis_pointers": pointers, "line_control_number": control})
    return obj


_POS_SYSTEMS = (POS,)
_NUCC_SYSTEMS = (NUCC,)
_ICD_SYSTEMS = (ICD10CM,)
_ACT_SYSTEMS = (ACT_CODE, None)


def facts_from_claim(claim: dict) -> ClaimFacts:
    """Flatten a Claim (docs/claim-profile.md) into :class:`ClaimFacts`. Never raises for bad content.

    Written for speed (it runs once per claim of every batch): plain dict walking, few function calls.
    """
    if not isinstance(claim, dict):
        claim = _EMPTY
    get = claim.get
    contained: dict[str, dict] = {}
    resources = get("contained")
    if isinstance(resources, list):
        for resource in resources:
            if isinstance(resource, dict):
                rid = resource.get("id")
                if isinstance(rid, str) and rid not in contained:
                    contained[rid] = resource

    pcn = None
    for identifier in _list(get("identifier")):
        if isinstance(identifier, dict) and identifier.get("system") == PCN_SYSTEM:
            pcn = _str(identifier.get("value"))
            break
    frequency = "1"
    related_number = None
    extensions = get("extension")
    if extensions:
        frequency_ext = _extension(claim, EXT_FREQUENCY)
        if frequency_ext:
            frequency = _str(frequency_ext.get("valueCode")) or ""
    related = get("related")
    if related:
        for entry in _list(related):
            related_number = _str(_dict(_dict(entry).get("reference")).get("value"))
            if related_number:
                break

    # patient, coverage, payer
    patient = _local(contained, get("patient"))
    insurances = [i for i in _list(get("insurance")) if isinstance(i, dict)]
    insurance = _EMPTY
    for candidate in insurances:
        if candidate.get("focal") is True:
            insurance = candidate
            break
    else:
        if insurances:
            insurance = insurances[0]
    coverage = _local(contained, insurance.get("coverage"))
    if not patient:
        patient = _local(contained, coverage.get("beneficiary"))
    payors = coverage.get("payor")
    payer = _local(contained, payors[0]) if isinstance(payors, list) and payors else _EMPTY
    if not payer:
        payer = _local(contained, get("insurer"))
    payer_id = _typed_identifier(payer, "NIIP") if payer else None
    if payer_id is None and payer:
        first = _list(payer.get("identifier"))
        payer_id = _str(_dict(first[0]).get("value")) if first else None
    member_id = _str(coverage.get("subscriberId"))
    birth_date = _date(patient.get("birthDate"))
    relationship = _code(coverage.get("relationship"))[0]
    pre_auth = insurance.get("preAuthRef")
    pre_auth = tuple([v for v in [_str(x) for x in pre_auth] if v]) if isinstance(pre_auth, list) else ()

    # billing provider
    billing = _local(contained, get("provider"))
    addresses = billing.get("address")
    address = addresses[0] if isinstance(addresses, list) and addresses and isinstance(addresses[0], dict) \
        else _EMPTY
    address_lines = address.get("line")
    street = _str(address_lines[0]) if isinstance(address_lines, list) and address_lines else None
    postal_code = _str(address.get("postalCode"))

    # care team
    rendering = supervising = referring = None
    sequences = []
    for position, member in enumerate(_list(get("careTeam"))):
        if not isinstance(member, dict):
            continue
        practitioner = _local(contained, member.get("provider"))
        role = _code(member.get("role"))[0]
        qualification = member.get("qualification")
        taxonomy = None
        if qualification:
            taxonomy = _code(qualification, _NUCC_SYSTEMS)[0] or _code(qualification)[0]
        provider = object.__new__(Provider)
        provider.__dict__.update({"npi": _identifier(practitioner, NPI) if practitioner else None,
                                  "taxonomy": taxonomy, "name_present": _name_present(practitioner),
                                  "path": f"Claim.careTeam[{position}]"})
        if isinstance(member.get("sequence"), int):
            sequences.append(member["sequence"])
        if role == "primary":
            if rendering is None:
                rendering = provider
        elif role == "supervisor":
            if supervising is None:
                supervising = provider
        elif role == "referring" and referring is None:
            referring = provider

    # encounter
    items = get("item")
    items = [i if isinstance(i, dict) else _EMPTY for i in items] if isinstance(items, list) else []
    encounter = _EMPTY
    if items:
        refs = items[0].get("encounter")
        if isinstance(refs, list) and refs:
            encounter = _local(contained, refs[0])
    if not encounter:
        encounter = contained.get("encounter", _EMPTY)
    klass = encounter.get("class")
    class_code = klass.get("code") if isinstance(klass, dict) and klass.get("system") in _ACT_SYSTEMS else None
    audio_only = False
    if encounter.get("extension"):
        audio_ext = _extension(encounter, EXT_AUDIO_ONLY)
        audio_only = bool(audio_ext and audio_ext.get("valueBoolean") is True)
    if not audio_only and encounter.get("type"):
        audio_only = any(_code(t, (AUDIO_ONLY_MODE,))[0] == "PHONE" for t in _list(encounter.get("type")))
    session_minutes = _minutes(encounter) if encounter else None
    facility = get("facility")
    has_facility = "facility" in contained or (isinstance(facility, dict) and bool(facility.get("reference")))

    # diagnoses, in sequence order
    diagnoses = []
    for entry in _list(get("diagnosis")):
        if not isinstance(entry, dict):
            continue
        concept = entry.get("diagnosisCodeableConcept")
        code = _code(concept, _ICD_SYSTEMS)[0] or _code(concept)[0]
        sequence = entry.get("sequence")
        diagnoses.append((sequence if isinstance(sequence, int) else 10_000 + len(diagnoses), code or ""))
    if len(diagnoses) > 1:
        diagnoses.sort()

    total = get("total")
    facts = object.__new__(ClaimFacts)
    facts.__dict__.update({  # see _make
        "pcn": pcn, "frequency": frequency, "related_claim_number": related_number,
        "created": _date(get("created")),
        "total": _decimal(total.get("value")) if isinstance(total, dict) else None,
        "patient_key": patient_key(member_id, birth_date), "patient_name_present": _name_present(patient),
        "patient_birth_date": birth_date, "patient_sex": _str(patient.get("gender")),
        "subscriber_member_id": member_id, "relationship": relationship, "payer_id": payer_id,
        "payer_name": _str(payer.get("name")), "prior_authorizations": pre_auth,
        "billing_npi": _identifier(billing, NPI) if billing else None,
        "billing_tax_id": _identifier(billing, TIN) if billing else None, "billing_street": street,
        "billing_address_complete": bool(street and _str(address.get("city")) and _str(address.get("state"))
                                         and postal_code),
        "rendering": rendering, "supervising": supervising, "referring": referring,
        "telehealth": class_code == "VR", "audio_only": audio_only, "session_minutes": session_minutes,
        "has_service_facility": has_facility,
        "diagnoses": tuple([code for _, code in diagnoses]),
        "diagnosis_sequences": tuple([seq for seq, _ in diagnoses]),
        "lines": tuple([_line(index, it, session_minutes) for index, it in enumerate(items)]),
        "raw": claim,
        "billing_taxonomy": _identifier(billing, NUCC) if billing else None,
        "billing_name_present": bool(_str(billing.get("name"))),
        "care_team_sequences": tuple(sequences), "encounter_class": class_code,
        "billing_postal_code": postal_code,
    })
    return facts


# --------------------------------------------------------------------------------------------- files

#: local ids of the claim profile, by the Claim element that refers to the resource
_CLAIM_ROLES = ("patient", "billing", "payer", "coverage")


def claim_from_file(path: str | Path) -> dict:
    """The self-contained Claim in the file ``path`` (money as Decimal).

    The file holds a FHIR R4 Bundle of type ``collection`` or ``transaction`` with exactly one Claim and the
    resources it refers to (by ``Type/id``, by an entry's ``fullUrl`` or by ``urn:uuid:``), or a bare Claim
    whose resources are in ``contained``. Referenced resources move into ``Claim.contained`` under the
    profile's local ids (``#patient``, ``#coverage``, ``#payer``, ``#billing``, ``#rendering``,
    ``#supervisor``, ``#encounter``, ``#facility`` …) and references become local. A reference the bundle
    cannot satisfy stays as it is (the structure rules report what is then missing).

    Raises :class:`ScrubInputError` naming the file when it cannot be read or holds no usable Claim.
    """
    try:
        text = Path(path).read_bytes()
    except IsADirectoryError:
        raise ScrubInputError("is a directory, not a file", file=path) from None
    except OSError as exc:
        raise ScrubInputError(f"cannot be read ({exc.strerror or type(exc).__name__})", file=path) from None
    try:
        document = json.loads(text, parse_float=Decimal)
    except UnicodeDecodeError:
        raise ScrubInputError("is not UTF-8 JSON", file=path) from None
    except json.JSONDecodeError as exc:
        raise ScrubInputError(f"is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                              file=path) from None
    return claim_from_document(document, file=path)


def claim_from_document(document: Any, *, file: str | Path = "<input>") -> dict:
    """:func:`claim_from_file` for JSON already parsed."""
    if not isinstance(document, dict):
        raise ScrubInputError("is not a FHIR resource (a JSON object with resourceType)", file=file)
    kind = document.get("resourceType")
    if kind == "Claim":
        if not any(isinstance(r, dict) for r in _list(document.get("contained"))):
            raise ScrubInputError("is a bare Claim without contained resources; send a Bundle with the "
                                  "resources it refers to, or put them in Claim.contained", file=file)
        return document
    if kind != "Bundle":
        raise ScrubInputError(f"is a {kind!r} resource, not a Claim or a Bundle holding one"
                              if isinstance(kind, str) else "has no resourceType; not a FHIR resource", file=file)
    if document.get("type") not in ("collection", "transaction"):
        raise ScrubInputError(f"is a Bundle of type {document.get('type')!r}; expected collection or "
                              "transaction", file=file)
    entries = [e for e in _list(document.get("entry")) if isinstance(e, dict)
               and isinstance(e.get("resource"), dict)]
    claims = [e for e in entries if e["resource"].get("resourceType") == "Claim"]
    if len(claims) != 1:
        raise ScrubInputError("holds no Claim" if not claims else
                              f"holds {len(claims)} Claims; put one claim in each file", file=file)
    return _Containment(entries, claims[0]).claim()


def _clone(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _clone(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clone(v) for v in node]
    return node


class _Containment:
    """Moves the resources a Bundle's Claim refers to into ``Claim.contained`` under the profile's ids."""

    def __init__(self, entries: list[dict], claim_entry: dict):
        self.index: dict[str, dict] = {}
        for entry in entries:
            resource = entry["resource"]
            if isinstance(resource.get("id"), str) and isinstance(resource.get("resourceType"), str):
                self.index.setdefault(f"{resource['resourceType']}/{resource['id']}", resource)
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url:
                self.index.setdefault(full_url, resource)
                parts = full_url.rstrip("/").split("/")
                if len(parts) >= 2 and not full_url.startswith("urn:"):
                    # an absolute URL http://server/fhir/Patient/1 also answers to Patient/1
                    self.index.setdefault("/".join(parts[-2:]), resource)
        self.claim_ = _clone(claim_entry["resource"])
        self.contained: list[dict] = [r for r in _list(self.claim_.get("contained")) if isinstance(r, dict)]
        self.local_ids: dict[int, str] = {}  # id(bundle resource) → local id
        self.taken = {r.get("id") for r in self.contained}
        self.pending: list[tuple[dict, dict]] = []  # (copy to rewrite, original)

    def resolve(self, reference: Any) -> dict | None:
        ref = _dict(reference).get("reference")
        if not isinstance(ref, str) or ref.startswith("#"):
            return None
        found = self.index.get(ref)
        if found is None and "/_history/" in ref:
            found = self.index.get(ref.split("/_history/")[0])
        return found

    def contain(self, reference: Any, wanted: str | None = None) -> None:
        """Rewrite ``reference`` (a dict with ``reference``) to a local one, containing its target."""
        target = self.resolve(reference)
        if target is None:
            return
        local = self.local_ids.get(id(target))
        if local is None:
            local = self.fresh_id(wanted or f"{target['resourceType']}-{target.get('id', '')}".lower())
            self.local_ids[id(target)] = local
            copy_ = _clone(target)
            copy_["id"] = local
            copy_.pop("contained", None)  # contained resources may not contain resources
            copy_.pop("meta", None)
            self.contained.append(copy_)
            self.pending.append((copy_, target))
        reference["reference"] = f"#{local}"

    def fresh_id(self, wanted: str) -> str:
        base = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in wanted)[:60] or "resource"
        candidate, n = base, 2
        while candidate in self.taken:
            candidate, n = f"{base}-{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def claim(self) -> dict:
        claim = self.claim_
        coverage_refs = [i.get("coverage") for i in _list(claim.get("insurance")) if isinstance(i, dict)]
        # the profile's roles first, so each resource gets its profile id
        self.contain(claim.get("patient"), "patient")
        self.contain(claim.get("provider"), "billing")
        self.contain(claim.get("insurer"), "payer")
        for n, ref in enumerate(coverage_refs):
            self.contain(ref, "coverage" if n == 0 else f"coverage-{n + 1}")
        for member in _list(claim.get("careTeam")):
            member = _dict(member)
            role, _ = _code(member.get("role"))
            wanted = {"primary": "rendering", "supervisor": "supervisor", "referring": "referring"}.get(role or "")
            target = self.resolve(member.get("provider"))
            if target is not None and target.get("resourceType") == "PractitionerRole":
                self.role_to_practitioner(member, target)
            self.contain(member.get("provider"), wanted)
        for item in _list(claim.get("item")):
            for ref in _list(_dict(item).get("encounter")):
                self.contain(ref, "encounter")
            self.contain(_dict(item).get("locationReference"), "facility")
        self.contain(claim.get("facility"), "facility")
        # everything else the Claim refers to, then what the contained resources refer to
        self.rewrite(claim, skip=("contained",))
        while self.pending:
            copy_, original = self.pending.pop(0)
            if copy_.get("resourceType") == "Coverage":
                self.contain(copy_.get("beneficiary"), "patient")
                subscriber = self.resolve(copy_.get("subscriber"))
                self.contain(copy_.get("subscriber"),
                             "patient" if subscriber is self.resolve(copy_.get("beneficiary")) else "subscriber")
                for payor in _list(copy_.get("payor")):
                    self.contain(payor, "payer")
            self.rewrite(copy_)
        if self.contained:
            claim["contained"] = self.contained
        return claim

    def role_to_practitioner(self, member: dict, role: dict) -> None:
        """A care team member given as a PractitionerRole: refer to its Practitioner, keep its taxonomy."""
        practitioner = self.resolve(role.get("practitioner"))
        if practitioner is None:
            return
        if not member.get("qualification"):
            for specialty in _list(role.get("specialty")):
                code, _ = _code(specialty, (NUCC,))
                if code:
                    member["qualification"] = {"coding": [{"system": NUCC, "code": code}]}
                    break
        member["provider"] = {"reference": _dict(role.get("practitioner"))["reference"]}

    def rewrite(self, node: Any, skip: tuple[str, ...] = ()) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                self.contain(node)
            for key, value in node.items():
                if key not in skip and isinstance(value, dict | list):
                    self.rewrite(value)
        elif isinstance(node, list):
            for value in node:
                self.rewrite(value)

