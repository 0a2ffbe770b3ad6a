"""``claimbridge denials …``, ``claimbridge remits …`` and ``claimbridge claims release`` as a user runs them,
against a store filled by intake and by rows written the way posting writes them. Commands run in-process
(click's runner: the same parsing, output and exit codes); one runs as a real subprocess."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from claimbridge.claims.worklist import RESOLUTIONS
from claimbridge.cli import main
from claimbridge.cli_worklist import RESOLVE_AS
from claimbridge.store.models import ProviderAdjustmentRow
from tests.claims.test_worklist import World
from tests.test_cli import cli


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    yield made
    made.close()


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(world: World, *args: str, ok: bool = True, subprocess: bool = False) -> Ran:
    if subprocess:
        done = cli("--config", str(world.config_path), *args, env={"USER": "jdoe"})
        result = Ran(done.returncode, done.stdout, done.stderr)
    else:
        done = CliRunner().invoke(main, ["--config", str(world.config_path), *args], env={"USER": "jdoe"})
        result = Ran(done.exit_code, done.stdout, done.stderr)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def columns(line: str, header: str, names: list[str]) -> list[str]:
    """The cells of ``line`` under the left-aligned columns ``names`` of ``header``: a cell starts exactly
    where its column's name does and runs to the next two spaces (the gap between columns)."""
    return [line[header.index(name):].split("  ")[0] for name in names]


def test_resolve_choices_match_the_worklist():
    assert tuple(RESOLUTIONS) == RESOLVE_AS


def test_denials_list_show_and_resolve(world):
    coding_pcn, coding = world.denied_claim("enc-002", "CO", "16", ("N290",), amount="1500.00", days_ago=2)
    late_pcn, late = world.denied_claim("enc-003", "CO", "29", (), amount="175.5", days_ago=1,
                                        payer_name="BLUE CROSS")

    text = run(world, "denials", "list", subprocess=True).stdout.splitlines()
    header = text[0]
    assert header.split() == ["ID", "DATE", "STATUS", "CATEGORY", "ACTION", "CODES", "AMOUNT", "PCN", "PAYER"]
    names = ["ID", "STATUS", "CATEGORY", "ACTION", "CODES", "PCN", "PAYER"]
    assert columns(text[1], header, names) == [f"#{coding}", "open", "coding", "correct_and_resubmit",
                                               "CO-16 N290", coding_pcn, "AETNA"]
    assert columns(text[2], header, names) == [f"#{late}", "open", "timely_filing", "write_off", "CO-29",
                                               late_pcn, "BLUE CROSS"]
    amount_end = header.index("AMOUNT") + len("AMOUNT")  # money is right-aligned under its header
    assert [line[:amount_end].split()[-1] for line in text[1:3]] == ["1,500.00", "175.50"]
    totals = text[text.index("totals by category:") + 1:]
    assert [line.split() for line in totals[1:]] == [["coding", "1", "1,500.00"], ["timely_filing", "1", "175.50"],
                                                     ["all", "2", "1,675.50"]]

    listed = json.loads(run(world, "denials", "list", "--category", "timely_filing", "--json").stdout)
    assert [d["id"] for d in listed["denials"]] == [late]
    assert listed["denials"][0]["amount"] == "175.50" and listed["totals"]["all"] == {"count": 1, "amount": "175.50"}
    assert json.loads(run(world, "denials", "list", "--action", "appeal", "--json").stdout)["denials"] == []

    shown = run(world, "denials", "show", str(coding)).stdout
    assert f"denial #{coding} — open" in shown
    assert f"claim:       {coding_pcn} version 1, denied" in shown
    assert "code:        CO-16: Claim/service lacks information" in shown
    assert "remark:      N290: " in shown and "next action: correct_and_resubmit" in shown
    assert "denied 1,500.00 of" not in shown and "amounts:     denied 1,500.00; claim charge 1,500.00" in shown
    assert "accepted → denied" in shown
    data = json.loads(run(world, "denials", "show", str(coding), "--json").stdout)
    assert data["claim"]["charge"] == "1500.00" and data["remark_texts"][0].startswith("N290")

    resolved = run(world, "denials", "resolve", str(late), "--as", "write_off", "--reason", "filed too late").stdout
    assert resolved.strip() == f"denial #{late}: written off; claim {late_pcn} is written_off"
    appealed = run(world, "denials", "resolve", str(coding), "--as", "appeal", "--reason", "letter sent",
                   "--actor", "mkim").stdout
    assert f"claim {coding_pcn} is denied" in appealed
    assert run(world, "denials", "list").stdout.strip() == "no open denials"
    every = json.loads(run(world, "denials", "list", "--status", "all", "--json").stdout)["denials"]
    assert {(d["id"], d["resolution"], d["resolved_by"]) for d in every} == {
        (late, "written_off", "jdoe"), (coding, "appealed", "mkim")}
    assert "[denial_appeal]" in run(world, "denials", "show", str(coding)).stdout

    again = run(world, "denials", "resolve", str(late), "--as", "dismiss", "--reason", "x", ok=False)
    assert again.returncode == 1 and f"denial #{late} is already resolved" in again.stderr
    missing = run(world, "denials", "show", "999", ok=False)
    assert missing.returncode == 1 and "no denial #999" in missing.stderr
    bad = run(world, "denials", "resolve", str(late), "--as", "forgive", "--reason", "x", ok=False)
    assert bad.returncode == 2


