"""``x12 parse FILE [--json]``: the JSON contract other tools read, the summary, and the exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from claimbridge.x12.cli import x12
from tests.x12.corpus import corpus_file
from tests.x12.test_parse_835 import PAID, remit

CLAIM_KEYS = {"patient_control_number", "status_code", "charge", "paid", "patient_responsibility",
              "payer_claim_control_number", "adjustments", "lines"}
LINE_KEYS = {"procedure", "modifiers", "charge", "paid", "units", "control_number", "adjustments", "remarks"}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_835_json_contract_via_subprocess(tmp_path):
    plb = "PLB*1234567893*20261231*L6:INT*-2.5~"
    path = _write(tmp_path, "era.835", remit(PAID + plb, total="212.50"))
    done = subprocess.run([sys.executable, "-m", "claimbridge.cli", "x12", "parse", str(path), "--json"],
                          capture_output=True, text=True, check=True)
    data = json.loads(done.stdout)
    assert data["file"] == str(path)
    [tx] = data["transactions"]
    assert tx["type"] == "835"
    assert tx["payment"] == tx["payment"] | {"amount": "212.50", "method": "ACH", "date": "2026-03-10",
                                             "trace_number": "TRACE1", "payer_id": "1512345678"}
    [claim] = tx["claims"]
    assert claim.keys() >= CLAIM_KEYS
    assert (claim["charge"], claim["paid"], claim["patient_responsibility"]) == ("300.00", "210.00", "40.00")
    assert claim["payer_claim_control_number"] == "PCN-PAYER-1" and claim["adjustments"] == []
    first, second = claim["lines"]
    assert first.keys() >= LINE_KEYS
    assert (first["procedure"], first["modifiers"], first["units"]) == ("90837", ["95"], "1")
    assert first["control_number"] == "CB0001-1" and first["remarks"] == ["N130"]
    assert {k: first["adjustments"][0][k] for k in ("group", "reason", "amount", "quantity")} == {
        "group": "CO", "reason": "45", "amount": "25.00", "quantity": None}
    assert (second["charge"], second["paid"]) == ("150.00", "105.00")  # "150" in the file, two decimals out
    [adjustment] = tx["provider_adjustments"]
    assert {k: adjustment[k] for k in ("reason", "reference", "amount")} == {
        "reason": "L6", "reference": "INT", "amount": "-2.50"}
    assert "DOE" not in done.stdout  # the patient's name is never printed


def test_other_types_via_click_runner():
    runner = CliRunner()
    path = corpus_file("Inteligenz__X12Parser/Acknowledgments__999_DHS_Wisconsin_Sample.txt")
    [ack] = json.loads(runner.invoke(x12, ["parse", str(path), "--json"]).output)["transactions"]
    assert ack["type"] == "999" and ack["group"]["control_number"] == "17456"
    assert [s["status"] for s in ack["sets"]] == ["A", "R", "R"]
    assert ack["sets"][1]["errors"][0]["claim_id"] == "123456789"
    assert ack["group_status"]["code"] == "P"
    path = corpus_file("imsweb__x12-parser/277_5010_x12_277CA_rejected.txt")
    [status] = json.loads(runner.invoke(x12, ["parse", str(path), "--json"]).output)["transactions"]
    assert status["type"] == "277CA"
    assert status["claims"][0]["patient_control_number"] == "3920394930203"
    assert status["claims"][0]["payer_claim_control_number"] == "1107000000001120"
    assert status["claims"][0]["statuses"][0]["codes"][0]["category"] == "A7"
    path = corpus_file("imsweb__x12-parser/837_5010_x12_999_accepted_ta1.txt_at_ee80802.txt")
    ta1, _ = json.loads(runner.invoke(x12, ["parse", str(path), "--json"]).output)["transactions"]
    assert (ta1["type"], ta1["control_number"], ta1["code"], ta1["note_code"]) == ("TA1", "101", "A", "000")


def test_summary_and_exit_statuses(tmp_path):
    runner = CliRunner()
    good = _write(tmp_path, "era.835", remit(PAID))
    result = runner.invoke(x12, ["parse", str(good)])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == f"{good}: 1 × 835"
    assert "balances" in result.output
    junk = _write(tmp_path, "notes.txt", "hello")
    result = runner.invoke(x12, ["parse", str(junk), "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {junk}: ") and "not an X12 file" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    broken = _write(tmp_path, "broken.835", remit(PAID).replace("CLP*CB0001*1*300.00", "CLP*CB0001*1*x"))
    result = runner.invoke(x12, ["parse", str(broken), "--json"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {broken}: segment 12 CLP CLP03: the claim charge is not an amount ('x')\n"
