"""The pipeline's steps — :func:`pull` every source, :func:`build_claims`, :func:`submit` batches (837P →
validate → upload) — and :func:`run_pipeline`, one pass of all three. The scheduler runs the steps as jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from claimbridge.claims.intake import IntakeResult, build_pending_claims
from claimbridge.claims.review import Reviewer, authorizations_by_patient
from claimbridge.claims.scrub.engine import Scrubber, create_scrubber
from claimbridge.claims.scrub.profiles import PayerProfile, ProfileSet, profile_dir_for
from claimbridge.config import ClaimSettings, PayerSettings, Settings, connector_settings
from claimbridge.errors import ClaimbridgeError, FatalError
from claimbridge.outbound import Outbound, OutboundResult
from claimbridge.plugin_host import PluginHost, create_plugin_host
from claimbridge.store.db import Store, open_store
from claimbridge.store.models import utcnow
from claimbridge.sync import ENCOUNTERS, SyncResult, SyncRunner

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a command needs: the validated settings, the store (migrated), the plugin host and the scrubber.

    ``settings`` holds the connectors of the configuration file and those added in the web UI (kept in the
    database, see :mod:`claimbridge.connector_store`); ``file_settings`` the file's alone. A long-running process
    calls :meth:`refresh_connectors` to take in what was added, changed or removed since."""

    settings: Settings
    store: Store
    plugins: PluginHost
    config_path: Path
    scrubber: Scrubber
    file_settings: Settings | None = None
    #: stored connectors left out of ``settings``, ``{(kind, name): reason}``
    connector_problems: dict = field(default_factory=dict)
    _connectors_seen: tuple | None = field(default=None, repr=False)
    _connectors_checked: float = field(default=0.0, repr=False)
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, config_path: Path, plugins: PluginHost | None = None) -> Runtime:
        from claimbridge.config import load_config

        plugins = plugins or create_plugin_host()
        settings = load_config(config_path, plugins)
        scrubber = create_scrubber(plugins, profile_dir=profile_dir_for(config_path))
        settings = settings.model_copy(update={"claims": claim_settings_for(settings.claims, scrubber.profiles)})
        runtime = cls(settings=settings, store=_open_migrated(settings), plugins=plugins, config_path=config_path,
                      scrubber=scrubber, file_settings=settings)
        runtime.refresh_connectors(force=True)
        return runtime

    @property
    def connectors(self):
        """The connectors kept in the database (:class:`~claimbridge.connector_store.ConnectorStore`)."""
        from claimbridge.connector_store import KEY_FILE, ConnectorKey, ConnectorStore

        return ConnectorStore(self.store, self.plugins, base=self.config_path.parent.resolve(),
                              key=ConnectorKey(self.settings.workdir / KEY_FILE))

    def refresh_connectors(self, *, force: bool = False, max_age: float = 2.0) -> bool:
        """Take in the stored connectors if they changed since the last look (at most every ``max_age``
        seconds unless ``force``); True when ``settings`` changed."""
        with self._refresh_lock:
            now = time.monotonic()
            if not force and now - self._connectors_checked < max_age:
                return False
            self._connectors_checked = now
            store = self.connectors
            seen = store.signature()
            if seen == self._connectors_seen and not force:
                return False
            if self.file_settings is None:
                self.file_settings = self.settings
            base = self.file_settings
            sources, clearinghouses, problems = store.entries(base)
            for (kind, name), reason in problems.items():
                log.warning("%s %s (added in the web UI) is left out: %s", kind, name, reason)
            self.settings = base.model_copy(update={"sources": [*base.sources, *sources],
                                                    "clearinghouses": [*base.clearinghouses, *clearinghouses]})
            self.connector_problems = problems
            self._connectors_seen = seen
            return True

    def reviewer(self) -> Reviewer:
        """A scrubbing reviewer for one pass (built-in and plugin rules; shipped, plugin and practice profiles)."""
        return Reviewer(self.scrubber, utcnow().date(), authorizations_by_patient(self.settings))

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_migrated(settings: Settings) -> Store:
    """The store, migrated. On PostgreSQL the migration runs under an advisory lock: several processes
    starting at once on a new database would otherwise all try to create the tables (SQLite's write lock
    already makes them take turns)."""
    store = open_store(settings.database.url, migrate=False)
    if not store.is_postgresql:
        store.migrate()
        return store
    from claimbridge.schedule.locks import cluster_lock  # the schedule package imports this module

    with cluster_lock(store, settings.workdir / "locks", "migrations", wait=True):
        store.migrate()
    return store


