"""Packet utilization standard (ECSS-E-ST-70-41C, PUS-C): TM and TC secondary headers and the
services paleblue's platform speaks."""
