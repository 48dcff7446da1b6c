"""Request smuggling shapes and malformed heads are refused before any
handler runs, with the JSON error envelope (docs/http.md, "What a request
goes through"), and the connection is closed.  Sent as raw bytes, since
HTTP client libraries will not produce these requests."""
import json
import socket

HEAD = b"Host: x\r\nConnection: close\r\n"
LOOKUP = b'{"ids":[]}'  # a valid body that the handler would answer with 400 empty_batch


def exchange(server, raw, timeout=5):
    """Sends raw bytes and reads the whole answer until the server closes."""
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(timeout)
    s.sendall(raw)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


def status_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    parts = status_line.split(b" ")
    assert len(parts) >= 2 and parts[0].startswith(b"HTTP/1."), data[:200]
    return int(parts[1]), head.decode("latin-1"), body


def refused(server, raw, status=400, code="bad_request", words=()):
    data = exchange(server, raw)
    got, head, body = status_and_body(data)
    assert got == status, data[:300]
    assert "application/json" in head and "X-Request-Id" in head, head
    err = json.loads(body)["error"]
    assert err["code"] == code, err
    assert "path" in err and err["message"]
    for w in words:
        assert w in err["message"], err
    return err


def post_lookup(api, extra_headers, body=LOOKUP):
    """A lookup with a valid key, so that only the head decides."""
    auth = api.session.headers["Authorization"].encode()
    return (b"POST /v1/accounts/lookup HTTP/1.1\r\n" + HEAD + b"Authorization: " + auth +
            b"\r\nContent-Type: application/json\r\n" + extra_headers + b"\r\n" + body)


def test_two_different_content_lengths(server, api):
    raw = post_lookup(api, b"Content-Length: 10\r\nContent-Length: 5\r\n")
    refused(server, raw, words=("Content-Length",))


def test_two_identical_content_lengths(server, api):
    raw = post_lookup(api, b"Content-Length: 10\r\nContent-Length: 10\r\n")
    refused(server, raw, words=("Content-Length",))


def test_content_length_with_transfer_encoding(server, api):
    raw = post_lookup(api, b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                      b"a\r\n" + LOOKUP + b"\r\n0\r\n\r\n")
    refused(server, raw, words=("Content-Length", "Transfer-Encoding"))


def test_unknown_transfer_coding(server, api):
    refused(server, post_lookup(api, b"Transfer-Encoding: gzip\r\n", b""), 501, "not_implemented")


def test_blank_in_header_name(server, api):
    raw = post_lookup(api, b"Content-Length : 10\r\n")
    refused(server, raw, words=("Content-Length",))


def test_nul_in_path(server):
    refused(server, b"GET /healthz%00.json HTTP/1.1\r\n" + HEAD + b"\r\n", words=("NUL",))
    refused(server, b"GET /healthz\x00.json HTTP/1.1\r\n" + HEAD + b"\r\n", words=("NUL",))


def test_nul_in_query(server):
    refused(server, b"GET /healthz?a=b%00c HTTP/1.1\r\n" + HEAD + b"\r\n", words=("NUL",))
    refused(server, b"GET /healthz?a%00=b HTTP/1.1\r\n" + HEAD + b"\r\n", words=("NUL",))


def test_nul_in_header_value(server):
    for value in (b"ab\x00cd", b"ab\x00", b"\x00"):
        raw = b"GET /healthz HTTP/1.1\r\n" + HEAD + b"X-Note: " + value + b"\r\n\r\n"
        refused(server, raw, words=("X-Note", "NUL"))
    raw = b"GET /healthz HTTP/1.1\r\nX-Note: a\x00b\r\n" + HEAD + b"\r\n"
    refused(server, raw, words=("X-Note", "NUL"))


def test_oversized_head_is_json_431(server):
    raw = b"GET /healthz HTTP/1.1\r\n" + HEAD + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n"
    refused(server, raw, 431, "headers_too_large")


def test_oversized_target_is_json_414(server):
    raw = b"GET /healthz?a=" + b"b" * 9000 + b" HTTP/1.1\r\n" + HEAD + b"\r\n"
    refused(server, raw, 414, "uri_too_long")


def test_head_past_libmicrohttpd_memory_is_never_200(server):
    """Past its per-connection memory libmicrohttpd answers itself (HTML,
    documented in docs/http.md); it must still be a refusal."""
    raw = b"GET /healthz HTTP/1.1\r\n" + HEAD + b"X-Big: " + b"a" * 100000 + b"\r\n\r\n"
    data = exchange(server, raw)
    assert data == b"" or status_and_body(data)[0] == 431, data[:200]


def test_unsupported_http_version_is_json_505(server):
    for version in (b"HTTP/1.2", b"HTTP/1.9"):
        raw = b"GET /healthz " + version + b"\r\n" + HEAD + b"\r\n"
        refused(server, raw, 505, "http_version_not_supported")


def test_garbage_version_is_never_200(server):
    """A version libmicrohttpd cannot parse (or HTTP/2+) it refuses itself."""
    for version in (b"FOO/1.1", b"HTTP/2.0", b"HTTP/1.10"):
        data = exchange(server, b"GET /healthz " + version + b"\r\n" + HEAD + b"\r\n")
        assert status_and_body(data)[0] in (400, 505), data[:200]


def test_valid_shapes_still_served(server, api):
    """Bare LF line ends, an empty header value, chunked bodies, HTTP/1.0,
    a %25-escaped "00" and a head just under the limit are fine."""
    ok = [
        b"GET /healthz HTTP/1.1\nHost: x\nX-Empty:\nConnection: close\n\n",
        b"GET /healthz HTTP/1.0\r\n\r\n",
        b"GET /healthz?a=%2500 HTTP/1.1\r\n" + HEAD + b"X-Empty: \r\n\r\n",
        b"GET /healthz HTTP/1.1\r\n" + HEAD + b"X-Big: " + b"a" * 16000 + b"\r\n\r\n",
    ]
    for raw in ok:
        assert status_and_body(exchange(server, raw))[0] == 200, raw[:80]
    chunked = post_lookup(api, b"Transfer-Encoding: chunked\r\n", b"a\r\n" + LOOKUP + b"\r\n0\r\n\r\n")
    refused(server, chunked, 400, "empty_batch")  # reached the handler
    refused(server, post_lookup(api, b"Content-Length: 10\r\n"), 400, "empty_batch")
