"""How fast claimbridge reads an 835, beside pyx12 validating the same data in the same run.

    python benchmarks/x12_parse_bench.py [SIZE_MB] [PYX12_MB]

``bench_835_parse(size_mb)`` writes a valid, balanced 005010X221A1 remittance of about ``size_mb`` MB (one
ST/SE, the therapy-practice claim loop below replicated with distinct PCNs and line control numbers: CLP, CAS,
NM1*QC, DTM*232/233, AMT*AU, two SVC lines each with DTM*472, CO and PR CAS, REF*6R, AMT*B6 and a LQ*HE
remark) and measures, in CPU seconds of this process (best of ``repeat``):

* **tokenize**: :class:`claimbridge.x12.reader.SegmentTokens` over the file — the floor everything sits on;
* **parse**: :func:`claimbridge.x12.responses.parse_x12` — typed objects, Decimal money, dates;
* **balance**: :func:`claimbridge.x12.responses.balance_835` on the parsed remittance;
* **pyx12**: :func:`claimbridge.x12.validate.validate_x12` on a smaller file made the same way (``pyx12_mb``,
  default 1 MB): pyx12 needs minutes for tens of MB, so it runs on the slice and its MB/s is compared.

Issue 4 asks for at least 20 MB/s parse on one core.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_MB_PER_SECOND = 20.0

HEADER = ("ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*CLAIMBRIDGE    *261127*0700*^*00501*000000001*0*P*:~"
          "GS*HP*ACMEHEALTH*CLAIMBRIDGE*20261127*0700*1*X*005010X221A1~ST*835*0001~"
          "BPR*I*{total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20261130~"
          "TRN*1*EFT{size:06d}*1512345678~DTM*405*20261127~N1*PR*ACME HEALTH PLAN~N3*1 MAIN ST~"
          "N4*SPRINGFIELD*IL*62701~REF*2U*ACME01~PER*BL*EDI SUPPORT*TE*8005551212~"
          "N1*PE*GOOD MIND COUNSELING*XX*1234567893~N3*22 ELM ST~N4*SPRINGFIELD*IL*62702~REF*TJ*123456789~LX*1~")
CLAIM = ("CLP*CB{n:08d}*1*300.00*210.00*40.00*12*ACME{n:010d}*11*1~NM1*QC*1*DOE*JANE*Q***MI*MBR{n:09d}~"
         "DTM*232*20261102~DTM*233*20261102~AMT*AU*250.00~"
         "SVC*HC:90837:95*150.00*105.00**1~DTM*472*20261102~CAS*CO*45*25.00~CAS*PR*2*20.00~"
         "REF*6R*CB{n:08d}-1~AMT*B6*125.00~LQ*HE*N130~"
         "SVC*HC:90834*150.00*105.00**1~DTM*472*20261102~CAS*CO*45*25.00~CAS*PR*2*20.00~"
         "REF*6R*CB{n:08d}-2~AMT*B6*125.00~")
PAID_PER_CLAIM = 210


def write_835(path: Path, size_mb: float) -> int:
    """Write a balanced 835 of about ``size_mb`` MB to ``path``; returns the number of claims."""
    claims = max(1, int(size_mb * 1_000_000 / len(CLAIM.format(n=0))))
    segments = 0
    with open(path, "w", encoding="ascii", newline="") as out:
        head = HEADER.format(total=f"{claims * PAID_PER_CLAIM}.00", size=claims)
        out.write(head)
        segments += head.count("~") - 2  # ISA and GS are not in the ST/SE count
        batch = []
        for n in range(claims):
            batch.append(CLAIM.format(n=n))
            if len(batch) == 1000:
                text = "".join(batch)
                segments += text.count("~")
                out.write(text)
                batch.clear()
        text = "".join(batch)
        segments += text.count("~")
        out.write(text + f"SE*{segments + 1}*0001~GE*1*1~IEA*1*000000001~")
    return claims


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def bench_835_parse(size_mb: float = 20.0, *, pyx12_mb: float = 1.0, repeat: int = 2) -> dict[str, float]:
    """Measure tokenize, parse, balance and pyx12 on generated 835s; print a table and return the numbers."""
    from claimbridge.x12.reader import SegmentTokens
    from claimbridge.x12.responses import balance_835, parse_x12
    from claimbridge.x12.validate import validate_x12

    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.835", Path(tmp) / "slice.835"
        claims = write_835(big, size_mb)
        write_835(small, pyx12_mb)
        mb, small_mb = big.stat().st_size / 1e6, small.stat().st_size / 1e6

        tokenize = best_of(repeat, lambda: sum(1 for _ in SegmentTokens(big)))
        parse = best_of(repeat, lambda: parse_x12(big))
        parsed = parse_x12(big)
        [remittance] = parsed.transactions
        assert len(remittance.claims) == claims
        balance = best_of(repeat, lambda: balance_835(parsed.transactions[0]))
        assert balance_835(remittance) == [], "the generated 835 must balance"
        ours_on_slice = best_of(repeat, lambda: parse_x12(small))
        report = None

        def run_pyx12() -> None:
            nonlocal report
            report = validate_x12(small)

        pyx12 = best_of(1, run_pyx12)
        assert report is not None and report.ok, [p.describe() for p in report.problems[:3]]

    results = {"size_mb": mb, "claims": claims, "tokenize_mb_s": mb / tokenize, "parse_mb_s": mb / parse,
               "parse_s": parse, "balance_s": balance, "slice_mb": small_mb, "parse_slice_s": ours_on_slice,
               "pyx12_slice_s": pyx12, "pyx12_mb_s": small_mb / pyx12}
    print(f"835 of {mb:.1f} MB, {claims:,} claims (CPU seconds, best of {repeat}, Python {sys.version.split()[0]})")
    print(f"  tokenize  {tokenize:8.2f} s  {mb / tokenize:7.1f} MB/s")
    print(f"  parse     {parse:8.2f} s  {mb / parse:7.1f} MB/s  {claims / parse:,.0f} claims/s"
          f"  (target {TARGET_MB_PER_SECOND:.0f} MB/s: {'met' if mb / parse >= TARGET_MB_PER_SECOND else 'NOT met'})")
    print(f"  balance   {balance:8.2f} s")
    print(f"pyx12 on a {small_mb:.2f} MB slice of the same shape (pyx12 is too slow for the whole file):")
    print(f"  parse     {ours_on_slice:8.3f} s  {small_mb / ours_on_slice:7.1f} MB/s")
    print(f"  pyx12     {pyx12:8.3f} s  {small_mb / pyx12:7.2f} MB/s  ({pyx12 / ours_on_slice:.0f}× our parse)")
    return results


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    size = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    slice_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    bench_835_parse(size, pyx12_mb=slice_mb)
