"""Serving the app with waitress beside the scheduler (``claimbridge run``) or alone (``claimbridge web``)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class WebServer:
    """A waitress server running on a background thread."""

    host: str
    port: int
    server: object
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        self.server.close()
        self.thread.join(timeout=10)


def start_web_server(runtime, *, host: str | None = None, port: int | None = None, threads: int = 8) -> WebServer:
    """Serve the UI and API for ``runtime`` on a daemon thread. Raises ``OSError`` when the port is taken."""
    from waitress.server import create_server

    from claimbridge.web import create_app

    web = runtime.settings.web
    host, port = host or web.host, port if port is not None else web.port
    server = create_server(create_app(runtime, host=host), host=host, port=port, threads=threads,
                           ident="claimbridge")
    bound_port = server.effective_port if hasattr(server, "effective_port") else port
    thread = threading.Thread(target=server.run, name="claimbridge-web", daemon=True)
    thread.start()
    log.info("admin UI and API on http://%s:%s/", host, bound_port)
    return WebServer(host=host, port=bound_port, server=server, thread=thread)
