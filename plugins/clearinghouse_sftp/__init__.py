"""SFTP clearinghouse connector (Office Ally, Stedi and any account with an upload and a responses folder).

Modules: :mod:`.settings` (configuration and folder presets), :mod:`.connection` (pinned host keys,
authentication, timeouts), :mod:`.connector` (:class:`SftpClearinghouse`), :mod:`.sandbox` (a local SFTP
clearinghouse for trying things out and for tests), :mod:`.plugin` (the registration hook).
"""
