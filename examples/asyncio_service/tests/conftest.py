from __future__ import annotations

import concurrent.futures
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from feeds.sources import LegacyClient

FEEDS = {
    "/feeds/releases": ["asyncio 3.13 released", "uvloop 0.21 released"],
    "/feeds/security": ["advisory: update your TLS settings"],
}


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A local HTTP server on its own thread (its blocking calls are not on the event loop)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        wbufsize = -1  # headers and body leave in one write, so the client reads them at once

        def do_GET(self) -> None:
            items = FEEDS.get(self.path)
            body = json.dumps(items).encode()
            self.send_response(200 if items is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def legacy_client() -> Iterator[LegacyClient]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield LegacyClient(pool)
