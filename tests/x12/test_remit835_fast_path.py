"""The 835 parser builds ClaimPayment and ServiceLine with every field positional (for speed); this keeps it
honest when the model changes, and checks that segments read once and reused give the same objects."""

from __future__ import annotations

import dataclasses
import io
import random

import pytest

from claimbridge.x12.responses import X12ParseError, iter_transactions, parse_x12
from claimbridge.x12.responses._values import Reader
from claimbridge.x12.responses.model835 import ClaimPayment, ServiceLine
from claimbridge.x12.responses.remit835 import _CLAIM_FIELDS, _LINE_FIELDS
from tests.x12.test_parse_835 import PAID, remit
from tests.x12.test_reader_speed_paths import LAYOUTS, _mutated


def test_positional_field_order_matches_the_model():
    assert tuple(f.name for f in dataclasses.fields(ClaimPayment)) == _CLAIM_FIELDS
    assert tuple(f.name for f in dataclasses.fields(ServiceLine)) == _LINE_FIELDS


def test_new_objects_for_every_repeated_segment():
    [tx] = parse_x12(remit(PAID * 3, total="630.00")).transactions
    first, second, third = tx.claims
    assert [c.segment for c in tx.claims] == [12, 26, 40]
    assert first.lines[1].adjustments == second.lines[1].adjustments == third.lines[1].adjustments
    assert first.lines[0].adjudicated == second.lines[0].adjudicated
    assert first is not second and first.lines[0] is not second.lines[0]
    assert first.lines[0].adjustments[0] is not second.lines[0].adjustments[0]
    assert first.lines[0].adjudicated is not second.lines[0].adjudicated
    first.lines[0].adjustments.clear()
    assert second.lines[0].adjustments  # nothing mutable is shared between claims


def _claims(text, **kwargs):
    return [tx.claims for tx in iter_transactions(text, **kwargs)]


@pytest.mark.parametrize("chunk_size", [16, 50, 333, 65536])
def test_runs_of_any_length_read_the_same(chunk_size):
    text = remit(PAID * 40, total="8400.00") + remit(PAID * 2, total="420.00", ctl="000000002").replace(
        "~", "~\r\n")
    assert _claims(io.BytesIO(text.encode()), chunk_size=chunk_size) == _claims(text)


def test_a_repeated_segment_fails_where_it_is_read_again():
    # the same DTM is fine on the claim (DTM*472 is a line date) and fails on the line, naming the second one
    bad = "DTM*472*20261340~"
    text = remit(PAID.replace("NM1*QC", bad + "NM1*QC").replace("DTM*472*20260105~", bad))
    with pytest.raises(X12ParseError) as caught:
        parse_x12(text, name="in/era.835")
    assert str(caught.value).startswith(
        "in/era.835: segment 16 DTM DTM02: the service date is not a date CCYYMMDD ('20261340')")


def test_a_cas_outside_a_claim_is_reported_before_its_bad_amount():
    text = remit("CAS*CO*45*X~" + PAID)
    with pytest.raises(X12ParseError, match="segment 12 CAS: a CAS adjustment outside a claim"):
        parse_x12(text)
    text = remit(PAID.replace("CAS*CO*45*25.00", "CAS*CO*45*X"))
    with pytest.raises(X12ParseError, match=r"segment 16 CAS CAS03: the adjustment amount is not an amount \('X'\)"):
        parse_x12(text)


def test_a_stray_space_after_an_id_reads_the_same_from_a_file_as_from_text():
    # the tokenizer's fast path used to hand on "SVC " as the id past the first chunk, dropping those lines
    text = remit(PAID * 300, total=f"{210 * 300}.00").replace("~SVC*", "~SVC *")
    [from_text] = parse_x12(text).transactions
    [from_file] = parse_x12(io.BytesIO(text.encode())).transactions
    assert sum(len(c.lines) for c in from_file.claims) == sum(len(c.lines) for c in from_text.claims) == 600


def _transactions_or_error(text: str) -> list:
    seen: list = []
    try:
        for tx in iter_transactions(io.BytesIO(text.encode("utf-8")), chunk_size=500):
            seen.append(tx)
    except X12ParseError as exc:
        seen.append((str(exc), exc.segment, exc.segment_id, exc.element))
    except Exception as exc:  # noqa: BLE001 — the same failure either way is what counts
        seen.append((type(exc).__name__, str(exc)))
    return seen


def test_remembered_segments_read_like_new_ones(monkeypatch):
    rng = random.Random(277)
    texts = list(LAYOUTS.values()) + [_mutated(rng.choice(list(LAYOUTS.values())), rng) for _ in range(80)]
    remembering = [_transactions_or_error(text) for text in texts]
    monkeypatch.setattr(Reader, "remember", staticmethod(lambda seen, text, entry: None))
    for text, expected in zip(texts, remembering, strict=True):
        assert _transactions_or_error(text) == expected, text[:200]
