"""Synchronization and channel coding: CRC-16, Reed-Solomon, the pseudo-randomizer, CADUs
(CCSDS 131.0-B, TM Synchronization and Channel Coding) and CLTUs (CCSDS 231.0-B, TC)."""
