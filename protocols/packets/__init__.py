"""Space packets (CCSDS 133.0-B-2): primary header, stream decoding, packet runs, the APIDs,
and the time codes they carry (CCSDS 301.0-B-4, CUC and CDS)."""
