"""Fetch a calendar from an http(s) URL without letting the URL reach inside the network.

Only http and https; no credentials in the URL. The host is resolved once, every address it
resolves to must be public (no loopback, private, shared, link-local, multicast, reserved or
unspecified address), and the connection goes to that checked address, so a second DNS answer
cannot point it elsewhere. HTTPS still verifies the certificate against the host name. Redirects
are followed a few times, each target checked the same way. The body is read up to ``max_bytes``
and refused past it; the whole fetch has a deadline. Standard library only.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_TIMEOUT_S = 10.0
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A fetch that did not give a body; ``code`` says why (stable, snake_case)."""

    code = "fetch_failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UrlNotAllowed(FetchError):
    code = "url_not_allowed"


class TooLarge(FetchError):
    code = "calendar_too_large"


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def resolve(url: str, *, internal: bool = False) -> tuple[str, str, int, str]:
    """(scheme, host, port, checked address) of an allowed URL, else ``UrlNotAllowed``.
    ``internal``: addresses inside the network are allowed too (an operator's choice, for
    receivers on the same private network)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowed("only http and https URLs can be imported")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("the URL must not carry credentials")
    try:
        host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise UrlNotAllowed(f"the URL has a bad port: {error}") from error
    if not host:
        raise UrlNotAllowed("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}") from error
    addresses = {info[4][0] for info in infos}
    if not addresses or not (internal or all(public_address(address) for address in addresses)):
        raise UrlNotAllowed(f"{host} is not a public address")
    return scheme, host, port, sorted(addresses)[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _connect(url: str, timeout_s: float, *, internal: bool = False) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the checked address of an allowed ``url`` (not opened yet), and the target."""
    scheme, host, port, address = resolve(url, internal=internal)
    connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    parts = urlsplit(url)
    return connection_class(host, port, address, timeout_s), (parts.path or "/") + (
        f"?{parts.query}" if parts.query else ""
    )


def fetch(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout_s: float = DEFAULT_TIMEOUT_S) -> bytes:
    """The body of a 200 answer at ``url`` (following up to three checked redirects)."""
    deadline = time.monotonic() + timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        connection, target = _connect(url, timeout_s)
        try:
            connection.request(
                "GET", target, headers={"Accept": "text/calendar, */*;q=0.5", "Accept-Encoding": "identity"}
            )
            # A response that will close owns the socket: close it too, or the socket lingers.
            with connection.getresponse() as response:
                if response.status in REDIRECTS and response.getheader("Location"):
                    url = urljoin(url, response.getheader("Location"))
                    continue
                if response.status != 200:
                    raise FetchError(f"the server answered {response.status}")
                return _read(response, max_bytes, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(f"fetching the calendar failed: {error}") from error
        finally:
            connection.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"the calendar is larger than {max_bytes} bytes")
    body = bytearray()
    while chunk := response.read(CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise TooLarge(f"the calendar is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError("fetching the calendar took too long")
    return bytes(body)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout_s: float = DEFAULT_TIMEOUT_S, internal: bool = False
) -> int:
    """POST ``body`` to an allowed ``url`` (checked as ``fetch`` checks it, redirects not followed:
    a receiver answers where it was registered; ``internal`` as for ``resolve``); the answer's
    status. ``FetchError`` when there is no answer (refused, reset, timed out)."""
    connection, target = _connect(url, timeout_s, internal=internal)
    try:
        connection.request("POST", target, body=body, headers=headers)
        with connection.getresponse() as response:
            response.read(CHUNK)  # a receiver's answer is not used; read a little so it is not cut off
            return response.status
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f"no answer: {error}") from error
    finally:
        connection.close()
