"""How passes travel between processes and are kept: the ZeroMQ message framing and the
recording format (paleblue's own formats; no CCSDS standard)."""
