"""Built-in plugins. Each one is registered by entry point exactly like a third party's and imports only the
public facade (``claimbridge``)."""
