"""The scrub benchmark runs and reports its numbers (the speed itself is checked by running the script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "scrub_bench.py"


def test_bench_scrub_reports_rates():
    spec = importlib.util.spec_from_file_location("scrub_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.bench_scrub(100, repeat=1)
    assert result["claims"] == 100 and 0 < result["claims_held"] < 100  # the demo holds a few claims
    assert result["scrub_per_second"] > 0 and result["parse_per_second"] > 0
    assert result["rules"] >= result["rules_registered"]
