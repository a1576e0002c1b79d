"""Space data link layer: TM (CCSDS 132.0-B), AOS (CCSDS 732.0-B) and USLP (CCSDS 732.1-B)
transfer frames, TC frames and the CLCW (CCSDS 232.0-B), packets in frame data fields, and
the physical channel configuration with its shipped channel files (``channels/``)."""
