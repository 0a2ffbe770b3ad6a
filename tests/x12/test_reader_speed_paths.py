"""The tokenizer's plain path (split a region at once when every segment starts with a valid id and the only
filler is line breaks) must read exactly what the careful path (one segment at a time) reads: the same
segments, numbers, offsets and delimiters, and the same error after the same good segments."""

from __future__ import annotations

import io
import random

import pytest

from claimbridge.x12 import X12SyntaxError, iter_segments
from claimbridge.x12 import reader as reader_module
from tests.x12.corpus import corpus_params
from tests.x12.test_parse_835 import PAID, remit

# long enough that most of it is read after the first region (the ISA's, always read the careful way)
BASE = remit(PAID * 30 + "PLB*1234567893*20261231*CV:CP*-1.27~")
HALF = len(BASE) // 2


def _late(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the first ``old`` in its second half replaced by ``new``."""
    at = text.index(old, HALF)
    return text[:at] + new + text[at + len(old):]


LAYOUTS = {
    "plain": BASE,
    "crlf": BASE.replace("~", "~\r\n"),
    "newline terminated": BASE.replace("~", "\n"),
    "crlf terminated": BASE.replace("~", "\r\n"),
    "indented": BASE.replace("~", "~\n   "),
    "wrapped": BASE.replace("CAS*CO", "CA\r\nS*CO"),
    "other delimiters": BASE.replace("*", "|").replace(":", ">").replace("~", "'"),
    "two interchanges": BASE + BASE.replace("*", "|").replace("~", "!"),
    "fragment": BASE[BASE.index("ST*"):],
    "spaces": _late("~SVC", "~SVC ", _late("~CAS", "~ CAS", _late("AMT*", "AMT *"))),
    "blank lines": _late("~", "~\n \n", BASE.replace("~", "~\n\n")),
    "empty segments": _late("~DTM", "~~DTM"),
    "trailing filler": BASE + "\r\n\x1a\x00\x00",
    "tab": _late("~N", "~\tN"),
    "long id": _late("~LQ*", "~LQXX*"),
    "lower-case id": _late("~AMT*B6", "~amt*B6"),
    "id starting with a digit": _late("~AMT*B6", "~1MT*B6"),
    "one-letter id": _late("~LQ*", "~L*"),
    "id alone": _late("~LQ*HE*N130", "~LQ~X~AB1"),
    "new component separator": BASE + BASE.replace("*T*:~", "*T*>~").replace("HC:", "HC>"),
    "new repetition separator": BASE + BASE.replace("*^*00501*", "*{*00501*"),
    "same delimiters again": BASE + BASE,
    "newline terminated, then tilde": BASE.replace("~", "\n") + BASE,
}


def _mutated(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(chars))
        choice = rng.choice("~*:^\r\n \t\x00ABCxyz019.-'|>E")
        op = rng.random()
        if op < 0.3:
            del chars[pos]
        elif op < 0.6:
            chars[pos] = choice
        else:
            chars.insert(pos, choice)
    return "".join(chars)


def _read(text: str, chunk_size: int) -> list:
    seen: list = []
    try:
        for seg in iter_segments(io.BytesIO(text.encode("utf-8")), chunk_size=chunk_size):
            seen.append((seg.id, seg.elements, seg.index, seg.offset, seg.delimiters))
    except X12SyntaxError as exc:
        seen.append((str(exc), exc.segment, exc.offset))
    return seen


def _careful_only(monkeypatch) -> None:
    monkeypatch.setattr(reader_module, "_plain_texts", lambda region, delimiters: (None, False))


def test_much_of_the_data_is_read_the_plain_way(monkeypatch):
    plain = []
    read = reader_module._plain_texts
    monkeypatch.setattr(reader_module, "_plain_texts",
                        lambda region, delimiters: plain.append(read(region, delimiters)[0]) or read(region, delimiters))
    for layout in ("plain", "crlf", "newline terminated", "crlf terminated", "wrapped", "other delimiters"):
        plain.clear()
        segments = sum(1 for _ in iter_segments(io.BytesIO(LAYOUTS[layout].encode()), chunk_size=1000))
        assert sum(len(texts) for texts in plain if texts) > segments * 0.4, layout


def _check_same(monkeypatch, texts: list[str]) -> None:
    for chunk_size in (16, 97, 4096):
        fast = [_read(text, chunk_size) for text in texts]
        with monkeypatch.context() as patched:
            _careful_only(patched)
            careful = [_read(text, chunk_size) for text in texts]
        for text, one, other in zip(texts, fast, careful, strict=True):
            assert one == other, (chunk_size, text[:200])


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_plain_path_reads_what_the_careful_path_reads(monkeypatch, layout):
    _check_same(monkeypatch, [LAYOUTS[layout]])


def test_plain_path_matches_on_damaged_data(monkeypatch):
    rng = random.Random(835)
    layouts = list(LAYOUTS.values())
    _check_same(monkeypatch, [_mutated(rng.choice(layouts), rng) for _ in range(60)])


@pytest.mark.parametrize("path", corpus_params())
def test_plain_path_matches_on_the_corpus(monkeypatch, path):
    _check_same(monkeypatch, [path.read_bytes().decode("utf-8", errors="replace")])


def test_a_bad_id_is_raised_after_the_good_segments_of_its_run():
    text = LAYOUTS["lower-case id"]
    seen = []
    with pytest.raises(X12SyntaxError) as caught:
        for seg in iter_segments(text):
            seen.append(seg.index)
    assert seen == list(range(1, caught.value.segment))
    assert caught.value.offset == text.index("amt*B6")
