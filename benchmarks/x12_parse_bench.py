"""How fast claimbridge reads an 835, beside pyx12 validating the same data in the same run.

    python benchmarks/x12_parse_bench.py [SIZE_MB] [PYX12_MB] [--memory-mb N] [--repeat R]

``bench_835_parse(size_mb)`` writes a valid, balanced 005010X221A1 remittance of about ``size_mb`` MB (one
ST/SE, the therapy-practice claim loop below replicated with distinct PCNs and line control numbers: CLP, CAS,
NM1*QC, DTM*232/233, AMT*AU, two SVC lines each with DTM*472, CO and PR CAS, REF*6R, AMT*B6 and a LQ*HE
remark) and measures, in CPU seconds of this process (best of ``repeat``):

* **floor**: reading the file and splitting it into segments and elements with ``str.split`` alone — no
  checks, no objects; the baseline the other figures are compared with, measured in the same run, so the
  ratios hold on a busy machine where the absolute times do not;
* **tokenize**: :class:`claimbridge.x12.reader.SegmentTokens` over the file (a tuple per segment);
* **parse**: :func:`claimbridge.x12.responses.parse_x12` — typed objects, Decimal money, dates;
* **balance**: :func:`claimbridge.x12.responses.balance_835` on the parsed remittance;
* **pyx12**: :func:`claimbridge.x12.validate.validate_x12` on a smaller file made the same way (``pyx12_mb``,
  default 1 MB): pyx12 needs minutes for tens of MB, so it runs on the slice and its MB/s is compared.

``bench_835_memory(memory_mb)`` writes a file of about ``memory_mb`` MB made of many 835 transaction sets
(1,000 claims each) and, in a fresh interpreter, iterates :func:`~claimbridge.x12.responses.iter_transactions`
over its path: the peak resident memory it adds stays far below the file's size.

Issue 4 asks for at least 20 MB/s parse on one core.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_MB_PER_SECOND = 20.0
CLAIMS_PER_SET = 1000

ISA = ("ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*CLAIMBRIDGE    *261127*0700*^*00501*000000001*0*P*:~"
       "GS*HP*ACMEHEALTH*CLAIMBRIDGE*20261127*0700*1*X*005010X221A1~")
HEADER = ("ST*835*{st:04d}~"
          "BPR*I*{total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20261130~"
          "TRN*1*EFT{size:06d}-{st:04d}*1512345678~DTM*405*20261127~N1*PR*ACME HEALTH PLAN~N3*1 MAIN ST~"
          "N4*SPRINGFIELD*IL*62701~REF*2U*ACME01~PER*BL*EDI SUPPORT*TE*8005551212~"
          "N1*PE*GOOD MIND COUNSELING*XX*1234567893~N3*22 ELM ST~N4*SPRINGFIELD*IL*62702~REF*TJ*123456789~LX*1~")
CLAIM = ("CLP*CB{n:08d}*1*300.00*210.00*40.00*12*ACME{n:010d}*11*1~NM1*QC*1*DOE*JANE*Q***MI*MBR{n:09d}~"
         "DTM*232*20261102~DTM*233*20261102~AMT*AU*250.00~"
         "SVC*HC:90837:95*150.00*105.00**1~DTM*472*20261102~CAS*CO*45*25.00~CAS*PR*2*20.00~"
         "REF*6R*CB{n:08d}-1~AMT*B6*125.00~LQ*HE*N130~"
         "SVC*HC:90834*150.00*105.00**1~DTM*472*20261102~CAS*CO*45*25.00~CAS*PR*2*20.00~"
         "REF*6R*CB{n:08d}-2~AMT*B6*125.00~")
PAID_PER_CLAIM = 210


def write_835(path: Path, size_mb: float, *, claims_per_set: int | None = None) -> int:
    """Write a balanced 835 of about ``size_mb`` MB to ``path``: one transaction set, or sets of
    ``claims_per_set`` claims. Returns the number of claims."""
    claims = max(1, int(size_mb * 1_000_000 / len(CLAIM.format(n=0))))
    per_set = claims_per_set or claims
    with open(path, "w", encoding="ascii", newline="") as out:
        out.write(ISA)
        sets = 0
        for first in range(0, claims, per_set):
            count = min(per_set, claims - first)
            sets += 1
            head = HEADER.format(st=sets, total=f"{count * PAID_PER_CLAIM}.00", size=claims)
            out.write(head)
            segments = head.count("~")
            for start in range(first, first + count, 1000):
                text = "".join(CLAIM.format(n=n) for n in range(start, min(start + 1000, first + count)))
                segments += text.count("~")
                out.write(text)
            out.write(f"SE*{segments + 1}*{sets:04d}~")
        out.write(f"GE*{sets}*1~IEA*1*000000001~")
    return claims


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def split_floor(path: Path) -> int:
    """Read ``path`` in 64 KiB chunks and split it into segments and elements with str.split: the least any
    X12 reader in Python does. Returns the number of segments."""
    count = 0
    rest = ""
    with open(path, "rb") as handle:
        while chunk := handle.read(64 * 1024):
            text = rest + chunk.decode("ascii")
            end = text.rfind("~")
            rest = text[end + 1:]
            for segment in text[:end].split("~"):
                segment.split("*")
                count += 1
    return count


def _bench_balance(path: Path, claims: int, repeat: int) -> float:
    from claimbridge.x12.responses import balance_835, parse_x12

    [remittance] = parse_x12(path).transactions
    assert len(remittance.claims) == claims
    assert balance_835(remittance) == [], "the generated 835 must balance"
    return best_of(repeat, lambda: balance_835(remittance))


def bench_835_parse(size_mb: float = 20.0, *, pyx12_mb: float = 1.0, repeat: int = 3) -> dict[str, float]:
    """Measure the floor, tokenize, parse, balance and pyx12 on generated 835s; print a table and return the
    numbers."""
    from claimbridge.x12.reader import SegmentTokens
    from claimbridge.x12.responses import parse_x12
    from claimbridge.x12.validate import validate_x12

    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.835", Path(tmp) / "slice.835"
        claims = write_835(big, size_mb)
        write_835(small, pyx12_mb)
        mb, small_mb = big.stat().st_size / 1e6, small.stat().st_size / 1e6

        floor = best_of(repeat, lambda: split_floor(big))
        tokenize = best_of(repeat, lambda: sum(1 for _ in SegmentTokens(big)))
        parse = best_of(repeat, lambda: parse_x12(big))
        balance = _bench_balance(big, claims, repeat)
        ours_on_slice = best_of(repeat, lambda: parse_x12(small))
        report = None

        def run_pyx12() -> None:
            nonlocal report
            report = validate_x12(small)

        pyx12 = best_of(1, run_pyx12)
        assert report is not None and report.ok, [p.describe() for p in report.problems[:3]]

    results = {"size_mb": mb, "claims": claims, "floor_mb_s": mb / floor, "tokenize_mb_s": mb / tokenize,
               "parse_mb_s": mb / parse, "parse_s": parse, "parse_to_floor": parse / floor, "balance_s": balance,
               "slice_mb": small_mb, "parse_slice_s": ours_on_slice, "pyx12_slice_s": pyx12,
               "pyx12_mb_s": small_mb / pyx12, "pyx12_to_parse": pyx12 / ours_on_slice}
    met = "met" if mb / parse >= TARGET_MB_PER_SECOND else "NOT met"
    print(f"835 of {mb:.1f} MB, {claims:,} claims (CPU seconds, best of {repeat}, Python {sys.version.split()[0]})")
    print(f"  floor     {floor:8.2f} s  {mb / floor:7.1f} MB/s  (read + str.split into segments and elements)")
    print(f"  tokenize  {tokenize:8.2f} s  {mb / tokenize:7.1f} MB/s  ({tokenize / floor:.1f}× the floor)")
    print(f"  parse     {parse:8.2f} s  {mb / parse:7.1f} MB/s  ({parse / floor:.1f}× the floor)  "
          f"{claims / parse:,.0f} claims/s  (target {TARGET_MB_PER_SECOND:.0f} MB/s: {met})")
    print(f"  balance   {balance:8.2f} s")
    print(f"pyx12 on a {small_mb:.2f} MB slice of the same shape (pyx12 is too slow for the whole file):")
    print(f"  parse     {ours_on_slice:8.3f} s  {small_mb / ours_on_slice:7.1f} MB/s")
    print(f"  pyx12     {pyx12:8.3f} s  {small_mb / pyx12:7.2f} MB/s  ({pyx12 / ours_on_slice:.0f}× our parse)")
    return results


def _resident_kib() -> tuple[int, int]:
    """This process's resident memory now and at its peak, in KiB (Linux ``/proc``; else the peak twice)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak, peak
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _iterate_and_measure(path: str) -> None:
    """Run in a fresh interpreter: iterate the transactions of ``path``; print JSON with the resident memory
    before and at its peak (KiB), the CPU seconds, the transactions and the claims."""
    from claimbridge.x12.responses import iter_transactions

    before, _ = _resident_kib()
    start = time.process_time()
    sets = claims = 0
    for tx in iter_transactions(Path(path)):
        sets += 1
        claims += len(tx.claims)
    seconds = time.process_time() - start
    _, peak = _resident_kib()
    print(json.dumps({"before_kib": before, "peak_kib": peak, "seconds": seconds, "sets": sets, "claims": claims}))


