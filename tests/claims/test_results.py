"""835 results as FHIR: ClaimResponse and PaymentReconciliation from parsed remittances (synthetic ones and the
shared corpus), validated with the fhir.resources R4B models; the remittance_posted hook and its failures."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from claimbridge import hookimpl
from claimbridge.claims.money import claim_from_json, claim_to_json
from claimbridge.claims.results import (
    CARC_SYSTEM,
    CAS_GROUP_SYSTEM,
    OUTCOMES,
    RARC_SYSTEM,
    RESPONSE_SYSTEM,
    PostedClaimResponse,
    RemittancePosted,
    claim_response,
    payment_reconciliation,
)
from claimbridge.claims.systems import PCN_SYSTEM
from claimbridge.plugin_host import HookFailure, create_plugin_host
from claimbridge.x12.responses import balance_835, parse_x12
from tests.x12.corpus import corpus_files

NO_BUILTINS = {"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir,clearinghouse_sftp,ehr_simplepractice"}
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLAIMBRIDGE    *260302*1405*^*00501*000000001*0*T*:~"


def remit(body: str, *, total: str, credit: str = "C", plb: str = "") -> str:
    """A one-transaction 835 around ``body`` (LX and CLP loops)."""
    segments = (f"ST*835*0001~BPR*I*{total}*{credit}*ACH*CCP*01*999999999*DA*1*1512345678**01*999988880*DA*2*"
                f"20260310~TRN*1*TRACE 1/A*1512345678~DTM*405*20260309~N1*PR*PRAIRIE STATE MEDICAID~"
                f"REF*2U*PSMCD~N1*PE*RIVERBEND COUNSELING*XX*1234567893~LX*1~{body}{plb}")
    count = segments.count("~") + 1
    return (ISA + "GS*HP*PAYER*CB*20260302*1405*7*X*005010X221A1~" + segments
            + f"SE*{count}*0001~GE*1*7~IEA*1*000000001~")


def one(text: str):
    [tx] = parse_x12(text).transactions
    return tx


PCN = "CB0000001501"
# two lines of the demo claim for enc-007 (90834, 96127 x2); the second pays "150" and "32.5" with their digits
PAID = (f"CLP*{PCN}*1*170.00*137.50*32.50*MC*PAYER-CLM-1*11*1~NM1*QC*1*DOE*JANE****MI*M123~MOA***MA01~"
        "SVC*HC:90834:GT*140.00*105.00**1~DTM*472*20261119~CAS*CO*45*10.00~CAS*PR*2*25.00~"
        f"REF*6R*{PCN}001~AMT*B6*130.00~LQ*HE*N130~"
        "SVC*HC:96127*30*32.5**2~DTM*472*20261119~CAS*PR*1*7.50*1~CAS*CO*45*-10~"
        f"REF*6R*{PCN}002~LQ*HE*N130~LQ*HE*M15~")


def validate(resource: dict) -> dict:
    """Through JSON and back (as stored), then the R4B model; returns the round-tripped resource."""
    text = claim_to_json(resource)
    again = claim_from_json(text)
    get_fhir_model_class(resource["resourceType"]).model_validate(again)
    return again


def categories(adjudication: dict) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in adjudication["category"]["coding"]}


def by_code(adjudications: list[dict], system: str, code: str) -> list[dict]:
    return [a for a in adjudications if (system, code) in categories(a)]


@pytest.fixture
def claim(bundle_of, build):
    return build(bundle_of("enc-007"))


@pytest.fixture
def paid():
    return one(remit(PAID, total="137.50"))


def test_paid_claim_maps_lines_adjudication_totals_and_payment(claim, paid):
    payment = paid.claims[0]
    response = claim_response(payment, paid, outcome="paid", claim=claim, line_sequences=[1, 2],
                              identifier="remit-9/claim-1")
    out = validate(response)
    assert out["status"] == "active" and out["use"] == "claim" and out["outcome"] == "complete"
    assert out["type"]["coding"][0]["code"] == "professional"
    assert out["identifier"][0] == {"system": RESPONSE_SYSTEM, "value": "remit-9/claim-1"}
    assert out["identifier"][1]["value"] == "PAYER-CLM-1"
    assert out["request"] == {"type": "Claim", "identifier": {"system": PCN_SYSTEM, "value": PCN}}
    assert out["created"] == "2026-03-10"
    assert out["insurer"]["identifier"]["value"] == "PSMCD" and out["insurer"]["display"] == "Prairie State Medicaid"
    # the claim's contained Patient is not in the ClaimResponse: a logical reference by member id
    assert out["patient"]["type"] == "Patient" and out["patient"]["identifier"]["type"]["coding"][0]["code"] == "MB"
    assert "reference" not in out["patient"]
    assert out["disposition"].startswith("Paid (CLP02 1: processed as primary")

    first, second = out["item"]
    assert (first["itemSequence"], second["itemSequence"]) == (1, 2)
    assert by_code(first["adjudication"], ADJUDICATION, "submitted")[0]["amount"]["value"] == Decimal("140.00")
    assert by_code(first["adjudication"], ADJUDICATION, "eligible")[0]["amount"]["value"] == Decimal("130.00")
    assert by_code(first["adjudication"], ADJUDICATION, "benefit")[0]["amount"]["value"] == Decimal("105.00")
    [coinsurance] = [a for a in first["adjudication"] if ("http://hl7.org/fhir/us/carin-bb/CodeSystem/"
                                                          "C4BBAdjudication", "coinsurance") in categories(a)]
    assert (CAS_GROUP_SYSTEM, "PR") in categories(coinsurance)
    assert coinsurance["reason"]["coding"] == [{"system": CARC_SYSTEM, "code": "2"}]
    [contractual] = by_code(first["adjudication"], CAS_GROUP_SYSTEM, "CO")
    assert contractual["reason"]["coding"][0]["code"] == "45" and contractual["amount"]["value"] == Decimal("10.00")
    [deductible] = by_code(second["adjudication"], ADJUDICATION, "deductible")
    assert deductible["amount"]["value"] == Decimal("7.50")
    assert deductible["extension"][0]["valueDecimal"] == Decimal("1")  # the CAS quantity
    assert not by_code(second["adjudication"], ADJUDICATION, "eligible")  # no AMT*B6 on that line

    totals = {t["category"]["coding"][0]["code"]: t["amount"] for t in out["total"]}
    assert totals["submitted"] == {"value": Decimal("170.00"), "currency": "USD"}
    assert totals["benefit"]["value"] == Decimal("137.50") and totals["memberliability"]["value"] == Decimal("32.50")
    assert out["payment"]["amount"]["value"] == Decimal("137.50") and out["payment"]["date"] == "2026-03-10"
    assert out["payment"]["identifier"]["value"] == "TRACE 1/A"
    assert out["payment"]["identifier"]["system"] == "urn:claimbridge:trace-number:1512345678"
    assert "addItem" not in out and "adjudication" not in out


def test_money_keeps_exactly_the_digits_of_the_835(claim, paid):
    response = claim_response(paid.claims[0], paid, outcome="paid", claim=claim, line_sequences=[1, 2],
                              identifier="r")
    text = claim_to_json(response)
    assert '"value": 150,' not in text  # nothing is rounded or padded through a float
    assert '"value": 30, "currency": "USD"' in text and '"value": 32.5, "currency": "USD"' in text
    assert '"value": -10, "currency": "USD"' in text
    assert '"value": 137.50' in text


def test_remarks_become_numbered_process_notes_that_items_refer_to(claim, paid):
    out = validate(claim_response(paid.claims[0], paid, outcome="paid", claim=claim, line_sequences=[1, 2],
                                  identifier="r"))
    notes = {n["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]: n for n in out["processNote"]}
    assert list(notes) == ["MA01", "N130", "M15"]  # claim level (MOA) first, then in line order, once each
    assert {n["extension"][0]["valueCodeableConcept"]["coding"][0]["system"] for n in notes.values()} == {RARC_SYSTEM}
    assert [n["number"] for n in notes.values()] == [1, 2, 3]
    assert notes["N130"]["text"].startswith("N130: ") and notes["N130"]["type"] == "display"
    assert out["item"][0]["noteNumber"] == [2] and out["item"][1]["noteNumber"] == [2, 3]


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_posting_outcome_gives_a_valid_response(outcome, claim, paid):
    matched = outcome != "unmatched"
    out = validate(claim_response(paid.claims[0], paid, outcome=outcome, claim=claim if matched else None,
                                  line_sequences=[1, 2] if matched else [None, None], identifier="r"))
    assert out["outcome"] == OUTCOMES[outcome][0]
    assert out["disposition"].startswith(OUTCOMES[outcome][1])


def test_unmatched_claim_lines_are_added_items_and_the_patient_comes_from_the_835(paid):
    out = validate(claim_response(paid.claims[0], paid, outcome="unmatched", claim=None,
                                  line_sequences=[None, None], identifier="r"))
    assert out["outcome"] == "error" and "item" not in out
    first, second = out["addItem"]
    assert first["productOrService"]["coding"] == [{"system": "http://www.ama-assn.org/go/cpt", "code": "90834"}]
    assert first["modifier"][0]["coding"][0]["code"] == "GT"
    assert first["servicedDate"] == "2026-11-19" and first["net"]["value"] == Decimal("140.00")
    assert second["quantity"]["value"] == Decimal("2") and second["noteNumber"] == [2, 3]
    assert out["patient"]["identifier"]["value"] == "M123"  # NM1*QC MI
    assert out["insurer"]["identifier"]["value"] == "PSMCD"  # from REF*2U without a claim
    assert out["request"]["identifier"]["value"] == PCN


def test_an_unmatched_line_of_a_matched_claim_is_an_added_item(claim, paid):
    out = validate(claim_response(paid.claims[0], paid, outcome="partially_paid", claim=claim,
                                  line_sequences=[1, None], identifier="r"))
    assert [i["itemSequence"] for i in out["item"]] == [1]
    assert [a["productOrService"]["coding"][0]["code"] for a in out["addItem"]] == ["96127"]
    assert out["outcome"] == "partial"


def test_two_svcs_paying_one_claim_item_share_one_item(claim, paid):
    out = validate(claim_response(paid.claims[0], paid, outcome="paid", claim=claim, line_sequences=[2, 2],
                                  identifier="r"))
    [item] = out["item"]
    assert item["itemSequence"] == 2 and item["noteNumber"] == [2, 3]
    assert len(by_code(item["adjudication"], ADJUDICATION, "submitted")) == 2


def test_without_a_member_id_the_patient_is_named_without_phi(paid):
    text = remit(PAID.replace("NM1*QC*1*DOE*JANE****MI*M123~", "NM1*QC*1*DOE*JANE****34*123456789~"),
                 total="137.50")
    tx = one(text)
    out = validate(claim_response(tx.claims[0], tx, outcome="unmatched", claim=None,
                                  line_sequences=[None, None], identifier="r"))
    assert out["patient"] == {"type": "Patient", "display": f"the patient of claim {PCN}"}
    assert "123456789" not in claim_to_json(out)  # a social security number is never used


def test_a_patient_identifier_on_the_claim_is_preferred(claim, paid):
    patient = next(r for r in claim["contained"] if r["id"] == "patient")
    patient["identifier"] = [{"system": "urn:oid:1.2.3.4", "value": "MRN-1"}]
    out = claim_response(paid.claims[0], paid, outcome="paid", claim=claim, line_sequences=[1, 2],
                         identifier="r")
    assert out["patient"] == {"type": "Patient", "identifier": {"system": "urn:oid:1.2.3.4", "value": "MRN-1"}}


def test_claim_level_cas_is_claim_level_adjudication_and_reversals_stay_negative(claim):
    body = (f"CLP*{PCN}*22*-170.00*-137.50*-32.50*MC*PAYER-CLM-1*11*1~CAS*CO*45*-10.00~CAS*PR*2*-22.50~"
            "SVC*HC:90834:GT*-140.00*-105.00**-1~DTM*472*20261119~"
            "SVC*HC:96127*-30.00*-32.50**-2~DTM*472*20261119~")
    tx = one(remit(body, total="137.50", credit="D"))
    out = validate(claim_response(tx.claims[0], tx, outcome="reversal", claim=claim, line_sequences=[1, 2],
                                  identifier="r"))
    assert [a["reason"]["coding"][0]["code"] for a in out["adjudication"]] == ["45", "2"]
    assert out["adjudication"][1]["amount"]["value"] == Decimal("-22.50")
    assert out["payment"]["amount"]["value"] == Decimal("-137.50")
    assert out["disposition"].startswith("Reversal")


def test_caller_mistakes_are_value_errors(claim, paid):
    with pytest.raises(ValueError, match="outcome 'settled'"):
        claim_response(paid.claims[0], paid, outcome="settled", claim=claim, line_sequences=[1, 2], identifier="r")
    with pytest.raises(ValueError, match="1 entries for 2 service lines"):
        claim_response(paid.claims[0], paid, outcome="paid", claim=claim, line_sequences=[1], identifier="r")
    with pytest.raises(ValueError, match="0 entries for 1 claims"):
        payment_reconciliation(paid, identifier="p", response_identifiers=[])


# ------------------------------------------------------------------------------------ PaymentReconciliation


def detail_sum(resource: dict) -> Decimal:
    return sum((d["amount"]["value"] for d in resource.get("detail") or ()), Decimal(0))


def test_reconciliation_details_sum_to_the_payment_with_interest_and_recoupment():
    second = PAID.replace(PCN, "CB0000002A01").replace("PAYER-CLM-1", "PAYER-CLM-2")
    tx = one(remit(PAID + second, total="270.00", plb="PLB*1234567893*20261231*L6:INT*-5.00*WO:CB0000000X01*10.00~"))
    assert balance_835(tx) == []
    out = validate(payment_reconciliation(tx, identifier="remit-9", response_identifiers=["r1", "r2"]))
    assert out["paymentAmount"] == {"value": Decimal("270.00"), "currency": "USD"}
    assert detail_sum(out) == Decimal("270.00")
    assert out["paymentDate"] == "2026-03-10" and out["outcome"] == "complete" and out["status"] == "active"
    assert out["paymentIdentifier"] == {"system": "urn:claimbridge:trace-number:1512345678", "value": "TRACE 1/A"}
    assert out["paymentIssuer"]["display"] == "PRAIRIE STATE MEDICAID"
    assert out["requestor"]["identifier"]["value"] == "1234567893"
    claims = [d for d in out["detail"] if d["type"]["coding"][0]["code"] == "payment"]
    assert [d["response"]["identifier"] for d in claims] == [{"system": RESPONSE_SYSTEM, "value": "r1"},
                                                             {"system": RESPONSE_SYSTEM, "value": "r2"}]
    assert claims[1]["request"]["identifier"] == {"system": PCN_SYSTEM, "value": "CB0000002A01"}
    interest, recoupment = [d for d in out["detail"] if d["type"]["coding"][0]["code"] == "adjustment"]
    assert interest["amount"]["value"] == Decimal("5.00") and recoupment["amount"]["value"] == Decimal("-10.00")
    reason = recoupment["extension"][0]["valueCodeableConcept"]
    assert reason["coding"][0]["code"] == "WO" and reason["text"] == "overpayment recovery"
    assert recoupment["identifier"]["value"] == "CB0000000X01"


def test_a_debit_remittance_has_a_negative_payment_that_the_details_match():
    body = (f"CLP*{PCN}*22*-170.00*-137.50*-32.50*MC*PAYER-CLM-1*11*1~CAS*CO*45*-10.00~CAS*PR*2*-22.50~")
    tx = one(remit(body, total="137.50", credit="D"))
    assert balance_835(tx) == []
    out = validate(payment_reconciliation(tx, identifier="p", response_identifiers=["r"]))
    assert out["paymentAmount"]["value"] == Decimal("-137.50") == detail_sum(out)


# ------------------------------------------------------------------------------------------- the corpus


def _corpus_835s() -> list:
    remittances = []
    for path in corpus_files():
        try:
            parsed = parse_x12(path)
        except Exception:  # noqa: BLE001 - malformed samples are the parse tests' business
            continue
        remittances += [pytest.param(tx, id=f"{path.parent.name}/{path.name}#{n}")
                        for n, tx in enumerate(t for t in parsed.transactions if t.type == "835")]
    return remittances or [pytest.param(None, marks=pytest.mark.skip(reason="no 835 samples in the X12 corpus"))]


@pytest.mark.parametrize("remittance", _corpus_835s())
def test_corpus_835s_give_valid_resources_whose_details_sum(remittance, claim):
    ids = []
    for n, payment in enumerate(remittance.claims):
        ids.append(f"corpus-{n}")
        validate(claim_response(payment, remittance, outcome="unmatched", claim=None,
                                line_sequences=[None] * len(payment.lines), identifier=ids[-1]))
        validate(claim_response(payment, remittance, outcome="paid", claim=claim,
                                line_sequences=list(range(1, len(payment.lines) + 1)), identifier=ids[-1]))
    out = validate(payment_reconciliation(remittance, identifier="corpus", response_identifiers=ids))
    if not balance_835(remittance):
        assert detail_sum(out) == out["paymentAmount"]["value"]


# ------------------------------------------------------------------------------------ remittance_posted


def posted_remittance(claim_resource: dict) -> RemittancePosted:
    return RemittancePosted(
        remittance_id=9, payer_key="1512345678", trace_number="TRACE 1/A", payment_reconciliation={},
        claim_responses=(PostedClaimResponse(claim_id=41, pcn=PCN, source="demo", encounter_key="Encounter/enc-007",
                                             outcome="paid", resource=claim_resource),),
        settings=None, config_dir=Path("."))  # type: ignore[arg-type]


def test_remittance_posted_failures_are_returned_to_the_caller_and_the_others_still_run():
    seen = []

    class Listener:
        @hookimpl
        def remittance_posted(self, remittance):
            seen.append([r.pcn for r in remittance.claim_responses])

    class Broken:
        @hookimpl
        def remittance_posted(self, remittance):
            raise RuntimeError("server said no")

    broken = Broken()
    host = create_plugin_host([Listener(), broken], env=NO_BUILTINS)
    failures = host.notify("remittance_posted", remittance=posted_remittance({}))
    assert seen == [[PCN]]
    [failure] = failures
    assert isinstance(failure, HookFailure) and failure.plugin == host.pm.get_name(broken)
    assert failure.describe().endswith("RuntimeError: server said no") and str(failure) == failure.describe()
    assert host.notify("claim_status_changed", event=None) == []  # no implementation, nothing failed


def test_hook_payload_is_frozen():
    posted = posted_remittance({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        posted.trace_number = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        posted.claim_responses[0].outcome = "denied"  # type: ignore[misc]


def test_created_falls_back_to_today_without_any_date(claim):
    tx = one(remit(PAID, total="137.50"))
    tx.payment.date = tx.production_date = None  # the parser requires BPR16; an object built by hand may lack it
    out = validate(claim_response(tx.claims[0], tx, outcome="paid", claim=claim, line_sequences=[1, 2],
                                  identifier="r"))
    assert out["created"] == datetime.now(UTC).date().isoformat() and "date" not in out["payment"]
    assert validate(payment_reconciliation(tx, identifier="p", response_identifiers=["r"]))["paymentDate"] == \
        out["created"]
