"""Serialisation: sanitising, composites, ISA padding, X12 numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from claimbridge.x12 import Delimiters, iter_segments
from claimbridge.x12.writer import (
    SegmentWriter,
    clean_value,
    format_decimal,
    format_money,
    isa_elements,
    serialize_segment,
)


@pytest.mark.parametrize("raw, expected", [
    ("O'Brien*Smith", "O'BRIEN SMITH"),
    ("Ann~Marie:Lee^Jr", "ANN MARIE LEE JR"),
    ("  José  Núñez\t\r\n", "JOSE NUNEZ"),
    ("line\x00break\x1f", "LINE BREAK"),
    ("Zoë 😀 Ltd", "ZOE LTD"),
    (None, ""),
])
def test_clean_value_removes_delimiters_and_non_printables(raw, expected):
    assert clean_value(raw, upper=True) == expected


def test_clean_value_respects_the_chosen_delimiters_and_case():
    odd = Delimiters(element="|", component=">", repetition="!", segment="'")
    assert clean_value("O'Brien|Smith>x!y*z", odd) == "O Brien Smith x y*z"
    assert clean_value("billing@example.org") == "billing@example.org"


def test_a_name_cannot_break_the_file():
    text = serialize_segment("NM1", ["IL", "1", clean_value("O'Brien*Smith~", upper=True), "Ann:Marie"])
    assert text == "NM1*IL*1*O'BRIEN SMITH*Ann Marie"
    assert list(iter_segments("ST*837*1~" + text + "~"))[1].elements == ["IL", "1", "O'BRIEN SMITH", "Ann Marie"]


def test_composites_and_trailing_empties():
    assert serialize_segment("SV1", [("HC", "90837", "95", ""), "150", "UN", "1", "", "", ("1", "2"), ""]) \
        == "SV1*HC:90837:95*150*UN*1***1:2"
    assert serialize_segment("NM1", ["85", "2", "ACME", "", "", "", "", "", ""]) == "NM1*85*2*ACME"
    assert serialize_segment("HI", [("ABK", "F411"), ("ABF", "Z630")]) == "HI*ABK:F411*ABF:Z630"


@pytest.mark.parametrize("value, expected", [
    (Decimal("150.00"), "150"), (Decimal("150.50"), "150.5"), (Decimal("150.25"), "150.25"),
    (Decimal("0.00"), "0"), (Decimal("-0.00"), "0"), (Decimal("-12.50"), "-12.5"), (Decimal("1E+2"), "100"),
    (Decimal("0.10"), "0.1"), (3, "3"), ("7.250", "7.25"),
])
def test_format_decimal(value, expected):
    assert format_decimal(value) == expected


def test_format_money_rounds_to_cents_half_up():
    assert format_money(Decimal("150.255")) == "150.26"
    assert format_money(Decimal("99.994")) == "99.99"
    assert format_money(Decimal("10")) == "10"


def test_floats_are_refused():
    for fn in (format_decimal, format_money, clean_value):
        with pytest.raises(TypeError):
            fn(150.5)


def test_isa_is_padded_to_fixed_width():
    elements = isa_elements(["00", "", "00", "", "ZZ", "SENDER", "ZZ", "RECEIVER", "260302", "1405", "^",
                             "00501", "42", "0", "T", ":"])
    text = serialize_segment("ISA", elements)
    assert len(text) == 105 and text[103] == "*" and text[104] == ":"
    assert elements[12] == "000000042" and elements[5] == "SENDER         "
    with pytest.raises(ValueError, match="ISA06"):
        isa_elements(["00", "", "00", "", "ZZ", "X" * 16, "ZZ", "R", "260302", "1405", "^", "00501", "1", "0",
                      "T", ":"])


def test_segment_writer_terminators_and_newlines():
    writer = SegmentWriter(newline=True)
    assert writer.segment("LX", "1") == "LX*1~"
    writer.segment("DTP", "472", "D8", "20260223")
    assert writer.text() == "LX*1~\nDTP*472*D8*20260223~\n"
    assert len(writer) == 2
    compact = SegmentWriter(Delimiters(element="|", component=">", repetition="!", segment="'"), newline=False)
    compact.segment("LX", "1")
    compact.segment("SV1", ("HC", "90837"), Decimal("150.00"))
    assert compact.text() == "LX|1'SV1|HC>90837|150'"
