"""claimbridge: billing middleware for mental-health practices.

This module is the public facade. Plugins — the built-in ones included — import from here and nowhere else:

    from claimbridge import hookimpl, EhrSource, Stream, Record, ConnectorSettings
"""

from __future__ import annotations

import pluggy

from claimbridge.connectors import (
    BadRecord,
    Clearinghouse,
    Connector,
    ConnectorSettings,
    EhrSource,
    EligibilityTransport,
    OutboundFile,
    Record,
    RemoteFile,
    Stream,
    SubmitResult,
)
from claimbridge.errors import (
    AuthError,
    ClaimbridgeError,
    ClaimBuildError,
    ConfigError,
    FatalError,
    HostKeyError,
    RecordError,
    RetryableError,
    SourceError,
    TransientSourceError,
    TransmitError,
)
from claimbridge.secrets import Secret

__version__ = "0.1.0"

#: decorator for hook implementations: ``@claimbridge.hookimpl``
hookimpl = pluggy.HookimplMarker("claimbridge")

__all__ = [
    "AuthError",
    "BadRecord",
    "ClaimBuildError",
    "ClaimbridgeError",
    "Clearinghouse",
    "ConfigError",
    "Connector",
    "ConnectorSettings",
    "EhrSource",
    "EligibilityTransport",
    "FatalError",
    "HostKeyError",
    "OutboundFile",
    "Record",
    "RecordError",
    "RemoteFile",
    "RetryableError",
    "Secret",
    "SourceError",
    "Stream",
    "SubmitResult",
    "TransientSourceError",
    "TransmitError",
    "__version__",
    "hookimpl",
]
