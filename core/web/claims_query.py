"""The claims the list pages and the API show: filters from query parameters, one page (keyset or sorted),
the total, and one claim with its versions and history. ``/api/v1/claims`` and the ``/claims`` pages share it.

A page picks its claim ids first — newest first on ``claims.id`` (or ``ix_claims_status_id`` under a status
filter), however deep the cursor — and joins versions and encounters for those ids only. The total comes from
``rollup_claims_by_status`` when only status and payer filter (a few hundred rows), else from a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claimbridge.store.models import Claim, ClaimEvent, ClaimVersion, RollupClaimsByStatus, StoredEncounter

__all__ = ["FILTERS", "BadFilter", "ClaimFilters", "ClaimView", "claim_view", "count_claims", "list_claims",
           "statuses_in_use"]

#: the query parameters that filter claims
FILTERS = ("status", "payer", "provider", "service_from", "service_to", "patient", "source")


class BadFilter(ValueError):
    """A filter value that cannot be used; the message says which and how to write it."""


@dataclass(frozen=True)
class ClaimFilters:
    """What the claims are filtered by (``None``: not filtered)."""

    status: str | None = None
    source: str | None = None
    payer: str | None = None
    provider: str | None = None
    patient: str | None = None
    service_from: date | None = None
    service_to: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ClaimFilters:
        """From query parameters; a date that is not YYYY-MM-DD raises :class:`BadFilter`."""
        dates = {}
        for name in ("service_from", "service_to"):
            if args.get(name):
                try:
                    dates[name] = date.fromisoformat(args[name])
                except ValueError:
                    raise BadFilter(f"{name} must be a date, YYYY-MM-DD") from None
        return cls(status=args.get("status") or None, source=args.get("source") or None,
                   payer=(args.get("payer") or "").strip().upper() or None,
                   provider=(args.get("provider") or "").strip() or None,
                   patient=(args.get("patient") or "").strip() or None, **dates)

    def conditions(self) -> list:
        """The WHERE conditions (a source condition needs encounters joined)."""
        out = []
        if self.status:
            out.append(Claim.status == self.status)
        if self.source:
            out.append(StoredEncounter.source == self.source)
        if self.payer:
            out.append(Claim.payer_id == self.payer)
        if self.provider:
            out.append(Claim.rendering_npi == self.provider)
        if self.patient:
            out.append(Claim.patient_key == self.patient)
        if self.service_from:
            out.append(Claim.service_date >= self.service_from)
        if self.service_to:
            out.append(Claim.service_date <= self.service_to)
        return out

    def _ids(self):
        query = select(Claim.id)
        if self.source:  # every claim has its encounter: join only to filter by source
            query = query.join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
        return query.where(*self.conditions())


#: the claims page's sortable columns (besides the default, newest first, which pages by keyset)
SORTS = {"pcn": Claim.pcn, "status": Claim.status, "service_date": Claim.service_date, "payer": Claim.payer_id,
         "updated": Claim.updated_at}


def list_claims(session: Session, filters: ClaimFilters, *, limit: int, cursor: int | None = None,
                sort: str | None = None, descending: bool = True, offset: int = 0) -> list[tuple]:
    """Up to ``limit`` rows of (claim, its current version, its source): newest first below ``cursor`` (a claim
    id), or by a column of :data:`SORTS` from ``offset``."""
    ids = filters._ids()
    if sort:
        column = SORTS[sort]
        ordering = (column.desc() if descending else column.asc(), Claim.id.desc())
        ids = ids.order_by(*ordering).offset(offset)
    else:
        ordering = (Claim.id.desc(),)
        if cursor is not None:
            ids = ids.where(Claim.id < cursor)
        ids = ids.order_by(*ordering)
    picked = ids.limit(limit).subquery()
    query = (select(Claim, ClaimVersion, StoredEncounter.source)
             .join(picked, picked.c.id == Claim.id)
             .join(ClaimVersion, (ClaimVersion.claim_id == Claim.id) & (ClaimVersion.version == Claim.current_version))
             .join(StoredEncounter, StoredEncounter.id == Claim.encounter_id)
             .order_by(*ordering))
    return session.execute(query).all()


def count_claims(session: Session, filters: ClaimFilters) -> int:
    """How many claims ``filters`` lets through: from the rollup when only status and payer filter."""
    if filters == ClaimFilters(status=filters.status, payer=filters.payer):
        query = select(func.coalesce(func.sum(RollupClaimsByStatus.claims), 0))
        if filters.status:
            query = query.where(RollupClaimsByStatus.status == filters.status)
        if filters.payer:
            query = query.where(RollupClaimsByStatus.payer_id == filters.payer)
        return int(session.execute(query).scalar_one())
    return session.execute(select(func.count()).select_from(filters._ids().subquery())).scalar_one()


def statuses_in_use(session: Session) -> list[str]:
    """The statuses some claim has (for the filter's choices), from the rollup."""
    return [status for (status,) in session.execute(
        select(RollupClaimsByStatus.status).group_by(RollupClaimsByStatus.status)
        .having(func.sum(RollupClaimsByStatus.claims) > 0).order_by(RollupClaimsByStatus.status))]


@dataclass
class ClaimView:
    """One claim version with its claim, encounter source, the claim's versions and its history."""

    version: ClaimVersion
    claim: Claim
    source: str
    versions: list[tuple[str, int, str, str]]  # (pcn, version, status, frequency)
    events: list[ClaimEvent]


def claim_view(session: Session, pcn: str) -> ClaimView | None:
    """The claim version with PCN ``pcn`` (any case), or None."""
    version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn.upper())).scalar_one_or_none()
    if version is None:
        return None
    claim = session.get(Claim, version.claim_id)
    source = session.execute(select(StoredEncounter.source).where(StoredEncounter.id == claim.encounter_id)
                             ).scalar_one()
    versions = session.execute(select(ClaimVersion.pcn, ClaimVersion.version, ClaimVersion.status,
                                      ClaimVersion.frequency)
                               .where(ClaimVersion.claim_id == claim.id).order_by(ClaimVersion.version)).all()
    events = session.execute(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)
                             .order_by(ClaimEvent.id)).scalars().all()
    return ClaimView(version, claim, source, [tuple(row) for row in versions], list(events))
