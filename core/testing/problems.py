"""The error every conformance check raises, and small helpers the checks share."""

from __future__ import annotations

from typing import Any


class ConformanceError(AssertionError):
    """A plugin part does not meet claimbridge's contract; the message lists each problem and its fix."""

    def __init__(self, subject: str, problems: list[str]):
        self.subject = subject
        self.problems = list(problems)
        super().__init__("\n".join(f"{subject}: {problem}" for problem in problems))


def name_of(obj: Any) -> str:
    return getattr(obj, "__name__", None) or repr(obj)
