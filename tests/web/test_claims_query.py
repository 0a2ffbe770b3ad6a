"""The claims list's shared query: pages picked by id (any depth, any filter) and totals from the rollup equal to
counting the claims, for every combination of status and payer filters (and a count for the other filters)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from claimbridge.store.models import Claim
from claimbridge.web.claims_query import ClaimFilters, count_claims, list_claims, statuses_in_use
from tests.web.test_reports import build


def test_rollup_totals_equal_counting_claims_for_every_status_and_payer(world):
    build(world)
    with world.store.transaction() as session:
        pairs = session.execute(select(Claim.status, Claim.payer_id).distinct()).all()
        statuses = sorted({s for s, _ in pairs})
        payers = sorted({p for _, p in pairs if p})
        assert statuses_in_use(session) == statuses
        for status in (None, *statuses, "no_such_status"):
            for payer in (None, *payers, "NOPAYER"):
                filters = ClaimFilters(status=status, payer=payer)
                expected = session.execute(select(func.count()).select_from(Claim).where(*filters.conditions())
                                           ).scalar_one()
                assert count_claims(session, filters) == expected, (status, payer)
        # a filter the rollup does not hold: counted
        first = session.execute(select(Claim).order_by(Claim.id)).scalars().first()
        filters = ClaimFilters(provider=first.rendering_npi, status=first.status)
        assert count_claims(session, filters) == session.execute(
            select(func.count()).select_from(Claim).where(*filters.conditions())).scalar_one()


def test_pages_by_cursor_walk_every_claim_once_newest_first(world):
    build(world)
    with world.store.transaction() as session:
        everything = [c.id for c, _, _ in list_claims(session, ClaimFilters(), limit=1000)]
        assert everything == sorted(everything, reverse=True) and len(everything) > 4
        walked, cursor = [], None
        while True:
            page = list_claims(session, ClaimFilters(), limit=3, cursor=cursor)
            walked += [c.id for c, _, _ in page]
            if len(page) < 3:
                break
            cursor = page[-1][0].id
        assert walked == everything
        held = list_claims(session, ClaimFilters(status="held"), limit=1000)
        assert held and all(c.status == "held" and v.version == c.current_version for c, v, _ in held)
        by_pcn = list_claims(session, ClaimFilters(), limit=2, sort="pcn", descending=False, offset=1)
        pcns = sorted(c.pcn for c, _, _ in list_claims(session, ClaimFilters(), limit=1000))
        assert [c.pcn for c, _, _ in by_pcn] == pcns[1:3]


def test_api_count_with_status_and_payer_filters(client, token_for, world):
    build(world)
    viewer = token_for("viewer")
    whole = json.loads(client.get("/api/v1/claims?count=true&limit=1", headers=viewer).data)
    with world.store.transaction() as session:
        assert whole["total"] == session.execute(select(func.count()).select_from(Claim)).scalar_one()
        payer = session.execute(select(Claim.payer_id).where(Claim.status == "paid")).scalars().first()
    paid = json.loads(client.get(f"/api/v1/claims?count=true&status=paid&payer={payer.lower()}",
                                 headers=viewer).data)
    assert paid["total"] == len(paid["items"]) >= 1
