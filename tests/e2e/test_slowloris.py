"""Connections that never finish a request, and the SIGTERM drain (issue 10).

Slowloris: a client that opens many connections and sends one header line
every second keeps each connection alive forever under libmicrohttpd's idle
timeout alone (it restarts on every byte), and fills the connection limit.
The core now gives every request head a deadline and each client address a
share of the connections; a legitimate client from another address is
served throughout, and over-limit connections are told 503 in JSON.

Shutdown: during the SIGTERM grace period a new request gets 503
shutting_down in JSON (not a hang), and a request in flight completes.
"""
import json
import signal
import socket
import threading
import time

import requests


def raw_request(port, data, source="127.0.0.1", timeout=5):
    """Sends raw bytes, returns (status, json body) of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    s.sendall(data)
    chunks = []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
            text = b"".join(chunks)
            head, _, body = text.partition(b"\r\n\r\n")
            if b"Content-Length:" in head:
                length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    finally:
        s.close()
    text = b"".join(chunks)
    head, _, body = text.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    return status, (json.loads(body) if body.startswith(b"{") else None)


def trickle(port, stop, sockets, closed):
    """One slowloris connection: a header line every 0.5 s, never the end."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    sockets.append(s)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    i = 0
    while not stop.is_set():
        try:
            s.sendall(b"X-Slow-%d: y\r\n" % i)
        except OSError:
            closed.append(time.time())
            return
        i += 1
        time.sleep(0.5)


def test_slowloris_does_not_keep_others_out(start_server):
    server, api = start_server("--max-connections", "40", "--max-connections-per-address", "10",
                               "--head-timeout-s", "2")
    stop, sockets, closed = threading.Event(), [], []
    threads = [threading.Thread(target=trickle, args=(server.port, stop, sockets, closed))
               for _ in range(60)]
    started = time.time()
    for t in threads:
        t.start()
    try:
        while len(sockets) < len(threads):
            time.sleep(0.01)
        # The attacker's own extra connections are told why, in JSON.
        status, body = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and body["error"]["code"] == "too_many_connections", body
        assert "your address" in body["error"]["message"]
        # Another address is served while the attack runs.
        for _ in range(5):
            status, body = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n", source="127.0.0.2")
            assert status == 200, body
            time.sleep(0.3)
        # Every trickling connection is closed by its head deadline.
        deadline = time.time() + 10
        while len(closed) < len(threads) and time.time() < deadline:
            time.sleep(0.2)
        assert len(closed) == len(threads)
        assert max(closed) - started < 8
    finally:
        stop.set()
        for t in threads:
            t.join()
        for s in sockets:
            s.close()
    metrics = requests.get(server.url("/metrics")).text
    assert "quipu_http_head_timeouts_total" in metrics


def test_new_requests_during_drain_get_503(start_server):
    server, api = start_server("--shutdown-grace-ms", "5000")
    # A request in flight: its head is complete, its body is still coming.
    body = b'[{"id":"777001","ledger":1,"code":1}]'
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    key = api.session.headers["Authorization"].encode()
    slow.sendall(b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: " + key +
                 b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) +
                 body[:10])
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # A new connection is answered at once, in JSON, not left hanging.
    t0 = time.time()
    status, answer = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 503 and answer["error"]["code"] == "shutting_down", answer
    assert time.time() - t0 < 2
    # The request in flight still completes and is answered.
    slow.sendall(body[10:])
    data = b""
    while b"results" not in data:
        chunk = slow.recv(65536)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data
    assert b'"result":"ok"' in data
    slow.close()
    assert server.proc.wait(timeout=20) == 0
