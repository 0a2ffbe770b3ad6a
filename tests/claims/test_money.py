from decimal import Decimal

import pytest

from claimbridge.claims.money import claim_from_json, claim_to_json, money, to_decimal


def test_json_keeps_decimals_exact():
    data = {"total": {"value": Decimal("140.00")}, "q": Decimal("2"), "m": Decimal("0.10"), "n": 3,
            "s": "a \"quoted\" \x00dec:1.5 string", "neg": Decimal("-12.50"), "big": Decimal("1E+2")}
    text = claim_to_json(data)
    assert '"value": 140.00' in text and '"m": 0.10' in text and '"big": 100' in text
    back = claim_from_json(text)
    assert back["total"]["value"] == Decimal("140.00") and str(back["total"]["value"]) == "140.00"
    assert back["s"] == data["s"]
    assert back["neg"] == Decimal("-12.50")
    assert back["q"] == 2 and back["n"] == 3


def test_json_rejects_non_finite_and_unknown():
    with pytest.raises(ValueError):
        claim_to_json({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        claim_to_json({"x": object()})


def test_to_decimal_and_money():
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal("12.5") == Decimal("12.5")
    assert money(45) == Decimal("45.00") and str(money(45)) == "45.00"
    assert money("10.005") == Decimal("10.00")  # half-even
    for bad in ("abc", True, None, float("inf")):
        with pytest.raises(ValueError):
            to_decimal(bad)
