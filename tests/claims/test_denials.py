"""Denial classification: every category, remark refinements, unknown codes, the user's override folder."""

from __future__ import annotations

import csv
import os
import textwrap

import pytest

from claimbridge.claims.denials import (
    ACTIONS,
    CATEGORIES,
    SHIPPED_CODES_DIR,
    classify,
    load_code_lists,
)
from claimbridge.errors import ConfigError


@pytest.mark.parametrize(("group", "reason", "remarks", "category", "action"), [
    ("CO", "27", (), "eligibility", "verify_eligibility"),
    ("CO", "31", (), "eligibility", "verify_eligibility"),
    ("CO", "24", (), "eligibility", "rebill_other_payer"),
    ("CO", "197", (), "authorization", "appeal"),
    ("CO", "15", (), "authorization", "correct_and_resubmit"),
    ("CO", "4", ("N822",), "coding", "correct_and_resubmit"),
    ("CO", "11", (), "coding", "correct_and_resubmit"),
    ("CO", "50", (), "medical_necessity", "appeal"),
    ("CO", "29", (), "timely_filing", "write_off"),
    ("OA", "18", (), "duplicate", "check_prior_posting"),
    ("CO", "97", ("M15",), "bundling", "review"),
    ("CO", "22", (), "coordination_of_benefits", "rebill_other_payer"),
    ("CO", "109", (), "coordination_of_benefits", "rebill_other_payer"),
    ("CO", "119", (), "benefit_limits", "review"),
    ("PR", "119", (), "benefit_limits", "bill_patient"),
    ("PR", "1", (), "patient_responsibility", "bill_patient"),
    ("PR", "2", (), "patient_responsibility", "bill_patient"),
    ("PR", "3", (), "patient_responsibility", "bill_patient"),
    ("PR", "96", ("N130",), "patient_responsibility", "bill_patient"),
    ("CO", "45", (), "contractual", "contractual"),
    ("PI", "45", (), "contractual", "contractual"),
    ("CO", "133", (), "other", "review"),
])
def test_every_category(group, reason, remarks, category, action):
    denial = classify(group, reason, remarks)
    assert (denial.category, denial.action) == (category, action)
    assert denial.carc_text and not denial.carc_text.startswith("unknown")
    assert denial.explanation
    assert not denial.warnings


def test_every_category_and_action_is_reachable_from_the_shipped_rules():
    rules = load_code_lists().rules
    assert {rule.category for rule in rules} == set(CATEGORIES)
    assert {rule.action for rule in rules} == set(ACTIONS)


def test_contractual_and_patient_amounts_are_not_denials():
    assert not classify("CO", "45").is_denial
    assert not classify("PR", "3").is_denial
    assert classify("CO", "50").is_denial


def test_remark_refines_co16_and_names_the_missing_information():
    denial = classify("CO", "16", ["N290"])
    assert (denial.category, denial.action) == ("coding", "correct_and_resubmit")
    assert denial.rarc_texts == ("N290: Missing/incomplete/invalid rendering provider primary identifier.",)
    assert "rendering provider primary identifier" in denial.explanation
    assert not denial.missing_remark
    # the same CARC with other remarks lands elsewhere
    assert classify("CO", "16", ["MA04"]).category == "coordination_of_benefits"
    assert classify("CO", "16", ["M62"]).category == "authorization"
    assert classify("CO", "16", ["MA61"]).action == "verify_eligibility"
    assert classify("CO", "16", ["N522"]).category == "duplicate"


def test_remark_lookup_ignores_case_and_blanks():
    denial = classify(" co ", "16", [" n290 ", ""])
    assert denial.group == "CO" and denial.remarks == ("N290",)
    assert denial.category == "coding"


@pytest.mark.parametrize("reason", ["16", "96"])
def test_carc_that_needs_a_remark_is_flagged_without_one(reason):
    denial = classify("CO", reason)
    assert denial.missing_remark
    assert any("requires a remark code" in w for w in denial.warnings)
    assert "ask the payer" in denial.explanation
    assert not classify("CO", reason, ["N290"]).missing_remark


def test_patient_responsibility_group_beats_the_generic_reason_but_not_eligibility():
    assert classify("PR", "204").action == "bill_patient"
    assert classify("CO", "204").action == "verify_eligibility"
    assert classify("PR", "27").category == "eligibility"
    assert classify("PR", "187").category == "patient_responsibility"


