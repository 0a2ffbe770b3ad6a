import re

import pytest

from claimbridge.claims.identifiers import (
    MAX_VERSION,
    line_control_number,
    make_pcn,
    parse_pcn,
)


def test_pcn_shape_and_determinism():
    pcn = make_pcn("CB", 12345, 1)
    assert pcn == "CB000009IX01"
    assert make_pcn("CB", 12345, 1) == pcn
    assert re.fullmatch(r"[A-Z0-9]{1,17}", pcn)


def test_pcn_unique_per_claim_and_version():
    seen = {make_pcn("CB", claim_id, version) for claim_id in range(0, 2000, 7) for version in range(1, 40)}
    assert len(seen) == len(range(0, 2000, 7)) * 39


@pytest.mark.parametrize("prefix", ["", "X", "CB9"])
def test_pcn_round_trips_and_fits_17(prefix):
    biggest = 36 ** (17 - len(prefix) - 2) - 1
    for claim_id, version in ((0, 1), (1, MAX_VERSION), (987654321, 3), (biggest, 2)):
        pcn = make_pcn(prefix, claim_id, version)
        assert len(pcn) <= 17
        assert parse_pcn(prefix, pcn) == (claim_id, version)
    with pytest.raises(ValueError, match="too large"):
        make_pcn(prefix, biggest + 1, 1)


@pytest.mark.parametrize("args", [("cb", 1, 1), ("ABCD", 1, 1), ("CB", -1, 1), ("CB", 1, 0),
                                  ("CB", 1, MAX_VERSION + 1)])
def test_pcn_rejects_bad_input(args):
    with pytest.raises(ValueError):
        make_pcn(*args)


def test_parse_pcn_rejects_foreign_numbers():
    assert parse_pcn("CB", "XY000009IX01") is None
    assert parse_pcn("CB", "CB12") is None
    assert parse_pcn("CB", "CB000009IX00") is None
    assert parse_pcn("CB", "CB-00009IX01") is None


def test_line_control_number():
    pcn = make_pcn("CB9", 36 ** 12 - 1, MAX_VERSION)
    assert len(pcn) == 17
    lcn = line_control_number(pcn, 50)
    assert lcn == pcn + "050" and len(lcn) <= 30
    assert len({line_control_number(pcn, s) for s in range(1, 51)}) == 50
    with pytest.raises(ValueError):
        line_control_number(pcn, 0)
    with pytest.raises(ValueError):
        line_control_number("bad pcn", 1)
