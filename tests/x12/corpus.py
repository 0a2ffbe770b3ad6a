"""The shared corpus of real X12 samples (read in place, never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPUS = Path(os.environ.get("CLAIMBRIDGE_X12_CORPUS", "/work/shared/corpus/x12"))
_NOT_X12 = {".csv", ".html"}
# files that take pyx12 more than a second or two (11,000 segments)
_SLOW = {"837_5010_x12_many_claims.txt"}


def corpus_files() -> list[Path]:
    """Every X12 sample in the corpus (licence texts and CSVs left out); empty when the corpus is absent."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*")
                  if p.is_file() and p.suffix.lower() not in _NOT_X12 and not p.name.upper().startswith("LICENSE"))


def corpus_params() -> list:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"X12 corpus not found at {CORPUS}"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}", marks=[pytest.mark.slow] if p.name in _SLOW else [])
            for p in files]


def corpus_file(relative: str) -> Path:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not found under {CORPUS}")
    return path
