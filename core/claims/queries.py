"""Read-only views of claims for the CLI (and later the admin UI)."""

from __future__ import annotations

import json

from sqlalchemy import select

from claimbridge.errors import FatalError
from claimbridge.store.db import Store
from claimbridge.store.models import Batch, Claim, ClaimEvent, ClaimVersion, StoredEncounter


def list_claims(store: Store, *, status: str | None = None) -> list[dict]:
    with store.transaction() as session:
        query = (select(Claim, ClaimVersion, StoredEncounter)
                 .join(ClaimVersion, (ClaimVersion.claim_id == Claim.id)
                       & (ClaimVersion.version == Claim.current_version))
                 .join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
                 .order_by(Claim.id))
        if status:
            query = query.where(Claim.status == status)
        return [{"pcn": v.pcn, "status": c.status, "version": v.version, "frequency": v.frequency,
                 "encounter": f"{e.source}/{e.key}", "hold_reason": v.hold_reason, "batch_id": v.batch_id,
                 "updated_at": c.updated_at.isoformat()}
                for c, v, e in session.execute(query)]


def show_claim(store: Store, pcn: str) -> str:
    """A readable page: header, status history, the 837 segments and the FHIR Claim."""
    with store.transaction() as session:
        version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn.upper())).scalar_one_or_none()
        if version is None:
            raise FatalError(f"no claim version with PCN {pcn}; `claimbridge claims list` shows them")
        claim = session.get(Claim, version.claim_id)
        encounter = session.get(StoredEncounter, claim.encounter_id)
        events = session.execute(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)
                                 .order_by(ClaimEvent.id)).scalars().all()
        batch = session.get(Batch, version.batch_id) if version.batch_id else None
        lines = [f"claim {version.pcn} — version {version.version} of {claim.current_version}, "
                 f"frequency {version.frequency}, status {version.status}",
                 f"encounter: {encounter.source}/{encounter.key}"]
        if version.hold_reason:
            lines.append(f"held: {version.hold_reason}")
        if batch:
            lines.append(f"batch {batch.id}: {batch.file_name} ISA13 {batch.isa13:09d} GS06 {batch.gs06} "
                         f"ST02 {batch.st02:04d} ({batch.status})")
        findings = json.loads(version.findings or "[]")
        if findings:
            lines.append("")
            lines.append("scrub findings:")
            for f in findings:
                mark = " (overridden)" if f.get("overridden") else ""
                lines.append(f"  {f['severity']} {f['rule']}{mark}: {f['message']} — fix: {f['fix']}")
        lines.append("")
        lines.append("history:")
        for event in events:
            lines.append(f"  {event.at:%Y-%m-%d %H:%M:%S} v{event.version} {event.from_status or '—'} → "
                         f"{event.to_status} by {event.actor}: {event.reason}")
        lines.append("")
        lines.append("837 segments:")
        lines.extend(f"  {s}" for s in (version.x12_segments or "(not encoded yet)").splitlines())
        lines.append("")
        lines.append("FHIR Claim:")
        lines.append(json.dumps(json.loads(version.fhir), indent=2) if version.fhir else "(could not be built)")
        return "\n".join(lines)


def held_claims(store: Store) -> list[dict]:
    """Held claim versions (current ones), oldest first, with their findings and hold reason."""
    with store.transaction() as session:
        rows = session.execute(
            select(Claim, ClaimVersion, StoredEncounter)
            .join(ClaimVersion, (ClaimVersion.claim_id == Claim.id)
                  & (ClaimVersion.version == Claim.current_version))
            .join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
            .where(ClaimVersion.status == "held")
            .order_by(Claim.id)).all()
        return [{"pcn": v.pcn, "version": v.version, "encounter": f"{e.source}/{e.key}",
                 "hold_reason": v.hold_reason,
                 "findings": [f for f in json.loads(v.findings or "[]")
                              if f["severity"] == "error" or f.get("overridden")] +
                             [f for f in json.loads(v.findings or "[]")
                              if f["severity"] == "warning" and not f.get("overridden")]}
                for c, v, e in rows]
