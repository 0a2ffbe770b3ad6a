"""835 posting speed: claims posted per second into SQLite, beside pyx12 validating the same file in the same
run (every inbound file is validated with pyx12 before it is posted, so that is the cost posting sits next to).

    python benchmarks/posting_bench.py [--claims N] [--repeat R]

The store is seeded with N accepted claims (one psychotherapy line each, with its line item control number);
the 835 pays every one of them (CO-45 contractual, PR-3 copay, a denial every 20th claim with CO-16/N290 so
the work queue fills, REF*6R on each line) and balances. Posting covers everything :func:`post_835` does
inside its transaction: claim lookup, line matching, denial classification, ClaimResponse and
PaymentReconciliation JSON, the INSERTs and the status changes with their events; the commit is included.
It also posts without the FHIR results (``build_results=False``) to show what they cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from claimbridge.claims.denials import load_code_lists
from claimbridge.claims.identifiers import line_control_number, make_pcn
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.systems import EXT_LINE_CONTROL
from claimbridge.posting import post_835
from claimbridge.store.db import open_store
from claimbridge.store.models import Claim, ClaimVersion, StoredEncounter
from claimbridge.x12.responses import Remittance835, iter_transactions
from claimbridge.x12.validate import validate_x12

SERVICE_DATE = date(2026, 11, 2)
CHARGE, ALLOWED, COPAY = Decimal("150.00"), Decimal("92.00"), Decimal("20.00")


def seed(path: Path, claims: int) -> list[str]:
    store = open_store(f"sqlite:///{path}")
    now = datetime.now(UTC)
    pcns = [make_pcn("BN", n, 1) for n in range(1, claims + 1)]
    with store.transaction() as session:
        session.execute(insert(StoredEncounter), [
            {"id": n, "source": "bench", "key": f"Encounter/{n}", "payload": "{}", "payload_sha256": "0" * 64,
             "first_seen_at": now, "updated_at": now} for n in range(1, claims + 1)])
        session.execute(insert(Claim), [
            {"id": n, "encounter_id": n, "current_version": 1, "status": "accepted", "pcn": pcns[n - 1],
             "created_at": now, "updated_at": now} for n in range(1, claims + 1)])
        session.execute(insert(ClaimVersion), [
            {"claim_id": n, "version": 1, "pcn": pcns[n - 1], "status": "accepted", "frequency": "1",
             "built_from_sha256": "0" * 64, "created_at": now, "fhir": json.dumps(_claim(pcns[n - 1]))}
            for n in range(1, claims + 1)])
    store.dispose()
    return pcns


def _claim(pcn: str) -> dict:
    return {"resourceType": "Claim", "identifier": [{"system": "urn:claimbridge:pcn", "value": pcn}],
            "patient": {"reference": "#patient"}, "item": [{
                "sequence": 1, "extension": [{"url": EXT_LINE_CONTROL, "valueString": line_control_number(pcn, 1)}],
                "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "90834"}]},
                "servicedDate": SERVICE_DATE.isoformat(), "net": {"value": 150.00, "currency": "USD"}}]}


def remittance_835(pcns: list[str]) -> str:
    body, paid_total = [], Decimal(0)
    for n, pcn in enumerate(pcns, 1):
        denied = n % 20 == 0
        paid = Decimal(0) if denied else ALLOWED - COPAY
        patient = Decimal(0) if denied else COPAY
        paid_total += paid
        cas = ["CAS*CO*16*150"] if denied else [f"CAS*CO*45*{CHARGE - ALLOWED}", f"CAS*PR*3*{COPAY}"]
        body += [f"LX*{n}", f"CLP*{pcn}*{'4' if denied else '1'}*{CHARGE}*{paid}*{patient}*12*PCN{n:09d}*11*1",
                 "NM1*QC*1*DOE*JANE****MI*W000000001", f"DTM*232*{SERVICE_DATE:%Y%m%d}",
                 f"SVC*HC:90834*{CHARGE}*{paid}**1", f"DTM*472*{SERVICE_DATE:%Y%m%d}", *cas,
                 f"REF*6R*{line_control_number(pcn, 1)}", f"AMT*B6*{Decimal(0) if denied else ALLOWED}"]
        if denied:
            body.append("LQ*HE*N290")
    head = [f"BPR*I*{paid_total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20261120",
            "TRN*1*BENCH0001*1512345678", "DTM*405*20261119", "N1*PR*BENCH HEALTH PLAN",
            "N3*1 PAYER WAY", "N4*SPRINGFIELD*IL*62701", "PER*BL*EDI*TE*2175550100",
            "N1*PE*RIVERBEND COUNSELING*XX*1234567893", "N3*2 MAIN ST", "N4*SPRINGFIELD*IL*62701",
            "REF*TJ*371234567"]
    segments = ["ST*835*0001", *head, *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*BENCHPAYER     *ZZ*RIVERBEND01    *261120*1200*^*00501*"
           "000000001*0*P*:")
    return "~\n".join([isa, "GS*HP*BENCHPAYER*RIVERBEND01*20261120*1200*1*X*005010X221A1", *segments,
                       "GE*1*1", "IEA*1*000000001"]) + "~\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pyx12-claims", type=int, default=1000,
                        help="claims in the file pyx12 validates (it is slow; its rate is per MB)")
    args = parser.parse_args(argv)
    codes = load_code_lists()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        seeded = folder / "seeded.db"
        pcns = seed(seeded, args.claims)
        text = remittance_835(pcns)
        path = folder / "bench.835"
        path.write_text(text)
        start = time.perf_counter()
        (remittance,) = [tx for tx in iter_transactions(path) if isinstance(tx, Remittance835)]
        parse_seconds = time.perf_counter() - start
        timings: dict[bool, float] = {}
        for attempt in range(args.repeat * 2):
            with_fhir = attempt % 2 == 0
            db = folder / f"post-{attempt}.db"
            shutil.copy(seeded, db)
            store = open_store(f"sqlite:///{db}")
            start = time.perf_counter()
            with store.transaction() as session:
                outcome = post_835(session, _file_row(session), remittance, StatusRecorder(), codes,
                                   build_results=with_fhir)
            seconds = time.perf_counter() - start
            store.dispose()
            assert outcome.counts["matched"] == args.claims, outcome.counts
            timings[with_fhir] = min(seconds, timings.get(with_fhir, seconds))
        best, rows_only = timings[True], timings[False]
        small = remittance_835(pcns[:args.pyx12_claims])
        start = time.perf_counter()
        report = validate_x12(small, name="bench-small.835")
        pyx12_seconds = time.perf_counter() - start
    size = len(text.encode())
    pyx12_rate = len(small.encode()) / pyx12_seconds  # bytes/s
    pyx12_claims_per_second = args.pyx12_claims / pyx12_seconds
    result = {
        "claims": args.claims, "file_mb": round(size / 1e6, 2),
        "parse_mb_per_s": round(size / 1e6 / parse_seconds, 1),
        "post_seconds": round(best, 3), "post_claims_per_s": round(args.claims / best),
        "post_without_fhir_claims_per_s": round(args.claims / rows_only),
        "pyx12_valid": report.ok, "pyx12_mb_per_s": round(pyx12_rate / 1e6, 3),
        "pyx12_claims_per_s": round(pyx12_claims_per_second),
        "post_vs_pyx12": round((args.claims / best) / pyx12_claims_per_second, 1),
    }
    print(f"835 posting: {args.claims} claims ({result['file_mb']} MB) posted in {best:.3f} s = "
          f"{result['post_claims_per_s']:,} claims/s into SQLite (parse {result['parse_mb_per_s']} MB/s)")
    print(f"  of which the FHIR ClaimResponses and PaymentReconciliation: without them "
          f"{result['post_without_fhir_claims_per_s']:,} claims/s")
    print(f"  pyx12 validating the same kind of file: {result['pyx12_claims_per_s']:,} claims/s "
          f"({result['pyx12_mb_per_s']} MB/s, valid={report.ok}); posting is {result['post_vs_pyx12']}× that")
    return result


def _file_row(session) -> int:
    from claimbridge.store.models import InboundFile

    row = InboundFile(clearinghouse="bench", name="bench.835", sha256="b" * 64, size=0, status="posted")
    session.add(row)
    session.flush()
    return row.id


if __name__ == "__main__":
    main(sys.argv[1:])
