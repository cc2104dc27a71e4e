"""WebSocket compression off the relay's event loop.

Browsers offer permessage-deflate on every socket and the relay accepts it
(simple-websocket, through wsproto): a `fleet-update` for thousands of servers
compresses about twenty-fold, which is what lets a distant overview follow a large
fleet. But each connection has its own compressor, so every period the same large
event is compressed once per watching browser, and all of it ran on the one
event loop: with 50 overviews of 5,000 servers, the loop was held for up to
~250 ms each second, and every room's `metrics-update` waited behind it.

Here the relay asks every browser for ``server_no_context_takeover``: each message
it sends is compressed on its own (a large event loses almost nothing by it), so a
large message has the same compressed bytes on every connection. They are made
once, in gevent's thread pool: zlib releases the GIL while it compresses, so the
loop goes on serving every other socket, and each connection's writer waits
cooperatively for the shared frame. Small messages (a sample, a status) are
compressed in place, each on its own connection.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Any

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import Opcode, RsvBits

# Below this many bytes a message is compressed on the loop (well under a
# millisecond); above, in a thread.
IN_THREAD_BYTES = 16 * 1024


def in_thread(func: Any, *args: Any) -> Any:
    """``func(*args)`` in gevent's thread pool; this greenlet waits, the loop goes on."""
    from gevent import get_hub

    return get_hub().threadpool.apply(func, args)


def deflate_whole(data: bytes, bits: int) -> bytes:
    """One message compressed alone, as permessage-deflate sends it."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


class Shared:
    """The compressed form of the last few large messages, made once for every
    connection that sends them (being made: the others wait for it)."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self.made: OrderedDict[tuple[int, bytes], Any] = OrderedDict()

    def compressed(self, data: bytes, bits: int) -> bytes:
        from gevent.event import AsyncResult

        key = (bits, data)
        result = self.made.get(key)
        if result is None:
            result = self.made[key] = AsyncResult()
            while len(self.made) > self.keep:
                self.made.popitem(last=False)
            try:
                result.set(in_thread(deflate_whole, data, bits))
            except BaseException as exc:
                self.made.pop(key, None)
                result.set_exception(exc)
                raise
        return result.get()


SHARED = Shared()


class ThreadedDeflate(PerMessageDeflate):
    """wsproto's permessage-deflate, always with ``server_no_context_takeover``:
    each message the relay sends is compressed on its own, so a large one has the
    same compressed bytes for every connection, made once (SHARED) in a thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("server_no_context_takeover", True)
        super().__init__(*args, **kwargs)

    def frame_outbound(self, proto: Any, opcode: Opcode, rsv: Any, data: bytes, fin: bool):
        whole = fin and opcode in (Opcode.TEXT, Opcode.BINARY) and self._compressor is None
        if (
            whole
            and not proto.client
            and self.server_no_context_takeover
            and len(data) >= IN_THREAD_BYTES
        ):
            payload = SHARED.compressed(bytes(data), self.server_max_window_bits)
            return RsvBits(True, rsv[1], rsv[2]), payload
        return super().frame_outbound(proto, opcode, rsv, data, fin)


def install() -> None:
    """Make simple-websocket's servers accept compression with ThreadedDeflate (it
    names the extension class at module level, once per accepted connection)."""
    import simple_websocket.ws

    simple_websocket.ws.PerMessageDeflate = ThreadedDeflate
