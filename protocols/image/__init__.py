"""Images from probe to ground: segments over a private PUS service (128), image files for
CFDP, CCSDS 121.0-B lossless compression, the declared image metadata, and the products."""
