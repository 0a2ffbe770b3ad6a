"""The tokenizer: every corpus file, odd delimiters, BOMs, newlines, several envelopes, clear errors."""

from __future__ import annotations

import codecs

import pytest

from claimbridge.errors import RecordError
from claimbridge.x12 import Delimiters, X12SyntaxError, detect_delimiters, iter_segments
from claimbridge.x12.writer import SegmentWriter
from tests.x12.corpus import corpus_file, corpus_params

# sample files whose SE01 is wrong upstream (hand-edited test data of other parsers); everything else must match
SE_COUNT_WRONG_UPSTREAM = {
    "837_5010_x12_complex.txt", "837_5010_x12_many_claims.txt", "837_5010_x12_multiple_gs.txt",
    "837_5010_x12_multiple_isa.txt", "837_5010_x12_multiple_st.txt", "837_5010_x12_no_errors.txt",
    "837_5010_x12_valid.txt", "837_5010_x12_valid_different_separators.txt", "837_5010_x12_writer_test.txt",
    "blue_cross_nc_sample.txt", "edi835-demo-005010X221.edi", "tc_parse_276.rb_msg1.edi",
    "tc_parse_276.rb_msg2.edi", "tc_parse_837p.rb_msg1.edi",
}


@pytest.mark.parametrize("path", corpus_params())
def test_every_corpus_file_tokenizes(path):
    segments = list(iter_segments(path.read_bytes(), name=str(path)))
    assert segments, "no segments"
    assert segments[0].id in ("ISA", "ST")
    assert [s.index for s in segments] == list(range(1, len(segments) + 1))
    assert all(2 <= len(s.id) <= 3 and s.id.isalnum() and s.id.isupper() for s in segments)
    counts = []
    start = None
    for seg in segments:
        if seg.id == "ST":
            start = seg.index
        elif seg.id == "SE" and start is not None:
            counts.append((int(seg[1]), seg.index - start + 1))
    if path.name in SE_COUNT_WRONG_UPSTREAM:
        assert any(declared != counted for declared, counted in counts)
    else:
        assert all(declared == counted for declared, counted in counts), counts


def test_several_interchanges_bom_and_indentation_in_corpus():
    path = corpus_file("Inteligenz__X12Parser/INS__835__5010_FromNth_835_WithMultipleInterchanges.txt")
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    segments = list(iter_segments(data))
    assert [s.id for s in segments].count("ISA") == 3
    assert [s.id for s in segments].count("IEA") == 3
    assert segments[0].delimiters.component == ">"


def test_newline_terminated_and_unpadded_isa_in_corpus():
    st1309 = list(iter_segments(corpus_file("Inteligenz__X12Parser/INS__837P__5010_ST1309-XX.txt").read_bytes()))
    assert st1309[0].delimiters.segment == "\n"
    assert st1309[2].id == "ST" and st1309[2][2] == "1309"
    unpadded = list(iter_segments(corpus_file("mjpete3__x12/tc_parse_837p.rb_msg2.edi").read_bytes()))
    assert unpadded[0][6] == "000009340000000" and unpadded[0][16] == ":"
    assert unpadded[1].id == "GS"


def test_utf16_corpus_file():
    segments = list(iter_segments(corpus_file("Inteligenz__X12Parser/INS__837P__5010_UnicodeExample.txt")
                                  .read_bytes()))
    assert [s.id for s in segments[:3]] == ["ISA", "GS", "ST"]


def _interchange(delimiters: Delimiters, control: str = "000000001", newline: bool = False) -> str:
    writer = SegmentWriter(delimiters, newline=newline)
    writer.segment("ISA", "00", "", "00", "", "ZZ", "SENDER", "ZZ", "RECEIVER", "260302", "1405",
                   delimiters.repetition or "U", "00501", control, "0", "T", delimiters.component)
    writer.segment("GS", "HP", "SENDER", "RECEIVER", "20260302", "1405", "1", "X", "005010X221A1")
    writer.segment("ST", "835", "0001")
    writer.segment("CLP", "PCN0001", "1", "150", "120")
    writer.segment("SVC", ("HC", "90837", "95"), "150", "120")
    writer.segment("SE", "4", "0001")
    writer.segment("GE", "1", "1")
    writer.segment("IEA", "1", control)
    return writer.text()


