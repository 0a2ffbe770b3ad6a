"""Tables. Every timestamp is timezone-aware UTC; money never lives here as float."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes; SQLite gives naive ones back, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Bookmark(Base):
    """Where a stream of a source was last read up to. Owned by the sync runner."""

    __tablename__ = "bookmarks"
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncRun(Base):
    __tablename__ = "sync_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | succeeded | failed
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_new: Mapped[int] = mapped_column(Integer, default=0)
    records_changed: Mapped[int] = mapped_column(Integer, default=0)
    records_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class QuarantinedRecord(Base):
    """A record or file that could not be used, kept whole with the reason."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))
    source: Mapped[str] = mapped_column(String(100), index=True)
    stream: Mapped[str] = mapped_column(String(100))
    record_key: Mapped[str] = mapped_column(String(300))
    field: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredEncounter(Base):
    """An encounter bundle as the source delivered it (the raw payload is kept)."""

    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("source", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    cursor: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))
    #: the payload a claim was not built from because it is not billable (a missed appointment the payer
    #: profile does not bill), and why; intake looks at the encounter again once its payload changes
    not_billable_sha256: Mapped[str | None] = mapped_column(String(64))
    not_billable_reason: Mapped[str | None] = mapped_column(Text)
    claim: Mapped[Claim | None] = relationship(back_populates="encounter", uselist=False)


class SourceRecord(Base):
    """A record of a stream other than ``encounters`` (e.g. a source's insurance payments), kept as delivered:
    upserted by (source, stream, key) like encounters, never made into claims."""

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("source", "stream", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(300))
    cursor: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))


class Claim(Base):
    """One billable encounter. Its versions are what leave (original, replacements, voids)."""

    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), unique=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(30), index=True)  # status of the current version
    pcn: Mapped[str] = mapped_column(String(17), index=True)  # PCN of the current version
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # what lists filter on, from the current version as last scrubbed (None: it could not be built)
    payer_id: Mapped[str | None] = mapped_column(String(80), index=True)
    rendering_npi: Mapped[str | None] = mapped_column(String(10), index=True)
    service_date: Mapped[date | None] = mapped_column(Date, index=True)
    patient_key: Mapped[str | None] = mapped_column(String(200), index=True)
    encounter: Mapped[StoredEncounter] = relationship(back_populates="claim")
    versions: Mapped[list[ClaimVersion]] = relationship(back_populates="claim", order_by="ClaimVersion.version")
    events: Mapped[list[ClaimEvent]] = relationship(order_by="ClaimEvent.id", viewonly=True)


class ClaimVersion(Base):
    __tablename__ = "claim_versions"
    __table_args__ = (UniqueConstraint("claim_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    version: Mapped[int] = mapped_column(Integer)
    pcn: Mapped[str] = mapped_column(String(17), unique=True)
    status: Mapped[str] = mapped_column(String(30))
    frequency: Mapped[str] = mapped_column(String(1), default="1")
    fhir: Mapped[str | None] = mapped_column(Text)  # the FHIR Claim JSON; None when it could not be built
    hold_reason: Mapped[str | None] = mapped_column(Text)
    built_from_sha256: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    findings: Mapped[str | None] = mapped_column(Text)  # JSON list of the scrubber's findings
    x12_segments: Mapped[str | None] = mapped_column(Text)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))  # from the 277CA or the 835
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[Claim] = relationship(back_populates="versions")
    batch: Mapped[Batch | None] = relationship(back_populates="claim_versions")


class ClaimEvent(Base):
    """Every status change of a claim version, with who did it and why."""

    __tablename__ = "claim_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Batch(Base):
    """One outbound interchange (one 837 file) for one clearinghouse."""

    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("partner", "isa13"), Index("ix_batches_status", "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clearinghouse: Mapped[str] = mapped_column(String(100))
    partner: Mapped[str] = mapped_column(String(100))  # trading-partner key the control numbers belong to
    # created → validated → transmitting → submitted | failed (validation) ; created/validated may be retried
    status: Mapped[str] = mapped_column(String(20), default="created")
    #: what the interchange carries: 837P claims, or 270 eligibility inquiries
    kind: Mapped[str] = mapped_column(String(10), default="837P", server_default="837P")
    isa13: Mapped[int] = mapped_column(BigInteger)
    gs06: Mapped[int] = mapped_column(BigInteger)
    st02: Mapped[int] = mapped_column(BigInteger)
    usage: Mapped[str] = mapped_column(String(1))
    file_name: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[str | None] = mapped_column(Text)
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    remote_path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # what the TA1/999 said: accepted | accepted_with_errors | rejected (None: no answer yet)
    ack_status: Mapped[str | None] = mapped_column(String(30))
    ack_detail: Mapped[str | None] = mapped_column(Text)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_versions: Mapped[list[ClaimVersion]] = relationship(back_populates="batch")


class ControlCounter(Base):
    """The last control number used, per trading partner and kind (ISA13, GS06, ST02). Never goes back."""

    __tablename__ = "control_counters"
    partner: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class ClaimLine(Base):
    """The few facts of each line of a claim version that other claims are checked against (duplicates,
    one psychotherapy code per day, authorized visits used), kept so no claim JSON has to be re-read."""

    __tablename__ = "claim_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("claim_versions.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    pcn: Mapped[str] = mapped_column(String(17))
    patient_key: Mapped[str] = mapped_column(String(200), index=True)
    payer_id: Mapped[str | None] = mapped_column(String(80))
    rendering_npi: Mapped[str | None] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(10))
    service_date: Mapped[date] = mapped_column(Date)
    authorization: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[ClaimVersion] = relationship()


