"""Denials: what a CARC (with its group code and RARC remarks) means and what to do about it.

The code lists and the rules live in data files shipped with the package, because CARC/RARC lists change
several times a year and practices disagree on how to work some denials:

``claimbridge/claims/codes/carc.csv``
    ``code,groups,description`` — a CARC, the group codes it usually comes with (space separated:
    ``CO PI``) and its text. Standard CSV: quote a description that holds a comma.
``claimbridge/claims/codes/rarc.csv``
    ``code,description`` — a RARC and its text.
``claimbridge/claims/codes/denial_rules.yaml``
    ``remark_required`` (CARCs that need a remark code) and ``rules``: each rule has ``category``,
    ``action``, ``reasons`` (codes or shell patterns), optional ``groups`` and ``remarks``, and an
    ``explanation`` template. The file's header comment documents every key and how rules are chosen.

A user folder (``load_code_lists(folder)``) may hold any of the three files. Its ``carc.csv``/``rarc.csv``
rows replace shipped codes of the same name and add new ones; its ``denial_rules.yaml`` rules are added
before the shipped ones and win ties (``replace: true`` in it drops the shipped rules; a
``remark_required`` list in it replaces the shipped one).

    denial = classify("CO", "16", ["N290"])
    denial.category, denial.action      # ('coding', 'correct_and_resubmit')
    denial.explanation                  # 'Missing or invalid claim data; N290: Missing/…'
"""

from __future__ import annotations

import csv
import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from claimbridge.errors import ConfigError

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "CarcCode",
    "CodeLists",
    "DenialClass",
    "DenialRule",
    "SHIPPED_CODES_DIR",
    "classify",
    "code_lists_for",
    "load_code_lists",
]

SHIPPED_CODES_DIR = Path(__file__).with_name("codes")
CARC_FILE = "carc.csv"
RARC_FILE = "rarc.csv"
RULES_FILE = "denial_rules.yaml"

#: denial categories (docs: DOMAIN.md, "Responses")
CATEGORIES = (
    "eligibility", "authorization", "coding", "medical_necessity", "timely_filing", "duplicate", "bundling",
    "coordination_of_benefits", "benefit_limits", "patient_responsibility", "contractual", "other",
)
#: next actions of a denial work queue; ``contractual`` means "expected adjustment, not a denial"
ACTIONS = (
    "correct_and_resubmit", "appeal", "rebill_other_payer", "bill_patient", "write_off", "contractual",
    "check_prior_posting", "verify_eligibility", "review",
)
#: CAS group codes: contractual obligation, patient responsibility, other adjustment, payer initiated,
#: correction and reversal (retired in 5010 but still seen)
GROUP_CODES = ("CO", "PR", "OA", "PI", "CR")

_PATTERN_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class CarcCode:
    code: str
    description: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class DenialRule:
    """One row of the rules table. ``source`` is the file it came from (shown in errors)."""

    category: str
    action: str
    reasons: tuple[str, ...]
    explanation: str
    groups: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()
    source: str = ""
    order: int = 0
    user: bool = False

    def matches(self, group: str, reason: str, remarks: Sequence[str]) -> bool:
        if self.groups and not _any_match(group, self.groups):
            return False
        if not _any_match(reason, self.reasons):
            return False
        return not self.remarks or any(_any_match(remark, self.remarks) for remark in remarks)

    def specificity(self, group: str, reason: str) -> tuple[int, int, int, int, int]:
        """Bigger is more specific; see the header of ``denial_rules.yaml``."""
        return (bool(self.remarks), reason in self.reasons, group in self.groups, self.user, -self.order)


@dataclass(frozen=True)
class DenialClass:
    """What one adjustment (group + CARC + remarks) means.

    ``carc_text`` is the CARC's description (or a note that the code is unknown); ``rarc_texts`` holds one
    ``"CODE: text"`` per remark, in the order given. ``warnings`` says what is wrong with the codes
    themselves: a CARC that requires a remark arrived without one, an unknown group, CARC or RARC.
    ``is_denial`` is False for contractual adjustments and for amounts the patient owes.
    """

    category: str
    action: str
    carc_text: str
    rarc_texts: tuple[str, ...]
    explanation: str
    group: str = ""
    reason: str = ""
    remarks: tuple[str, ...] = ()
    missing_remark: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def is_denial(self) -> bool:
        return self.action not in ("contractual", "bill_patient")


