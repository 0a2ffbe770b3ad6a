"""Status changes of claim versions: checked against the lifecycle, recorded as events, announced to plugins
after the transaction that made them commits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from claimbridge.claims.states import ClaimStatus, StatusChange, check_transition
from claimbridge.store.models import Claim, ClaimEvent, ClaimVersion, utcnow


@dataclass
class StatusRecorder:
    """Applies status changes within one transaction and remembers them for :meth:`announce`."""

    changes: list[StatusChange] = field(default_factory=list)

    def set_status(self, session: Session, claim: Claim, version: ClaimVersion, new: ClaimStatus, *,
                   actor: str, reason: str) -> None:
        old = ClaimStatus(version.status) if version.status else None
        check_transition(old, new)
        now = utcnow()
        version.status = new.value
        if claim.current_version == version.version:
            claim.status, claim.pcn, claim.updated_at = new.value, version.pcn, now
        session.add(ClaimEvent(claim_id=claim.id, version=version.version, from_status=old.value if old else None,
                               to_status=new.value, actor=actor, reason=reason, at=now))
        self.changes.append(StatusChange(claim_id=claim.id, pcn=version.pcn, version=version.version, old=old,
                                         new=new, actor=actor, reason=reason, at=now))

    def announce(self, plugins) -> None:
        """Call ``claim_status_changed`` for every recorded change; call only after commit."""
        for change in self.changes:
            plugins.notify("claim_status_changed", event=change)
        self.changes.clear()
