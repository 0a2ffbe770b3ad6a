"""The reader streams: paths and file objects are read in chunks with flat memory, and give exactly what the
whole text gives, whatever the chunk size, BOM, newlines or envelopes."""

from __future__ import annotations

import codecs
import io
import tracemalloc

import pytest

from claimbridge.x12 import X12SyntaxError, iter_segments
from claimbridge.x12.responses import iter_transactions
from tests.x12.corpus import corpus_params
from tests.x12.test_parse_835 import PAID, remit


def _seen(segments):
    return [(s.id, s.elements, s.index, s.offset) for s in segments]


@pytest.mark.parametrize("path", corpus_params())
def test_chunked_reads_match_whole_reads(path):
    data = path.read_bytes()
    whole = _seen(iter_segments(data))
    for size in (16, 97, 1000):
        assert _seen(iter_segments(io.BytesIO(data), chunk_size=size)) == whole
    assert _seen(iter_segments(path)) == whole


def test_tricky_boundaries_with_tiny_chunks():
    first = remit(PAID, ctl="000000001").replace("~", "~\r\n  ")
    second = remit(PAID, ctl="000000002").replace("*", "|").replace(":", ">").replace("~", "'")
    third = remit(PAID, ctl="000000003").replace("~", "\r\n")
    text = first + second + third + "\r\n\x1a\x00\x00"
    data = codecs.BOM_UTF8 + text.encode()
    whole = _seen(iter_segments(text))
    assert [s[0] for s in whole].count("ISA") == 3 and whole[-1][0] == "IEA"
    for size in range(16, 140, 7):
        assert _seen(iter_segments(io.BytesIO(data), chunk_size=size)) == whole
    text_stream = io.StringIO(text)
    assert _seen(iter_segments(text_stream, chunk_size=50)) == whole


def test_utf16_and_latin1_streams():
    text = remit(PAID).replace("ACME HEALTH", "ACMÉ HEALTH")
    for data in (text.encode("utf-16"), text.encode("latin-1"), text.encode("utf-8")):
        names = [s[2] for s in iter_segments(io.BytesIO(data), chunk_size=33) if s.id == "N1"]
        assert names[0] == "ACMÉ HEALTH"


def test_errors_name_segment_number_and_text_from_a_stream():
    text = remit(PAID).replace("LX*1~", "lx*1*SOMETHING LONG ENOUGH TO BE CUT~")
    with pytest.raises(X12SyntaxError) as caught:
        list(iter_segments(io.BytesIO(text.encode()), name="in/era.835", chunk_size=64))
    assert caught.value.segment == 11
    assert caught.value.offset == text.index("lx*1")
    assert "segment 11 has no valid segment id (found 'lx', segment text 'lx*1*SOMETHING LONG …')" in str(caught.value)


def _big_file(tmp_path, megabytes: int):
    path = tmp_path / "big.835"
    claim = PAID
    with open(path, "w") as out:
        out.write(remit("", total="0").split("LX*1~")[0] + "LX*1~")
        size = 0
        while size < megabytes * 1_000_000:
            out.write(claim * 200)
            size += len(claim) * 200
        out.write("SE*1*0001~GE*1*7~IEA*1*000000001~")
    return path


def test_memory_stays_flat_on_a_large_file(tmp_path):
    path = _big_file(tmp_path, 5)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_segments(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 200_000
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"  # about 15 chunks of 64 KiB


def test_transactions_stream_with_flat_memory(tmp_path):
    one = remit(PAID * 20)
    body = one[one.index("ST*835"):one.index("GE*")]
    path = tmp_path / "many.835"
    with open(path, "w") as out:
        out.write(one[:one.index("ST*835")])
        for _ in range(500):
            out.write(body)
        out.write("GE*500*7~IEA*1*000000001~")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(len(tx.claims) for tx in iter_transactions(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte file"