def claim_settings_for(claims: ClaimSettings, profiles: ProfileSet) -> ClaimSettings:
    """The claim builder's per-payer facts, taken from the payer profiles so that the builder and the
    scrubber can never disagree (the first of a profile's ``telehealth_pos`` is the one the builder uses)."""

    def payer(profile: PayerProfile) -> PayerSettings:
        return PayerSettings(name=profile.description or profile.name,
                             claim_filing_indicator=profile.claim_filing_indicator,
                             telehealth_modifier=profile.telehealth_modifier,
                             audio_only_modifier=profile.audio_only_modifier,
                             telehealth_pos=profile.telehealth_pos[0] if profile.telehealth_pos else "10")

    payers = {payer_id: payer(profile) for profile in profiles for payer_id in profile.payer_ids}
    return claims.model_copy(update={"payers": payers, "default_payer": payer(profiles.default)})


@dataclass
class SourceOutcome:
    name: str
    status: str
    read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    #: records quarantined before that now read cleanly (their quarantine resolved)
    released: int = 0
    #: new or changed records of the ``encounters`` stream (the others, e.g. payments, are not sessions)
    encounters: int = 0
    error: str | None = None


@dataclass
class PipelineSummary:
    sources: list[SourceOutcome] = field(default_factory=list)
    intake: IntakeResult = field(default_factory=IntakeResult)
    outbound: dict[str, OutboundResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        batches = [asdict(b) for result in self.outbound.values() for b in result.batches]
        held = [asdict(h) for h in self.intake.held]
        held += [{"pcn": pcn, "encounter": None, "reason": reason}
                 for result in self.outbound.values() for pcn, reason in result.held]
        sent = [b for b in batches if b["status"] == "submitted"]
        return {
            "ok": self.ok,
            "encounters_pulled": sum(s.encounters for s in self.sources),
            "encounters_read": sum(s.read for s in self.sources),
            "records_quarantined": sum(s.quarantined for s in self.sources),
            "sources": [asdict(s) for s in self.sources],
            "claims_built": self.intake.built + self.intake.rebuilt,
            "replacement_versions": self.intake.replacements,
            "not_billable": self.intake.not_billable,
            "claims_held": held,
            "batches": batches,
            "files_sent": len([b for b in sent if not b["already_present"]]),
            "claims_sent": sum(b["claims"] for b in sent),
            "control_numbers": [{"isa13": b["isa13"], "gs06": b["gs06"], "st02": b["st02"]} for b in batches],
            "errors": self.errors,
        }


Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass
class PullResult:
    """What :func:`pull` did: one outcome per source; a failed source's error is also in ``errors``."""

    sources: list[SourceOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        totals = {attr: sum(getattr(s, attr) for s in self.sources)
                  for attr in ("read", "new", "changed", "unchanged", "quarantined", "released", "encounters")}
        return totals | {"sources_failed": sum(1 for s in self.sources if s.error)}


@dataclass
class BuildResult:
    """What :func:`build_claims` did."""

    intake: IntakeResult = field(default_factory=IntakeResult)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"claims_built": self.intake.built, "claims_rebuilt": self.intake.rebuilt,
                "replacement_versions": self.intake.replacements,
            "not_billable": self.intake.not_billable, "claims_held": len(self.intake.held)}


@dataclass
class SubmissionResult:
    """What :func:`submit` did, per clearinghouse; a clearinghouse that failed is in ``errors``."""

    outbound: dict[str, OutboundResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        batches = [b for result in self.outbound.values() for b in result.batches]
        sent = [b for b in batches if b.status == "submitted"]
        return {"batches": len(batches),
                "batches_failed": sum(1 for b in batches if b.status == "failed"),
                "files_sent": sum(1 for b in sent if not b.already_present),
                "claims_sent": sum(b.claims for b in sent),
                "claims_held": sum(len(result.held) for result in self.outbound.values())}


def pull(runtime: Runtime, source_names: list[str] | None = None, *,
         progress: Progress | None = None, reread: bool = False) -> PullResult:
    """Sync every enabled source (or those named), from their bookmarks (``reread``: from the start). A source
    that fails is reported and the others go on.

    Raises :class:`FatalError` when ``source_names`` names a source the configuration does not have.
    """
    settings = runtime.settings
    progress = progress or _quiet
    result = PullResult()
    entries = [s for s in settings.sources if s.enabled and (not source_names or s.name in source_names)]
    if source_names:
        unknown = sorted(set(source_names) - {s.name for s in settings.sources})
        if unknown:
            raise FatalError(f"no source named {', '.join(unknown)} in {runtime.config_path}")
    runner = SyncRunner(runtime.store, progress=progress)
    base = runtime.config_path.parent.resolve()
    for entry in entries:
        cls = runtime.plugins.source_class(entry.type)
        outcome = SourceOutcome(name=entry.name, status="failed")
        try:
            with cls(entry.name, connector_settings(entry, cls.settings_model, base)) as source:
                synced: SyncResult = runner.run(source, reread=reread)
            outcome.status = synced.status
            for attr in ("read", "new", "changed", "unchanged", "quarantined", "released"):
                setattr(outcome, attr, synced.total(attr))
            outcome.encounters = sum(s.new + s.changed for s in synced.streams if s.stream == ENCOUNTERS)
        except ClaimbridgeError as exc:
            outcome.error = str(exc)
            prefix = f"source {entry.name}: "
            result.errors.append(outcome.error if outcome.error.startswith(prefix) else prefix + outcome.error)
            log.error("source %s failed: %s", entry.name, exc)
        result.sources.append(outcome)
    return result


def build_claims(runtime: Runtime, *, progress: Progress | None = None) -> BuildResult:
    """Build and scrub a claim version for every stored encounter that has none or changed since."""
    progress = progress or _quiet
    progress("building and scrubbing claims")
    intake = build_pending_claims(runtime.store, runtime.settings, runtime.plugins, reviewer=runtime.reviewer())
    progress(f"claims: {intake.built} built, {intake.rebuilt} rebuilt, {len(intake.held)} held")
    return BuildResult(intake=intake)


def submit(runtime: Runtime, *, progress: Progress | None = None) -> SubmissionResult:
    """Batch, encode, validate and send every ready claim to its clearinghouse (its payer profile's
    ``clearinghouse``, else the first enabled one); finish what an earlier run left. A clearinghouse that fails
    keeps its batches for the next run; claims routed to a clearinghouse that is not enabled wait, and say so."""
    from sqlalchemy import select

    from claimbridge.claims.states import ClaimStatus
    from claimbridge.outbound import Routing
    from claimbridge.store.models import Batch, Claim, ClaimVersion

    settings = runtime.settings
    progress = progress or _quiet
    result = SubmissionResult()
    routing = Routing(settings, runtime.scrubber.profiles)
    outbound = Outbound(runtime.store, settings, runtime.plugins, routing)
    base = runtime.config_path.parent.resolve()
    with runtime.store.transaction() as session:
        ready = session.execute(select(Claim.payer_id, ClaimVersion.id).join(
            ClaimVersion, ClaimVersion.claim_id == Claim.id).where(
            ClaimVersion.status == ClaimStatus.READY.value)).all()
    for name, payers in routing.waiting({payer for payer, _ in ready}).items():
        count = sum(1 for payer, _ in ready if (payer or "(none)") in payers)
        result.errors.append(f"{count} ready claim(s) of payer {', '.join(sorted(payers))} wait for clearinghouse "
                             f"{name!r}, which is not enabled (payer profile clearinghouse)")
    with runtime.store.transaction() as session:
        unfinished = set(session.execute(select(Batch.clearinghouse).distinct().where(
            Batch.kind == "837P", Batch.status.in_(("created", "validated", "transmitting")))).scalars())
    routed = {routing.clearinghouse_for(payer) for payer, _ in ready}
    for position, entry in enumerate(c for c in settings.clearinghouses if c.enabled):
        # the first enabled clearinghouse is always visited (its run reports what it did, even nothing); the
        # others only when something is routed to them or left unfinished there
        if position and entry.name not in routed and entry.name not in unfinished:
            continue
        cls = runtime.plugins.clearinghouse_class(entry.type)
        progress(f"sending to {entry.name}")
        try:
            with cls(entry.name, connector_settings(entry, cls.settings_model, base)) as clearinghouse:
                result.outbound[entry.name] = outbound.run(entry, clearinghouse, settings.workdir / "outbound")
        except ClaimbridgeError as exc:
            result.errors.append(f"clearinghouse {entry.name}: {exc}")
            log.error("clearinghouse %s failed: %s", entry.name, exc)
    return result


def run_pipeline(runtime: Runtime, *, source_names: list[str] | None = None,
                 progress: Progress | None = None, reread: bool = False) -> PipelineSummary:
    """Run one pass: :func:`pull`, :func:`build_claims`, :func:`submit`. A source that fails is reported and
    the rest of the pass goes on with what is stored; a clearinghouse that fails leaves its batches for the
    next pass. ``reread`` reads the sources from the start instead of from their bookmarks."""
    pulled = pull(runtime, source_names, progress=progress, reread=reread)
    built = build_claims(runtime, progress=progress)
    submitted = submit(runtime, progress=progress)
    return PipelineSummary(sources=pulled.sources, intake=built.intake, outbound=submitted.outbound,
                           errors=pulled.errors + built.errors + submitted.errors)


def open_runtime(config_path: Path) -> Runtime:
    return Runtime.open(config_path)
