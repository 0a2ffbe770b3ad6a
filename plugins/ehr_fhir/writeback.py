"""Write-back of posted 835 results to the FHIR sources that asked for it (``write_back: true``).

For each enabled ``fhir`` source with ``write_back`` on that has claims in the remittance, each of their
ClaimResponses and then the remittance's PaymentReconciliation are written with a conditional update by
identifier (:meth:`FhirClient.upsert`), so posting the same results twice leaves one resource each. References
are pointed at the server's own resources where they resolve: the Patient of the claim's Encounter, the Claim
with the claim's PCN, the ClaimResponses just written. Nothing here logs a resource or an identifier value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from claimbridge import AuthError, ClaimbridgeError, SourceError
from claimbridge.claims.results import (
    RECONCILIATION_SYSTEM,
    RESPONSE_SYSTEM,
    PostedClaimResponse,
    RemittancePosted,
)
from claimbridge.claims.systems import PCN_SYSTEM
from claimbridge.config import connector_settings

from .client import FhirClient, search_escape
from .references import parse_reference
from .settings import FhirSourceSettings

log = logging.getLogger(__name__)

SOURCE_TYPE = "fhir"
#: answers meaning "this server cannot search Claims that way" (the Claim reference stays logical)
_NO_CLAIM_SEARCH = (400, 404, 405, 422, 501)
#: how many failures the raised error quotes
_QUOTED = 3

ClientFactory = Callable[[str, FhirSourceSettings], FhirClient]


@dataclass
class WriteBackResult:
    """What one remittance's write-back did: resources written per source, and the failures (no PHI)."""

    written: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def write_back_targets(posted: RemittancePosted) -> Iterator[tuple[str, FhirSourceSettings]]:
    """The enabled ``fhir`` sources with ``write_back`` on, with their validated settings."""
    for entry in posted.settings.sources:
        if entry.type != SOURCE_TYPE or not entry.enabled or not entry.settings.get("write_back"):
            continue
        settings = connector_settings(entry, FhirSourceSettings, posted.config_dir)
        if isinstance(settings, FhirSourceSettings) and settings.write_back:
            yield entry.name, settings


def write_back(posted: RemittancePosted, *, client_factory: ClientFactory = FhirClient) -> WriteBackResult:
    """Write ``posted``'s results to every write-back source that has claims in it.

    Every write is tried; when any failed, raises :class:`~claimbridge.SourceError` naming the source, the
    request and the server's answer (the posting stands; writing again later updates, never duplicates).
    """
    result = WriteBackResult()
    for name, settings in write_back_targets(posted):
        responses = [r for r in posted.claim_responses if r.source == name]
        if not responses:
            continue
        client = client_factory(name, settings)
        try:
            writer = ResultWriter(client)
            result.written[name] = writer.write(posted, responses, result.failures)
        finally:
            client.close()
        log.info("source %s: wrote %d result resources of remittance %s", name, result.written[name],
                 posted.remittance_id)
    if result.failures:
        count = len(result.failures)
        quoted = "; ".join(result.failures[:_QUOTED]) + ("; …" if count > _QUOTED else "")
        raise SourceError(f"write-back of remittance {posted.remittance_id}: {count} write"
                          f"{'s' if count != 1 else ''} failed ({quoted}); the posting stands and keeps its results: "
                          f"fix the cause, then write them back again (nothing is written twice)")
    return result


