"""Claims and eligibility questions go to the clearinghouse their payer profile names (``clearinghouse``), the
rest to the first enabled one; a payer routed to a clearinghouse that is not enabled waits, and says so. Two
real SFTP sandboxes."""

from __future__ import annotations

import pytest
import yaml

from claimbridge.pipeline import run_pipeline, submit
from tests.test_end_to_end import Environment


def routed(env: Environment, tmp_path, *, enabled: bool = True):
    from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse

    second = SandboxClearinghouse(tmp_path / "second", username="claimbridge",
                                  authorized_key_paths=[next((env.root / "keys").glob("*.pub"))])
    second.start()
    known = second.write_known_hosts(env.root / "keys" / "known_hosts_second")
    config = yaml.safe_load(env.config_path.read_text())
    first = config["clearinghouses"][0]
    config["clearinghouses"].append({
        **first, "name": "medicaid-hub", "enabled": enabled,
        "settings": {**first["settings"], "port": second.port, "known_hosts": str(known)}})
    env.config_path.write_text(yaml.safe_dump(config))
    profile = env.root / "payers" / "prairie-medicaid.yaml"
    data = yaml.safe_load(profile.read_text())
    profile.write_text(yaml.safe_dump({**data, "clearinghouse": "medicaid-hub"}))
    return second


def pcns_in(folder) -> set[str]:
    found = set()
    for path in folder.glob("*.837"):
        found |= {seg.split("*")[1] for seg in path.read_text().replace("\n", "").split("~") if seg.startswith("CLM*")}
    return found


def payer_of(env, pcns) -> set[str]:
    from sqlalchemy import select

    from claimbridge.store.models import Claim

    with env.runtime() as runtime, runtime.store.transaction() as session:
        return set(session.execute(select(Claim.payer_id).where(Claim.pcn.in_(pcns))).scalars())


def test_a_payer_routed_to_another_clearinghouse_goes_there(env_routing, tmp_path):
    env, second = env_routing
    with env.runtime() as runtime:
        summary = run_pipeline(runtime)
    assert not summary.errors, summary.errors
    to_first, to_second = pcns_in(env.inbound), pcns_in(tmp_path / "second" / "inbound")
    assert to_first and to_second and not to_first & to_second
    assert payer_of(env, to_second) == {"PSMCD"} and "PSMCD" not in payer_of(env, to_first)
    # the eligibility questions follow the same routes
    from claimbridge.eligibility.service import check_upcoming
    from claimbridge.x12.responses import iter_transactions

    with env.runtime() as runtime:
        asked = check_upcoming(runtime)
    assert not asked.errors and len(asked.batches) == 2

    def payers(folder) -> set[str]:
        return {inquiry.payer.id for path in folder.glob("*.270") for tx in iter_transactions(path)
                for inquiry in tx.inquiries}

    assert payers(tmp_path / "second" / "inbound") == {"PSMCD"}
    assert "PSMCD" not in payers(env.inbound) and payers(env.inbound)


def test_a_payer_routed_to_a_disabled_clearinghouse_waits_and_says_so(tmp_path, db_url):
    env = Environment(tmp_path / "env", db_url)
    second = routed(env, tmp_path, enabled=False)
    try:
        with env.runtime() as runtime:
            summary = run_pipeline(runtime)
            assert any("wait for clearinghouse 'medicaid-hub', which is not enabled" in e for e in summary.errors)
            assert "PSMCD" not in payer_of(env, pcns_in(env.inbound))
            assert list((tmp_path / "second" / "inbound").glob("*.837")) == []
            again = submit(runtime)
            assert again.errors and not any(b.status == "submitted" for o in again.outbound.values()
                                            for b in o.batches)
    finally:
        second.stop()
        env.close()


@pytest.fixture
def env_routing(tmp_path, db_url):
    env = Environment(tmp_path / "env", db_url)
    second = routed(env, tmp_path)
    yield env, second
    second.stop()
    env.close()
