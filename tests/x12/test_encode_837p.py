"""837P encoding of a realistic therapy batch: pyx12-clean output and exact key segments."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

import pytest

from claimbridge.errors import ClaimBuildError, RecordError
from claimbridge.x12 import ClaimEncodeError, Envelope, encode_837p, iter_segments
from claimbridge.x12.validate import validate_x12
from tests.x12.claims import (
    ENVELOPE,
    FACILITY_NPI,
    SUBMITTER,
    billing_org,
    make_claim,
    person,
    therapy_week,
    without,
)


def encode(claims, **kwargs):
    return encode_837p(claims, envelope=ENVELOPE, submitter=SUBMITTER, receiver_name="Stedi", **kwargs)


@pytest.fixture(scope="module")
def week():
    return encode(therapy_week())


def lines(encoded):
    return encoded.text.splitlines()


def test_the_week_passes_pyx12_with_zero_problems(week):
    report = validate_x12(week.text, name="week.837")
    assert report.problems == []
    assert report.ok and report.transaction == "837P"


def test_helper_claims_follow_the_fhir_model():
    claim_model = pytest.importorskip("fhir.resources.R4B.claim").Claim
    for claim in therapy_week():
        claim_model.model_validate(claim)


def test_envelope_and_header_segments(week):
    text = lines(week)
    assert text[:7] == [
        "ISA*00*          *00*          *ZZ*CLAIMBRIDGE01  *ZZ*STEDI          *260302*1405*^*00501*000000017*0*T*:~",
        "GS*HC*CLAIMBRIDGE01*STEDI*20260302*1405*17*X*005010X222A1~",
        "ST*837*0001*005010X222A1~",
        "BHT*0019*00*000000017*20260302*1405*CH~",
        "NM1*41*2*LAKESIDE COUNSELING GROUP*****46*CLAIMBRIDGE01~",
        "PER*IC*DANA BILLING*TE*5551234567*EM*billing@lakeside.example~",
        "NM1*40*2*STEDI*****46*STEDI~",
    ]
    assert len(text[0]) == 106
    assert text[-3:] == [f"SE*{week.segment_count}*0001~", "GE*1*17~", "IEA*1*000000017~"]
    assert week.segment_count == len(text) - 4  # ISA, GS, GE, IEA are outside the transaction set


def test_hierarchy_groups_billing_subscriber_patient(week):
    hls = [seg.elements for seg in iter_segments(week.text) if seg.id == "HL"]
    assert hls == [
        ["1", "", "20", "1"],   # Lakeside (therapist taxonomy)
        ["2", "1", "22", "0"],  # Grace, self: adult, telehealth and facility claims
        ["3", "1", "22", "1"],  # James, subscriber of a dependant
        ["4", "3", "23", "0"],  # Mia, his child
        ["5", "", "20", "1"],   # Northside, counselor taxonomy (supervised claim)
        ["6", "5", "22", "0"],
        ["7", "", "20", "1"],   # Northside, therapist taxonomy (replacement claim)
        ["8", "7", "22", "0"],
    ]
    assert list(week.claim_segments) == ["CB1ADULT01", "CB3TELE01", "CB4FACIL01", "CB2CHILD01", "CB5SUPER01",
                                         "CB6REPL01"]


def test_billing_provider_and_self_subscriber(week):
    text = lines(week)
    start = text.index("HL*1**20*1~")
    assert text[start:start + 13] == [
        "HL*1**20*1~",
        "PRV*BI*PXC*1041C0700X~",
        "NM1*85*2*LAKESIDE COUNSELING GROUP*****XX*1234567893~",
        "N3*400 MAIN ST STE 200~",
        "N4*SPRINGFIELD*IL*627011234~",
        "REF*EI*123456789~",
        "HL*2*1*22*0~",
        "SBR*P*18*GRP0042******CI~",
        "NM1*IL*1*OKAFOR*GRACE*N***MI*XJH123456789~",
        "N3*12 ELM ST*APT 3~",
        "N4*SPRINGFIELD*IL*62704~",
        "DMG*D8*19880412*F~",
        "NM1*PR*2*BLUE LAKE HEALTH PLAN*****PI*BLHP1~",
    ]


def test_adult_claim_segments(week):
    assert week.claim_segments["CB1ADULT01"] == [
        "CLM*CB1ADULT01*150***11:B:1*Y*A*Y*Y~",
        "HI*ABK:F411*ABF:F331~",
        "NM1*82*1*RIVERA*ANA****XX*1679576722~",
        "PRV*PE*PXC*1041C0700X~",
        "LX*1~",
        "SV1*HC:90837*150*UN*1***1~",
        "DTP*472*D8*20260223~",
        "REF*6R*CB1ADULT011~",
    ]


def test_child_dependant_under_the_parent(week):
    text = lines(week)
    start = text.index("HL*3*1*22*1~")
    assert text[start:start + 14] == [
        "HL*3*1*22*1~",
        "SBR*P**GRP0042******CI~",
        "NM1*IL*1*OKAFOR*JAMES****MI*XJH123456789~",
        "N3*12 ELM ST*APT 3~",
        "N4*SPRINGFIELD*IL*62704~",
        "DMG*D8*19850930*M~",
        "NM1*PR*2*BLUE LAKE HEALTH PLAN*****PI*BLHP1~",
        "HL*4*3*23*0~",
        "PAT*19~",
        "NM1*QC*1*OKAFOR*MIA~",
        "N3*12 ELM ST*APT 3~",
        "N4*SPRINGFIELD*IL*62704~",
        "DMG*D8*20140601*F~",
        "CLM*CB2CHILD01*140***11:B:1*Y*A*Y*Y~",
    ]


def test_telehealth_claim_has_pos_10_modifier_95_and_no_facility(week):
    assert week.claim_segments["CB3TELE01"] == [
        "CLM*CB3TELE01*175.75***10:B:1*Y*A*Y*Y~",
        "HI*ABK:F411*ABF:Z630~",
        "NM1*82*1*RIVERA*ANA****XX*1679576722~",
        "PRV*PE*PXC*1041C0700X~",
        "LX*1~",
        "SV1*HC:90837:95*150.5*UN*1***1~",
        "DTP*472*D8*20260223~",
        "REF*6R*CB3TELE011~",
        "LX*2~",
        "SV1*HC:96127*25.25*UN*1***1:2~",
        "DTP*472*D8*20260223~",
        "REF*6R*CB3TELE012~",
    ]
    telehealth_with_location = encode([make_claim("CBTELEFAC1", pos="10", modifiers=("95",), facility=True)])
    assert not any(s.startswith("NM1*77") for s in telehealth_with_location.claim_segments["CBTELEFAC1"])


def test_in_person_claim_at_a_service_facility(week):
    segments = week.claim_segments["CB4FACIL01"]
    start = segments.index("PRV*PE*PXC*1041C0700X~") + 1
    assert segments[start:start + 3] == [
        f"NM1*77*2*LAKESIDE SATELLITE OFFICE*****XX*{FACILITY_NPI}~",
        "N3*9 RIVER RD~",
        "N4*CHATHAM*IL*626290101~",
    ]


def test_supervised_counselor_with_prior_authorization(week):
    text = lines(week)
    assert text[text.index("HL*5**20*1~") + 1] == "PRV*BI*PXC*101YP2500X~"
    assert "SBR*P*18*GRP0042******MC~" in text
    assert week.claim_segments["CB5SUPER01"][:6] == [
        "CLM*CB5SUPER01*150***11:B:1*Y*A*Y*Y~",
        "REF*G1*PA778899~",
        "HI*ABK:F411~",
        "NM1*82*1*CHEN*LEE****XX*1609393727~",
        "PRV*PE*PXC*101YP2500X~",
        "NM1*DQ*1*ADLER*RUTH****XX*1417947169~",
    ]


def test_replacement_claim_carries_frequency_7_and_ref_f8(week):
    assert week.claim_segments["CB6REPL01"][:3] == [
        "CLM*CB6REPL01*110***11:B:7*Y*A*Y*Y~",
        "REF*F8*2026041000123~",
        "HI*ABK:F411~",
    ]
    void = encode([make_claim("CBVOID01", frequency="8", payer_claim_number="PAYER99")])
    assert void.claim_segments["CBVOID01"][:2] == ["CLM*CBVOID01*150***11:B:8*Y*A*Y*Y~", "REF*F8*PAYER99~"]


def test_line_pos_only_when_it_differs_and_numbers_from_json():
    claim = make_claim("CBMIXED01", extra_lines=(("90785", "20", (1,)),))
    claim["item"][1]["locationCodeableConcept"]["coding"][0]["code"] = "53"
    claim["item"][0]["net"]["value"] = 150.1  # a JSON number read without parse_float=Decimal
    claim["item"][1]["net"]["value"] = 20
    claim["total"]["value"] = 170.1
    claim["item"][1]["quantity"]["value"] = 2
    segments = encode([claim]).claim_segments["CBMIXED01"]
    assert "SV1*HC:90837*150.1*UN*1***1~" in segments
    assert "SV1*HC:90785*20*UN*2*53**1~" in segments
    assert segments[0] == "CLM*CBMIXED01*170.1***11:B:1*Y*A*Y*Y~"


@pytest.mark.parametrize("relationship, pat01", [("spouse", "01"), ("child", "19"), ("parent", "G8"),
                                                 ("other", "G8")])
def test_patient_relationship_codes(relationship, pat01):
    encoded = encode([make_claim("CBREL01", relationship=relationship)])
    assert f"PAT*{pat01}~" in lines(encoded)
    assert validate_x12(encoded.text).problems == []


def test_hostile_names_are_sanitised_and_still_valid():
    patient = person("patient", "O'Brien*Smith~", ["Zoë:Ann"], "1990-01-01", "other")
    encoded = encode([make_claim("CBNAME01", patient=patient)])
    assert "NM1*IL*1*O'BRIEN SMITH*ZOE ANN****MI*XJH123456789~" in lines(encoded)
    assert "DMG*D8*19900101*U~" in lines(encoded)
    assert validate_x12(encoded.text).problems == []


def test_delimiters_and_newline_options():
    from claimbridge.x12 import Delimiters

    odd = Delimiters(element="|", component=">", repetition="!", segment="'")
    encoded = encode([make_claim("CBODD01", modifiers=("95",), pos="10")], delimiters=odd, newline=False)
    assert "\n" not in encoded.text
    assert "SV1|HC>90837>95|150|UN|1|||1'" in encoded.text
    assert validate_x12(encoded.text).problems == []


@pytest.mark.parametrize("mutate, field, reason", [
    (lambda c: without(c, "contained", 4, "identifier", 0), "#rendering.identifier[NPI]", "NPI"),
    (lambda c: without(c, "contained", 1, "subscriberId"), "#coverage.subscriberId", "member id"),
    (lambda c: without(c, "contained", 1, "type"), "#coverage.type", "filing indicator"),
    (lambda c: without(c, "diagnosis"), "Claim.diagnosis", "diagnosis"),
    (lambda c: without(c, "item", 0, "servicedDate"), "Claim.item[0].servicedDate", "date of service"),
    (lambda c: without(c, "item", 0, "locationCodeableConcept"), "Claim.item[0].locationCodeableConcept",
     "place of service"),
    (lambda c: without(c, "contained", 0, "birthDate"), "#patient.birthDate", "birth date"),
])
def test_missing_required_fields_name_pcn_and_field(mutate, field, reason):
    claim = mutate(make_claim("CBBAD01"))
    with pytest.raises(ClaimEncodeError) as caught:
        encode([make_claim("CBGOOD01"), claim])
    error = caught.value
    assert isinstance(error, ClaimBuildError) and isinstance(error, RecordError)
    assert error.record == "CBBAD01" and error.field == field
    assert reason in str(error) and "CBBAD01" in str(error)
    assert "XJH123456789" not in str(error) and "OKAFOR" not in str(error).upper()


def test_other_claim_problems():
    replacement = make_claim("CBREPL02", frequency="7")
    with pytest.raises(ClaimEncodeError, match="payer claim number") as caught:
        encode([replacement])
    assert caught.value.field == "Claim.related[0].reference.value"

    mismatched = make_claim("CBTOTAL01")
    mismatched["total"]["value"] = Decimal("999.00")
    with pytest.raises(ClaimEncodeError, match="differs from the sum"):
        encode([mismatched])

    bad_pointer = make_claim("CBPTR01")
    bad_pointer["item"][0]["diagnosisSequence"] = [3]
    with pytest.raises(ClaimEncodeError, match="diagnosis sequence 3"):
        encode([bad_pointer])

    zero_units = make_claim("CBUNITS01")
    zero_units["item"][0]["quantity"]["value"] = 0
    with pytest.raises(ClaimEncodeError, match="more than 0"):
        encode([zero_units])

    short_zip = billing_org()
    short_zip["address"][0]["postalCode"] = "62701"
    with pytest.raises(ClaimEncodeError, match="ZIP") as caught:
        encode([make_claim("CBZIP01", billing=short_zip)])
    assert caught.value.field == "#billing.address.postalCode"

    no_pcn = without(make_claim("CBX"), "identifier", 0)
    with pytest.raises(ClaimEncodeError) as caught:
        encode([no_pcn])
    assert caught.value.record == "claims[0]"


def test_batch_level_errors():
    with pytest.raises(ValueError, match="at least one claim"):
        encode([])
    with pytest.raises(ValueError, match="PCN CBDUP01 appears twice"):
        encode([make_claim("CBDUP01"), make_claim("CBDUP01")])
    with pytest.raises(ValueError, match="usage"):
        dataclasses.replace(ENVELOPE, usage="X")
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(ENVELOPE, created=datetime(2026, 3, 2, 14, 5))
    with pytest.raises(ValueError, match="isa13"):
        dataclasses.replace(ENVELOPE, isa13=1_000_000_000)
    assert isinstance(ENVELOPE, Envelope)


def test_amounts_beyond_cents_are_rounded_alike_on_lines_and_total():
    claim = make_claim("CBROUND01", extra_lines=(("90785", "20", (1,)),))
    claim["item"][0]["net"]["value"] = Decimal("150.005")
    claim["item"][1]["net"]["value"] = Decimal("20.005")
    claim["total"]["value"] = Decimal("170.02")
    segments = encode([claim]).claim_segments["CBROUND01"]
    assert segments[0].startswith("CLM*CBROUND01*170.02*")
    assert "SV1*HC:90837*150.01*UN*1***1~" in segments and "SV1*HC:90785*20.01*UN*1***1~" in segments


def test_round_trip_reader_and_writer_give_the_same_bytes(week):
    from claimbridge.x12.writer import serialize_segment

    def elements(seg):
        if seg.id == "ISA":
            return seg.elements
        return [tuple(seg.components(n)) if seg.delimiters.component in value else value
                for n, value in enumerate(seg.elements, start=1)]

    rebuilt = "".join(serialize_segment(seg.id, elements(seg), seg.delimiters) + "~\n"
                      for seg in iter_segments(week.text))
    assert rebuilt == week.text
    assert week.text.isascii()


def test_envelope_ids_cannot_carry_delimiters():
    with pytest.raises(ValueError, match="sender_id must be printable ASCII"):
        dataclasses.replace(ENVELOPE, sender_id="ACME*01")


def test_more_than_100_claims_for_one_subscriber_open_another_hl():
    claims = [make_claim(f"CBMANY{n:03d}") for n in range(101)]
    claims += [make_claim(f"CBKID{n:03d}", relationship="child",
                          patient=person("patient", "Okafor", ["Mia"], "2014-06-01", "female")) for n in range(101)]
    encoded = encode(claims)
    hls = [seg.elements for seg in iter_segments(encoded.text) if seg.id == "HL"]
    assert hls == [["1", "", "20", "1"], ["2", "1", "22", "0"], ["3", "1", "22", "0"],
                   ["4", "1", "22", "1"], ["5", "4", "23", "0"], ["6", "4", "23", "0"]]
    assert validate_x12(encoded.text).problems == []


def test_credentials_in_a_name_suffix_do_not_reach_nm107():
    from claimbridge.x12._claim_view import ClaimView

    view = ClaimView({"identifier": [{"system": "https://claimbridge.dev/fhir/sid/pcn", "value": "CB1"}]}, 0)
    name = view.person_name({"name": [{"family": "Vale", "given": ["Ana"], "suffix": ["PsyD", "Jr."]}]}, "x")
    assert name.suffix == "Jr"
    assert view.person_name({"name": [{"family": "Vale", "suffix": ["LCSW"]}]}, "x").suffix == ""