class FindingOverride(Base):
    """A biller's decision to let one finding of one claim version pass, with the reason."""

    __tablename__ = "finding_overrides"
    __table_args__ = (UniqueConstraint("claim_id", "version", "rule"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A person who signs in to the admin UI (or owns API tokens). Passwords are kept as scrypt hashes."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # admin | biller | viewer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for machines, acting as its user; only its sha256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what to which claim, outside the automatic pipeline (overrides, releases, reads of PHI).
    Append-only: the database refuses updates and deletes (triggers, migration 0005)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    detail: Mapped[str] = mapped_column(Text)


# -- what comes back: acknowledgments, remittances, denials (issue 4) -------------------------------------


class Cents(TypeDecorator):
    """Money as a whole number of cents in the database, :class:`~decimal.Decimal` in Python. Exact on
    SQLite and PostgreSQL alike and summable in SQL; an amount finer than a cent is refused, never rounded."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        cents = Decimal(value).scaleb(2)
        if cents != cents.to_integral_value():
            raise ValueError(f"money amount {value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(int(value)).scaleb(-2)


class InboundFile(Base):
    """A file fetched from a clearinghouse, once per content (sha256). The bytes are kept under the work
    folder (``stored_path``); ``status`` says what became of it."""

    __tablename__ = "inbound_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clearinghouse: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))  # the name it first arrived under
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kinds: Mapped[str | None] = mapped_column(String(100))  # "835", "999 277CA" …
    # received → posted | quarantined
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    stored_path: Mapped[str | None] = mapped_column(String(500))
    validation: Mapped[str | None] = mapped_column(Text)  # JSON list of pyx12 findings
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)  # JSON counts of what posting did
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundDelivery(Base):
    """Every time a file was seen in a clearinghouse folder, under whatever name (re-deliveries included)."""

    __tablename__ = "inbound_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    clearinghouse: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    duplicate: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Acknowledgment(Base):
    """One answer about one batch (TA1, 999) or one claim (277CA), in words."""

    __tablename__ = "acknowledgments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # TA1 | 999 | 277CA
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(80))  # what it answers: ISA13, GS06/ST02 or the PCN
    outcome: Mapped[str] = mapped_column(String(30))  # accepted | accepted_with_errors | rejected | pending …
    codes: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    matched: Mapped[bool] = mapped_column(default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Remittance(Base):
    """One 835 transaction set: one payment (BPR/TRN) from one payer to one payee. Posted once per payer
    and trace number, whatever file it arrives in."""

    __tablename__ = "remittances"
    __table_args__ = (UniqueConstraint("payer_key", "trace_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    payer_key: Mapped[str] = mapped_column(String(80))  # TRN03, else the payer's N104, else its name
    trace_number: Mapped[str] = mapped_column(String(80))
    payer_name: Mapped[str] = mapped_column(String(100), default="")
    payee_name: Mapped[str] = mapped_column(String(100), default="")
    payee_id: Mapped[str | None] = mapped_column(String(80))
    control_number: Mapped[str] = mapped_column(String(9))
    amount: Mapped[Decimal] = mapped_column(Cents)  # BPR02 with the sign of BPR03
    method: Mapped[str] = mapped_column(String(3))
    payment_date: Mapped[date | None] = mapped_column(Date)
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    total_charge: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    total_paid: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    provider_adjustment_total: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    fhir: Mapped[str | None] = mapped_column(Text)  # PaymentReconciliation JSON
    hook_error: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemittanceClaim(Base):
    """One CLP of a remittance, matched to a claim version by its PCN (or left unmatched, in the queue)."""

    __tablename__ = "remittance_claims"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    pcn: Mapped[str] = mapped_column(String(38), index=True)
    status_code: Mapped[str] = mapped_column(String(2))
    # paid | partially_paid | denied | reversal | forwarded | not_ours | unmatched
    outcome: Mapped[str] = mapped_column(String(20))
    charge: Mapped[Decimal] = mapped_column(Cents)
    paid: Mapped[Decimal] = mapped_column(Cents)
    patient_responsibility: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    allowed: Mapped[Decimal | None] = mapped_column(Cents)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50))
    adjustments: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{group, reason, amount, quantity}]
    remarks: Mapped[str] = mapped_column(Text, default="[]")
    # matched | unmatched (in the queue) | resolved (a person matched or dismissed it)
    match: Mapped[str] = mapped_column(String(20), index=True)
    match_note: Mapped[str | None] = mapped_column(Text)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_claims.id"))
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_claims.id"))
    fhir: Mapped[str | None] = mapped_column(Text)  # ClaimResponse JSON
    segment: Mapped[int] = mapped_column(Integer, default=0)


class RemittanceLine(Base):
    """One SVC of a remitted claim, matched to the claim's item by REF*6R or by code and date."""

    __tablename__ = "remittance_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    sequence: Mapped[int | None] = mapped_column(Integer)  # the claim item it pays; None when unmatched
    matched_by: Mapped[str] = mapped_column(String(20))  # control_number | code_and_date | none
    procedure: Mapped[str] = mapped_column(String(48))
    modifiers: Mapped[str] = mapped_column(String(20), default="")
    charge: Mapped[Decimal] = mapped_column(Cents)
    paid: Mapped[Decimal] = mapped_column(Cents)
    allowed: Mapped[Decimal | None] = mapped_column(Cents)
    units: Mapped[str | None] = mapped_column(String(15))
    control_number: Mapped[str | None] = mapped_column(String(50))
    service_date: Mapped[date | None] = mapped_column(Date)
    adjustments: Mapped[str] = mapped_column(Text, default="[]")
    remarks: Mapped[str] = mapped_column(Text, default="[]")


class ProviderAdjustmentRow(Base):
    """One PLB reason/amount: interest (L6), recoupments (WO, 72), forwarding balances (FB) …"""

    __tablename__ = "provider_adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(80))
    fiscal_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(2))
    reference: Mapped[str | None] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Cents)  # positive lowers the payment, negative raises it


