"""WebSocket compression off the relay's event loop.

Browsers offer permessage-deflate on every socket and the relay accepts it
(simple-websocket, through wsproto): a `fleet-update` for thousands of servers
compresses about twenty-fold, which is what lets a distant overview follow a large
fleet. But each connection has its own compressor, so every period the same large
event is compressed once per watching browser, and all of it ran on the one
event loop: with 50 overviews of 5,000 servers, the loop was held for up to
~250 ms each second, and every room's `metrics-update` waited behind it.

Here a large message's compression runs in gevent's thread pool instead. zlib
releases the GIL while it compresses, so the loop goes on serving every other
socket (and the work can use another core); the connection's writer waits
cooperatively for its own frame, in order. Small messages (a sample, a status)
are compressed in place: handing them to a thread would cost more than it saves.
"""

from __future__ import annotations

import zlib
from typing import Any

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import Opcode

# Below this many bytes a message is compressed on the loop (well under a
# millisecond); above, in a thread.
IN_THREAD_BYTES = 16 * 1024


def in_thread(func: Any, data: bytes) -> bytes:
    """``func(data)`` in gevent's thread pool; this greenlet waits, the loop goes on."""
    from gevent import get_hub

    return get_hub().threadpool.apply(func, (data,))


class PooledCompressor:
    """A zlib compressor whose large inputs are compressed in gevent's thread pool."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def compress(self, data: bytes) -> bytes:
        if len(data) < IN_THREAD_BYTES:
            return self.inner.compress(data)
        return in_thread(self.inner.compress, data)

    def flush(self, mode: int = zlib.Z_FINISH) -> bytes:
        return self.inner.flush(mode)


class ThreadedDeflate(PerMessageDeflate):
    """wsproto's permessage-deflate, its compressor a PooledCompressor."""

    def frame_outbound(self, proto: Any, opcode: Opcode, rsv: Any, data: bytes, fin: bool):
        if self._compressor is None and opcode is not Opcode.CONTINUATION:
            bits = self.client_max_window_bits if proto.client else self.server_max_window_bits
            self._compressor = PooledCompressor(
                zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -int(bits))
            )
        return super().frame_outbound(proto, opcode, rsv, data, fin)


def install() -> None:
    """Make simple-websocket's servers accept compression with ThreadedDeflate (it
    names the extension class at module level, once per accepted connection)."""
    import simple_websocket.ws

    simple_websocket.ws.PerMessageDeflate = ThreadedDeflate
