"""Every TA1/999/277/835 sample of the shared corpus: the well-formed ones parse, the others fail with an error
naming the segment; every well-formed 835 balances or reports the numbers that disagree."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from claimbridge.x12.responses import X12ParseError, balance_835, file_to_json, parse_x12
from tests.x12.corpus import corpus_file, corpus_params

# samples that are not well formed, each with the start of the error it must give (segment and element)
NOT_WELL_FORMED = {
    "INS__277__5010_FromBogeyone.txt": "segment 3 ST: the data ends inside transaction set 0001",
    "INS__277__5010_FromLatitude81uk.txt": "segment 4 BHT BHT04: the creation date is not a date",
    "INS__835__5010_Example1.txt": "segment 98 CLP CLP03: the claim charge is missing",
    "835_005010X221A1_cob-contractural-adjustment.835": "segment 4 BPR BPR16: the payment date is missing",
    "835_005010X221A1_managed-care.835": "segment 4 BPR BPR16: the payment date is not a date CCYYMMDD ('20002316')",
    "835_005010X221A1_secondary-payment.835": "segment 4 BPR BPR16: the payment date is missing",
    "835_005010X221A1_tertiary-payment.835": "segment 4 BPR BPR16: the payment date is missing",
    "blue_cross_nc_sample.txt": "segment 28 SVC SVC02: the line charge is missing",
    "INS__837P__5010_UnicodeExample.txt": "segment 3 ST: the data ends inside transaction set 000000001",
}

# well-formed 835s that do not balance (sample data edited by hand upstream); the rest must balance
NOT_BALANCING = {"INS__835__5010_ExampleFromNth.txt", "INS__835__5010_FromNth_835_WithMultipleInterchanges.txt",
                 "edi835-demo-005010X221.edi", "tc_parse_835.rb_msg2.edi"}


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_file_parses_or_names_the_bad_segment(path):
    if path.name in NOT_WELL_FORMED:
        with pytest.raises(X12ParseError) as caught:
            parse_x12(path)
        assert str(caught.value).startswith(f"{path}: {NOT_WELL_FORMED[path.name]}")
        assert caught.value.segment is not None
        return
    parsed = parse_x12(path)
    assert parsed.transactions
    json.dumps(file_to_json(parsed))
    for tx in parsed.transactions:
        if tx.type == "835":
            problems = balance_835(tx)
            assert bool(problems) == (path.name in NOT_BALANCING), [str(p) for p in problems]


def _only_835(relative):
    [tx] = parse_x12(corpus_file(relative)).transactions
    return tx


def test_medicare_part_a_balances_by_hand():
    # BPR02 150000.00 = ΣCLP04 (138018.40 + 11980.33 = 149998.73) − PLB −1.27
    tx = _only_835("LinuxForHealth__x12/835_005010X221A1_medicare-part-a.835")
    assert tx.payment.amount == Decimal("150000.00")
    assert [c.paid for c in tx.claims] == [Decimal("138018.40"), Decimal("11980.33")]
    assert [(a.reason, a.reference, a.amount) for a in tx.provider_adjustments] == [("CV", "CP", Decimal("-1.27"))]
    assert balance_835(tx) == []


def test_demo_835_reports_the_numbers_that_disagree():
    # BPR02 150000 but ΣCLP04 138018.4 − PLB −1.27 = 138019.67; the claim's CAS (73348.57 + line 400) is 400 over
    tx = _only_835("mjkubba__edi/edi835-demo-005010X221.edi")
    payment, claim = balance_835(tx)
    assert payment.level == "payment" and payment.expected == Decimal("138019.67")
    assert payment.actual == Decimal("150000") and payment.difference == Decimal("11980.33")
    assert claim.level == "claim" and claim.pcn == "666123"
    assert claim.expected == Decimal("73748.57") and claim.actual == Decimal("73348.57")
    assert claim.difference == Decimal("-400.00")
    assert "BPR02 150000.00 ≠ ΣCLP04 138018.40 − ΣPLB -1.27 = 138019.67" in str(payment)


def test_united_healthcare_lines_and_claims_balance_by_hand():
    # claim 2: 816.24 − 261.07 = 555.17 = 255.72 + (PR 2 5.13, PR 1 110, CO 45 184.32 on line 3)
    tx = _only_835("keironstoddart__edi-835-parser/united_healthcare_legacy_sample.txt")
    assert tx.payment.payer_id == "1234567890" and tx.payment.trace_number == "1234567890"
    second = tx.claims[1]
    line = second.lines[2]
    assert [(a.group, a.reason, a.amount) for a in line.adjustments] == [
        ("PR", "2", Decimal("5.13")), ("PR", "1", Decimal("110")), ("CO", "45", Decimal("184.32"))]
    assert line.control_number == "123456789014" and line.allowed == Decimal("144.18")
    assert balance_835(tx) == []


def test_reversal_in_corpus_keeps_negative_signs():
    tx = _only_835("mjpete3__x12/tc_parse_835.rb_msg2.edi")
    first = tx.claims[0]
    assert first.is_reversal and first.status == "reversal of previous payment"
    assert (first.charge, first.paid) == (Decimal("-150"), Decimal("-45"))
    assert [a.amount for a in first.lines[0].adjustments] == [Decimal("-90"), Decimal("-15")]
    [payment] = balance_835(tx)  # the sample is cut out of a larger file: only the total disagrees
    assert payment.expected == Decimal("-90") and payment.actual == Decimal("280.56")


def test_999_with_context_and_element_errors():
    [tx] = parse_x12(corpus_file("Inteligenz__X12Parser/Acknowledgments__999_DHS_Wisconsin_Sample.txt")).transactions
    assert (tx.functional_id, tx.group_control_number) == ("HC", "17456")
    assert [(s.control_number, s.status) for s in tx.sets] == [("0001", "A"), ("002", "R"), ("0003", "R")]
    error = tx.sets[1].segment_errors[0]
    assert (error.segment_id, error.position, error.code, error.claim_id) == ("CLM", 22, "8", "123456789")
    assert error.meaning == "segment has data element errors"
    element = error.elements[0]
    assert (element.position, element.data_element, element.code) == (2, "782", "1")
    assert element.meaning == "required data element missing"
    assert tx.sets[2].segment_errors[0].claim_id == "987654321"
    assert tx.group_status.code == "P" and (tx.group_status.included, tx.group_status.accepted) == (3, 1)


def test_277ca_rejection_and_acceptance():
    [rejected] = parse_x12(corpus_file("imsweb__x12-parser/277_5010_x12_277CA_rejected.txt")).transactions
    assert rejected.type == "277CA"
    [claim] = rejected.claims
    assert claim.patient_control_number == "3920394930203"
    assert claim.payer_claim_control_number == "1107000000001120"
    assert claim.outcome == "rejected" and claim.total_charge == Decimal("199.14")
    code = claim.statuses[0].codes[0]
    assert (code.category, code.status, code.entity) == ("A7", "562", "85")
    assert code.category_meaning == "acknowledgement/rejected for invalid information"
    receiver = next(lv for lv in rejected.levels if lv.level == "information_receiver")
    assert receiver.statuses[0].codes[0].category == "A1" and receiver.quantities == {"90": Decimal("1")}
    [accepted] = parse_x12(corpus_file("imsweb__x12-parser/277_5010_x12_277CA_accepted.txt")).transactions
    assert accepted.claims[0].outcome == "accepted" and accepted.claims[0].patient_control_number == "5781"


def test_ta1_before_a_999_and_ta1_rejection():
    txs = parse_x12(corpus_file("imsweb__x12-parser/837_5010_x12_999_accepted_ta1.txt_at_ee80802.txt")).transactions
    assert [t.type for t in txs] == ["TA1", "999"]
    assert txs[0].accepted and txs[0].note == "no error"
    [ta1] = parse_x12(corpus_file(
        "Inteligenz__X12Parser/Acknowledgments_TechnicalAcknowledgment_SampleFromJeffN825.txt")).transactions
    assert (ta1.control_number, ta1.code, ta1.note_code) == ("900000001", "R", "006")
    assert ta1.note == "invalid interchange sender ID" and not ta1.accepted
    assert ta1.date.isoformat() == "2010-06-24"
