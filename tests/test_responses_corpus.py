"""Every response file in ``../shared/corpus/x12`` (TA1, 999, 277/277CA, 835) goes through the inbound path:
posted, or quarantined with a reason that names the file and where it went wrong — never an exception, never
half posted. Skipped when the corpus is not beside the project."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from claimbridge.inbound import receive_file
from claimbridge.plugin_host import create_plugin_host
from claimbridge.store.db import open_store
from claimbridge.store.models import InboundFile, QuarantinedRecord, Remittance, RemittanceClaim
from claimbridge.x12.responses import Remittance835, parse_x12

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "x12"
RESPONSE_MARKERS = (b"ST*835", b"ST*999", b"ST*277", b"TA1*", b"ST|835", b"ST:835")


def response_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        head = path.read_bytes()
        if head.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"ISA") and any(m in head for m in RESPONSE_MARKERS):
            found.append(path)
    return found


FILES = response_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"no response samples under {CORPUS}")


@pytest.fixture
def runtime(tmp_path, db_url):
    store = open_store(db_url)
    yield SimpleNamespace(store=store, plugins=create_plugin_host(env={"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir"}),
                          settings=SimpleNamespace(workdir=tmp_path), config_path=tmp_path / "claimbridge.yaml")
    store.dispose()


def test_every_corpus_response_is_posted_or_quarantined_with_a_reason(runtime):
    statuses = {}
    for path in FILES:
        outcome = receive_file(runtime, "corpus", path.name, path.read_bytes())
        statuses[path.name] = outcome.status
        assert outcome.status in ("posted", "quarantined", "duplicate"), path
        if outcome.status == "quarantined":
            assert outcome.reason.startswith(path.name + ":"), outcome.reason
    assert "posted" in statuses.values()
    with runtime.store.transaction() as session:
        quarantined = session.execute(select(func.count()).select_from(QuarantinedRecord)).scalar_one()
        files = session.execute(select(InboundFile.status, func.count()).group_by(InboundFile.status)).all()
        assert dict(files).get("quarantined", 0) == quarantined
        # nothing of a quarantined file was posted
        posted_from_quarantined = session.execute(
            select(func.count()).select_from(Remittance).join(InboundFile, InboundFile.id == Remittance.file_id)
            .where(InboundFile.status == "quarantined")).scalar_one()
        assert posted_from_quarantined == 0


def test_every_balanced_corpus_835_posts_each_payment_once_and_none_is_ours(runtime):
    payments = set()
    claims = 0
    for path in FILES:
        try:
            transactions = parse_x12(path).transactions
        except Exception:  # noqa: BLE001 - unreadable samples are the other test's business
            continue
        outcome = receive_file(runtime, "corpus", path.name, path.read_bytes())
        if outcome.status != "posted":
            continue
        for tx in transactions:
            if isinstance(tx, Remittance835):
                key = ((tx.payment.payer_id or tx.payer.id or tx.payer.name or "unknown").strip().upper(),
                       tx.payment.trace_number.strip())
                if key not in payments:
                    payments.add(key)
                    claims += len(tx.claims)
    with runtime.store.transaction() as session:
        assert session.execute(select(func.count()).select_from(Remittance)).scalar_one() == len(payments)
        assert session.execute(select(func.count()).select_from(RemittanceClaim)).scalar_one() == claims
        # an empty store owns none of these claims: every one waits in the unmatched queue
        matched = session.execute(select(func.count()).select_from(RemittanceClaim)
                                  .where(RemittanceClaim.match == "matched")).scalar_one()
        assert matched == 0
