"""Eligibility throughput: appointment bundles → 270 questions → one 270 file → the sandbox's 271 → answers
assessed, each step beside a baseline measured in the same run (the ratio is what we track).

    python benchmarks/eligibility_bench.py [--appointments N] [--repeat R]

Steps (CPU seconds of this process, best of ``repeat``):

* **questions**: :func:`claimbridge.eligibility.inquiries.appointment_of` + the inquiry for each stored bundle
  (JSON text as ``source_records`` keeps it), against ``json.loads`` of the same payloads;
* **270**: ``encode_270`` of every question into one interchange plus the structural ``check_270``, against
  splitting the written file into segments and elements with ``str.split``;
* **271**: reading the sandbox's 271 for that file with ``iter_transactions`` and assessing every answer
  (:func:`claimbridge.eligibility.assess.assess`: coverage on the day, copay, deductible, visits, carve-outs),
  against ``str.split`` of the 271.

Figures, 2026-11-27, 2 cores shared with other work, 2,000 appointments (one question each), best of 3:

    2,000 appointments; 270 0.30 MB, 271 0.97 MB
    step          per second    baseline/s    ratio
    questions         19,524        27,210      1.4     (json.loads of the payloads)
    270                9,139       748,022     81.8     (str.split of the 270; encode + structural check)
    271                5,348       187,505     35.1     (str.split of the 271; parse + assess)

A practice's day (tens to a few hundred sessions) is asked, checked and read in well under a second; the typed
reading and the per-answer assessment cost tens of str.split passes, as the 835 reader does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NIIP = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NIIP"}]},
        "value": "LKSHP"}
SCENARIOS = ("", "INACTIVE", "CARVEOUT", "NOVISITS", "AUTH", "HIGHDED")


def bundle(n: int, day: date) -> dict:
    member = f"LK{n:07d}{SCENARIOS[n % len(SCENARIOS)]}"
    dependent = n % 7 == 0
    resources = [
        {"resourceType": "Appointment", "id": f"a{n}", "status": "booked",
         "start": f"{day.isoformat()}T{9 + n % 8:02d}:00:00-05:00",
         "participant": [{"actor": {"reference": f"Patient/p{n}"}}, {"actor": {"reference": "Practitioner/pr"}}]},
        {"resourceType": "Patient", "id": f"p{n}", "name": [{"family": f"Doe{n}", "given": ["Sam", "Q"]}],
         "birthDate": "2011-04-05" if dependent else "1984-02-03", "gender": "female"},
        {"resourceType": "Coverage", "id": f"c{n}", "status": "active", "order": 1, "subscriberId": member,
         "beneficiary": {"reference": f"Patient/p{n}"}, "payor": [{"reference": "Organization/payer"}],
         "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                      "code": "child" if dependent else "self"}]},
         **({"subscriber": {"reference": f"RelatedPerson/r{n}"}} if dependent else {})},
        {"resourceType": "Organization", "id": "payer", "name": "Lakeshore Health Plan", "identifier": [NIIP]},
        {"resourceType": "Practitioner", "id": "pr", "name": [{"family": "Rivera", "given": ["Ana"]}],
         "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1245319599"}]},
    ]
    if dependent:
        resources.append({"resourceType": "RelatedPerson", "id": f"r{n}", "patient": {"reference": f"Patient/p{n}"},
                          "name": [{"family": f"Doe{n}", "given": ["Pat"]}], "birthDate": "1979-01-01",
                          "gender": "male"})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def best(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return min(times), result


def split(text: str) -> int:
    return sum(len(segment.split("*")) for segment in text.split("~"))


def main() -> None:
    from claimbridge.eligibility.assess import assess
    from claimbridge.eligibility.inquiries import appointment_of
    from claimbridge.plugins.clearinghouse_sftp.responder_271 import answer_270
    from claimbridge.x12.eligibility import Provider, check_270, encode_270
    from claimbridge.x12.encode_837p import Envelope
    from claimbridge.x12.responses import iter_transactions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    day = date.today() + timedelta(days=1)
    payloads = [json.dumps(bundle(n, day), sort_keys=True) for n in range(args.appointments)]
    provider = Provider(npi="1245319599", name="Good Mind Counseling")

    def questions():
        out = []
        for n, payload in enumerate(payloads):
            appointment = appointment_of(f"Appointment/a{n}", json.loads(payload))
            out.append(appointment.inquiry(provider=provider, trace_number=f"CB{n:012d}", service_types=("MH",)))
        return out

    base_q, _ = best(args.repeat, lambda: [json.loads(p) for p in payloads])
    time_q, inquiries = best(args.repeat, questions)
    envelope = Envelope(sender_qualifier="ZZ", sender_id="CLAIMBRIDGE", receiver_qualifier="ZZ",
                        receiver_id="SANDBOXCH", gs_sender="CLAIMBRIDGE", gs_receiver="SANDBOXCH", usage="T",
                        isa13=1, gs06=1, st02=1, created=datetime.now(UTC))

    def file_270():
        text = encode_270(inquiries, envelope=envelope, trace_originator="1123456789").text
        report = check_270(text)
        assert report.ok, report.problems[:3]
        return text

    time_270, text_270 = best(args.repeat, file_270)
    base_270, _ = best(args.repeat, lambda: split(text_270))
    counter = iter(range(10, 10_000_000))
    text_271 = answer_270(text_270, control_numbers=lambda: next(counter)).eligibility_271.decode()

    def answers():
        assessed = 0
        for tx in iter_transactions(text_271):
            for response in getattr(tx, "responses", ()):
                assess(response, day, ("MH",), Decimal("250"))
                assessed += 1
        return assessed

    time_271, assessed = best(args.repeat, answers)
    base_271, _ = best(args.repeat, lambda: split(text_271))
    assert assessed == args.appointments, assessed
    n = args.appointments
    print(f"{n:,} appointments; 270 {len(text_270) / 1e6:.2f} MB, 271 {len(text_271) / 1e6:.2f} MB; best of {args.repeat}")
    print(f"{'step':<12}{'per second':>12}{'baseline/s':>14}{'ratio':>9}")
    for name, spent, base in (("questions", time_q, base_q), ("270", time_270, base_270),
                              ("271", time_271, base_271)):
        print(f"{name:<12}{n / spent:>12,.0f}{n / base:>14,.0f}{spent / base:>9.1f}")


if __name__ == "__main__":
    main()