def test_denials_resubmit_and_claims_release(world):
    pcn, denial_id = world.denied_claim("enc-002", "CO", "16", ("N290",), payer_claim_number="ICN-9")
    out = run(world, "denials", "resubmit", str(denial_id), "--reason", "NPI fixed").stdout
    new_pcn = world.claim(pcn).pcn
    assert out.startswith(f"denial #{denial_id}: {new_pcn} (version 2, frequency 7) replaces {pcn}")
    assert "ready and leaves with the next sync" in out and f"{pcn} is corrected" in out

    other, replacement = world.held_replacement("enc-003", payer_claim_number="A1")
    held = json.loads(run(world, "claims", "held", "--json").stdout)
    assert replacement in {row["pcn"] for row in held}
    released = run(world, "claims", "release", replacement.lower(), "--reason", "checked").stdout
    assert released.strip() == (f"{replacement} (frequency 7, replaces {other}, now accepted): ready; it leaves "
                                f"with the next sync")
    refused = run(world, "claims", "release", replacement, "--reason", "again", ok=False)
    assert refused.returncode == 1 and "is ready; only a held replacement can be released" in refused.stderr


def test_remits_list_show_unmatched_and_dismiss(world):
    world.pull("enc-002")
    pcn = world.pcn_of("enc-002")
    remittance = world.remit(amount="97.45", payer_name="AETNA")
    world.remit_claim(remittance, pcn, outcome="paid", status_code="1", paid="100.00", patient="20.00",
                      adjustments=[("CO", "45", "30.00"), ("PR", "3", "20.00")])
    stray = world.remit_claim(remittance, "OTHER0001", matched=False, paid="0.00", charge="80.00")
    with world.store.transaction() as session:
        session.add(ProviderAdjustmentRow(remittance_id=remittance, provider_id="1234567893", reason="L6",
                                          reference="INTEREST", amount=Decimal("-2.55")))

    listed = run(world, "remits", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "PAID", "ON", "PAYER", "TRACE", "METHOD", "AMOUNT", "CLAIMS", "FILE"]
    assert columns(listed[1], listed[0], ["ID", "PAYER", "TRACE", "METHOD"]) == [
        f"#{remittance}", "AETNA", "TRC00001", "ACH"]
    assert "97.45" in listed[1] and listed[1].endswith("remit-1.835")
    rows = json.loads(run(world, "remits", "list", "--json").stdout)
    assert rows[0]["amount"] == "97.45" and rows[0]["claim_count"] == 2 and rows[0]["file"] == "remit-1.835"

    shown = run(world, "remits", "show", str(remittance)).stdout
    assert "payment:  97.45 by ACH" in shown
    assert "CO-45 30.00, PR-3 20.00" in shown and "L6" in shown and "-2.55" in shown
    assert [line.split()[:3] for line in shown.splitlines() if line.startswith(f"#{stray} ")] == [
        [f"#{stray}", "OTHER0001", "unmatched"]]
    data = json.loads(run(world, "remits", "show", str(remittance), "--json").stdout)
    assert data["claims"][0]["paid"] == "100.00" and data["claims"][0]["adjustments"][0]["amount"] == "30.00"
    assert data["provider_adjustments"] == [{"provider_id": "1234567893", "fiscal_date": None, "reason": "L6",
                                             "reference": "INTEREST", "amount": "-2.55"}]

    unmatched = run(world, "remits", "unmatched").stdout.splitlines()
    assert columns(unmatched[1], unmatched[0], ["ID", "PAYER", "TRACE"]) == [f"#{stray}", "AETNA", "TRC00001"]
    assert "OTHER0001" in unmatched[1]
    assert [r["pcn"] for r in json.loads(run(world, "remits", "unmatched", "--json").stdout)] == ["OTHER0001"]
    dismissed = run(world, "remits", "dismiss", str(stray), "--reason", "not our patient").stdout
    assert dismissed.strip() == f"remittance claim #{stray} (PCN OTHER0001 as sent) dismissed"
    assert run(world, "remits", "unmatched").stdout.strip() == "no unmatched remittance claims"
    assert f"#{stray}  OTHER0001     unmatched (resolved)" in run(world, "remits", "show", str(remittance)).stdout
    assert run(world, "remits", "show", "4040", ok=False).returncode == 1
