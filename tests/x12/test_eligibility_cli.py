"""``claimbridge x12 parse`` on 271 and 270 files: the JSON contract, the summary and the exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from claimbridge.x12.cli import x12
from tests.x12.test_eligibility_270 import dependent_inquiry, encode, subscriber_inquiry

DATA = Path(__file__).parent / "data" / "271"


def test_271_json_contract_via_subprocess():
    path = DATA / "active_mental_health.271"
    done = subprocess.run([sys.executable, "-m", "claimbridge.cli", "x12", "parse", str(path), "--json"],
                          capture_output=True, text=True, check=True)
    data = json.loads(done.stdout)
    assert data["file"] == str(path)
    [tx] = data["transactions"]
    assert (tx["type"], tx["control_number"], tx["version"]) == ("271", "0001", "005010X279A1")
    assert tx["subscriber"] == {"entity": "IL", "id_qualifier": "MI"} and tx["dependent"] is None
    assert tx["trace_numbers"][0] == {"type": "2", "number": "EL0001", "originator": "9123456789"}
    assert (tx["coverage"], tx["plan_number"], tx["group_number"]) == ("active", "PLAN88", "GRP55501")
    copay = next(b for b in tx["benefits"] if b["code"] == "B" and b["in_network"])
    assert {k: copay[k] for k in ("service_types", "coverage_level", "time_period", "amount", "percent",
                                  "quantity", "messages")} == {
        "service_types": ["MH", "A6", "A8"], "coverage_level": "IND", "time_period": "27", "amount": "30.00",
        "percent": None, "quantity": None, "messages": []}
    visits = next(b for b in tx["benefits"] if b["code"] == "F")
    assert (visits["quantity"], visits["quantity_qualifier"], visits["messages"]) == (
        "30", "VS", ["TELEHEALTH VISITS COVERED AT THE SAME COST SHARE"])
    assert tx["rejections"] == [] and len(tx["responses"]) == 1
    assert "JANE" not in done.stdout and "W123456789" not in done.stdout


def test_271_rejection_json_and_summary_via_click_runner():
    runner = CliRunner()
    path = str(DATA / "rejected_member_id.271")
    result = runner.invoke(x12, ["parse", path, "--json"])
    assert result.exit_code == 0
    [tx] = json.loads(result.output)["transactions"]
    assert tx["rejections"] == [{"code": "72", "words": "Invalid or missing subscriber/insured ID", "action": "C",
                                 "action_words": "Please correct and resubmit", "loop": "2100C", "valid": False}]
    assert tx["rejected"] is True and tx["mental_health"] is None
    summary = runner.invoke(x12, ["parse", str(DATA / "visits_exhausted.271")])
    assert summary.exit_code == 0
    assert "EL0006 (subscriber): coverage active, mental health active, copay 25.00, visits 0 of 20 left" in (
        summary.output)
    carve_out = runner.invoke(x12, ["parse", str(DATA / "carve_out.271")]).output
    assert "mental health carved_out" in carve_out and "BRIGHTPATH BEHAVIORAL HEALTH" in carve_out


def test_malformed_271_exits_1_naming_file_segment_and_element():
    path = str(DATA / "malformed" / "bad_amount.271")
    result = CliRunner().invoke(x12, ["parse", path, "--json"])
    assert result.exit_code == 1
    assert f"{path}: segment 14 EB EB07" in result.output


def test_our_270_read_back_by_the_cli(tmp_path):
    path = tmp_path / "batch.270"
    path.write_text(encode([subscriber_inquiry(), dependent_inquiry()]))
    result = CliRunner().invoke(x12, ["parse", str(path), "--json"])
    assert result.exit_code == 0
    [tx] = json.loads(result.output)["transactions"]
    assert tx["type"] == "270"
    assert [(q["trace_number"], q["level"], q["service_types"]) for q in tx["inquiries"]] == [
        ("EL0001", "subscriber", ["MH", "A6"]), ("EL0002", "dependent", ["MH"])]
    assert "JANE" not in result.output
    assert "270 0001: 2 inquiry(ies)" in CliRunner().invoke(x12, ["parse", str(path)]).output


def test_x12_validate_checks_a_270_with_claimbridges_own_checker(tmp_path):
    good = tmp_path / "good.270"
    good.write_text(encode([subscriber_inquiry()]))
    result = CliRunner().invoke(x12, ["validate", str(good)])
    assert (result.exit_code, result.output.strip()) == (0, f"{good}: valid")
    bad = tmp_path / "bad.270"
    bad.write_text(good.read_text().replace("SE*13*0001", "SE*12*0001"))
    result = CliRunner().invoke(x12, ["validate", str(bad)])
    assert result.exit_code == 1 and f"{bad}: segment 15 SE (loop SE) SE01:" in result.output


def test_999_and_ta1_for_a_270_batch(tmp_path):
    ack = ("ISA*00*          *00*          *ZZ*STEDI          *ZZ*CLAIMBRIDGE    *261127*0935*^*00501*000000777*0*T*:~"
           "TA1*000000123*261127*0930*A*000~"
           "GS*FA*STEDI*CLAIMBRIDGE*20261127*0935*777*X*005010X231A1~ST*999*0001*005010X231A1~AK1*HS*45*005010X279A1~"
           "AK2*270*0001*005010X279A1~IK3*NM1*11*2100C*8~IK4*9*67*7~IK5*R*5~AK9*R*1*1*0~SE*8*0001~GE*1*777~"
           "IEA*1*000000777~")
    path = tmp_path / "ack.999"
    path.write_text(ack)
    result = CliRunner().invoke(x12, ["parse", str(path), "--json"])
    ta1, ack999 = json.loads(result.output)["transactions"]
    assert (ta1["type"], ta1["control_number"], ta1["accepted"]) == ("TA1", "000000123", True)
    assert ack999["group"] == {"functional_id": "HS", "control_number": "45", "version": "005010X279A1"}
    [answer] = ack999["sets"]
    assert (answer["type"], answer["control_number"], answer["accepted"]) == ("270", "0001", False)
    assert answer["errors"][0]["loop"] == "2100C" and answer["errors"][0]["elements"][0]["position"] == 9
