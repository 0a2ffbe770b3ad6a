"""Summary (rollup) tables the dashboard and the claims list read instead of a million claims, kept exact by
database triggers in the same transaction as every write (ORM flushes and set-based UPDATEs alike).

Two kinds:

* **per-claim rollups** (claims by status and payer; by status, payer and date of service with charge and
  outstanding money; adjudicated and denied claims by payer; claims and money by denial category; payment-day
  histograms). What one claim adds to them depends on several tables (claims, remittance_claims, remittances,
  denials), so a write to any of them *refreshes* the claims it touches: subtract what the claim added last time
  (kept in a ``rollup_*_facts`` table, one or a few rows per claim), recompute its facts from the tables as they
  are now, add those. A refresh is idempotent, so it does not matter how often or in which order it runs — on
  PostgreSQL row triggers of a set-based UPDATE all see the statement's final state, on SQLite each sees the
  rows before it.
* **per-row rollups** (current adjudications by outcome, open denials by category, remittance, PLB and
  unmatched-payment totals): each row adds its own values, so a trigger subtracts the OLD row and adds the NEW.

:func:`rebuild` recomputes everything from scratch (the migration's backfill, after a bulk load, and what the
tests compare the trigger-kept tables with). Definitions follow :mod:`claimbridge.web.reports`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ROLLUP_TABLES", "create_triggers", "drop_triggers", "rebuild", "rollup_contents"]

AWAITING = ("submitted", "accepted", "rejected", "reversed")
WORKED = ("denied", "partially_paid")
STILL_EXPECTED = ("appealed", "rebilled_other_payer")
ADJUDICATED = ("paid", "partially_paid", "denied")
PAID = ("paid", "partially_paid")


def _list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _current(rc: str = "rc", dialect: str = "postgresql") -> str:
    """The current adjudication: a matched 835 claim payment that was not reversed and is no reversal.

    On SQLite the ``match`` term is written ``+match`` so the planner cannot pick ix_remittance_claims_match (every
    matched payment) over the claim id: without ANALYZE statistics it would, and a trigger would scan them all."""
    match = f"+{rc}.match" if dialect == "sqlite" else f"{rc}.match"
    return f"{rc}.reversed_by_id IS NULL AND {rc}.outcome <> 'reversal' AND {match} = 'matched'"


def _days(dialect: str) -> str:
    if dialect == "postgresql":
        return "(r.payment_date - c.service_date)"
    return "CAST(julianday(r.payment_date) - julianday(c.service_date) AS INTEGER)"


@dataclass(frozen=True)
class Rollup:
    """A rollup table summed from a facts table: ``keys`` and ``values`` (column → aggregate over facts)."""

    table: str
    keys: tuple[str, ...]
    values: dict[str, str]
    where: str = "1 = 1"


@dataclass(frozen=True)
class Facts:
    """What one claim adds to its rollups: ``select`` computes the facts of the claims ``{ids}`` names."""

    table: str
    columns: tuple[str, ...]
    select: str
    rollups: tuple[Rollup, ...]


def facts(dialect: str) -> tuple[Facts, ...]:
    worked = (f"(SELECT coalesce(sum(d.amount), 0) FROM denials d JOIN remittance_claims rc "
              f"ON rc.id = d.remittance_claim_id WHERE d.claim_id = c.id AND rc.version = c.current_version "
              f"AND rc.reversed_by_id IS NULL AND (d.status = 'open' OR d.resolution IN {_list(STILL_EXPECTED)}))")
    days = _days(dialect)
    return (
        Facts("rollup_claim_facts", ("claim_id", "status", "payer_id", "service_date", "charge", "outstanding"),
              f"SELECT c.id, c.status, coalesce(c.payer_id, ''), c.service_date, coalesce(c.charge, 0), "
              f"CASE WHEN c.status IN {_list(AWAITING)} THEN coalesce(c.charge, 0) "
              f"WHEN c.status IN {_list(WORKED)} THEN {worked} ELSE 0 END "
              f"FROM claims c WHERE {{ids:c.id}}",
              (Rollup("rollup_claims_by_status", ("status", "payer_id"), {"claims": "count(*)"}),
               Rollup("rollup_claims_by_day", ("status", "payer_id", "service_date"),
                      {"claims": "count(*)", "charge": "sum(charge)",
                       "outstanding_claims": "sum(CASE WHEN outstanding > 0 THEN 1 ELSE 0 END)",
                       "outstanding": "sum(CASE WHEN outstanding > 0 THEN outstanding ELSE 0 END)"},
                      "service_date IS NOT NULL"))),
        Facts("rollup_adjudication_facts", ("claim_id", "payer_id", "payer_name", "denied"),
              f"SELECT rc.claim_id, coalesce(c.payer_id, ''), max(r.payer_name), "
              f"max(CASE WHEN rc.outcome = 'denied' THEN 1 ELSE 0 END) "
              f"FROM remittance_claims rc JOIN remittances r ON r.id = rc.remittance_id "
              f"JOIN claims c ON c.id = rc.claim_id "
              f"WHERE {{ids:rc.claim_id}} AND {_current('rc', dialect)} AND rc.outcome IN {_list(ADJUDICATED)} "
              f"GROUP BY rc.claim_id, c.payer_id",
              (Rollup("rollup_adjudications", ("payer_id", "payer_name"),
                      {"claims": "count(*)", "denied": "sum(denied)"}),)),
        Facts("rollup_category_facts", ("claim_id", "category", "amount"),
              f"SELECT d.claim_id, d.category, sum(d.amount) FROM denials d "
              f"JOIN remittance_claims rc ON rc.id = d.remittance_claim_id "
              f"WHERE {{ids:d.claim_id}} AND {_current('rc', dialect)} GROUP BY d.claim_id, d.category",
              (Rollup("rollup_denial_categories", ("category",), {"claims": "count(*)", "amount": "sum(amount)"}),)),
        Facts("rollup_payment_facts", ("claim_id", "payer_name", "days", "payer_id", "payments", "paid", "charge"),
              f"SELECT rc.claim_id, r.payer_name, {days}, coalesce(c.payer_id, ''), count(*), sum(rc.paid), "
              f"sum(rc.charge) FROM remittance_claims rc JOIN remittances r ON r.id = rc.remittance_id "
              f"JOIN claims c ON c.id = rc.claim_id "
              f"WHERE {{ids:rc.claim_id}} AND {_current('rc', dialect)} AND rc.outcome IN {_list(PAID)} "
              f"AND r.payment_date IS NOT NULL AND c.service_date IS NOT NULL "
              f"GROUP BY rc.claim_id, r.payer_name, {days}, c.payer_id",
              (Rollup("rollup_payment_days", ("payer_id", "payer_name", "days"),
                      {"payments": "sum(payments)", "paid": "sum(paid)", "charge": "sum(charge)"}),)),
    )


#: per-row rollups: table → (key columns, value columns)
ROW_ROLLUPS = {"rollup_outcomes": (("outcome",), ("payments", "charge", "paid", "patient_responsibility")),
               "rollup_open_denials": (("category",), ("denials", "amount")),
               "rollup_totals": (("name",), ("count", "amount"))}

ROLLUP_TABLES = ("rollup_claims_by_status", "rollup_claims_by_day", "rollup_adjudications",
                 "rollup_denial_categories", "rollup_payment_days", *ROW_ROLLUPS)
FACT_TABLES = ("rollup_claim_facts", "rollup_adjudication_facts", "rollup_category_facts", "rollup_payment_facts")


def _upsert(table: str, keys: dict[str, str], values: dict[str, str], tail: str) -> str:
    """INSERT … SELECT that adds ``values`` to the row of ``keys`` (column → expression), made when missing."""
    columns = ", ".join((*keys, *values))
    exprs = ", ".join((*keys.values(), *values.values()))
    update = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    return (f"INSERT INTO {table} ({columns}) SELECT {exprs} {tail} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}")


def _apply(rollup: Rollup, source: str, sign: int, where: str) -> str:
    values = {column: (f"-({expr})" if sign < 0 else expr) for column, expr in rollup.values.items()}
    return _upsert(rollup.table, {k: k for k in rollup.keys}, values,
                   f"FROM {source} WHERE {where} AND {rollup.where} GROUP BY {', '.join(rollup.keys)}")


def _fill(select: str, ids) -> str:
    return re.sub(r"\{ids:([a-z_.]+)\}", lambda m: ids(m.group(1)), select)


def refresh_statements(dialect: str, ids) -> list[str]:
    """The statements that refresh the claims named by ``ids(column)`` (a condition on that claim id column)."""
    out = []
    for fact in facts(dialect):
        mine = ids("claim_id")
        out += [_apply(rollup, fact.table, -1, mine) for rollup in fact.rollups]
        out.append(f"DELETE FROM {fact.table} WHERE {mine}")
        out.append(f"INSERT INTO {fact.table} ({', '.join(fact.columns)}) " + _fill(fact.select, ids))
        out += [_apply(rollup, fact.table, +1, mine) for rollup in fact.rollups]
    return out


def _row_statements(table: str, row: str, sign: int) -> list[str]:
    """Per-row rollup statements for ``row`` (``NEW`` or ``OLD``): what it adds (sign 1) or took away (-1)."""
    s = "-" if sign < 0 else ""
    if table == "remittance_claims":
        return [_upsert("rollup_outcomes", {"outcome": f"{row}.outcome"},
                        {"payments": f"{s}1", "charge": f"{s}{row}.charge", "paid": f"{s}{row}.paid",
                         "patient_responsibility": f"{s}coalesce({row}.patient_responsibility, 0)"},
                        f"WHERE {_current(row)}"),
                _upsert("rollup_totals", {"name": "'unmatched_claim_payments'"}, {"count": f"{s}1", "amount": "0"},
                        f"WHERE {row}.match = 'unmatched'")]
    if table == "denials":
        return [_upsert("rollup_open_denials", {"category": f"{row}.category"},
                        {"denials": f"{s}1", "amount": f"{s}{row}.amount"}, f"WHERE {row}.status = 'open'")]
    return [_upsert("rollup_totals", {"name": f"'{table}'"}, {"count": f"{s}1", "amount": f"{s}{row}.amount"},
                    "WHERE 1 = 1")]


#: table → (columns whose UPDATE matters, SQL of the claim ids a row names; {row} is NEW or OLD)
TRIGGERS = {
    "claims": (("status", "current_version", "payer_id", "service_date", "charge"), ("{row}.id",)),
    "remittance_claims": (("claim_id", "version", "outcome", "charge", "paid", "patient_responsibility", "match",
                           "reversed_by_id", "remittance_id"),
                          ("{row}.claim_id", "SELECT claim_id FROM denials WHERE remittance_claim_id = {row}.id")),
    "denials": (("claim_id", "remittance_claim_id", "amount", "category", "status", "resolution"),
                ("{row}.claim_id",)),
    "remittances": (("payer_name", "payment_date", "amount"),
                    ("SELECT claim_id FROM remittance_claims WHERE remittance_id = {row}.id",)),
    "provider_adjustments": (("amount",), ()),
}


def _trigger_names(table: str) -> list[str]:
    return [f"rollup_{table}_{event}" for event in ("insert", "update", "delete")]


def _sqlite_triggers() -> list[str]:
    out = []
    for table, (columns, sources) in TRIGGERS.items():
        for event, rows in (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",))):
            body: list[str] = []
            if sources:
                picks = [s.format(row=row) for row in rows for s in sources]
                selects = " UNION ".join(p if p.startswith("SELECT") else f"SELECT {p}" for p in picks)
                body += refresh_statements("sqlite", lambda column, selects=selects: f"{column} IN ({selects})")
            if table != "claims":
                for row in rows:
                    body += _row_statements(table, row, -1 if row == "OLD" else +1)
            of = f" OF {', '.join(columns)}" if event == "update" else ""
            out.append(f"CREATE TRIGGER rollup_{table}_{event} AFTER {event.upper()}{of} ON {table} "
                       f"FOR EACH ROW BEGIN {'; '.join(body)}; END")
    return out


def _postgres_triggers() -> list[str]:
    refresh = ";\n    ".join(refresh_statements("postgresql", lambda column: f"{column} = ANY(ids)"))
    out = [f"""CREATE OR REPLACE FUNCTION rollup_refresh_claims(ids integer[]) RETURNS void AS $$
