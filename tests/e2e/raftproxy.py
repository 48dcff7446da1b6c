"""A fault-injecting TCP proxy for libraft's transport on loopback (no
network namespaces needed), used by test_cluster_faults.py and
docs/cluster.md's "Faults".

Each replica listens on its `raft_bind` address and advertises its `raft`
address (node.json); the proxy listens on every advertised address and
forwards to the matching bind address.  libraft (0.15, src/uv_tcp_connect.c
and uv_tcp_listen.c) starts every connection with a handshake, all
little-endian:

    u64 protocol version (1) | u64 the dialer's server id |
    u64 size of the address buffer | the dialer's address, NUL-padded to 8

and then sends only messages *from the dialer to the listener* on it (the
answers travel on the listener's own outgoing connection).  So the proxy
knows, per connection, the ordered pair (src = dialer id, dst = listener id)
and can fault each direction of each link on its own:

- cut(src, dst): close that pair's connections and close every new one right
  after its handshake until heal(src, dst) (libraft redials every second);
- delay(src, dst, seconds): hold every chunk that long before forwarding it
  (order kept);
- drop(src, dst): close that pair's current connections once (libraft
  redials; a flapping link is drop after drop).

The proxy runs an asyncio loop on a daemon thread; its methods may be
called from any thread.
"""
import asyncio
import struct
import threading
import time

HANDSHAKE_PROTOCOL = 1
PREAMBLE = struct.Struct("<QQQ")  # protocol, server id, address buffer size
ADDRESS_MAX = 4096


def split(address):
    host, port = address.rsplit(":", 1)
    return host, int(port)


class _Conn:
    """One proxied connection src -> dst: the two sockets and their pumps."""

    def __init__(self, src, dst, down_writer, up_writer):
        self.src, self.dst = src, dst
        self.writers = (down_writer, up_writer)
        self.tasks = []

    def close(self):
        for w in self.writers:
            try:
                w.transport.abort()  # RST-like: no lingering buffered bytes
            except Exception:  # noqa: BLE001 - already closed
                pass
        for t in self.tasks:
            t.cancel()


class RaftProxy:
    """routes: {server id: (advertised "HOST:PORT", bind "HOST:PORT")}."""

    def __init__(self, routes):
        self.routes = dict(routes)
        self.cuts = set()        # (src, dst) pairs cut
        self.delays = {}         # (src, dst) -> seconds
        self.conns = set()       # live _Conn
        self.accepted = {}       # (src, dst) -> connections accepted (handshakes read)
        self.refused = {}        # (src, dst) -> connections closed because the pair was cut
        self.loop = asyncio.new_event_loop()
        self.servers = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="raftproxy")

    # ------------------------------------------------------------ control

    def start(self):
        self.thread.start()
        for dst, (advertised, bind) in self.routes.items():
            host, port = split(advertised)
            fut = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(lambda r, w, d=dst: self._serve(d, r, w), host, port,
                                     reuse_address=True), self.loop)
            self.servers.append(fut.result(timeout=10))
        return self

    def stop(self):
        def shut():
            for s in self.servers:
                s.close()
            for c in list(self.conns):
                c.close()
            self.conns.clear()
        self._call(shut)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def _call(self, fn):
        """Runs fn on the proxy's loop and waits for it."""
        done = threading.Event()
        box = []

        def run():
            try:
                box.append(fn())
            finally:
                done.set()
        self.loop.call_soon_threadsafe(run)
        assert done.wait(10), "the proxy's loop is stuck"
        return box[0] if box else None

    def _close_pair(self, src, dst):
        for c in [c for c in self.conns if (c.src, c.dst) == (src, dst)]:
            c.close()
            self.conns.discard(c)

    def cut(self, src, dst):
        """Cuts the link src -> dst (messages from src no longer reach dst)."""
        def run():
            self.cuts.add((src, dst))
            self._close_pair(src, dst)
        self._call(run)

    def heal(self, src, dst):
        self._call(lambda: self.cuts.discard((src, dst)))

    def isolate(self, node):
        """Cuts every link to and from node."""
        for other in self.routes:
            if other != node:
                self.cut(node, other)
                self.cut(other, node)

    def heal_all(self):
        def run():
            self.cuts.clear()
            self.delays.clear()
        self._call(run)

    def delay(self, src, dst, seconds):
        self._call(lambda: self.delays.__setitem__((src, dst), float(seconds)))

    def drop(self, src, dst):
        """Closes the current connections src -> dst once."""
        self._call(lambda: self._close_pair(src, dst))

    def count(self, table, src, dst):
        return self._call(lambda: getattr(self, table).get((src, dst), 0))

    # --------------------------------------------------------- the proxy

    async def _serve(self, dst, reader, writer):
        try:
            pre = await reader.readexactly(PREAMBLE.size)
            protocol, src, size = PREAMBLE.unpack(pre)
            if protocol != HANDSHAKE_PROTOCOL or size > ADDRESS_MAX:
                raise ValueError("not a libraft handshake")
            address = await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.transport.abort()
            return
        key = (src, dst)
        self.accepted[key] = self.accepted.get(key, 0) + 1
        if key in self.cuts:
            self.refused[key] = self.refused.get(key, 0) + 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*split(self.routes[dst][1]))
        except OSError:  # the replica is down: the dialer sees its connection closed
            writer.transport.abort()
            return
        up_writer.write(pre + address)
        conn = _Conn(src, dst, writer, up_writer)
        self.conns.add(conn)
        conn.tasks = [asyncio.ensure_future(self._pump(conn, reader, up_writer, key)),
                      asyncio.ensure_future(self._pump(conn, up_reader, writer, None))]

    async def _pump(self, conn, reader, writer, key):
        """Copies reader to writer, each chunk held for the pair's delay."""
        queue = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer))
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                due = time.monotonic() + (self.delays.get(key, 0.0) if key else 0.0)
                queue.put_nowait((due, data))
            queue.put_nowait((0.0, None))
            await sender
        except (ConnectionError, asyncio.CancelledError, OSError):
            pass
        finally:
            sender.cancel()
            conn.close()
            self.conns.discard(conn)

    @staticmethod
    async def _send(queue, writer):
        while True:
            due, data = await queue.get()
            if data is None:
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
