"""Registers the ``sftp`` clearinghouse type (entry point ``clearinghouse_sftp``)."""

from __future__ import annotations

import claimbridge

from .connector import SftpClearinghouse


@claimbridge.hookimpl
def register_clearinghouses(register):
    register(SftpClearinghouse)