@dataclass(frozen=True)
class CodeLists:
    """CARC and RARC texts and the rules table. Build with :func:`load_code_lists`."""

    carc: Mapping[str, CarcCode]
    rarc: Mapping[str, str]
    rules: tuple[DenialRule, ...]
    remark_required: frozenset[str]

    def classify(self, group: str, reason: str, remarks: Sequence[str] = ()) -> DenialClass:
        """Classify one adjustment. ``group`` is the CAS group code, ``reason`` the CARC, ``remarks`` the
        RARCs the payer attached (LQ*HE at line level, MOA/MIA at claim level). Never raises: unknown codes
        classify as ``other``/``review``."""
        group = group.strip().upper()
        reason = reason.strip().upper()
        remark_codes = tuple(code.strip().upper() for code in remarks if code and code.strip())
        warnings: list[str] = []
        if group not in GROUP_CODES:
            warnings.append(f"unknown group code {group!r} (expected one of {', '.join(GROUP_CODES)})")
        carc = self.carc.get(reason)
        if carc is None:
            carc_text = f"unknown CARC {reason}"
            warnings.append(f"CARC {reason} is not in the code list; update carc.csv")
        else:
            carc_text = carc.description
        rarc_texts = []
        for code in remark_codes:
            text = self.rarc.get(code)
            if text is None:
                warnings.append(f"RARC {code} is not in the code list; update rarc.csv")
                text = "unknown remark code"
            rarc_texts.append(f"{code}: {text}")
        missing_remark = reason in self.remark_required and not remark_codes
        if missing_remark:
            warnings.append(f"CARC {reason} requires a remark code and none was sent; ask the payer what is "
                            f"missing")
        rule = self._best_rule(group, reason, remark_codes)
        if rule is None:
            category, action = "other", "review"
            explanation = f"No rule for {group}-{reason} ({_sentence(carc_text)}"
            explanation += _remarks_clause(rarc_texts) + "); review the remittance and decide."
        else:
            category, action = rule.category, rule.action
            explanation = _render(rule, group, reason, carc_text, rarc_texts)
        if missing_remark:
            explanation += f" No remark code came with {group}-{reason}: ask the payer what is missing."
        return DenialClass(category, action, carc_text, tuple(rarc_texts), explanation, group, reason,
                           remark_codes, missing_remark, tuple(warnings))

    def _best_rule(self, group: str, reason: str, remarks: Sequence[str]) -> DenialRule | None:
        matching = [rule for rule in self.rules if rule.matches(group, reason, remarks)]
        if not matching:
            return None
        return max(matching, key=lambda rule: rule.specificity(group, reason))


def classify(group: str, reason: str, remarks: Sequence[str] = (), *,
             codes: CodeLists | None = None) -> DenialClass:
    """Classify one adjustment with ``codes`` (default: the shipped code lists). See
    :meth:`CodeLists.classify`."""
    return (codes or load_code_lists()).classify(group, reason, remarks)


def load_code_lists(folder: Path | str | None = None) -> CodeLists:
    """The shipped code lists, with the files in ``folder`` (if given) replacing and extending them.

    Read once per folder and file state: a later call after the user edited a file reads it again.
    Raises :class:`claimbridge.errors.ConfigError` listing every problem in the files.
    """
    if folder is None:
        return _load(None, ())
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError([f"{path} is not a folder; give the folder holding {CARC_FILE}, {RARC_FILE} "
                           f"and/or {RULES_FILE}"], source="denial code lists")
    stamps = tuple((name, _mtime(path / name)) for name in (CARC_FILE, RARC_FILE, RULES_FILE))
    return _load(path, stamps)


def code_lists_for(config_path: Path) -> CodeLists:
    """The code lists of the practice whose configuration is ``config_path``: the shipped ones, updated by a
    ``codes`` folder beside the configuration file when there is one (docs/denials.md)."""
    folder = Path(config_path).parent / "codes"
    return load_code_lists(folder if folder.is_dir() else None)


