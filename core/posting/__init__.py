"""Posting what clearinghouses and payers send back: acknowledgments (:mod:`.acks`: TA1, 999, 277CA) and
remittances (:mod:`.remittance`: 835), inside one database transaction the caller owns. Files reach these
functions through :func:`claimbridge.inbound.receive_file`, which keeps, validates and balances them first.
"""

from __future__ import annotations

from claimbridge.posting.acks import post_277ca, post_999, post_ta1
from claimbridge.posting.remittance import RemittanceOutcome, payer_key_of, post_835

__all__ = ["RemittanceOutcome", "payer_key_of", "post_277ca", "post_835", "post_999",
           "post_ta1"]
