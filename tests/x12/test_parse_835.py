"""835 parsing and balancing on hand-made remittances: signs of reversals, PLB, several envelopes, a BOM,
newline-separated segments, and errors that name the segment and element."""

from __future__ import annotations

import codecs
from datetime import date
from decimal import Decimal

import pytest

from claimbridge.x12.responses import X12ParseError, balance_835, parse_x12

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLAIMBRIDGE    *260302*1405*^*00501*{ctl}*0*T*:~"


def remit(body: str, *, total: str = "210.00", trace: str = "TRACE1", ctl: str = "000000001",
          method: str = "ACH", extra_header: str = "") -> str:
    segments = (f"ST*835*0001~BPR*I*{total}*C*{method}*CCP*01*999999999*DA*1*1512345678**01*999988880*DA*2*"
                f"20260310~TRN*1*{trace}*1512345678~{extra_header}DTM*405*20260309~N1*PR*ACME HEALTH~"
                f"REF*2U*ACME01~N1*PE*GOOD MIND PRACTICE*XX*1234567893~REF*TJ*123456789~LX*1~{body}")
    count = segments.count("~") + 1
    return ISA.format(ctl=ctl) + "GS*HP*PAYER*CB*20260302*1405*7*X*005010X221A1~" + segments + \
        f"SE*{count}*0001~GE*1*7~IEA*1*{ctl}~"


PAID = ("CLP*CB0001*1*300.00*210.00*40.00*12*PCN-PAYER-1*11*1~NM1*QC*1*DOE*JANE****MI*M123~"
        "SVC*HC:90837:95*150.00*105.00**1*HC:90837:95~DTM*472*20260105~CAS*CO*45*25.00~CAS*PR*2*20.00~"
        "REF*6R*CB0001-1~AMT*B6*125.00~LQ*HE*N130~"
        "SVC*HC:90834*150*105**1~DTM*472*20260106~CAS*CO*45*25~CAS*PR*2*20~REF*6R*CB0001-2~")


def _one(text):
    [tx] = parse_x12(text).transactions
    return tx


def test_typed_835():
    tx = _one(remit(PAID))
    assert tx.type == "835" and tx.control_number == "0001" and tx.group_control_number == "7"
    p = tx.payment
    assert (p.amount, p.credit_debit, p.method, p.date) == (Decimal("210.00"), "C", "ACH", date(2026, 3, 10))
    assert (p.trace_number, p.payer_id) == ("TRACE1", "1512345678")
    assert tx.payer.name == "ACME HEALTH" and tx.payer.references == {"2U": "ACME01"}
    assert (tx.payee.npi, tx.payee.tax_id) == ("1234567893", "123456789")
    [claim] = tx.claims
    assert (claim.patient_control_number, claim.status_code, claim.charge, claim.paid) == (
        "CB0001", "1", Decimal("300.00"), Decimal("210.00"))
    assert claim.patient_responsibility == Decimal("40.00") and claim.payer_claim_control_number == "PCN-PAYER-1"
    assert (claim.filing_indicator, claim.facility_code, claim.frequency_code) == ("12", "11", "1")
    assert claim.patient.last == "DOE" and "DOE" not in repr(claim)
    first, second = claim.lines
    assert (first.procedure, first.modifiers, first.units) == ("90837", ("95",), Decimal("1"))
    assert first.submitted.code == "90837" and first.service_date == date(2026, 1, 5)
    assert first.control_number == "CB0001-1" and first.allowed == Decimal("125.00") and first.remarks == ["N130"]
    assert [(a.group, a.reason, a.amount) for a in first.adjustments] == [
        ("CO", "45", Decimal("25.00")), ("PR", "2", Decimal("20.00"))]
    assert second.charge == Decimal("150") and second.adjustments[0].amount == Decimal("25")
    assert balance_835(tx) == []


def test_payer_id_falls_back_to_ref_2u_then_n104():
    text = remit(PAID).replace("TRN*1*TRACE1*1512345678~", "TRN*1*TRACE1~")
    assert _one(text).payment.payer_id == "ACME01"
    text = text.replace("REF*2U*ACME01~", "").replace("N1*PR*ACME HEALTH~", "N1*PR*ACME HEALTH*XV*ACMEXV~")
    assert _one(text).payment.payer_id == "ACMEXV"


