"""NAK sequences: many segment requests split over as many NAK PDUs as the maximum PDU length needs."""

from __future__ import annotations

from collections.abc import Sequence

from protocols.cfdp.header import PduHeader
from protocols.cfdp.pdu import Nak, max_segment_requests

METADATA_REQUEST = (0, 0)  # a segment request for (0, 0) asks for the Metadata PDU again


def nak_sequence(
    header: PduHeader,
    start_of_scope: int,
    end_of_scope: int,
    requests: Sequence[tuple[int, int]],
    max_pdu_length: int,
) -> list[Nak]:
    """NAK PDUs covering every request, none longer than ``max_pdu_length``; never truncated.

    Scopes chain as 727.0-B-5 §4.6.4.3 describes: the first PDU starts at the sequence's start
    of scope, each following one where the previous ended (the end of its last request), and
    the last ends at the sequence's end of scope.
    """
    per_pdu = max_segment_requests(header, max_pdu_length)
    if per_pdu < 1:
        raise ValueError(f"a NAK PDU of at most {max_pdu_length} octets cannot hold one segment request")
    if not requests:
        return [Nak(start_of_scope, end_of_scope, ())]
    naks = []
    scope_start = start_of_scope
    for first in range(0, len(requests), per_pdu):
        chunk = tuple(requests[first : first + per_pdu])
        is_last = first + per_pdu >= len(requests)
        scope_end = end_of_scope if is_last else max(scope_start, chunk[-1][1])
        naks.append(Nak(scope_start, scope_end, chunk))
        scope_start = scope_end
    return naks
