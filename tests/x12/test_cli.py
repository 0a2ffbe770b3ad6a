"""``x12 validate FILE...``: one line per file or per problem, exit status 0 only when all are valid."""

from __future__ import annotations

from click.testing import CliRunner

from claimbridge.x12 import encode_837p
from claimbridge.x12.cli import x12
from tests.x12.claims import ENVELOPE, SUBMITTER, make_claim


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_validate_valid_and_broken_files(tmp_path):
    text = encode_837p([make_claim("CBCLI01")], envelope=ENVELOPE, submitter=SUBMITTER, receiver_name="Stedi").text
    good = _write(tmp_path, "good.837", text)
    bad = _write(tmp_path, "bad.837", text.replace("SV1*HC:90837*150*UN*", "SV1*HC:90837*150*ZZ*"))
    runner = CliRunner()

    result = runner.invoke(x12, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{good}: valid\n"

    result = runner.invoke(x12, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    out = result.output.splitlines()
    assert out[0] == f"{good}: valid"
    assert len(out) == 2
    assert out[1].startswith(f"{bad}: segment 26 SV1 (loop 2400, PCN CBCLI01) SV103: ")


def test_warnings_and_not_x12(tmp_path):
    text = encode_837p([make_claim("CBCLI02")], envelope=ENVELOPE, submitter=SUBMITTER, receiver_name="Stedi").text
    unpadded = _write(tmp_path, "unpadded.837", text.replace("CLAIMBRIDGE01  *", "CLAIMBRIDGE01*", 1))
    junk = _write(tmp_path, "notes.txt", "hello")
    result = CliRunner().invoke(x12, ["validate", str(unpadded), str(junk)])
    assert result.exit_code == 1
    out = result.output.splitlines()
    assert out[0] == f"{unpadded}: valid (1 warning)"
    assert out[1].startswith(f"{unpadded}: warning: segment 1 ISA (loop ISA_LOOP): the ISA is not padded")
    assert out[2].startswith(f"{junk}: not an X12 file")
    quiet = CliRunner().invoke(x12, ["validate", "--no-warnings", str(unpadded)])
    assert quiet.output == f"{unpadded}: valid\n" and quiet.exit_code == 0


def test_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(x12, ["validate", str(tmp_path / "nope.837")])
    assert result.exit_code == 2
