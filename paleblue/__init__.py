"""paleblue: a deep-space probe and its ground station, joined by byte-exact CCSDS links."""

__version__ = "0.1.0"