@functools.lru_cache(maxsize=8)
def _load(folder: Path | None, _stamps: tuple) -> CodeLists:
    problems: list[str] = []
    carc = _read_carc(SHIPPED_CODES_DIR / CARC_FILE, problems)
    rarc = _read_rarc(SHIPPED_CODES_DIR / RARC_FILE, problems)
    rules, required, _ = _read_rules(SHIPPED_CODES_DIR / RULES_FILE, problems, user=False)
    if folder is not None:
        if (folder / CARC_FILE).exists():
            carc.update(_read_carc(folder / CARC_FILE, problems))
        if (folder / RARC_FILE).exists():
            rarc.update(_read_rarc(folder / RARC_FILE, problems))
        if (folder / RULES_FILE).exists():
            user_rules, user_required, replace = _read_rules(folder / RULES_FILE, problems, user=True)
            rules = user_rules if replace else user_rules + rules
            if user_required is not None:
                required = user_required
    if problems:
        raise ConfigError(problems, source="denial code lists")
    # shared by every caller (cached): read-only views
    return CodeLists(MappingProxyType(carc), MappingProxyType(rarc), tuple(rules), frozenset(required or ()))


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _rows(path: Path, columns: tuple[str, ...], problems: list[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            problems.append(f"{path}: the header must name the columns {', '.join(columns)} "
                            f"(missing {', '.join(missing)})")
            return []
        rows = []
        for line, row in enumerate(reader, start=2):
            code = (row.get("code") or "").strip().upper()
            if not code:
                if any((value or "").strip() for value in row.values() if isinstance(value, str)):
                    problems.append(f"{path} line {line}: the code is empty")
                continue
            if not (row.get("description") or "").strip():
                problems.append(f"{path} line {line}: code {code} has no description")
                continue
            rows.append({**row, "code": code})
        return rows


def _read_carc(path: Path, problems: list[str]) -> dict[str, CarcCode]:
    codes = {}
    for row in _rows(path, ("code", "groups", "description"), problems):
        groups = tuple((row.get("groups") or "").upper().split())
        unknown = [g for g in groups if g not in GROUP_CODES]
        if unknown:
            problems.append(f"{path}: CARC {row['code']} lists unknown group codes {' '.join(unknown)}")
        codes[row["code"]] = CarcCode(row["code"], row["description"].strip(), groups)
    return codes


def _read_rarc(path: Path, problems: list[str]) -> dict[str, str]:
    return {row["code"]: row["description"].strip() for row in _rows(path, ("code", "description"), problems)}


def _codes(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str | int):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        return None
    return tuple(str(v).strip().upper() for v in value)


def _read_rules(path: Path, problems: list[str], *, user: bool
                ) -> tuple[list[DenialRule], frozenset[str] | None, bool]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML ({exc})")
        return [], None, False
    if not isinstance(document, dict):
        problems.append(f"{path}: must be a mapping with 'rules' (and optionally 'remark_required')")
        return [], None, False
    unknown_keys = sorted(set(document) - {"rules", "remark_required", "replace"})
    if unknown_keys:
        problems.append(f"{path}: unknown keys {', '.join(unknown_keys)} (expected rules, remark_required, "
                        f"replace)")
    required = None
    if "remark_required" in document:
        codes = _codes(document["remark_required"])
        if codes is None:
            problems.append(f"{path}: remark_required must be a list of CARC codes")
        else:
            required = frozenset(codes)
    rules = []
    entries = document.get("rules") or []
    if not isinstance(entries, list):
        problems.append(f"{path}: rules must be a list")
        entries = []
    for position, entry in enumerate(entries, start=1):
        rule = _rule(path, position, entry, problems, user)
        if rule is not None:
            rules.append(rule)
    return rules, required, bool(document.get("replace", False))


_RULE_KEYS = {"category", "action", "reasons", "groups", "remarks", "explanation"}


def _rule(path: Path, position: int, entry: object, problems: list[str], user: bool) -> DenialRule | None:
    where = f"{path} rule {position}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    extra = sorted(set(entry) - _RULE_KEYS)
    if extra:
        problems.append(f"{where}: unknown keys {', '.join(extra)}")
    category, action = entry.get("category"), entry.get("action")
    if category not in CATEGORIES:
        problems.append(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    if action not in ACTIONS:
        problems.append(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    lists = {key: _codes(entry.get(key)) for key in ("reasons", "groups", "remarks")}
    for key, codes in lists.items():
        if codes is None:
            problems.append(f"{where}: {key} must be a list of codes")
    if not lists["reasons"]:
        problems.append(f"{where}: reasons is required (use ['*'] for any CARC)")
    explanation = entry.get("explanation")
    if not isinstance(explanation, str) or not explanation.strip():
        problems.append(f"{where}: explanation is required")
    else:
        try:
            explanation.format(**_template_values("CO", "1", "text", []))
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(f"{where}: explanation has an unknown placeholder or stray brace ({exc})")
    if len(problems) > before:
        return None
    return DenialRule(category, action, lists["reasons"], explanation.strip(), lists["groups"],
                      lists["remarks"], str(path), position, user)


def _any_match(code: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if _PATTERN_CHARS.isdisjoint(pattern):
            if code == pattern:
                return True
        elif fnmatch.fnmatchcase(code, pattern):
            return True
    return False


def _sentence(text: str) -> str:
    return text.rstrip().rstrip(".")


def _remarks_clause(rarc_texts: Sequence[str]) -> str:
    return "".join(f"; {_sentence(text)}" for text in rarc_texts)


def _template_values(group: str, reason: str, carc_text: str, rarc_texts: Sequence[str]) -> dict[str, str]:
    return {
        "group": group, "reason": reason, "carc": _sentence(carc_text),
        "remarks": "; ".join(_sentence(t) for t in rarc_texts) or "none",
        "remarks_clause": _remarks_clause(rarc_texts),
    }


def _render(rule: DenialRule, group: str, reason: str, carc_text: str, rarc_texts: Sequence[str]) -> str:
    return rule.explanation.format(**_template_values(group, reason, carc_text, rarc_texts))
