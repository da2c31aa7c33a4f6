import http.server
import socket
import threading

import pytest
import pytest_asyncio

import loopapp.early  # noqa: F401 - bound before the plugin starts watching
from loopapp import blocking


@pytest.fixture
def tcp_port():
    """An echo server on a thread (its blocking calls are not on a loop's thread)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(4))

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def http_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest_asyncio.fixture
async def napping_fixture():
    await blocking.nap()  # app code blocking inside an async fixture
    yield
