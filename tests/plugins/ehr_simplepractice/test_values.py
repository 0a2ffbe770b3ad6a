"""Parsers for SimplePractice cells: the forms each accepts, and errors that say what was expected."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from claimbridge.plugins.ehr_simplepractice.values import (
    name_key,
    parse_codes,
    parse_date,
    parse_minutes,
    parse_modifiers,
    parse_money,
    parse_payer,
    parse_time,
    parse_units,
    split_name,
)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("", None),
        ("   ", None),
        ("$1,234.50", Decimal("1234.50")),
        ("1234.5", Decimal("1234.50")),
        ("185", Decimal("185.00")),
        (" $185.00 ", Decimal("185.00")),
        ("(45.00)", Decimal("-45.00")),
        ("($25.00)", Decimal("-25.00")),
        ("-$45.00", Decimal("-45.00")),
        ("$-45.00", Decimal("-45.00")),
        ("-45", Decimal("-45.00")),
        ("$0.00", Decimal("0.00")),
        ("-0.00", Decimal("0.00")),
        ("12.500", Decimal("12.50")),
        (".5", Decimal("0.50")),
        ("$1,000,000", Decimal("1000000.00")),
    ],
)
def test_parse_money(text: str, amount: Decimal | None) -> None:
    result = parse_money(text)
    assert result == amount
    if amount is not None:
        assert result.as_tuple().exponent == -2
        assert str(result) == str(amount)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12.345", "amount '12.345' has fractions of a cent"),
        ("1,5", "not an amount of money '1,5' (expected e.g. $1,234.50 or (45.00))"),
        ("--5", "not an amount of money '--5'"),
        ("-(5)", "not an amount of money '-(5)'"),
        ("$", "not an amount of money '$'"),
        ("N/A", "not an amount of money (expected"),
        ("Jane Doe", "not an amount of money (expected e.g. $1,234.50 or (45.00))"),
    ],
)
def test_parse_money_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_money(text)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "text",
    [
        "11/05/2026", "11/5/2026", "11/05/26", "11-05-2026", "2026-11-05", "2026-11-05 10:00",
        "11/05/2026 10:00 AM", "Nov 5, 2026", "November 5, 2026", "Thu, Nov 5, 2026", "Thursday, November 5, 2026",
        "nov. 5 2026", "  11/05/2026  ",
    ],
)
def test_parse_date(text: str) -> None:
    assert parse_date(text) == date(2026, 11, 5)


def test_two_digit_years_pivot_ten_years_ahead() -> None:
    assert parse_date("01/02/85") == date(1985, 1, 2)
    assert parse_date("01/02/00") == date(2000, 1, 2)
    this_year = date.today().year
    assert parse_date(f"01/02/{(this_year + 10) % 100:02d}").year == this_year + 10
    assert parse_date(f"01/02/{(this_year + 11) % 100:02d}").year == this_year + 11 - 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("02/30/2026", "not a calendar date '02/30/2026' (expected MM/DD/YYYY)"),
        ("13/05/2026", "not a calendar date '13/05/2026' (expected MM/DD/YYYY)"),
        ("2026/11/05", "not a date '2026/11/05' (expected MM/DD/YYYY)"),
        ("", "not a date '' (expected MM/DD/YYYY)"),
        ("Jane Doe", "not a date (expected MM/DD/YYYY)"),
        ("Fri, Nov 5, 2026", "the weekday does not match the date 11/05/2026"),
        ("Smarch 5, 2026", "not a date (expected MM/DD/YYYY)"),
    ],
)
def test_parse_date_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_date(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10:00 AM", time(10, 0)),
        ("10:00am", time(10, 0)),
        ("10:53 PM", time(22, 53)),
        ("12:00 AM", time(0, 0)),
        ("12:15 PM", time(12, 15)),
        ("10 a.m.", time(10, 0)),
        ("10:00", time(10, 0)),
        ("14:30:00", time(14, 30)),
        ("9:05", time(9, 5)),
    ],
)
def test_parse_time(text: str, value: time) -> None:
    assert parse_time(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13:00 PM", "not a time (the hour of an AM/PM time is 1 to 12)"),
        ("25:00", "not a time '25:00' (expected e.g. 10:00 AM or 14:30)"),
        ("10", "not a time '10' (expected e.g. 10:00 AM or 14:30)"),
        ("noon", "not a time (expected e.g. 10:00 AM or 14:30)"),
    ],
)
def test_parse_time_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_time(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("53", 53), ("53 min", 53), ("53 mins", 53), ("53min", 53), ("53 minutes", 53), ("1 hr 5 min", 65),
        ("1 hr", 60), ("2 hours", 120), ("1h 5m", 65), ("1:05", 65), ("0:53", 53), ("50.0", 50), (" 45 ", 45),
    ],
)
def test_parse_minutes(text: str, minutes: int) -> None:
    assert parse_minutes(text) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("50.5", "not a whole number of minutes '50.5'"),
        ("1:75", "not a duration '1:75' (expected minutes, e.g. 53, 53 min or 1 hr 5 min)"),
        ("", "not a duration '' (expected minutes, e.g. 53, 53 min or 1 hr 5 min)"),
        ("-5", "not a duration '-5'"),
        ("an hour", "not a duration (expected minutes, e.g. 53, 53 min or 1 hr 5 min)"),
    ],
)
def test_parse_minutes_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_minutes(text)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "payer"),
    [
        ("Lakeshore Health Plan (LKSHP)", ("Lakeshore Health Plan", "LKSHP")),
        ("Blue Cross (IL) (00621)", ("Blue Cross (IL)", "00621")),
        ("Aetna", ("Aetna", None)),
        ("  Aetna   Behavioral (60054) ", ("Aetna Behavioral", "60054")),
        ("Optum (United Behavioral Health)", ("Optum (United Behavioral Health)", None)),
        ("Medicaid (A)", ("Medicaid (A)", None)),
        ("Plan (TOOLONGPAYERID1234)", ("Plan (TOOLONGPAYERID1234)", None)),
    ],
)
def test_parse_payer(text: str, payer: tuple[str, str | None]) -> None:
    assert parse_payer(text) == payer


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "no payer (expected a name, or 'Name (PayerID)')"),
     ("(LKSHP)", "a payer id without a payer name (expected 'Name (PayerID)')")],
)
def test_parse_payer_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_payer(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Doe, Jane", ("Jane", "Doe")),
        ("Doe,Jane", ("Jane", "Doe")),
        ("  Doe ,   Jane  Q. ", ("Jane Q.", "Doe")),
        ("Jane Doe", ("Jane", "Doe")),
        ("Jane   Doe", ("Jane", "Doe")),
        ("Jane Q. Doe", ("Jane Q.", "Doe")),
        ("Mary Ann O'Neil-Smith", ("Mary Ann", "O'Neil-Smith")),
        ("John Roe Jr.", ("John", "Roe Jr.")),
        ("van der Berg, Anna", ("Anna", "van der Berg")),
    ],
)
def test_split_name(text: str, name: tuple[str, str]) -> None:
    assert split_name(text) == name


@pytest.mark.parametrize("text", ["", "Cher", "Doe,", ", Jane", "Doe, Jane, Q"])
def test_split_name_errors_do_not_repeat_the_name(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        split_name(text)
    assert "expected 'Last, First' or 'First Last'" in str(raised.value)
    for word in ("Cher", "Doe", "Jane"):
        assert word not in str(raised.value)


def test_name_key_matches_names_written_differently() -> None:
    assert name_key(*split_name("Doe, Jane")) == name_key(*split_name("Jane  Doe")) == "jane doe"
    assert name_key("JOSÉ", "Núñez") == name_key("Jose", "Nunez") == "jose nunez"
    assert name_key("Mary Ann", "O'Neil-Smith") == name_key("mary ann", "ONeil Smith") == "mary ann oneil smith"
    assert name_key("Mary  Ann", "O’Neil") == "mary ann oneil"
    assert name_key("Jane", "Doe") != name_key("Jane", "Roe")


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("", ()),
        ("F41.1", ("F41.1",)),
        ("f411, F32.9; Z63.0", ("F41.1", "F32.9", "Z63.0")),
        ("F411 F329", ("F41.1", "F32.9")),
        ("F32A", ("F32.A",)),
        ("F43.10,F43.10 f4310", ("F43.10",)),
        ("Z00", ("Z00",)),
    ],
)
def test_parse_codes(text: str, codes: tuple[str, ...]) -> None:
    assert parse_codes(text) == codes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("F41.1, 309.81", "not an ICD-10 code '309.81' (expected e.g. F41.1)"),
        ("F4.11", "not an ICD-10 code 'F4.11'"),
        ("Anxiety", "not an ICD-10 code (expected e.g. F41.1)"),
    ],
)
def test_parse_codes_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_codes(text)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "units"),
    [("", Decimal(1)), ("1", Decimal(1)), ("1.0", Decimal(1)), ("10", Decimal(10)), ("0.50", Decimal("0.5"))],
)
def test_parse_units(text: str, units: Decimal) -> None:
    result = parse_units(text)
    assert result == units
    assert str(result) == str(units)


@pytest.mark.parametrize(("text", "message"), [("0", "(expected a positive number)"), ("one", "not a number of units")])
def test_parse_units_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_units(text)


@pytest.mark.parametrize(
    ("text", "modifiers"),
    [("", ()), ("95, GT", ("95", "GT")), ("95 GT", ("95", "GT")), ("hj;95", ("HJ", "95"))],
)
def test_parse_modifiers(text: str, modifiers: tuple[str, ...]) -> None:
    assert parse_modifiers(text) == modifiers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("95, G", "not a modifier (expected two letters or digits, e.g. 95 or GT)"),
        ("959", "not a modifier '959' (expected two letters or digits, e.g. 95 or GT)"),
        ("95 GT HJ 25 59", "5 modifiers: a claim line holds at most 4"),
    ],
)
def test_parse_modifiers_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_modifiers(text)
    assert str(raised.value) == message