def test_unknown_codes_are_other_review_with_what_is_known():
    denial = classify("CO", "Z99", ["XX1"])
    assert (denial.category, denial.action) == ("other", "review")
    assert denial.carc_text == "unknown CARC Z99"
    assert denial.rarc_texts == ("XX1: unknown remark code",)
    assert len(denial.warnings) == 2
    known_carc_no_rule = classify("CO", "130")
    assert (known_carc_no_rule.category, known_carc_no_rule.action) == ("other", "review")
    assert known_carc_no_rule.carc_text == "Claim submission fee."
    assert "Claim submission fee" in known_carc_no_rule.explanation
    assert any("unknown group" in w for w in classify("XX", "45").warnings)


def test_shipped_files_are_well_formed():
    codes = load_code_lists()
    assert load_code_lists() is codes  # read once
    assert len(codes.carc) > 100 and len(codes.rarc) > 50
    assert codes.carc["45"].groups == ("CO", "PI", "PR")
    assert "," in codes.carc["15"].description  # quoted CSV field
    with (SHIPPED_CODES_DIR / "carc.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["code", "groups", "description"] and all(len(row) == 3 for row in rows)


def test_user_folder_replaces_and_extends_codes_and_rules(tmp_path):
    (tmp_path / "carc.csv").write_text('code,groups,description\n45,CO,"Contract, updated text."\n'
                                       'Z1,CO,A brand-new code.\n')
    (tmp_path / "rarc.csv").write_text("code,description\nN999,A new remark.\n")
    (tmp_path / "denial_rules.yaml").write_text(textwrap.dedent("""\
        rules:
          - category: timely_filing
            action: appeal
            reasons: ["29"]
            groups: [CO]
            explanation: "We always appeal {group}-{reason} ({carc}{remarks_clause})."
          - category: coding
            action: correct_and_resubmit
            reasons: ["Z*"]
            explanation: "New code: {carc}."
        """))
    codes = load_code_lists(tmp_path)
    assert codes.carc["45"].description == "Contract, updated text."
    assert codes.carc["1"].description == "Deductible amount."  # shipped ones kept
    assert codes.rarc["N999"] == "A new remark." and "N290" in codes.rarc
    overridden = codes.classify("CO", "29", ["N999"])
    assert (overridden.category, overridden.action) == ("timely_filing", "appeal")
    assert overridden.explanation == ("We always appeal CO-29 (The time limit for filing has expired; "
                                      "N999: A new remark).")
    assert codes.classify("CO", "Z1").category == "coding"
    assert codes.classify("OA", "18").category == "duplicate"  # shipped rules still apply
    assert classify("CO", "29").action == "write_off"  # the shipped lists are untouched


def test_user_rules_can_replace_the_shipped_table_and_edits_are_picked_up(tmp_path):
    rules = tmp_path / "denial_rules.yaml"
    rules.write_text("replace: true\nremark_required: []\nrules:\n"
                     "  - {category: other, action: review, reasons: ['*'], explanation: 'Look at it.'}\n")
    codes = load_code_lists(tmp_path)
    assert codes.classify("CO", "45").action == "review"
    assert not codes.classify("CO", "16").missing_remark
    rules.write_text("rules:\n  - {category: contractual, action: contractual, reasons: ['999'], "
                     "explanation: 'x'}\n")
    stat = rules.stat()
    os.utime(rules, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_code_lists(tmp_path).classify("CO", "45").action == "contractual"


def test_bad_user_files_report_every_problem(tmp_path):
    (tmp_path / "carc.csv").write_text("code,description\n1,x\n")
    (tmp_path / "denial_rules.yaml").write_text(textwrap.dedent("""\
        rules:
          - category: nonsense
            action: shrug
            reasons: []
            explanation: "{unknown}"
        """))
    with pytest.raises(ConfigError) as caught:
        load_code_lists(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "missing groups" in problems
    assert "category 'nonsense'" in problems and "action 'shrug'" in problems
    assert "reasons is required" in problems and "placeholder" in problems
    with pytest.raises(ConfigError, match="is not a folder"):
        load_code_lists(tmp_path / "nowhere")