def bench_835_memory(memory_mb: float = 100.0) -> dict[str, float]:
    """Peak memory of :func:`iter_transactions` over a path of about ``memory_mb`` MB (sets of
    ``CLAIMS_PER_SET`` claims), measured in a fresh interpreter; print it and return the numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "many.835"
        claims = write_835(path, memory_mb, claims_per_set=CLAIMS_PER_SET)
        mb = path.stat().st_size / 1e6
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); " \
               f"import x12_parse_bench as b; b._iterate_and_measure({str(path)!r})"
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["claims"] == claims, seen
    added_mb = (seen["peak_kib"] - seen["before_kib"]) * 1024 / 1e6
    results = {"memory_file_mb": mb, "sets": seen["sets"], "peak_added_mb": added_mb,
               "iterate_mb_s": mb / seen["seconds"]}
    print(f"memory: iter_transactions over a {mb:.0f} MB path ({seen['sets']} sets of {CLAIMS_PER_SET:,} claims, "
          f"{mb / seen['seconds']:.1f} MB/s): peak resident memory +{added_mb:.1f} MB "
          f"({added_mb / mb:.0%} of the file)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size_mb", nargs="?", type=float, default=20.0, help="size of the parsed file (default 20)")
    parser.add_argument("pyx12_mb", nargs="?", type=float, default=1.0, help="size of pyx12's slice (default 1)")
    parser.add_argument("--memory-mb", type=float, default=100.0,
                        help="size of the file for the memory figure, 0 to skip (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args(argv)
    bench_835_parse(args.size_mb, pyx12_mb=args.pyx12_mb, repeat=args.repeat)
    if args.memory_mb > 0:
        bench_835_memory(args.memory_mb)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
