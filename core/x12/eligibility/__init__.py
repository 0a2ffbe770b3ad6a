"""Eligibility and benefits (X12 270/271, 005010X279A1): ask a payer whether a patient is covered and what
their mental-health benefits are, and read the answer.

* :mod:`.model` — :class:`EligibilityInquiry` (what a 270 asks), :class:`EligibilityResponse` (a 271's answer
  per subscriber or dependent: benefits, rejections, and helpers for coverage on a date, copay, coinsurance,
  deductible, out-of-pocket, visit limits, prior authorization and behavioral-health carve-outs);
* :mod:`.encode_270` — inquiries to one 270 interchange;
* :mod:`.check_270` — the structural check of a 270 (pyx12 has no 5010 map for 270/271);
* :mod:`.parse_271` — the reader :func:`claimbridge.x12.responses.iter_transactions` uses for 271 and 270 sets;
* :mod:`.codes` — the code lists in words (CSV files in ``codes/``).

docs/eligibility.md describes the 270 sent and what is read from a 271.
"""

from __future__ import annotations

from claimbridge.x12.eligibility.check_270 import check_270
from claimbridge.x12.eligibility.encode_270 import Encoded270, InquiryEncodeError, encode_270
from claimbridge.x12.eligibility.model import (
    FALLBACK_SERVICE_TYPE,
    MENTAL_HEALTH_SERVICE_TYPES,
    Benefit,
    BenefitDate,
    BenefitEntity,
    CarveOut,
    Contact,
    Delivery,
    Eligibility270,
    Eligibility271,
    EligibilityInquiry,
    EligibilityResponse,
    Limit,
    Member,
    Party,
    Payer,
    Provider,
    Rejection,
    TraceNumber,
    inquiry_service_types,
)

__all__ = [
    "FALLBACK_SERVICE_TYPE", "MENTAL_HEALTH_SERVICE_TYPES", "Benefit", "BenefitDate", "BenefitEntity", "CarveOut",
    "Contact", "Delivery", "Eligibility270", "Eligibility271", "EligibilityInquiry", "EligibilityResponse", "Encoded270",
    "InquiryEncodeError", "Limit", "Member", "Party", "Payer", "Provider", "Rejection",
    "TraceNumber", "check_270", "encode_270", "inquiry_service_types",
]