def test_odd_delimiters_are_read_from_isa():
    odd = Delimiters(element="|", component=">", repetition="!", segment="\\")
    segments = list(iter_segments(_interchange(odd)))
    assert segments[0].delimiters == odd
    svc = next(s for s in segments if s.id == "SVC")
    assert svc.components(1) == ["HC", "90837", "95"]
    assert svc.component(1, 3) == "95"
    assert detect_delimiters(_interchange(odd)) == odd


def test_bom_crlf_indentation_and_blank_lines():
    text = _interchange(Delimiters()).replace("~", "~\r\n    ") + "\r\n\r\n"
    data = codecs.BOM_UTF8 + text.encode()
    segments = list(iter_segments(data))
    assert [s.id for s in segments] == ["ISA", "GS", "ST", "CLP", "SVC", "SE", "GE", "IEA"]
    assert segments[3][1] == "PCN0001"


def test_newline_as_the_segment_terminator():
    text = _interchange(Delimiters(segment="\n"))
    for variant in (text, text.replace("\n", "\r\n"), text.replace("\n", "\r")):
        assert [s.id for s in iter_segments(variant)][-1] == "IEA"
    assert detect_delimiters(text.replace("\n", "\r\n")).segment == "\n"


def test_two_interchanges_with_different_delimiters():
    first = _interchange(Delimiters(), "000000001")
    second = _interchange(Delimiters(element="|", component="^", repetition="!", segment="'"), "000000002")
    segments = list(iter_segments(first + "\n" + second))
    isas = [s for s in segments if s.id == "ISA"]
    assert [s[13] for s in isas] == ["000000001", "000000002"]
    assert segments[-1].delimiters.element == "|"
    assert segments[-4].components(1) == ["HC", "90837", "95"]


def test_lines_wrapped_inside_a_segment_are_joined():
    text = _interchange(Delimiters()).replace("PCN0001*1", "PCN00\n01*1")
    assert next(s for s in iter_segments(text) if s.id == "CLP")[1] == "PCN0001"


def test_element_access_is_by_x12_position():
    seg = next(s for s in iter_segments(_interchange(Delimiters())) if s.id == "CLP")
    assert seg[0] == "CLP" and seg[1] == "PCN0001" and seg[4] == "120"
    assert seg[5] == "" and len(seg) == 4
    assert seg.repetitions(1) == ["PCN0001"]
    assert str(seg) == "CLP*PCN0001*1*150*120"
    with pytest.raises(IndexError):
        seg[-1]


def test_fragment_without_isa_is_tokenized():
    segments = list(iter_segments("ST*835*1234~BPR*I*10*C*CHK~SE*3*1234~"))
    assert [s.id for s in segments] == ["ST", "BPR", "SE"]


@pytest.mark.parametrize("data, offset", [
    (b"MIT License\n\nCopyright", 0),
    (b"<html><body>", 0),
    (b"   \n", 0),
    (b"\xef\xbb\xbf  hello world", 2),
])
def test_not_x12_names_file_and_offset(data, offset):
    with pytest.raises(X12SyntaxError) as caught:
        list(iter_segments(data, name="inbound/remit.835"))
    assert isinstance(caught.value, RecordError)
    assert caught.value.offset == offset
    assert str(caught.value).startswith(f"inbound/remit.835: offset {offset}: ")


def test_broken_isa_and_bad_segment_id():
    with pytest.raises(X12SyntaxError, match="16 elements"):
        list(iter_segments("ISA*00*short~GS*HC~"))
    bad = _interchange(Delimiters()).replace("CLP*", "clp*")
    with pytest.raises(X12SyntaxError, match="segment 4 has no valid segment id") as caught:
        list(iter_segments(bad, name="x.835"))
    assert caught.value.offset == bad.index("clp")


def test_dos_end_of_file_mark_and_nul_padding_are_ignored():
    text = _interchange(Delimiters()) + "\r\n\x1a\x00\x00"
    segments = list(iter_segments(text))
    assert segments[-1].id == "IEA"
    assert all(segments)  # a segment is truthy even without elements