BEGIN
    -- a claim refreshed by two transactions at once: the second waits here, then reads what the first wrote
    PERFORM 1 FROM claims WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    {refresh};
END;
$$ LANGUAGE plpgsql"""]
    for table, (columns, sources) in TRIGGERS.items():
        parts = []
        for op_name, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            body = []
            if sources:
                picks = []
                for row in rows:
                    for s in sources:
                        s = s.format(row=row)
                        picks.append(f"array({s})" if s.startswith("SELECT") else f"ARRAY[{s}]")
                body.append(f"PERFORM rollup_refresh_claims({' || '.join(picks)})")
            if table != "claims":
                for row in rows:
                    body += _row_statements(table, row, -1 if row == "OLD" else +1)
            parts.append(f"IF TG_OP = '{op_name}' THEN\n        " + ";\n        ".join(body) + ";\n    END IF")
        branches = ";\n    ".join(parts)
        out.append(f"""CREATE OR REPLACE FUNCTION rollup_{table}() RETURNS trigger AS $$
BEGIN
    {branches};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql""")
        out.append(f"CREATE TRIGGER rollup_{table} AFTER INSERT OR UPDATE OF {', '.join(columns)} OR DELETE "
                   f"ON {table} FOR EACH ROW EXECUTE FUNCTION rollup_{table}()")
    return out


def create_triggers(connection) -> None:
    """Create the triggers that keep the rollups (``connection``: a SQLAlchemy connection)."""
    from sqlalchemy import text

    statements = _postgres_triggers() if connection.dialect.name == "postgresql" else _sqlite_triggers()
    for statement in statements:
        connection.execute(text(statement))


def drop_triggers(connection) -> None:
    from sqlalchemy import text

    for table in TRIGGERS:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"DROP TRIGGER IF EXISTS rollup_{table} ON {table}"))
            connection.execute(text(f"DROP FUNCTION IF EXISTS rollup_{table}()"))
        else:
            for name in _trigger_names(table):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP FUNCTION IF EXISTS rollup_refresh_claims(integer[])"))


def rebuild(connection) -> None:
    """Recompute every facts and rollup table from scratch (set-based: one INSERT … SELECT each)."""
    from sqlalchemy import text

    dialect = connection.dialect.name
    for table in (*FACT_TABLES, *ROLLUP_TABLES):
        connection.execute(text(f"DELETE FROM {table}"))
    for fact in facts(dialect):
        connection.execute(text(f"INSERT INTO {fact.table} ({', '.join(fact.columns)}) "
                                + _fill(fact.select, lambda column: "1 = 1")))
        for rollup in fact.rollups:
            columns = ", ".join((*rollup.keys, *rollup.values))
            connection.execute(text(
                f"INSERT INTO {rollup.table} ({columns}) SELECT {', '.join(rollup.keys)}, "
                f"{', '.join(rollup.values.values())} FROM {fact.table} WHERE {rollup.where} "
                f"GROUP BY {', '.join(rollup.keys)}"))
    connection.execute(text(
        "INSERT INTO rollup_outcomes (outcome, payments, charge, paid, patient_responsibility) "
        "SELECT rc.outcome, count(*), sum(rc.charge), sum(rc.paid), sum(coalesce(rc.patient_responsibility, 0)) "
        f"FROM remittance_claims rc WHERE {_current('rc', dialect)} GROUP BY rc.outcome"))
    connection.execute(text("INSERT INTO rollup_open_denials (category, denials, amount) "
                            "SELECT category, count(*), sum(amount) FROM denials WHERE status = 'open' "
                            "GROUP BY category"))
    connection.execute(text(
        "INSERT INTO rollup_totals (name, count, amount) "
        "SELECT 'remittances', count(*), coalesce(sum(amount), 0) FROM remittances UNION ALL "
        "SELECT 'provider_adjustments', count(*), coalesce(sum(amount), 0) FROM provider_adjustments UNION ALL "
        "SELECT 'unmatched_claim_payments', count(*), 0 FROM remittance_claims WHERE match = 'unmatched'"))


def rollup_contents(connection) -> dict[str, set[tuple]]:
    """Every rollup table's rows that hold something (a row of zeros is the same as no row), to compare."""
    from sqlalchemy import text

    values = {rollup.table: tuple(rollup.values) for fact in facts(connection.dialect.name)
              for rollup in fact.rollups}
    values.update({table: columns for table, (_, columns) in ROW_ROLLUPS.items()})
    out: dict[str, set[tuple]] = {}
    for table in ROLLUP_TABLES:
        rows = connection.execute(text(f"SELECT * FROM {table}")).mappings().all()
        out[table] = {tuple(sorted((k, v) for k, v in row.items())) for row in rows
                      if any(row[column] for column in values[table])}
    return out
