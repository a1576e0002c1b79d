"""The ground API: HTTP and WebSocket over the archive and the live station (FastAPI on uvicorn).

:mod:`.messages` declares every message, :mod:`.dictionary` builds the telemetry dictionary from
the mission database, :mod:`.alarms` keeps ISA-18.2 alarm states, :mod:`.live` carries the
station's updates to WebSocket clients without ever blocking the station, :mod:`.app` is the
application and :mod:`.server` runs it in a thread beside the station (or alone over a finished
archive: ``paleblue serve``).
"""
