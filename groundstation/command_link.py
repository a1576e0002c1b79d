"""Commanding a running probe over ZeroMQ: TCs up as CLTUs, verification back down the downlink.

:func:`open_command_client` gives a :class:`~groundstation.commanding.CommandClient`
(``send_and_assert_command``, ``await_telemetry``, ``await_event``) whose
transport is a PUSH socket to the probe's uplink and a SUB socket on its
downlink, decoded through the same link receiver as the ground station. It is
what ``paleblue cmd`` uses and what a pytest test uses to drive a live probe.

With ``cop1`` (a :class:`~protocols.link.fop.Fop1`), TCs go up as Type-AD frames under COP-1: the
FOP-1 sends them in its window and retransmits as the CLCWs read from the downlink's OCFs (and its
timer) ask; it first takes the FARM's V(R) from a CLCW and initializes with Set V(R).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import zmq

from groundstation.commanding import CommandClient
from groundstation.link_receiver import LinkReceiver
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Envelope, Layer
from protocols.coding.cltu import encode_cltu
from protocols.errors import DecodeError
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.clcw import Clcw
from protocols.link.fop import Fop1, FopState, Transmission
from protocols.link.tc_frame import TcFrame, TcFrameEncoder, wrap_for_uplink
from protocols.mdb.mission_db import MissionDatabase, load_mission_db
from protocols.packets.space_packet import PacketStreamDecoder, SpacePacket, peek_header
from protocols.sdls import SecurityContext
from transport.sender import Sender
from transport.subscriber import Subscriber

MAX_MESSAGES_PER_RECEIVE = 64


class CommandLink:
    """The sockets and decoders behind a command client."""

    def __init__(
        self,
        uplink: str,
        downlink: str,
        channel: PhysicalChannelConfig | None,
        mdb: MissionDatabase,
        security: SecurityContext | None = None,
        on_sent: Callable[[SecurityContext], None] | None = None,
        context: zmq.Context | None = None,
        cop1: Fop1 | None = None,
    ) -> None:
        self._push = Sender(uplink, context, linger_ms=2000)
        self._sub = Subscriber(downlink, [TOPIC_DOWNLINK], context, high_water_mark=100_000)
        self._receiver = LinkReceiver(channel) if channel is not None else None
        self._encoder = TcFrameEncoder(mdb.spacecraft_id, mdb.tc_virtual_channel)
        self._security = security
        self._on_sent = on_sent
        self._spacecraft_id, self._vcid = mdb.spacecraft_id, mdb.tc_virtual_channel
        self._frame_sequence = 0
        self._platform_apids = {mdb.apids[role] for role in ("housekeeping", "events", "verification")}
        self._session = random.SystemRandom().getrandbits(32)
        self._sequence = 0
        self.messages_received = 0
        self.messages_refused = 0
        self.cop1 = cop1
        self.last_clcw: Clcw | None = None
        self._cop_started = False
        if cop1 is not None:
            if self._receiver is None:
                raise ValueError("COP-1 needs transfer frames on the downlink (their OCF carries the CLCW)")
            self._receiver.set_ocf_sink(self._on_ocf)

    def _on_ocf(self, ocf: bytes) -> None:
        try:
            clcw = Clcw.unpack(ocf)
        except DecodeError:
            return
        if clcw.vcid != self._vcid or clcw.cop_in_effect != 1:
            return
        self.last_clcw = clcw
        fop = self.cop1
        assert fop is not None
        if not self._cop_started:  # the first CLCW: initialize AD service with the FARM's V(R)
            self._cop_started = True
            fop.initiate(set_vr=clcw.report_value)
            return
        fop.on_clcw(clcw)

    def pump(self) -> None:
        """COP-1: send what the FOP-1 says is due now (new frames, retransmissions, its BC frame)."""
        if self.cop1 is None:
            return
        for t in self.cop1.poll(time.monotonic()):
            self._send_frame(t)

    def _send_frame(self, t: Transmission) -> None:
        security = self._security
        if security is not None and security.channel_protected("tc", self._vcid):
            frame = security.protect_tc(self._spacecraft_id, self._vcid, t.sequence_number, t.data,
                                        bypass=t.control, control_command=t.control)  # fmt: skip
            if self._on_sent is not None:
                self._on_sent(security)
        else:
            frame = TcFrame(self._spacecraft_id, self._vcid, t.sequence_number, t.data, bypass=t.control,
                            control_command=t.control).pack()  # fmt: skip
        envelope = Envelope(Layer.CLTUS, self._session, self._sequence).pack()
        self._sequence += 1
        self._push.send([TOPIC_UPLINK, envelope, encode_cltu(frame)])

    def flush(self, timeout_s: float) -> bool:
        """COP-1: pump and read CLCWs until every TC is acknowledged (True) or ``timeout_s`` passes."""
        if self.cop1 is None:
            return True
        fop = self.cop1
        deadline = time.monotonic() + timeout_s
        while True:
            if fop.idle and fop.state is FopState.ACTIVE:
                return True
            if fop.alerts or time.monotonic() >= deadline:
                return False
            self.receive(0.05)

    def send(self, packet: bytes) -> None:
        """One TC packet, framed (and secured by SDLS when the SAs cover the TC channel) into a CLTU;
        with COP-1, queued for the FOP-1 (sent by :meth:`pump`, called from :meth:`receive` too)."""
        if self.cop1 is not None:
            self.cop1.submit(packet)
            self.pump()
            return
        envelope = Envelope(Layer.CLTUS, self._session, self._sequence).pack()
        self._sequence += 1
        security = self._security
        if security is not None and security.channel_protected("tc", self._vcid):
            frame = security.protect_tc(self._spacecraft_id, self._vcid, self._frame_sequence, packet)
            self._frame_sequence = (self._frame_sequence + 1) & 0xFF
            if self._on_sent is not None:
                self._on_sent(security)  # the ARSN is kept before the frame leaves
            cltu = encode_cltu(frame)
        else:
            cltu = wrap_for_uplink(packet, self._encoder)
        self._push.send([TOPIC_UPLINK, envelope, cltu])

    def receive(self, timeout_s: float) -> bytes | None:
        """Platform packets (concatenated) from whatever downlink arrives within ``timeout_s``."""
        self.messages_refused += len(self._sub.refusals())
        self.pump()
        if not self._sub.poll(int(timeout_s * 1000)):
            return None
        packets: list[bytes] = []
        # bounded: a downlink arriving faster than this process decodes it must not keep one call
        # (and so every deadline of the client above it) from ever returning
        for _ in range(MAX_MESSAGES_PER_RECEIVE):
            parts = self._sub.receive()
            if parts is None:
                break
            self.messages_received += 1
            packets += self._platform_packets(parts)
        self.pump()
        return b"".join(packets)

    def wait_for_downlink(self, timeout_s: float) -> bool:
        """True once downlink traffic flows (so the subscription is live and replies will be seen)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._sub.poll(100):
                return True
        return False

    def _platform_packets(self, parts: list[bytes]) -> list[bytes]:
        if len(parts) != 3:
            return []
        try:
            envelope = Envelope.unpack(parts[1])
        except DecodeError:
            return []
        if envelope.layer == Layer.CADUS and self._receiver is not None:
            raw = [out.packet for out in self._receiver.feed(parts[2])]
        elif envelope.layer == Layer.PACKETS:
            decoder = PacketStreamDecoder()
            raw = [
                u.pack() for u in [*decoder.feed(parts[2]), *decoder.close()] if isinstance(u, SpacePacket)
            ]
        else:
            return []
        return [p for p in raw if (h := peek_header(p)) is not None and h.apid in self._platform_apids]

    def close(self) -> None:
        self._push.close()
        self._sub.close()


