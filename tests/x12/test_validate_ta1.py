"""A TA1 may stand alone in an interchange or before its groups; pyx12's control map says otherwise."""

from claimbridge.x12.validate import validate_x12

ISA = ("ISA*00*          *00*          *ZZ*330897513      *ZZ*593792225      *140421*0812*^*00501*"
       "004211112*0*P*:~")


def test_a_ta1_only_interchange_is_valid():
    report = validate_x12(ISA + "TA1*004211112*140421*0812*A*000~IEA*0*004211112~", name="ack.ta1")
    assert report.ok, report.problems


def test_a_broken_ta1_is_still_reported():
    report = validate_x12(ISA + "TA1*004211112*140421*0812*A*000*EXTRA~IEA*0*004211112~", name="ack.ta1")
    assert not report.ok
    assert any(p.segment_id == "TA1" for p in report.problems)


def test_a_ta1_before_a_999_group_is_valid(corpus):
    path = corpus / "x12" / "mjpete3__x12" / "tc_parse_999.rb_msg3.edi"
    report = validate_x12(path)
    assert report.ok, report.problems
