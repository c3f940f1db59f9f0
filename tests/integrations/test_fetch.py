"""Fetching calendars: only public addresses, redirects re-checked, bodies capped."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations import fetch as fetching
from integrations.fetch import FetchError, TooLarge, UrlNotAllowed, fetch, public_address, resolve


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_only_public_addresses_are_allowed(address: str, public: bool):
    assert public_address(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/school.ics",
        "file:///etc/passwd",
        "https://user:secret@example.org/school.ics",
        "http://127.0.0.1/school.ics",
        "http://localhost/school.ics",
        "http://10.1.2.3/school.ics",
        "http://[::1]:8080/school.ics",
    ],
)
def test_urls_that_reach_inside_are_refused_before_connecting(url: str):
    with pytest.raises(UrlNotAllowed):
        resolve(url)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect-inside":
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/school.ics")
            self.end_headers()
            return
        body = b"x" * (5000 if self.path == "/big" else 100)
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        if self.path != "/big":  # no Content-Length: the reader must stop by itself
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    """A local server that the fetcher treats as public (only in this test: the check is patched)."""
    monkeypatch.setattr(fetching, "public_address", lambda address: address == "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_body_is_fetched(server: str):
    assert fetch(f"{server}/school.ics", max_bytes=1000) == b"x" * 100


def test_a_body_past_the_cap_is_refused_while_reading(server: str):
    with pytest.raises(TooLarge):
        fetch(f"{server}/big", max_bytes=1000)


def test_a_redirect_is_checked_like_the_first_url(server: str):
    with pytest.raises(UrlNotAllowed):
        fetch(f"{server}/redirect-inside")


def test_an_error_answer_is_a_fetch_failure(server: str, monkeypatch):
    monkeypatch.setattr(Handler, "do_GET", lambda self: (self.send_error(404), None)[1])

    with pytest.raises(FetchError) as failed:
        fetch(f"{server}/missing.ics")

    assert failed.value.code == "fetch_failed"
