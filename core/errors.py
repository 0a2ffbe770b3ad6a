"""Errors, grouped by what the caller does next.

Every claimbridge error derives from :class:`ClaimbridgeError`. Below it there are three families, named for the
recovery they call for:

* :class:`FatalError` — stop the run; a person must change configuration, credentials or a remote setting.
* :class:`RetryableError` — the run failed for a reason that may pass (network, 5xx, 429); try again later.
* :class:`RecordError` — one record is unusable; quarantine it with the reason and go on with the rest.

A message names the thing, the value and the fix, never PHI: identifiers of records (encounter ids, claim PCNs)
are fine, names, birth dates and member ids are not.
"""

from __future__ import annotations

from collections.abc import Sequence


class ClaimbridgeError(Exception):
    """Root of every error claimbridge raises on purpose."""


class FatalError(ClaimbridgeError):
    """The run cannot go on until a person changes something."""


class ConfigError(FatalError):
    """Configuration is invalid. ``problems`` lists every problem found, each with its key path."""

    def __init__(self, problems: Sequence[str], source: str = "configuration"):
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "".join(f"\n  - {p}" for p in self.problems))


class AuthError(FatalError):
    """Credentials were refused (HTTP 401/403, SSH authentication)."""


class HostKeyError(FatalError):
    """An SSH host key is unknown or has changed; it is never accepted automatically."""


class SourceError(FatalError):
    """An EHR source answered with something that is not what the protocol promises (e.g. HTML for FHIR)."""


class X12ValidationError(FatalError):
    """An outbound X12 file failed validation; it must not leave.

    ``problems`` are :class:`claimbridge.x12.validate.Problem` objects naming segment, claim and message.
    """

    def __init__(self, message: str, problems: Sequence[object] = ()):
        self.problems = list(problems)
        super().__init__(message)


class RetryableError(ClaimbridgeError):
    """A transient failure: the same call may succeed later."""


class TransientSourceError(RetryableError):
    """The EHR source is unavailable for now (timeouts, 5xx, 429 after retries)."""


class TransmitError(RetryableError):
    """A transfer to or from a clearinghouse failed part-way (dropped connection, full disk)."""


class RecordError(ClaimbridgeError):
    """One record cannot be used. The runner quarantines it with this reason and continues.

    ``record`` is the record's key (e.g. ``Encounter/123``), ``field`` the path of the offending field
    (e.g. ``Patient.birthDate``).
    """

    def __init__(self, reason: str, *, record: str | None = None, field: str | None = None,
                 source: str | None = None):
        self.reason = reason
        self.record = record
        self.field = field
        self.source = source
        parts = [p for p in (source, record, field) if p]
        super().__init__(f"{': '.join(parts)}: {reason}" if parts else reason)


class ClaimBuildError(RecordError):
    """An encounter cannot become a claim (missing coverage, NPI, unknown procedure code …)."""


class NotBillable(ClaimBuildError):
    """An encounter that is not billed to its payer: a missed appointment (late cancel, no-show) whose payer
    profile does not list it in ``bill_missed_appointments``. Nothing is wrong with the data: intake builds no
    claim and notes why on the encounter."""


class InvalidTransition(ClaimbridgeError):
    """A claim status change that the lifecycle does not allow."""
