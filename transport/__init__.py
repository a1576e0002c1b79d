"""The ZeroMQ sockets every paleblue process opens, written once.

:class:`~transport.publisher.Publisher` (XPUB, back-pressure instead of drops) is what the probe's
downlink, a replay and the stream fuzzer send on; :class:`~transport.subscriber.Subscriber` (SUB
behind a :class:`~transport.connection_guard.ConnectionGuard`) is what a ground station, a recorder
and a command client receive on; :class:`~transport.sender.Sender` (PUSH) and
:class:`~transport.puller.Puller` (PULL) carry the uplink. :mod:`transport.limits` bounds every
socket in octets; :mod:`transport.curve` puts ZeroMQ CURVE on a process's sockets. The messages
themselves (topic, envelope, payload) are declared in :mod:`protocols.capture.zmq_framing`.

Layering: this package imports only :mod:`protocols` and third-party libraries.
"""