class ResultWriter:
    """Writes one remittance's results to one server, resolving references with what the server holds."""

    def __init__(self, client: FhirClient):
        self.client = client
        self._patients: dict[str, str | None] = {}
        self._claims: dict[str, str | None] = {}
        self._claim_search = True

    def write(self, posted: RemittancePosted, responses: list[PostedClaimResponse], failures: list[str]) -> int:
        """Write the ClaimResponses, then the PaymentReconciliation; return how many were written and add a
        line per failure to ``failures``."""
        written = 0
        response_ids: dict[str, str] = {}
        claim_ids: dict[str, str] = {}
        for posted_response in responses:
            try:
                resource, claim_reference = self.claim_response(posted_response)
                stored = self.client.upsert(resource, system=RESPONSE_SYSTEM,
                                            value=_identifier(resource, RESPONSE_SYSTEM))
            except ClaimbridgeError as exc:
                failures.append(f"ClaimResponse for claim {posted_response.pcn}: {exc}")
                continue
            written += 1
            response_ids[_identifier(resource, RESPONSE_SYSTEM)] = f"ClaimResponse/{stored['id']}"
            if claim_reference:
                claim_ids[posted_response.pcn] = claim_reference
        reconciliation = self.reconciliation(posted.payment_reconciliation, response_ids, claim_ids)
        try:
            self.client.upsert(reconciliation, system=RECONCILIATION_SYSTEM,
                               value=_identifier(reconciliation, RECONCILIATION_SYSTEM))
        except ClaimbridgeError as exc:
            failures.append(f"PaymentReconciliation: {exc}")
        else:
            written += 1
        return written

    def claim_response(self, posted: PostedClaimResponse) -> tuple[dict[str, Any], str | None]:
        """The ClaimResponse to write (a copy) with the server's Patient and Claim where they resolve."""
        resource = dict(posted.resource)
        patient = self.patient_of(posted)
        if patient:
            resource["patient"] = {"reference": patient, "type": "Patient"}
        claim = self.claim_with_pcn(posted.pcn)
        if claim:
            resource["request"] = {**resource["request"], "reference": claim}
        return resource, claim

    def reconciliation(self, resource: dict[str, Any], response_ids: dict[str, str],
                       claim_ids: dict[str, str]) -> dict[str, Any]:
        """The PaymentReconciliation to write (a copy): details point at what this server holds."""
        out = dict(resource)
        details = []
        for detail in resource.get("detail") or ():
            detail = dict(detail)
            response_id = ((detail.get("response") or {}).get("identifier") or {}).get("value")
            if response_id in response_ids:
                detail["response"] = {**detail["response"], "reference": response_ids[response_id]}
            pcn = ((detail.get("request") or {}).get("identifier") or {}).get("value")
            if pcn in claim_ids:
                detail["request"] = {**detail["request"], "reference": claim_ids[pcn]}
            details.append(detail)
        if details:
            out["detail"] = details
        return out

    def patient_of(self, posted: PostedClaimResponse) -> str | None:
        """``Patient/<id>`` of the claim's Encounter on this server, or None."""
        key = _encounter_key(posted)
        if key is None:
            return None
        if key not in self._patients:
            encounter_type, _, encounter_id = key.partition("/")
            encounter = self.client.read(encounter_type, encounter_id)
            subject = (encounter or {}).get("subject") if isinstance(encounter, dict) else None
            parsed = parse_reference(subject.get("reference")) if isinstance(subject, dict) else None
            on_this_server = parsed is not None and (parsed.base is None
                                                     or parsed.base.rstrip("/") == self.client.base_url)
            self._patients[key] = parsed.key if on_this_server and parsed.type == "Patient" else None
        return self._patients[key]

    def claim_with_pcn(self, pcn: str) -> str | None:
        """``Claim/<id>`` of the one Claim on this server with the PCN, or None (none, several, not
        searchable, or not permitted by our scopes)."""
        if not self._claim_search:
            return None
        if pcn not in self._claims:
            params = [("identifier", f"{PCN_SYSTEM}|{search_escape(pcn)}")]
            try:
                bundle = self.client.get_json("Claim", params, tolerate=_NO_CLAIM_SEARCH)
            except (AuthError, SourceError) as exc:  # the Claim reference is a nicety: never fail for it
                log.info("source %s: Claims cannot be searched (%s); ClaimResponses name the Claim by PCN only",
                         self.client.source, type(exc).__name__)
                self._claim_search = False
                return None
            if bundle is None:
                self._claim_search = False
                return None
            claims = [e["resource"] for e in bundle.get("entry") or []
                      if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                      and e["resource"].get("resourceType") == "Claim" and e["resource"].get("id")]
            self._claims[pcn] = f"Claim/{claims[0]['id']}" if len(claims) == 1 else None
        return self._claims[pcn]


def _encounter_key(posted: PostedClaimResponse) -> str | None:
    """``Encounter/<id>`` from the posted claim's encounter key (``Encounter/<id>`` or
    ``<source>/Encounter/<id>``)."""
    key = posted.encounter_key
    if not key:
        return None
    if posted.source and key.startswith(f"{posted.source}/"):
        key = key[len(posted.source) + 1:]
    parsed = parse_reference(key)
    if parsed is None or parsed.type != "Encounter" or parsed.base is not None:
        return None
    return parsed.key


def _identifier(resource: dict[str, Any], system: str) -> str:
    for identifier in resource.get("identifier") or ():
        if identifier.get("system") == system and identifier.get("value"):
            return identifier["value"]
    raise SourceError(f"a {resource.get('resourceType')} to write back has no identifier with system {system}")
