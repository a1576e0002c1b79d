"""The one exception every decoder raises on bad bytes.

Decoders take untrusted input. They either return a result or raise
:class:`DecodeError`, which names the protocol layer and the byte offset
where decoding failed, so that a ground operator can find the bad byte in a
recording and a fuzzer can tell an expected rejection from a crash.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes that do not decode at one protocol layer.

    ``layer`` is a short name such as ``"space-packet"`` or ``"tm-frame"``;
    ``offset`` is the byte offset within the buffer handed to the decoder.
    """

    def __init__(self, layer: str, offset: int, reason: str) -> None:
        super().__init__(f"{layer} @ byte {offset}: {reason}")
        self.layer = layer
        self.offset = offset
        self.reason = reason
