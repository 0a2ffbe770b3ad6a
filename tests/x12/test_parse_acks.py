"""999/997, TA1 and 277CA details on hand-made acknowledgments: bad values stay private, 997 aliases, line
statuses."""

from __future__ import annotations

import json
from decimal import Decimal

from claimbridge.x12.responses import file_to_json, parse_x12

ISA = "ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*CLAIMBRIDGE    *261127*0700*^*00501*000000042*0*P*:~"


def test_999_bad_value_is_kept_but_never_shown():
    text = (ISA + "GS*FA*CH*CB*20261127*0700*9*X*005010X231A1~ST*999*0001*005010X231A1~AK1*HC*17*005010X222A1~"
            "AK2*837*0001*005010X222A1~IK3*NM1*14*2010BA*8~CTX*CLM01:CB0007~IK4*9*67*6*JANE DOE 123~"
            "IK5*R*5~AK9*R*1*1*0*5~SE*9*0001~GE*1*9~IEA*1*000000042~")
    parsed = parse_x12(text)
    [ack] = parsed.transactions
    [error] = ack.sets[0].segment_errors
    [element] = error.elements
    assert element.bad_value == "JANE DOE 123" and element.meaning == "invalid character in data element"
    assert "JANE" not in repr(ack) and "JANE" not in json.dumps(file_to_json(parsed))
    assert error.claim_id == "CB0007" and ack.sets[0].claim_ids == ["CB0007"]
    assert ack.sets[0].syntax_errors == ["5"] and not ack.sets[0].accepted
    assert ack.group_status.errors == ["5"]
    out = file_to_json(parsed)["transactions"][0]
    assert out["group_status"]["errors"] == [
        {"code": "5", "meaning": "number of included transaction sets does not match actual count"}]


def test_997_reads_like_a_999():
    text = (ISA + "GS*FA*CH*CB*20261127*0700*9*X*004010~ST*997*0001~AK1*HC*17~AK2*837*0001~AK3*CLM*22**8~"
            "AK4*2*782*1~AK5*R*5~AK9*R*1*1*0~SE*9*0001~GE*1*9~IEA*1*000000042~")
    [ack] = parse_x12(text).transactions
    assert ack.type == "997" and ack.sets[0].segment_errors[0].elements[0].code == "1"


def test_277ca_line_statuses_and_levels():
    text = (ISA + "GS*HN*CH*CB*20261127*0700*9*X*005010X214~ST*277*0001*005010X214~"
            "BHT*0085*08*B1*20261127*0700*TH~HL*1**20*1~NM1*PR*2*ACME*****PI*ACME01~TRN*1*B1~"
            "DTP*050*D8*20261127~DTP*009*D8*20261127~HL*2*1*21*1~NM1*41*2*GOOD MIND*****46*CB~TRN*2*BATCH7~"
            "STC*A1:19:PR*20261127*WQ*450~QTY*90*1~QTY*AA*1~AMT*YU*150~AMT*YY*300~HL*3*2*19*1~"
            "NM1*85*2*GOOD MIND*****XX*1234567893~TRN*1*0~HL*4*3*PT~NM1*QC*1*DOE*JANE****MI*M1~"
            "TRN*2*CB0007~STC*A7:21:QC*20261127*U*300******A6:96:IL**bad member id~REF*1K*ACME777~"
            "REF*D9*CH12345~DTP*472*RD8*20261101-20261102~SVC*HC:90837:95*300*****1~STC*A7:453*20261127*U~"
            "REF*FJ*CB0007-1~DTP*472*D8*20261101~SE*29*0001~GE*1*9~IEA*1*000000042~")
    [report] = parse_x12(text).transactions
    assert [lv.level for lv in report.levels] == ["information_source", "information_receiver",
                                                   "billing_provider"]
    receiver = report.levels[1]
    assert receiver.quantities == {"90": Decimal("1"), "AA": Decimal("1")}
    assert receiver.amounts == {"YU": Decimal("150"), "YY": Decimal("300")}
    [claim] = report.claims
    assert (claim.patient_control_number, claim.payer_claim_control_number) == ("CB0007", "ACME777")
    assert claim.clearinghouse_trace_number == "CH12345" and claim.billing_provider_id == "1234567893"
    assert claim.outcome == "rejected" and claim.statuses[0].message == "bad member id"
    assert [(c.category, c.status, c.entity) for c in claim.statuses[0].codes] == [
        ("A7", "21", "QC"), ("A6", "96", "IL")]
    assert claim.service_start.isoformat() == "2026-11-01" and claim.service_end.isoformat() == "2026-11-02"
    [line] = claim.lines
    assert (line.procedure, line.modifiers, line.control_number) == ("90837", ("95",), "CB0007-1")
    assert line.statuses[0].codes[0].status == "453"
    assert "DOE" not in repr(claim)
