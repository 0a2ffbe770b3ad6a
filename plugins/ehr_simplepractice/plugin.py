"""Entry point of the ``ehr_simplepractice`` plugin: the ``simplepractice`` source."""

from __future__ import annotations

from collections.abc import Callable

import claimbridge

from .source import SimplePracticeSource


@claimbridge.hookimpl
def register_sources(register: Callable[[type[claimbridge.EhrSource]], None]) -> None:
    register(SimplePracticeSource)
