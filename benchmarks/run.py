"""claimbridge benchmarks: each figure is printed next to a baseline measured in the same run, so the ratio —
not the absolute time on a shared, noisy machine — is what we track.

    python benchmarks/run.py [--copies N] [--claims N] [--repeat R] [--scrub-claims N] [--post-claims N]
                             [--sp-sessions N]

1. encounters → stored Claims per second (bundle parse, build, FHIR validation, scrubbing against the store,
   JSON, database insert, events, claim lines),
   against a JSON round trip (dumps + loads) of the same bundles.
2. 837P encode + pyx12 validation per claim, against pyx12 validating a TR3 example 837P from the shared corpus
   repeated to a file of the same size (when the corpus is present), and against validation alone.
3. scrubbing (all rules) per second, against json.loads of the same claims (benchmarks/scrub_bench.py).
4. 835 posting into SQLite per second, against pyx12 validating the same kind of file
   (benchmarks/posting_bench.py). The typed 835 parse is benchmarks/x12_parse_bench.py.
5. SimplePractice export folder → encounter records per second, against csv.reader + json.dumps of the same
   files; an incremental pull that finds nothing new; peak memory (benchmarks/simplepractice_bench.py).
6. eligibility: appointment bundles → 270 questions → 270 file (encode + check) → 271 read and assessed, against
   json.loads / str.split of the same data (benchmarks/eligibility_bench.py, run on its own).
7. not a default step (it loads 1,000,000 claims): admin UI/API latency p50/p95/p99 of the claims list, counts,
   reports and the dashboard against GET /api/v1/me, on SQLite or PostgreSQL (benchmarks/web_bench.py).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from claimbridge.config import Settings
from claimbridge.plugins.ehr_fhir import demo_data

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "x12"
TR3_EXAMPLE = CORPUS / "imsweb__x12-parser" / "837_5010_x12_many_claims.txt"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def demo_profiles():
    from claimbridge.claims.scrub.profiles import PayerProfile, ProfileSet, builtin_profiles

    return ProfileSet([*builtin_profiles().values(),
                       *(PayerProfile(name=name, **fields) for name, fields in demo_data.demo_payer_profiles().items())])


def demo_settings() -> Settings:
    from claimbridge.pipeline import claim_settings_for

    settings = Settings.model_validate({
        "practice": demo_data.demo_practice_settings(),
        "submitter": {"id": "BENCH", "name": "Bench", "contact": {"name": "Office"}},
        "claims": {"fee_schedule": {k: str(v) for k, v in demo_data.demo_fee_schedule().items()}},
    })
    return settings.model_copy(update={"claims": claim_settings_for(settings.claims, demo_profiles())})


def bundles(copies: int) -> list[tuple[str, dict]]:
    today = dt.date(2026, 11, 27)
    resources = demo_data.demo_resources(today)
    code_map = demo_data.demo_code_map()
    held = {**demo_data.HELD_ENCOUNTERS, **demo_data.SCRUB_HELD_ENCOUNTERS}
    encounters = [r["id"] for r in resources if r["resourceType"] == "Encounter" and r["id"] not in held]
    base = [demo_data.encounter_bundle(resources, eid, code_map=code_map) for eid in encounters]
    out = []
    for n in range(copies):
        for bundle in base:
            clone = copy.deepcopy(bundle)
            encounter = clone["entry"][0]["resource"]
            encounter["id"] = f"{encounter['id']}-{n}"
            clone["entry"][0]["fullUrl"] = f"Encounter/{encounter['id']}"
            for entry in clone["entry"]:  # another patient per copy, or the scrubber holds duplicates
                if entry["resource"]["resourceType"] == "Coverage":
                    entry["resource"]["subscriberId"] = f"{entry['resource']['subscriberId']}{n:04d}"
            out.append((f"Encounter/{encounter['id']}", clone))
    return out


def bench_claims(copies: int, repeat: int) -> dict:
    """Encounters already stored → built, scrubbed and stored claim versions (with events and claim lines)."""
    from claimbridge import EhrSource, Record, Stream
    from claimbridge.claims.intake import build_pending_claims
    from claimbridge.claims.review import Reviewer
    from claimbridge.claims.scrub.engine import Scrubber
    from claimbridge.plugin_host import create_plugin_host
    from claimbridge.store import open_store
    from claimbridge.sync import SyncRunner

    data = bundles(copies)
    settings = demo_settings()
    plugins = create_plugin_host()

    class Memory(Stream):
        name = "encounters"

        def read(self, since, until):
            for key, bundle in data:
                yield Record(key=key, cursor=None, data=bundle)

    class Source(EhrSource):
        type_name = "memory"

        def streams(self):
            return [Memory()]

    def build_all():
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{tmp}/bench.db")
            SyncRunner(store).run(Source("bench", None))
            reviewer = Reviewer(Scrubber(plugins.scrub_rules.values(), demo_profiles()), dt.date(2026, 11, 27))
            start = time.perf_counter()
            result = build_pending_claims(store, settings, plugins, reviewer=reviewer)
            elapsed = time.perf_counter() - start
            store.dispose()
            assert result.built == len(data) and not result.held, result.held[:3]
            return elapsed

    build_time = min(build_all() for _ in range(repeat))
    texts = [json.dumps(b) for _k, b in data]
    baseline = best_of(repeat, lambda: [json.loads(json.dumps(json.loads(t))) for t in texts])
    return {"encounters": len(data), "claims_per_s": len(data) / build_time,
            "json_roundtrips_per_s": len(data) / baseline, "ratio": build_time / baseline}


def bench_837(claim_count: int, repeat: int) -> dict:
    from claimbridge.claims import build
    from claimbridge.claims.identifiers import make_pcn
    from claimbridge.x12.encode_837p import Envelope, Submitter, encode_837p
    from claimbridge.x12.validate import validate_x12

    settings = demo_settings()
    data = bundles(max(1, claim_count // 25 + 1))[:claim_count]
    claims = [build.build_claim(b, source="bench", pcn=make_pcn("BN", i + 1, 1), version=1,
                                claim_settings=settings.claims, practice=settings.practice,
                                created=dt.date(2026, 11, 27)) for i, (_k, b) in enumerate(data)]
    envelope = Envelope(sender_qualifier="ZZ", sender_id="BENCH", receiver_qualifier="ZZ", receiver_id="CH",
                        gs_sender="BENCH", gs_receiver="CH", usage="T", isa13=1, gs06=1, st02=1,
                        created=dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC))
    submitter = Submitter(id="BENCH", name="Bench", contact_name="Office", phone="2175550100", email=None)
    encoded = None

    def encode_and_validate():
        nonlocal encoded
        encoded = encode_837p(claims, envelope=envelope, submitter=submitter, receiver_name="CH")
        report = validate_x12(encoded.text, name="bench.837")
        assert report.ok, report.problems[:3]

    ours = best_of(repeat, encode_and_validate)
    validate_only = best_of(repeat, lambda: validate_x12(encoded.text, name="bench.837"))
    result = {"claims": len(claims), "file_bytes": len(encoded.text),
              "encode_validate_ms_per_claim": ours / len(claims) * 1000,
              "validate_only_ms_per_claim": validate_only / len(claims) * 1000,
              "ratio_vs_validate_only": ours / validate_only}
    if TR3_EXAMPLE.exists():
        example = tr3_example_of_size(len(encoded.text))
        example_claims = example.count("~CLM*") + example.count("\nCLM*")
        tr3 = best_of(repeat, lambda: validate_x12(example, name=TR3_EXAMPLE.name))
        result |= {"tr3_example_claims": example_claims, "tr3_example_bytes": len(example),
                   "tr3_validate_ms_per_claim": tr3 / max(example_claims, 1) * 1000,
                   "ratio_vs_tr3_example": (ours / len(claims)) / (tr3 / max(example_claims, 1))}
    return result


def tr3_example_of_size(size: int) -> str:
    """The corpus example cut (or repeated) at subscriber boundaries to about ``size`` bytes, with HL numbers
    and SE01 renumbered so the file stays valid."""
    text = TR3_EXAMPLE.read_text().replace("\r", "").replace("\n", "")
    terminator, element = text[105], text[3]
    segments = [s for s in text.split(terminator) if s]

    def hl_level(segment: str) -> str | None:
        parts = segment.split(element)
        return parts[3] if parts[0] == "HL" else None

    first = next(i for i, s in enumerate(segments) if hl_level(s) == "22")
    se_index = next(i for i, s in enumerate(segments) if s.startswith(f"SE{element}"))
    head, body, tail = segments[:first], segments[first:se_index], segments[se_index:]
    # blocks that can be cut or repeated safely: from one subscriber (22) or billing (20) HL to the next
    blocks: list[list[str]] = []
    for segment in body:
        if hl_level(segment) in ("20", "22") or not blocks:
            blocks.append([])
        blocks[-1].append(segment)
    billing = max(int(s.split(element)[1]) for s in head if hl_level(s))
    out_body: list[str] = []
    hl, length, n = billing, sum(len(s) + 1 for s in head + tail), 0
    while length < size:
        mapping = {}
        for segment in blocks[n % len(blocks)]:
            if hl_level(segment):
                parts = segment.split(element)
                hl += 1
                mapping[parts[1]] = str(hl)
                parts[1] = str(hl)
                if parts[2]:
                    parts[2] = mapping.get(parts[2], str(billing))
                segment = element.join(parts)
            out_body.append(segment)
            length += len(segment) + 1
        n += 1
    st = next(i for i, s in enumerate(head) if s.startswith(f"ST{element}"))
    se = tail[0].split(element)
    se[1] = str(len(head) - st + len(out_body) + 1)
    return terminator.join(head + out_body + [element.join(se)] + tail[1:]) + terminator


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="copies of the 25 demo encounters (default 20)")
    parser.add_argument("--claims", type=int, default=200, help="claims in the 837 benchmark (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--scrub-claims", type=int, default=20_000, help="claims in the scrub benchmark")
    parser.add_argument("--post-claims", type=int, default=5_000, help="claims in the 835 posting benchmark")
    parser.add_argument("--sp-sessions", type=int, default=5_000,
                        help="billing rows in the SimplePractice benchmark (default 5,000)")
    args = parser.parse_args(argv)

    claims = bench_claims(args.copies, args.repeat)
    print(f"encounters → built, scrubbed, stored Claims: {claims['claims_per_s']:.0f}/s over {claims['encounters']} encounters; "
          f"baseline JSON round trip {claims['json_roundtrips_per_s']:.0f}/s; "
          f"ratio (time ours / baseline) {claims['ratio']:.1f}")
    x12 = bench_837(args.claims, args.repeat)
    line = (f"837P encode + pyx12 validation: {x12['encode_validate_ms_per_claim']:.2f} ms/claim "
            f"({x12['claims']} claims, {x12['file_bytes']} bytes); validation alone "
            f"{x12['validate_only_ms_per_claim']:.2f} ms/claim; ratio {x12['ratio_vs_validate_only']:.2f}")
    print(line)
    if "tr3_example_claims" in x12:
        print(f"  baseline pyx12 on the TR3 example repeated to {x12['tr3_example_bytes']} bytes "
              f"({x12['tr3_example_claims']} claims): {x12['tr3_validate_ms_per_claim']:.2f} ms/claim; "
              f"ratio {x12['ratio_vs_tr3_example']:.2f}")
    else:
        print(f"  (corpus example {TR3_EXAMPLE} not found: TR3 baseline skipped)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scrub_bench import bench_scrub

    scrub = bench_scrub(args.scrub_claims)
    print(f"scrub, all {scrub['rules']} rules: {scrub['scrub_per_second']:,.0f} claims/s; baseline json.loads of the "
          f"same claims {scrub['parse_per_second']:,.0f}/s; ratio (time ours / baseline) "
          f"{scrub['scrub_to_parse_ratio']:.2f}")
    from posting_bench import main as bench_posting

    posting = bench_posting(["--claims", str(args.post_claims), "--repeat", str(args.repeat)])
    from simplepractice_bench import main as bench_simplepractice

    simplepractice = bench_simplepractice(["--sessions", str(args.sp_sessions), "--repeat", str(args.repeat)])
    print(json.dumps({"claims": claims, "x12": x12, "scrub": scrub, "posting": posting,
                      "simplepractice": simplepractice},
                     default=lambda v: str(v) if isinstance(v, Decimal) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