def test_reversal_and_correction_balance_with_signs():
    reversal = ("CLP*CB0001*22*-300.00*-210.00*-40.00*12*PCN-PAYER-1*11*1~"
                "SVC*HC:90837*-300.00*-210.00**-1~CAS*CO*45*-50.00~CAS*PR*2*-40.00~")
    corrected = ("CLP*CB0001*1*300.00*230.00*40.00*12*PCN-PAYER-2*11*1~"
                 "SVC*HC:90837*300.00*230.00**1~CAS*CO*45*30.00~CAS*PR*2*40.00~")
    tx = _one(remit(reversal + corrected, total="20.00"))
    first, second = tx.claims
    assert first.is_reversal and first.charge == Decimal("-300.00") and first.lines[0].units == Decimal("-1")
    assert balance_835(tx) == []
    broken = _one(remit(reversal.replace("CAS*PR*2*-40.00", "CAS*PR*2*40.00") + corrected, total="20.00"))
    line, claim = balance_835(broken)
    assert (line.level, line.expected, line.actual) == ("line", Decimal("-10.00"), Decimal("-90.00"))
    assert (claim.level, claim.pcn, claim.difference) == ("claim", "CB0001", Decimal("-80.00"))


def test_plb_negative_raises_the_payment_and_positive_lowers_it():
    plb = "PLB*1234567893*20261231*L6:INTEREST*-2.50*WO:CB0009*10.00~"
    tx = _one(remit(PAID + plb, total="202.50"))
    assert [(a.reason, a.reference, a.amount) for a in tx.provider_adjustments] == [
        ("L6", "INTEREST", Decimal("-2.50")), ("WO", "CB0009", Decimal("10.00"))]
    assert tx.provider_adjustments[0].fiscal_period_date == date(2026, 12, 31)
    assert balance_835(tx) == []  # 210.00 − (−2.50 + 10.00) = 202.50
    [problem] = balance_835(_one(remit(PAID + plb, total="210.00")))
    assert (problem.expected, problem.actual, problem.difference) == (
        Decimal("202.50"), Decimal("210.00"), Decimal("7.50"))


def test_debit_payment_balances_as_negative():
    reversal = "CLP*CB0001*22*-300.00*-210.00**12*P1~CAS*CO*45*-90.00~"
    tx = _one(remit(reversal, total="210.00").replace("BPR*I*210.00*C*", "BPR*I*210.00*D*"))
    assert tx.payment.signed_amount == Decimal("-210.00") and balance_835(tx) == []


def test_several_interchanges_bom_and_newline_segments():
    one = remit(PAID, trace="T1", ctl="000000001")
    two = remit(PAID, trace="T2", ctl="000000002").replace("~", "\n")
    two = two.replace("*T*:\n", "*T*:\n")  # newline as the terminator of the second interchange
    data = codecs.BOM_UTF8 + (one.replace("~", "~\r\n") + two).encode()
    txs = parse_x12(data).transactions
    assert [t.payment.trace_number for t in txs] == ["T1", "T2"]
    assert [t.interchange_control_number for t in txs] == ["000000001", "000000002"]
    assert all(balance_835(t) == [] for t in txs)


def test_several_st_in_one_group_in_order():
    base = remit(PAID)
    second = base[base.index("ST*835"):base.index("GE*")].replace("ST*835*0001", "ST*835*0002").replace(
        "SE*", "SE*").replace("*0001~GE", "~GE").replace("TRACE1", "TRACE2")
    second = second.replace(second[second.rindex("SE*"):], second[second.rindex("SE*"):].replace("*0001~", "*0002~"))
    text = base.replace("GE*1*7", second + "GE*2*7")
    txs = parse_x12(text).transactions
    assert [(t.control_number, t.payment.trace_number) for t in txs] == [("0001", "TRACE1"), ("0002", "TRACE2")]


@pytest.mark.parametrize("old, new, message", [
    ("CLP*CB0001*1*300.00", "CLP*CB0001*1*3E2", "segment 12 CLP CLP03: the claim charge is not an amount ('3E2')"),
    ("*20260310~", "*20261310~", "segment 4 BPR BPR16: the payment date is not a date CCYYMMDD ('20261310')"),
    ("SVC*HC:90834*150", "SVC*HC*150", "segment 21 SVC SVC01: the procedure composite has no procedure code"),
    ("CAS*CO*45*25~", "CAS*CO**25~", "segment 23 CAS CAS02: an adjustment amount without a reason code"),
    ("TRN*1*TRACE1*1512345678~", "", "segment 3 ST: the 835 has no TRN reassociation trace number"),
])
def test_errors_name_segment_and_element(old, new, message):
    text = remit(PAID).replace(old, new, 1)
    with pytest.raises(X12ParseError) as caught:
        parse_x12(text, name="in/era.835")
    assert str(caught.value).startswith(f"in/era.835: {message}")


def test_bad_value_of_a_name_is_never_shown():
    text = remit(PAID).replace("SE*", "ST*835*0002~SE*", 1)
    with pytest.raises(X12ParseError, match="no SE trailer before this ST") as caught:
        parse_x12(text)
    assert "DOE" not in str(caught.value)
