"""realtime/deflate.py: the relay's permessage-deflate, with large messages
compressed in gevent's thread pool, against wsproto's own client."""

from __future__ import annotations

import json

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request, TextMessage
from wsproto.extensions import PerMessageDeflate

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
    assert [e.name for e in accepted.extensions] == ["permessage-deflate"]
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


def test_large_and_small_messages_arrive_whole_and_compressed_in_turn(monkeypatch):
    import threading

    import realtime.deflate

    server, client = connected_pair()
    # Which thread compressed what: a spy on the hand-off, which still makes it.
    threads: list[tuple[int, int]] = []
    handoff = realtime.deflate.in_thread

    def spy(func, data):
        def run(data):
            threads.append((len(data), threading.get_ident()))
            return func(data)

        return handoff(run, data)

    monkeypatch.setattr(realtime.deflate, "in_thread", spy)
    fleet = (
        '42["fleet-update",'
        + json.dumps(
            {"servers": [{"server_id": i, "latest": {"cpu_percent": i % 97}} for i in range(3000)]}
        )
        + "]"
    )
    assert len(fleet) > IN_THREAD_BYTES
    messages = [fleet, '42["metrics-update",{"server_id":1}]', fleet.replace("97", "98"), "3"]
    for text in messages:
        wire = server.send(Message(data=text))
        assert received(client, wire) == text
        if len(text) > IN_THREAD_BYTES:
            # Compressed (the context carries over between messages), and in a thread.
            assert len(wire) < len(text) / 5
    # The two large messages went to a thread of the pool, the small ones did not.
    assert len(threads) == 2
    assert all(n >= len(fleet) and ident != threading.get_ident() for n, ident in threads)
