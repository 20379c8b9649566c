"""One request-body limit for every route, enforced while the body streams (issue 17, "uploads without
Content-Length"): a chunked body is refused once it passes the limit, not read (and spooled) to the end."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

MB = 1024 * 1024


async def _send_chunked(base: str, path: str, token: str, total: int, *, content_type: str) -> tuple[int, int, bytes]:
    """POST a chunked body of ``total`` bytes; returns (status, bytes sent when the answer came, answer)."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    writer.write(head)
    if content_type.startswith("multipart/"):
        part = (b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                b"Content-Type: text/csv\r\n\r\n")
        writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    sent = 0
    chunk = b"x" * (64 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    response = asyncio.ensure_future(reader.read(65536))
    try:
        while sent < total and not response.done():
            writer.write(frame)
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (TimeoutError, ConnectionError):
                break
        if not response.done():
            try:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            except ConnectionError:
                pass
        data = await asyncio.wait_for(response, 60)
        while b"\r\n\r\n{" not in data:
            try:
                more = await asyncio.wait_for(reader.read(65536), 5)
            except (TimeoutError, ConnectionError):
                break
            if not more:
                break
            data += more
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, sent, data


@pytest.mark.parametrize("path", ["/api/competitors/import", "/api/personas", "/api/keywords/import"])
async def test_chunked_body_is_refused_at_the_limit(live_server, path):
    limit = {"/api/competitors/import": 2 * MB, "/api/personas": 8 * MB, "/api/keywords/import": 200 * MB}[path]
    total = limit + 100 * MB
    status, sent, data = await _send_chunked(
        live_server.base, path, live_server.token, total,
        content_type="multipart/form-data; boundary=xyz" if "import" in path else "application/json")
    assert status == 413, data[:300]
    if b"\r\n\r\n{" in data:  # the body can be lost to the reset of a connection the client still writes to
        assert "大きすぎます".encode() in data
    # Refused while streaming: what the client had sent when the answer came is the limit plus socket buffers.
    assert sent < limit + 32 * MB, (sent / MB, limit / MB)


async def test_declared_length_over_the_limit_is_refused_before_reading(client):
    await client.use_token()
    r = await client.post("/api/personas", content=b"{}", headers={"Content-Type": "application/json",
                                                                     "Content-Length": str(9 * MB)})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert "大きすぎます" in r.json()["error"]["message"]


async def test_anonymous_upload_is_refused_before_its_body_is_read(live_server):
    """Authentication runs before the body is read: an anonymous chunked upload gets 401 at once."""
    status, sent, data = await _send_chunked(live_server.base, "/api/competitors/import", "nope", 50 * MB,
                                             content_type="multipart/form-data; boundary=xyz")
    assert status == 401, data[:300]
    assert sent < 32 * MB


async def test_csrf_is_checked_before_a_multipart_body_is_read(client):
    """A logged-in browser session (cookie) posting a multipart upload without the CSRF token is refused before
    the body is read: the stream below would yield 64 MB, and only its first chunk may be consumed."""
    await client.login()
    pulled = 0

    async def body():
        nonlocal pulled
        for _ in range(64):
            pulled += 1
            yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n" + b"a" * MB

    r = await client.post("/competitors", content=body(),
                          headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 403, r.text[:300]
    assert pulled <= 1, pulled
    # With the token in the action URL (what the page's form does) the same kind of post is read and handled.
    ok = await client.post(f"/competitors?csrf_token={client.csrf_token}", data={"source": "list"},
                           files={"competitors_file": ("list.csv", b"name\n", "text/csv")})
    assert ok.status_code != 403, ok.text[:300]