@contextmanager
def open_command_client(
    uplink: str,
    downlink: str,
    channel: PhysicalChannelConfig | None,
    mdb: MissionDatabase | None = None,
    connect_timeout_s: float = 10.0,
    security: SecurityContext | None = None,
    on_sent: Callable[[SecurityContext], None] | None = None,
    context: zmq.Context | None = None,
    cop1: Fop1 | None = None,
) -> Iterator[CommandClient]:
    """A command client on a live probe; waits until its downlink is heard before returning.

    With ``security``, every TC goes up in an SDLS-secured frame with the next ARSN of the TC
    channel's SA; ``on_sent`` persists the ARSNs (``paleblue cmd --keys``). ``context``: the ZeroMQ
    context for the sockets (one set up by :func:`transport.curve.connect_curve` for CURVE)."""
    mdb = mdb or load_mission_db()
    link = CommandLink(uplink, downlink, channel, mdb, security, on_sent, context, cop1)
    try:
        if not link.wait_for_downlink(connect_timeout_s):
            raise TimeoutError(f"no downlink heard on {downlink} within {connect_timeout_s:.0f} s")
        client = CommandClient(mdb, link.send, link.receive)
        client.link = link  # type: ignore[attr-defined]
        yield client
        link.flush(connect_timeout_s)
    finally:
        link.close()
