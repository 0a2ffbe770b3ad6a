"""Admin UI / API latency over a large store: N claims (default 1,000,000) loaded set-based into a fresh database,
then the claims list, its count, the reports and the signed-in dashboard driven through Flask's test client (the
same WSGI app waitress serves), each request timed; GET /api/v1/me is the floor (routing, token check, JSON).

    python benchmarks/web_bench.py [--claims N] [--requests R] [--budget S] [--postgres ADMIN_URL]
                                   [--database FILE] [--only REGEX] [--load-with-triggers]
                                   [--report-cache-seconds S]

The issue asks for the claims list and the dashboard under 100 ms at the 95th percentile with 1,000,000 claims.
The data is shaped like a practice's: ~93% of claims settled (mostly paid; some partially paid, denied, written
off, billed to the patient, voided), the newest ~7% in flight (held, ready, batched, submitted, accepted,
rejected); 2% have a replacement version; batches of 500; one 835 (remittance + inbound file) per 100 settled
claims with one CLP and one SVC each, a few reversals and unmatched payments, PLB interest; a denial for every
denied claim and half the partially paid ones (40% still open); claim events for submission and settlement.
Payloads (encounter JSON, FHIR Claim) are stubs, so full scans of encounters/claim_versions are optimistic.
``--database FILE`` keeps (or reuses) a SQLite file instead of a temporary one, to measure a schema change again
without loading again; ``--postgres`` creates and drops its own database through the admin URL. The rollup
triggers (migration 0008) are dropped for the load and the rollups filled by one INSERT … SELECT each afterwards;
``--load-with-triggers`` keeps them (20,000 claims: SQLite 26 s instead of 2.6 s, ~0.6 ms per claim or payment
row; a PostgreSQL COPY is far slower still — its trigger plans are made while the tables are empty — so bulk loads
drop the triggers). Reports are computed on every request (``web.report_cache_seconds`` 0) unless
``--report-cache-seconds`` says otherwise.

Figures, 2026-11-27, 2 cores on a shared machine, 1,000,000 claims (7.9 M rows: SQLite load 298 s + 11 s rollups;
PostgreSQL 15 COPY 265 s + 21 s rollups), ms, 200 requests, every request computing its report:

    endpoint                             SQLite p50/p95/p99   PostgreSQL p50/p95/p99   before (p95 SQLite / PG)
    /api/v1/me (floor)                      1.7 /  1.8 /  2.1      1.6 /  2.8 /  4.2       5.7 /    4.2
    /api/v1/claims (first page)             6.1 /  8.6 / 33.6      6.2 / 15.9 / 19.3      12.1 /    7.2
    /api/v1/claims?status=denied            6.2 /  9.7 / 25.3      5.6 / 12.9 / 15.8       8.4 /   70.0
    /api/v1/claims?status=held              6.6 /  8.6 /  9.8     11.8 / 20.0 / 69.4      11.1 /   15.2
    /api/v1/claims deep cursor              6.7 /  7.3 /  7.7     11.3 / 20.0 / 27.1       8.4 /  448
    /api/v1/claims?count=true               7.1 /  7.4 /  7.8      6.2 / 11.2 / 23.9     465   /  824
    /api/v1/claims?status=paid&count=true   7.1 /  8.7 / 24.9      6.4 /  8.6 / 17.3     502   / 1493
    /api/v1/reports/claims-by-status        1.7 /  2.7 /  2.8      3.6 /  8.8 /  9.6     160   /  407
    /api/v1/reports/revenue                 2.1 /  2.3 /  2.4      4.8 /  9.4 / 12.8    1269   / 1177
    /api/v1/reports/ar-aging               15.2 / 21.9 / 39.7     10.8 / 17.6 / 27.5    1629   / 3778
    /api/v1/reports/days-to-payment         2.9 /  5.8 / 12.1      5.9 / 10.3 / 20.9    5645   / 5270
    /api/v1/reports/denial-rates            3.1 /  4.0 /  7.6      3.7 / 10.8 / 26.4    5588   / 7898
    /api/v1/reports/expected-cash           6.1 / 11.0 / 21.4      9.5 / 16.9 / 26.2    5119   / 8323
    /api/v1/reports/health                  7.0 / 10.4 / 33.0     18.8 / 30.2 / 34.2      12.9 /   34.6
    / (dashboard, signed in)               31.5 / 50.3 / 103      32.8 / 51.5 / 64.9   19245   / 21588

"Before" is the same load before migration 0008 (reports joined and summed over every claim and 835 claim
payment; the dashboard's figure is one computation). Now a page of claims picks its ids first (claims.id, or
ix_claims_status_id under a status filter), and the totals and reports read the rollup tables (a few hundred to
~20,000 grouped rows: ar-aging reads the outstanding statuses' rows by status, payer and date of service).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

CHUNK = 50_000
TODAY = date(2026, 11, 27)
DAYS = 730  # claims spread over two years, oldest first
PASSWORD = "benchmark horse battery staple"

SETTLED = {"paid": 820, "partially_paid": 50, "denied": 60, "written_off": 25, "billed_to_patient": 30,
           "voided": 10, "corrected": 5}
IN_FLIGHT = {"held": 250, "ready": 80, "batched": 70, "submitted": 250, "accepted": 320, "rejected": 30}
REMITTED = {"paid", "partially_paid", "denied", "written_off", "billed_to_patient"}
DENIAL_REASONS = [("CO", "16", "N290", "missing_information", "correct_and_resubmit"),
                  ("CO", "197", "N54", "authorization", "appeal"),
                  ("CO", "27", "", "eligibility", "verify_coverage"),
                  ("CO", "29", "", "timely_filing", "appeal"),
                  ("CO", "18", "", "duplicate", "review"),
                  ("CO", "11", "M76", "coding", "correct_and_resubmit"),
                  ("PR", "96", "", "non_covered", "bill_patient")]
PAYERS = [f"PAYER{n:02d}" for n in range(1, 13)]
CODES = ["90834", "90837", "90832", "90791", "90847"]


# -- loading -------------------------------------------------------------------------------------------------


class Loader:
    """Set-based inserts straight through the DBAPI connection: executemany per chunk of rows inside one
    transaction per chunk (SQLite) or COPY per chunk (PostgreSQL)."""

    def __init__(self, store):
        self.postgres = store.is_postgresql
        self.raw = store.engine.raw_connection()
        self.tz = "+00" if self.postgres else ""
        self.rows = 0
        if not self.postgres:
            cur = self.raw.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-400000")
            cur.execute("PRAGMA foreign_keys=OFF")  # rows are written parents first; the check is not the bench
            cur.close()

    def at(self, day: int, seconds: int = 0) -> str:
        moment = datetime(2024, 11, 28) + timedelta(days=day, seconds=seconds)
        return f"{moment:%Y-%m-%d %H:%M:%S}.000000{self.tz}"

    def load(self, table: str, columns: list[str], rows) -> int:
        count = 0
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                self._write(table, columns, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            self._write(table, columns, chunk)
            count += len(chunk)
        self.rows += count
        return count

    def _write(self, table: str, columns: list[str], chunk: list[tuple]) -> None:
        quoted = ", ".join(f'"{c}"' for c in columns)
        cur = self.raw.cursor()
        if self.postgres:
            with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                for row in chunk:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cur.execute("BEGIN")
            cur.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', chunk)
        self.raw.commit()
        cur.close()

    def close(self) -> None:
        self.raw.close()

    def finish(self) -> None:
        """Move the sequences past the loaded ids and ANALYZE (on a connection of its own)."""
        cur = self.raw.cursor()
        if self.postgres:
            for table in ("encounters", "claims", "claim_versions", "claim_lines", "claim_events", "batches",
                          "inbound_files", "remittances", "remittance_claims", "remittance_lines",
                          "provider_adjustments", "denials"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
            self.raw.commit()
            cur.close()
            self.raw.driver_connection.autocommit = True
            cur = self.raw.driver_connection.cursor()
            cur.execute("VACUUM ANALYZE")
        else:
            cur.execute("ANALYZE")
            self.raw.commit()
        cur.close()
        self.raw.close()


def statuses(claims: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    in_flight = int(claims * 0.07)
    settled = rng.choices(list(SETTLED), weights=list(SETTLED.values()), k=claims - in_flight)
    flight = rng.choices(list(IN_FLIGHT), weights=list(IN_FLIGHT.values()), k=in_flight)
    return settled + flight  # index 0 is claim 1 (the oldest)


def load(store, claims: int, with_triggers: bool = False) -> dict:
    """Fill a migrated, empty store with ``claims`` claims and what goes with them; returns row counts.

    The rollup triggers (migration 0008) are dropped for the load and the rollups filled set-based afterwards,
    unless ``with_triggers`` (to see what the triggers cost per row)."""
    from claimbridge.store import rollups
    from claimbridge.store.models import Claim

    if not with_triggers and hasattr(rollups, "drop_triggers"):
        with store.engine.begin() as connection:
            rollups.drop_triggers(connection)
    loader = Loader(store)
    status = statuses(claims)
    rng = random.Random(11)
    day = [int(n * DAYS / claims) for n in range(claims)]
    stub = '{"resourceType":"Bundle","type":"collection","entry":[]}'
    sha = "0" * 64
    counts: dict[str, int] = {}
    start = time.perf_counter()

    def pcn(n: int, version: int = 1) -> str:
        return f"BN{n:011d}V{version}"  # 15 characters, ascending with the id like the real ones

    sent_at = {n: d + 1 for n, d in enumerate(day, 1)}
    counts["encounters"] = loader.load(
        "encounters", ["id", "source", "key", "payload", "payload_sha256", "first_seen_at", "updated_at"],
        ((n, "ehr", f"Encounter/{n}", stub, sha, loader.at(day[n - 1], n % 36000), loader.at(day[n - 1], n % 36000))
         for n in range(1, claims + 1)))
    batch_size = 500
    batches = (claims + batch_size - 1) // batch_size
    counts["batches"] = loader.load(
        "batches", ["id", "clearinghouse", "partner", "status", "isa13", "gs06", "st02", "usage", "file_name",
                    "claim_count", "created_at", "submitted_at", "ack_status", "acked_at"],
        ((b, "availity", "availity", "submitted", b, b, 1, "P", f"837P-{b:06d}.x12", batch_size,
          loader.at(day[(b - 1) * batch_size] + 1), loader.at(day[(b - 1) * batch_size] + 1, 60),
          "accepted", loader.at(day[(b - 1) * batch_size] + 1, 3600)) for b in range(1, batches + 1)))
    two_versions = {n for n in range(1, claims + 1) if n % 50 == 0}
    extra = {}
    filters = {"payer_id", "rendering_npi", "service_date", "patient_key"} <= set(Claim.__table__.c.keys())
    charged = "charge" in Claim.__table__.c
    claim_columns = ["id", "encounter_id", "current_version", "status", "pcn", "created_at", "updated_at"]
    if filters:  # the list filters another change adds to claims: filled like intake fills them
        claim_columns += ["payer_id", "rendering_npi", "service_date", "patient_key"]
    if charged:  # the current version's FHIR total (the stub's 150.00), in cents
        claim_columns.append("charge")

    def patient(n: int) -> str:
        return f"patient-{n % 40000:05d}"

    def service_date(n: int) -> str:
        return (date(2024, 11, 27) + timedelta(days=day[n - 1])).isoformat()

    def claim_rows():
        for n in range(1, claims + 1):
            version = 2 if n in two_versions else 1
            row = (n, n, version, status[n - 1], pcn(n, version), loader.at(day[n - 1], n % 36000),
                   loader.at(min(day[n - 1] + 30, DAYS), n % 36000))
            if filters:
                row += (PAYERS[n % len(PAYERS)], f"{1000000000 + n % 40:010d}", service_date(n), patient(n))
            if charged:
                row += (15000,)
            yield row

    counts["claims"] = loader.load("claims", claim_columns, claim_rows())
    fhir = ('{"resourceType":"Claim","status":"active","use":"claim","identifier":[{"system":'
            '"urn:claimbridge:pcn","value":"%s"}],"total":{"value":150.0,"currency":"USD"}}')

    def version_rows():
        vid = 0
        for n in range(1, claims + 1):
            st = status[n - 1]
            sent = st not in ("held", "ready")
            batch = (n - 1) // batch_size + 1 if sent else None
            held = "scrubber: 90837 needs 53+ minutes" if st == "held" else None
            if n in two_versions:
                vid += 1
                extra[n] = vid
                yield (vid, n, 1, pcn(n, 1), "corrected", "1", fhir % pcn(n, 1), None, sha, batch, "[]",
                       loader.at(day[n - 1]))
            vid += 1
            version = 2 if n in two_versions else 1
            yield (vid, n, version, pcn(n, version), st, "7" if version == 2 else "1", fhir % pcn(n, version),
                   held, sha, batch, "[]", loader.at(day[n - 1]))

    counts["claim_versions"] = loader.load(
        "claim_versions", ["id", "claim_id", "version", "pcn", "status", "frequency", "fhir", "hold_reason",
                           "built_from_sha256", "batch_id", "findings", "created_at"], version_rows())
    # claim_versions ids: claim n's current version is n + (number of two-version claims <= n)

    def current_vid(n: int) -> int:
        return n + n // 50

    counts["claim_lines"] = loader.load(
        "claim_lines", ["id", "version_id", "claim_id", "pcn", "patient_key", "payer_id", "rendering_npi", "code",
                        "service_date"],
        ((n, current_vid(n), n, pcn(n, 2 if n in two_versions else 1), patient(n), PAYERS[n % len(PAYERS)],
          f"{1000000000 + n % 40:010d}", CODES[n % len(CODES)], service_date(n)) for n in range(1, claims + 1)))

    def event_rows():
        eid = 0
        for n in range(1, claims + 1):
            st = status[n - 1]
            version = 2 if n in two_versions else 1
            if st in ("held", "ready"):
                eid += 1
                yield (eid, n, version, None, st, "intake", "built", loader.at(day[n - 1]))
                continue
            eid += 1
            yield (eid, n, version, "batched", "submitted", "outbound", "sent", loader.at(sent_at[n]))
            if st not in ("batched", "submitted"):
                eid += 1
                yield (eid, n, version, "accepted" if st in REMITTED else "submitted", st, "posting", "835",
                       loader.at(min(sent_at[n] + 14 + n % 30, DAYS)))

    counts["claim_events"] = loader.load(
        "claim_events", ["id", "claim_id", "version", "from_status", "to_status", "actor", "reason", "at"],
        event_rows())

    # remittances: one 835 per 100 remitted claims, in claim order
    remitted = [n for n in range(1, claims + 1) if status[n - 1] in REMITTED]
    per = 100
    groups = [remitted[i:i + per] for i in range(0, len(remitted), per)]
    counts["inbound_files"] = loader.load(
        "inbound_files", ["id", "clearinghouse", "name", "sha256", "size", "kinds", "status", "received_at",
                          "processed_at"],
        ((g, "availity", f"ERA-{g:06d}.835", f"{g:064x}", 40000, "835", "posted",
          loader.at(min(sent_at[grp[0]] + 20, DAYS)), loader.at(min(sent_at[grp[0]] + 20, DAYS), 30))
         for g, grp in enumerate(groups, 1)))

    def money(n: int) -> tuple[int, int, int, int]:
        st = status[n - 1]
        charge = 15000 + (n % 4) * 2500
        if st == "denied":
            return charge, 0, 0, 0
        allowed = charge * 6 // 10
        patient_share = 2000 if st != "billed_to_patient" else allowed
        paid = allowed - patient_share
        if st == "partially_paid":
            paid //= 2
        return charge, paid, patient_share, allowed

    rc_rows, line_rows, denial_rows, remit_rows, plb_rows = [], [], [], [], []
    rc_id = 0
    for g, grp in enumerate(groups, 1):
        total_paid = total_charge = 0
        for n in grp:
            charge, paid, patient_share, allowed = money(n)
            version = 2 if n in two_versions else 1
            st = status[n - 1]
            outcome = {"denied": "denied", "partially_paid": "partially_paid"}.get(st, "paid")
            if n % 400 == 0:  # a posting later reversed: original, reversal, then the current one
                rc_id += 2
                rc_rows.append((rc_id - 1, g, n, version, pcn(n, version), "1", "paid", charge, paid, patient_share,
                                allowed, f"P{n:012d}", "[]", "[]", "matched", None, rc_id, 0))
                rc_rows.append((rc_id, g, n, version, pcn(n, version), "22", "reversal", -charge, -paid,
                                -patient_share, -allowed, f"P{n:012d}", "[]", "[]", "matched", rc_id - 1, None, 0))
            rc_id += 1
            reason, amount = ("16", charge) if st == "denied" else ("45", charge - allowed)
            adjustments = f'[{{"group":"CO","reason":"{reason}","amount":"{amount // 100}.{amount % 100:02d}"}}]'
            rc_rows.append((rc_id, g, n, version, pcn(n, version), {"denied": "4"}.get(st, "1"), outcome, charge,
                            paid, patient_share, allowed if st != "denied" else None, f"P{n:012d}", adjustments,
                            "[]", "matched", None, None, 0))
            line_rows.append((rc_id, rc_id, 1, "control_number", f"HC:{CODES[n % len(CODES)]}", charge, paid,
                              allowed, "1", f"{pcn(n, version)}-1", service_date(n), adjustments, "", "[]"))
            if st == "denied" or (st == "partially_paid" and n % 2 == 0):
                group, reason, remark, category, action = DENIAL_REASONS[n % len(DENIAL_REASONS)]
                resolved = rng.random() < 0.6
                denial_rows.append((len(denial_rows) + 1, rc_id, rc_id, n, group, reason, remark,
                                    charge if st == "denied" else charge - allowed - paid, category, action,
                                    f"{group}-{reason}", "resolved" if resolved else "open",
                                    "appealed" if resolved else None, loader.at(min(sent_at[n] + 20, DAYS))))
            total_paid += paid
            total_charge += charge
        if g % 5 == 0:  # unmatched payment in this 835 now and then
            rc_id += 1
            rc_rows.append((rc_id, g, None, None, f"UNKNOWN{g:08d}", "1", "unmatched", 15000, 7000, 2000, 9000,
                            None, "[]", "[]", "unmatched", None, None, 0))
        plb = -(g % 7) * 100 if g % 3 == 0 else 0
        if plb:
            plb_rows.append((len(plb_rows) + 1, g, "1234567893", "L6", f"INT{g}", plb))
        pay_day = min(sent_at[grp[0]] + 20, DAYS)
        remit_rows.append((g, g, "1512345678", f"TRN{g:09d}", PAYERS[g % len(PAYERS)], "RIVERBEND COUNSELING",
                           f"{g % 1000000000:09d}", total_paid - plb, "ACH",
                           (date(2024, 11, 28) + timedelta(days=pay_day)).isoformat(), len(grp), total_charge,
                           total_paid, -plb, loader.at(pay_day)))
    counts["remittances"] = loader.load(
        "remittances", ["id", "file_id", "payer_key", "trace_number", "payer_name", "payee_name", "control_number",
                        "amount", "method", "payment_date", "claim_count", "total_charge", "total_paid",
                        "provider_adjustment_total", "posted_at"], remit_rows)
    counts["provider_adjustments"] = loader.load(
        "provider_adjustments", ["id", "remittance_id", "provider_id", "reason", "reference", "amount"], plb_rows)
    counts["remittance_claims"] = loader.load(
        "remittance_claims", ["id", "remittance_id", "claim_id", "version", "pcn", "status_code", "outcome",
                              "charge", "paid", "patient_responsibility", "allowed", "payer_claim_number",
                              "adjustments", "remarks", "match", "reverses_id", "reversed_by_id", "segment"],
        rc_rows)
    del rc_rows
    counts["remittance_lines"] = loader.load(
        "remittance_lines", ["id", "remittance_claim_id", "sequence", "matched_by", "procedure", "charge", "paid",
                             "allowed", "units", "control_number", "service_date", "adjustments", "modifiers",
                             "remarks"], line_rows)
    del line_rows
    counts["denials"] = loader.load(
        "denials", ["id", "remittance_claim_id", "remittance_line_id", "claim_id", "group", "reason", "remarks",
                    "amount", "category", "action", "explanation", "status", "resolution", "created_at"],
        denial_rows)
    load_seconds = time.perf_counter() - start
    loader.close()
    rollup_seconds = None
    if not with_triggers and hasattr(rollups, "rebuild"):  # one INSERT … SELECT per rollup, then the triggers
        began = time.perf_counter()
        with store.engine.begin() as connection:
            rollups.rebuild(connection)
            rollups.create_triggers(connection)
        rollup_seconds = time.perf_counter() - began
    began = time.perf_counter()
    Loader(store).finish()
    counts["_rows"] = loader.rows
    counts["_load_seconds"] = round(load_seconds, 1)
    counts["_rollup_seconds"] = round(rollup_seconds, 1) if rollup_seconds is not None else None
    counts["_analyze_seconds"] = round(time.perf_counter() - began, 1)
    return counts


# -- driving the API -----------------------------------------------------------------------------------------


def make_runtime(root: Path, db_url: str, report_cache_seconds: float = 0.0):
    from claimbridge.demo import client_key, demo_config, write_payer_profiles
    from claimbridge.pipeline import Runtime

    key = client_key(root / "keys")
    known_hosts = root / "keys" / "known_hosts"
    known_hosts.write_text("")
    config = yaml.safe_load(demo_config("http://127.0.0.1:9/fhir", 2222, key, known_hosts))
    config["database"]["url"] = db_url
    config.setdefault("web", {})["report_cache_seconds"] = report_cache_seconds
    write_payer_profiles(root / "payers")
    path = root / "claimbridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return Runtime.open(path)


def timings(client, path: str, requests: int, warmup: int, budget: float, headers: dict | None = None) -> list[float]:
    """``requests`` timed GETs, or fewer (at least 5) when they take more than ``budget`` seconds in all."""
    for _ in range(warmup):
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.data[:300]!r}")
    out: list[float] = []
    began = time.perf_counter()
    for _ in range(requests):
        if len(out) >= 5 and time.perf_counter() - began > budget:
            break
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def drive(runtime, claims: int, requests: int, warmup: int, budget: float, only: str | None) -> list[dict]:
    from claimbridge.web import create_app
    from claimbridge.web.auth import AuthError, add_user, create_token

    app = create_app(runtime)
    app.config["TESTING"] = True
    with contextlib.suppress(AuthError):  # a reused --database has it already
        add_user(runtime.store, "bench", PASSWORD, "admin")
    token = {"Authorization": f"Bearer {create_token(runtime.store, 'bench', 'bench')}"}
    api = app.test_client()
    # a deep page: the cursor 90% of the way down the list, as "next" clicked many times would reach
    deep = f"/api/v1/claims?cursor={claims // 10}"
    reports = sorted(rule.rule for rule in app.url_map.iter_rules()
                     if rule.rule.startswith("/api/v1/reports/") and "GET" in rule.methods and not rule.arguments)
    targets = [("/api/v1/me (floor)", "/api/v1/me", "api"),
               ("/api/v1/claims", "/api/v1/claims", "api"),
               ("/api/v1/claims?status=denied", "/api/v1/claims?status=denied", "api"),
               ("/api/v1/claims?status=held", "/api/v1/claims?status=held", "api"),
               ("/api/v1/claims deep cursor", deep, "api"),
               ("/api/v1/claims?count=true", "/api/v1/claims?count=true", "api"),
               ("/api/v1/claims?status=paid&count=true", "/api/v1/claims?status=paid&count=true", "api"),
               *((path, path, "api") for path in reports),
               ("/ (dashboard, signed in)", "/", "ui")]
    page = app.test_client()
    form = page.get("/login")
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', form.data).group(1).decode()
    signed = page.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
    if signed.status_code != 302:
        raise SystemExit(f"login failed: {signed.status_code}")
    results = []
    for label, path, kind in targets:
        if only and not re.search(only, label):
            continue
        times = timings(api if kind == "api" else page, path, requests, warmup if len(results) else 50, budget,
                        token if kind == "api" else None)
        row = {"endpoint": label, "n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
               "p99": percentile(times, 99), "mean": statistics.fmean(times)}
        results.append(row)
        floor = results[0]["p95"] if results[0]["endpoint"].endswith("(floor)") else None
        ratio = f"{row['p95'] / floor:8.1f}×" if floor else " " * 9
        print(f"  {label:<44} {row['n']:5d} {row['p50']:8.1f} {row['p95']:8.1f} {row['p99']:8.1f} {ratio}"
              f"  {'OVER' if row['p95'] > 100 else 'ok'}", flush=True)
    return results


# -- the run -------------------------------------------------------------------------------------------------


def _postgres_database(admin: str) -> tuple[str, str]:
    import psycopg

    name = f"claimbridge_webbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + "/" + name
    return name, url.replace("postgresql://", "postgresql+psycopg://", 1)


def _drop_postgres_database(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds per endpoint: stop timing it early (after at least 5 requests) past this")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="e.g. postgresql://claimbridge:claimbridge@127.0.0.1/postgres (a database is created "
                             "and dropped)")
    parser.add_argument("--database", type=Path, help="SQLite file to keep; reused (not loaded again) if it exists")
    parser.add_argument("--only", help="regular expression: only the endpoints whose label matches")
    parser.add_argument("--load-with-triggers", action="store_true",
                        help="keep the rollup triggers during the load (to see their cost per row)")
    parser.add_argument("--report-cache-seconds", type=float, default=0.0,
                        help="web.report_cache_seconds (default 0: every request computes its report)")
    args = parser.parse_args(argv)

    from claimbridge.store.db import open_store

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pg_name = None
        if args.postgres:
            pg_name, url = _postgres_database(args.postgres)
        else:
            db = args.database or folder / "web.db"
            reuse = db.exists()
            url = f"sqlite:///{db}"
        try:
            store = open_store(url)
            if args.postgres or not reuse:
                counts = load(store, args.claims, args.load_with_triggers)
                print(f"loaded {counts['_rows']:,} rows for {counts['claims']:,} claims in {counts['_load_seconds']} s "
                      f"(+ {counts['_rollup_seconds']} s rollups, {counts['_analyze_seconds']} s ANALYZE) into "
                      f"{store.engine.dialect.name}: "
                      + ", ".join(f"{k} {v:,}" for k, v in counts.items() if not k.startswith("_")), flush=True)
            else:
                counts = {}
                print(f"reusing {db}", flush=True)
            store.dispose()
            runtime = make_runtime(folder, url, args.report_cache_seconds)
            try:
                print(f"{args.requests} requests per endpoint (n: fewer when they took over {args.budget:g} s) after "
                      f"{args.warmup} warm-up; ms; × = p95 over the floor")
                print(f"  {'endpoint':<44} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'×floor':>9}")
                results = drive(runtime, args.claims, args.requests, args.warmup, args.budget, args.only)
            finally:
                runtime.close()
        finally:
            if pg_name:
                _drop_postgres_database(args.postgres, pg_name)
    return {"counts": counts, "results": results}


if __name__ == "__main__":
    main(sys.argv[1:])
