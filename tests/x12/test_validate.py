"""pyx12 validation in-process: problems name segment, loop and claim; corpus files never crash the wrapper."""

from __future__ import annotations

import codecs
import os
import time

import pytest

from claimbridge.errors import X12ValidationError
from claimbridge.x12 import encode_837p
from claimbridge.x12.validate import Problem, ValidationReport, require_valid, validate_x12
from tests.x12.claims import ENVELOPE, SUBMITTER, therapy_week
from tests.x12.corpus import corpus_file, corpus_params


@pytest.fixture(scope="module")
def week_text():
    return encode_837p(therapy_week(), envelope=ENVELOPE, submitter=SUBMITTER, receiver_name="Stedi").text


def _replace_line(text: str, old: str, new: str) -> tuple[str, int]:
    lines = text.splitlines()
    position = lines.index(old)
    lines[position] = new
    return "\n".join(lines) + "\n", position + 1


def test_broken_service_line_names_pcn_segment_loop_and_element(week_text):
    broken, line = _replace_line(week_text, "SV1*HC:96127*25.25*UN*1***1:2~", "SV1*HC:96127*25.25*XX*1***1:2~")
    report = validate_x12(broken, name="out/week.837")
    assert not report.ok
    assert report.problems == [Problem("error", line, "SV1", "2400", "SV103", "7", report.problems[0].message,
                                       "CB3TELE01", "XX")]
    assert "XX" in report.problems[0].message


def test_missing_rendering_provider_and_bad_count(week_text):
    lines = week_text.splitlines()
    clm = lines.index("CLM*CB6REPL01*110***11:B:7*Y*A*Y*Y~")
    assert lines[clm + 3].startswith("NM1*82")
    del lines[clm + 3]  # 2310B NM1*82 gone: PRV*PE is now out of place and SE01 is off by one
    report = validate_x12("\n".join(lines), name="week.837")
    assert not report.ok
    by_id = {p.segment_id: p for p in report.problems}
    assert by_id["PRV"].pcn == "CB6REPL01" and by_id["PRV"].segment_index == clm + 4
    assert by_id["SE"].pcn is None and "SE count" in by_id["SE"].message
    assert all(p.segment_index is not None for p in report.problems)


def test_require_valid_raises_with_file_claim_and_segment_without_phi(week_text):
    broken, _ = _replace_line(week_text, "SV1*HC:96127*25.25*UN*1***1:2~", "SV1*HC:96127*25.25*XX*1***1:2~")
    long_name = "HOFFENSTEINBERGERMACALLISTERWORTHINGTONSMYTHEFEATHERSTONEHAUGHX"
    broken, _ = _replace_line(broken, "NM1*IL*1*OKAFOR*JAMES****MI*XJH123456789~",
                              f"NM1*IL*1*{long_name}*JAMES****MI*XJH123456789~")
    with pytest.raises(X12ValidationError) as caught:
        require_valid(broken, name="outbound/CB-week.837")
    message = str(caught.value)
    assert message.startswith("outbound/CB-week.837: 2 X12 validation errors in claim CB3TELE01")
    assert "SV1 (loop 2400, PCN CB3TELE01) SV103" in message
    assert "NM1 (loop 2010BA) NM103" in message
    assert long_name not in message
    assert len(caught.value.problems) == 2
    assert require_valid(week_text, name="week.837").ok


def test_tolerant_input_is_normalised_before_pyx12(week_text, tmp_path):
    crlf_bom = codecs.BOM_UTF8 + week_text.replace("\n", "\r\n").encode()
    assert validate_x12(crlf_bom).problems == []
    path = tmp_path / "week.837"
    path.write_text(week_text.replace("\n", ""))
    report = validate_x12(path)
    assert report.ok and report.transaction == "837P"
    isa = week_text.splitlines()[0]
    unpadded = week_text.replace(isa, isa.replace("CLAIMBRIDGE01  ", "CLAIMBRIDGE01").replace("STEDI          ",
                                                                                              "STEDI"))
    report = validate_x12(unpadded)
    assert report.ok
    assert [(p.severity, p.code, p.segment_id) for p in report.problems] == [("warning", "isa-width", "ISA")]


def test_not_x12_and_fragments_give_a_report_not_an_exception():
    report = validate_x12(b"<html>not x12</html>", name="page.html")
    assert report == ValidationReport(False, report.problems, None)
    assert report.problems[0].code == "syntax" and "not an X12 file" in report.problems[0].message
    fragment = validate_x12("ST*835*1~BPR*I*1*C*CHK~SE*3*1~")
    assert not fragment.ok and fragment.problems[0].code == "no-isa" and fragment.transaction == "835"


def test_repeated_runs_give_identical_results_and_are_fast(week_text):
    broken, _ = _replace_line(week_text, "SV1*HC:96127*25.25*UN*1***1:2~", "SV1*HC:96127*25.25*XX*1***1:2~")
    first = validate_x12(broken)
    started = time.perf_counter()
    assert validate_x12(week_text).problems == []
    assert validate_x12(broken) == first
    assert time.perf_counter() - started < 2  # maps are parsed once per process


def test_pyx12_writes_nothing_to_disk_or_stdout(week_text, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    broken, _ = _replace_line(week_text, "SV1*HC:96127*25.25*UN*1***1:2~", "SV1*HC:96127*25.25*XX*1***1:2~")
    validate_x12(broken)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("relative, transaction, pcn", [
    ("imsweb__x12-parser/277_5010_x12_277CA_accepted.txt", "277CA", "5781"),
    ("imsweb__x12-parser/837_5010_x12_valid.txt", "837P", "A37YH556"),
    ("Acknowledgments__999_DHS_Wisconsin_Sample.txt", "999", None),
])
def test_problems_in_corpus_files_carry_their_claim(relative, transaction, pcn):
    path = corpus_file(relative if "/" in relative else f"Inteligenz__X12Parser/{relative}")
    report = validate_x12(path)
    assert report.transaction == transaction
    assert report.problems
    if pcn:
        assert pcn in {p.pcn for p in report.problems}


@pytest.mark.parametrize("relative, transaction", [
    ("keironstoddart__edi-835-parser/emedny_sample.txt", "835"),
    ("mjpete3__x12/tc_parse_835.rb_msg1.edi", "835"),
    ("mjpete3__x12/tc_parse_999.rb_msg1.edi", "999"),
    ("Inteligenz__X12Parser/INS__837P__5010_ST1309-XX.txt", "837P"),
])
def test_valid_corpus_files(relative, transaction):
    report = validate_x12(corpus_file(relative))
    assert report.ok, report.problems
    assert report.transaction == transaction


def test_ta1_interchange_is_checked_against_the_control_map():
    report = validate_x12(corpus_file("mjpete3__x12/tc_parse_999.rb_msg3.edi"))
    assert report.transaction == "TA1"


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_files_never_crash_the_wrapper(path):
    report = validate_x12(path)
    assert isinstance(report, ValidationReport)
    assert report.ok == (not any(p.severity == "error" for p in report.problems))
    for problem in report.problems:
        assert problem.severity in ("error", "warning") and problem.message


def test_a_path_given_as_a_string_is_read(week_text, tmp_path):
    path = tmp_path / "week.837"
    path.write_text(week_text)
    report = validate_x12(str(path))
    assert report.ok and report.transaction == "837P"
    with pytest.raises(X12ValidationError, match=r"^custom\.837: "):
        require_valid(week_text.replace("SV1*HC:90837*150*UN*", "SV1*HC:90837*150*ZZ*"), name="custom.837")
