"""X12 for claimbridge: read any X12 file, write 837P claims, validate with pyx12.

* :mod:`claimbridge.x12.reader` — tokenizer (delimiters from ISA; tolerant of BOMs, newlines, several
  envelopes);
* :mod:`claimbridge.x12.writer` — segment serialisation, sanitising, ISA padding, X12 numbers from Decimal;
* :mod:`claimbridge.x12.encode_837p` — profile Claims to one 005010X222A1 interchange;
* :mod:`claimbridge.x12.validate` — in-process pyx12 validation with problems tied to claims (PCN), reported
  as :mod:`claimbridge.x12.problems`;
* :mod:`claimbridge.x12.responses` — typed TA1, 999, 277CA and 835 parsers (streaming), 835 balancing;
* :mod:`claimbridge.x12.cli` — the ``x12`` click group (``x12 validate FILE...``, ``x12 parse FILE [--json]``).
"""

from __future__ import annotations

from claimbridge.x12.encode_837p import ClaimEncodeError, Encoded837, Envelope, Submitter, encode_837p
from claimbridge.x12.problems import Problem, ValidationReport
from claimbridge.x12.reader import Delimiters, Segment, X12SyntaxError, detect_delimiters, iter_segments
from claimbridge.x12.responses import X12ParseError, balance_835, iter_transactions, parse_x12
from claimbridge.x12.validate import require_valid, validate_x12

__all__ = [
    "ClaimEncodeError",
    "Delimiters",
    "Encoded837",
    "Envelope",
    "Problem",
    "Segment",
    "Submitter",
    "ValidationReport",
    "X12ParseError",
    "X12SyntaxError",
    "balance_835",
    "detect_delimiters",
    "encode_837p",
    "iter_segments",
    "iter_transactions",
    "parse_x12",
    "require_valid",
    "validate_x12",
]