class Denial(Base):
    """The denial work queue: one classified adjustment that needs a person (not contractual, not the
    patient's share), with the next action and what was done about it."""

    __tablename__ = "denials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_claim_id: Mapped[int] = mapped_column(ForeignKey("remittance_claims.id"), index=True)
    remittance_line_id: Mapped[int | None] = mapped_column(ForeignKey("remittance_lines.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    group: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(5))
    remarks: Mapped[str] = mapped_column(String(200), default="")  # space separated RARCs
    amount: Mapped[Decimal] = mapped_column(Cents)
    category: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | resolved
    resolution: Mapped[str | None] = mapped_column(String(40))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replacement_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobRun(Base):
    """One run of a scheduled job: when, where, what it did, and why it failed."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | succeeded | failed | skipped
    counts: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(100), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)


# -- connectors added in the admin UI (issue 7) -------------------------------------------------------------


class ConnectorRow(Base):
    """An EHR source or clearinghouse an admin added in the UI (connectors written in the YAML file are not
    here). ``settings`` is the plugin's settings as JSON, every value of a secret field encrypted
    (``{"$secret": token}``, see :mod:`claimbridge.connector_store`); ``revision`` grows with every change."""

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("kind", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # source | clearinghouse
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[str] = mapped_column(Text)  # JSON
    trading_partner: Mapped[str | None] = mapped_column(Text)  # JSON, clearinghouses only
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- what the dashboard reads instead of every claim (migration 0008, see claimbridge.store.rollups) --------

#: the current version's billed total (its FHIR Claim's ``total``), set where its lines are stored (review)
Claim.charge = mapped_column("charge", Cents, nullable=True)
#: the claims list by status, newest first: one index range, however deep the page
Index("ix_claims_status_id", Claim.status, Claim.id)


class RollupClaimsByStatus(Base):
    """How many claims are in each status, by payer id ('' when none)."""

    __tablename__ = "rollup_claims_by_status"
    status: Mapped[str] = mapped_column(String(30), primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupClaimsByDay(Base):
    """Claims with a date of service by status, payer id and that date: their charge, and those outstanding
    (see :mod:`claimbridge.web.reports`) with what is outstanding on them."""

    __tablename__ = "rollup_claims_by_day"
    status: Mapped[str] = mapped_column(String(30), primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    service_date: Mapped[date] = mapped_column(Date, primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)
    charge: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    outstanding_claims: Mapped[int] = mapped_column(BigInteger, default=0)
    outstanding: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupAdjudications(Base):
    """Claims with a current adjudication (paid, partially paid or denied) and those denied, by payer id and the
    (greatest) payer name of their 835s."""

    __tablename__ = "rollup_adjudications"
    payer_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    payer_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)
    denied: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupDenialCategories(Base):
    """Claims with a denial of the category on a current adjudication, and the denied money."""

    __tablename__ = "rollup_denial_categories"
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    claims: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupPaymentDays(Base):
    """Current paid adjudications (835 payment date known) by payer id, payer name and whole days from the date
    of service to the payment date: how many, paid and charge."""

    __tablename__ = "rollup_payment_days"
    payer_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    payer_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    payments: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    charge: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupOutcomes(Base):
    """Current adjudications by outcome: how many, Σ CLP03 charge, Σ CLP04 paid, Σ CLP05 patient responsibility."""

    __tablename__ = "rollup_outcomes"
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    payments: Mapped[int] = mapped_column(BigInteger, default=0)
    charge: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    paid: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    patient_responsibility: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupOpenDenials(Base):
    """Open denials by category: how many and the money."""

    __tablename__ = "rollup_open_denials"
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    denials: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupTotals(Base):
    """Named totals: ``remittances`` (count, Σ BPR02), ``provider_adjustments`` (count, Σ PLB),
    ``unmatched_claim_payments`` (count)."""

    __tablename__ = "rollup_totals"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))


class RollupClaimFacts(Base):
    """What each claim last added to the claim rollups (kept by the triggers; see claimbridge.store.rollups)."""

    __tablename__ = "rollup_claim_facts"
    claim_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(30))
    payer_id: Mapped[str] = mapped_column(String(80))
    service_date: Mapped[date | None] = mapped_column(Date)
    charge: Mapped[int] = mapped_column(BigInteger)
    outstanding: Mapped[int] = mapped_column(BigInteger)


class RollupAdjudicationFacts(Base):
    __tablename__ = "rollup_adjudication_facts"
    claim_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80))
    payer_name: Mapped[str] = mapped_column(String(100))
    denied: Mapped[int] = mapped_column(Integer)


class RollupCategoryFacts(Base):
    __tablename__ = "rollup_category_facts"
    claim_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class RollupPaymentFacts(Base):
    __tablename__ = "rollup_payment_facts"
    claim_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80))
    payments: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    charge: Mapped[int] = mapped_column(BigInteger)


# -- eligibility: 270 inquiries and 271 answers (issue 8) ---------------------------------------------------


class EligibilityCheck(Base):
    """One 270 inquiry (for an upcoming appointment, or asked on demand) and what its 271 answered.

    ``inquiry`` is the question as JSON (who, which payer, which date and service types) and ``inquiry_sha256``
    its digest, so a changed coverage asks again; ``trace_number`` (TRN02) is unique and comes back in the 271.
    ``status``: pending (built) → sent (in a 270 batch, or asked in real time) → answered | rejected (the payer
    answered with AAA) | failed (the batch was rejected, or the inquiry could not be built). ``summary`` holds
    what the answer says for the practice (coverage, copay, deductible, visits, authorization, carve-out) and
    ``risks`` the reasons the session is at risk, comma-separated."""

    __tablename__ = "eligibility_checks"
    __table_args__ = (Index("ix_eligibility_checks_appointment", "source", "appointment_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(100))
    appointment_key: Mapped[str | None] = mapped_column(String(300))
    appointment_start: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    patient_key: Mapped[str] = mapped_column(String(200), index=True)
    payer_id: Mapped[str] = mapped_column(String(80), index=True)
    payer_name: Mapped[str | None] = mapped_column(String(200))
    service_date: Mapped[date | None] = mapped_column(Date)
    service_types: Mapped[str] = mapped_column(String(100))
    trace_number: Mapped[str] = mapped_column(String(50), unique=True)
    inquiry: Mapped[str] = mapped_column(Text)  # JSON
    inquiry_sha256: Mapped[str] = mapped_column(String(64))
    transport: Mapped[str] = mapped_column(String(20), default="batch")  # batch | realtime
    clearinghouse: Mapped[str | None] = mapped_column(String(100))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    coverage_status: Mapped[str | None] = mapped_column(String(40))
    risks: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)  # JSON
    response: Mapped[str | None] = mapped_column(Text)  # JSON of the 271's answer for this member
    inbound_file_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_files.id"))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100), default="scheduler")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
