"""realtime/deflate.py: the relay's permessage-deflate, each large message
compressed once for every connection, in gevent's thread pool, against wsproto's
own client."""

from __future__ import annotations

import json
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request, TextMessage
from wsproto.extensions import PerMessageDeflate

import realtime.deflate
from realtime.deflate import IN_THREAD_BYTES, ThreadedDeflate


def connected_pair() -> tuple[WSConnection, WSConnection]:
    """A server with ThreadedDeflate and a client offering permessage-deflate, as
    a browser does, after their handshake."""
    server, client = WSConnection(ConnectionType.SERVER), WSConnection(ConnectionType.CLIENT)
    server.receive_data(
        client.send(Request(host="relay", target="/socket.io/", extensions=[PerMessageDeflate()]))
    )
    [request] = server.events()
    assert isinstance(request, Request)
    client.receive_data(server.send(AcceptConnection(extensions=[ThreadedDeflate()])))
    [accepted] = client.events()
    [extension] = accepted.extensions
    assert extension.name == "permessage-deflate" and extension.server_no_context_takeover
    return server, client


def received(client: WSConnection, data: bytes) -> str:
    client.receive_data(data)
    parts, text = [], None
    for event in client.events():
        assert isinstance(event, TextMessage)
        parts.append(event.data)
        if event.message_finished:
            text = "".join(parts)
    assert text is not None
    return text


def fleet_update(n: int, salt: int) -> str:
    servers = [{"server_id": i, "latest": {"cpu_percent": (i * salt) % 97}} for i in range(n)]
    return '42["fleet-update",' + json.dumps({"servers": servers}) + "]"


def test_a_large_message_is_compressed_once_in_a_thread_for_every_connection(monkeypatch):
    # Which thread compressed what: a spy on the hand-off, which still makes it.
    handed: list[tuple[int, int]] = []
    handoff = realtime.deflate.in_thread

    def spy(func, data, bits):
        def run(data, bits):
            handed.append((len(data), threading.get_ident()))
            return func(data, bits)

        return handoff(run, data, bits)

    monkeypatch.setattr(realtime.deflate, "in_thread", spy)
    monkeypatch.setattr(realtime.deflate, "SHARED", realtime.deflate.Shared())
    pairs = [connected_pair() for _ in range(3)]
    first, second = fleet_update(3000, 7), fleet_update(3000, 11)
    assert len(first) > IN_THREAD_BYTES
    small = '42["metrics-update",{"server_id":1,"cpu_percent":12.5}]'
    for text in (first, small, second, small, first):
        wires = []
        for server, client in pairs:
            wire = server.send(Message(data=text))
            assert received(client, wire) == text
            wires.append(wire)
        if len(text) > IN_THREAD_BYTES:
            # Compressed, and the same bytes on every connection.
            assert len(wires[0]) < len(text) / 5
            assert wires == [wires[0]] * len(pairs)
    # Each large message compressed once, off this thread; the small ones in place
    # (and the first one kept for its second sending).
    assert [n for n, _ in handed] == [len(first), len(second)]
    assert all(ident != threading.get_ident() for _, ident in handed)
