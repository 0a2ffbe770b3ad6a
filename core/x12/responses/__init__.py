"""What clearinghouses and payers send back, read into typed objects: TA1, 999 (and 997), 277CA (and 277)
and 835 remittances, plus the balancing checks posting runs before it touches an 835.

    parsed = parse_x12(path)                      # every transaction, in file order
    for tx in iter_transactions(path):            # or one at a time, memory flat
        if tx.type == "835":
            problems = balance_835(tx)            # [] when it balances to the cent
    print(json.dumps(file_to_json(parsed)))       # the ``x12 parse --json`` contract

Modules: :mod:`.parse` (dispatch by ST01), :mod:`.remit835` / :mod:`.model835`, :mod:`.acks` (TA1, 999),
:mod:`.status277`, :mod:`.balance835`, :mod:`.as_json`, :mod:`.codes` (code texts).
"""

from __future__ import annotations

from claimbridge.x12.responses._values import X12ParseError
from claimbridge.x12.responses.acks import (
    Ack999,
    AcknowledgedSet,
    ElementError,
    GroupStatus,
    SegmentError,
    TA1Ack,
)
from claimbridge.x12.responses.as_json import file_to_json, transaction_to_json
from claimbridge.x12.responses.balance835 import Discrepancy, balance_835
from claimbridge.x12.responses.model835 import (
    Adjustment,
    ClaimPayment,
    Party,
    Payment,
    Person,
    ProcedureCode,
    ProviderAdjustment,
    Remittance835,
    ServiceLine,
)
from claimbridge.x12.responses.parse import (
    OtherTransaction,
    ParsedFile,
    Transaction,
    iter_transactions,
    parse_x12,
)
from claimbridge.x12.responses.status277 import (
    ClaimStatus,
    LevelStatus,
    LineStatus,
    Status,
    StatusCode,
    StatusReport,
)

__all__ = [
    "Ack999", "AcknowledgedSet", "Adjustment", "ClaimPayment", "ClaimStatus", "Discrepancy", "ElementError",
    "GroupStatus", "LevelStatus", "LineStatus", "OtherTransaction", "ParsedFile", "Party", "Payment", "Person",
    "ProcedureCode", "ProviderAdjustment", "Remittance835", "SegmentError", "ServiceLine", "Status",
    "StatusCode", "StatusReport", "TA1Ack", "Transaction", "X12ParseError", "balance_835", "file_to_json",
    "iter_transactions", "parse_x12", "transaction_to_json",
]
