"""The mission database: housekeeping layouts, calibrations, events and telecommands, and its
exports (XTCE 1.2, OMG/CCSDS 660.0-B, and ccsdspy packet definitions)."""
