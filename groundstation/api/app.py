"""The ground API application: dictionary, history, realtime, alarms, images and commands.

Everything but ``POST`` is read-only and open on the address the server binds (127.0.0.1 by
default); every ``POST`` (commands, alarm actions) needs the bearer token. History is read from
the archive file (a read-only connection per request, so a live station's writes never wait);
realtime updates come from the station's :class:`~groundstation.api.live.LiveFeed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError

from groundstation.api.alarms import AlarmBook, AlarmError
from groundstation.api.live import LiveFeed, encode
from groundstation.api.messages import (
    MAX_BODY_OCTETS,
    MAX_SAMPLES,
    MAX_SUBSCRIPTIONS,
    AlarmState,
    Bucket,
    CommandAccepted,
    CommandRequest,
    Dictionary,
    DownsampledHistory,
    History,
    ImageInfo,
    Problem,
    Sample,
    ShelveRequest,
    Subscription,
)
from groundstation.archive import Archive, ArchiveError
from protocols.packets.time_code import tai_seconds_to_utc, utc_to_tai_seconds

API_VERSION = "1"


class CommandRefused(ValueError):
    """A command the station will not send (unknown, bad argument): a 422 with the reason."""


@dataclass
class ApiContext:
    """What the API serves: a live station's feed and uplink, or only a finished archive."""

    dictionary: Dictionary
    archive_path: Path | None = None
    products_dir: Path | None = None
    feed: LiveFeed | None = None
    alarms: AlarmBook = field(default_factory=AlarmBook)
    token: str | None = None
    send_command: Callable[[str, dict[str, Any]], str] | None = None  # returns the request id
    status: Callable[[], dict[str, Any]] | None = None
    web: Any | None = None  # a console.Console: the operator console at / (groundstation/api/console)


def iso(tai: float | None) -> str | None:
    if tai is None:
        return None
    try:
        return tai_seconds_to_utc(tai).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (OverflowError, ValueError):
        return None


def parse_time(text: str | None, default: float) -> float:
    """ISO 8601 (UTC unless it says otherwise) or TAI seconds since 1958; 400 when neither."""
    from datetime import UTC, datetime

    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise HTTPException(400, f"{text!r} is not an ISO 8601 time or TAI seconds") from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return utc_to_tai_seconds(when.astimezone(UTC))
    if value != value or value in (float("inf"), float("-inf")):
        raise HTTPException(400, f"{text!r} is not a time")
    return value


class BodyLimit:
    """Refuse request bodies over ``limit`` octets with 413 before reading them (pure ASGI)."""

    def __init__(self, app: Any, limit: int = MAX_BODY_OCTETS) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(send)
            return
        seen, refused = 0, False

        async def counted() -> dict:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a body sent without a length: refused once it passes the limit
                refused = True
                await self._refuse(send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict) -> None:
            if not refused:  # after a refusal the app's own answer is not sent
                await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse(self, send: Callable) -> None:
        body = json.dumps({"detail": f"request body over {self.limit} octets"}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


ERRORS = {400: {"model": Problem}, 401: {"model": Problem}, 404: {"model": Problem}, 413: {"model": Problem}}


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="paleblue ground API",
        version=API_VERSION,
        description="Telemetry dictionary, history, realtime updates, alarms, images and commands of a "
        "paleblue ground station or of a finished pass's archive.",
    )

    def archive() -> Archive:
        if context.archive_path is None:
            raise HTTPException(404, "this station keeps no archive (start it with --archive FILE)")
        try:
            return Archive(context.archive_path)
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None

    def operator(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = context.token
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "this needs the operator token: Authorization: Bearer <token>")

    @app.get("/api/dictionary", response_model=Dictionary)
    def dictionary() -> Dictionary:
        return context.dictionary

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return {
            "live": context.feed is not None,
            "archive": str(context.archive_path) if context.archive_path else None,
            "station": context.status() if context.status else None,
            "realtime": context.feed.counters() if context.feed else None,
        }

    @app.get("/api/parameters", responses=ERRORS)
    def parameters(pattern: str = "*") -> list[dict[str, Any]]:
        with archive() as a:
            infos = a.parameters(pattern)
        return [
            {
                "name": p.name,
                "kind": p.kind,
                "unit": p.unit,
                "samples": p.samples,
                "first": iso(p.first),
                "last": iso(p.last),
            }
            for p in infos
        ]

    @app.get("/api/parameters/{name}/history", response_model=History | DownsampledHistory, responses=ERRORS)
    def history(
        name: str,
        start: str | None = None,
        end: str | None = None,
        raw: bool = False,
        buckets: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> History | DownsampledHistory:
        t0, t1 = parse_time(start, float("-inf")), parse_time(end, float("inf"))
        if t1 < t0:
            raise HTTPException(400, "end is before start")
        with archive() as a:
            try:
                if buckets is not None:
                    info = a.parameters(name)
                    if not info or info[0].first is None:
                        return DownsampledHistory(name=name, raw=raw, buckets=[])
                    lo = max(t0, info[0].first)
                    hi = min(t1, info[0].last)
                    hi = hi if hi > lo else lo + 1.0
                    b = a.downsample(name, lo, hi, buckets, raw=raw)
                    return DownsampledHistory(name=name, raw=raw, buckets=_buckets(b))
                samples = a.query(name, t0, t1, raw=raw)
            except ArchiveError as exc:
                raise HTTPException(404 if "no parameter" in str(exc) else 400, str(exc)) from None
        if len(samples) > MAX_SAMPLES:
            raise HTTPException(
                413, f"{len(samples)} samples in that range (at most {MAX_SAMPLES}): ask with buckets=N"
            )
        return History(name=name, raw=raw, samples=_samples(samples))

    @app.get("/api/parameters/{name}/latest", responses=ERRORS)
    def latest(name: str) -> dict[str, Any]:
        newest = context.feed.latest(name) if context.feed is not None else None
        if newest is not None:
            return newest
        with archive() as a:
            try:
                samples = a.query(name)
            except ArchiveError as exc:
                raise HTTPException(404, str(exc)) from None
        if not len(samples):
            raise HTTPException(404, f"no samples of {name}")
        tai = float(samples.gen[-1])
        return {
            "type": "parameter",
            "name": name,
            "tai": tai,
            "time": iso(tai),
            "value": _plain(samples.value[-1]),
        }

    def _records(kind: str, start: str | None, end: str | None) -> list[dict[str, Any]]:
        t0, t1 = parse_time(start, float("-inf")), parse_time(end, float("inf"))
        if t1 < t0:
            raise HTTPException(400, "end is before start")
        with archive() as a:
            rows = getattr(a, kind)(t0, t1)
        for row in rows:
            row["time"] = iso(row["gen"])
        return rows

    @app.get("/api/events", responses=ERRORS)
    def events(start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
        return _records("events", start, end)

    @app.get("/api/commands", responses=ERRORS)
    def command_history(start: str | None = None, end: str | None = None) -> list[dict[str, Any]]:
        return _records("commands", start, end)

    @app.get("/api/images", response_model=list[ImageInfo], responses=ERRORS)
    def images() -> list[ImageInfo]:
        return [
            ImageInfo(name=r["name"], time=r["time"] or "", complete=r["complete"], info=r["info"])
            for r in _records("images", None, None)
        ]

    def _product(name: str, kind: str) -> Path:
        for row in reversed(_records("images", None, None)):
            if row["name"] == name:
                path = (row["info"].get("products") or {}).get(kind)
                break
        else:
            raise HTTPException(404, f"no image {name!r}")
        if not path or context.products_dir is None:
            raise HTTPException(404, f"image {name!r} has no {kind} product")
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(context.products_dir.resolve()) or not resolved.is_file():
            raise HTTPException(404, f"image {name!r}: its {kind} product is not here")
        return resolved

    @app.get("/api/images/{name}.png", responses=ERRORS, response_class=FileResponse)
    def image_png(name: str) -> FileResponse:
        return FileResponse(_product(name, "quicklook"), media_type="image/png")

    @app.get("/api/images/{name}.json", responses=ERRORS, response_class=FileResponse)
    def image_json(name: str) -> FileResponse:
        return FileResponse(_product(name, "truth"), media_type="application/json")

    @app.get("/api/alarms", response_model=list[AlarmState])
    def alarms() -> list[AlarmState]:
        return [
            AlarmState(
                parameter=a["parameter"],
                state=a["state"],
                level=a["level"],
                value=a["value"],
                time=iso(a["tai"]),
                triggers=a["triggers"],
            )
            for a in context.alarms.alarms()
        ]

    def _alarm_action(parameter: str, action: Callable[[], None]) -> dict[str, str]:
        try:
            action()
        except AlarmError:
            raise HTTPException(404, f"no alarm on {parameter!r}") from None
        return {"parameter": parameter, "state": context.alarms.state(parameter)}

    @app.post("/api/alarms/{parameter}/acknowledge", dependencies=[Depends(operator)], responses=ERRORS)
    def acknowledge(parameter: str) -> dict[str, str]:
        return _alarm_action(parameter, lambda: context.alarms.acknowledge(parameter))

    @app.post("/api/alarms/{parameter}/shelve", dependencies=[Depends(operator)], responses=ERRORS)
    def shelve(parameter: str, request: ShelveRequest) -> dict[str, str]:
        return _alarm_action(parameter, lambda: context.alarms.shelve(parameter, request.seconds))

    @app.post("/api/alarms/{parameter}/clear", dependencies=[Depends(operator)], responses=ERRORS)
    def clear(parameter: str) -> dict[str, str]:
        return _alarm_action(parameter, lambda: context.alarms.clear(parameter))

    @app.post(
        "/api/commands",
        dependencies=[Depends(operator)],
        response_model=CommandAccepted,
        responses={**ERRORS, 422: {"model": Problem}, 503: {"model": Problem}},
    )
    def send_command(request: CommandRequest) -> CommandAccepted:
        if context.send_command is None:
            raise HTTPException(503, "no uplink: this server has no station to command through")
        try:
            request_id = context.send_command(request.name, request.arguments)
        except CommandRefused as exc:
            raise HTTPException(422, str(exc)) from None
        return CommandAccepted(request=request_id, name=request.name, arguments=request.arguments)

    @app.websocket("/api/realtime")
    async def realtime(socket: WebSocket) -> None:
        await socket.accept()
        if context.feed is None:
            await socket.close(code=4004, reason="no live station: this server serves a finished archive")
            return
        await _serve_client(socket, context.feed)

    @app.exception_handler(ValidationError)
    async def invalid(request: Any, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    if context.web is not None:
        from groundstation.api.console import mount

        mount(app, context, context.web)
    return BodyLimitedApp(app)


class BodyLimitedApp(BodyLimit):
    """The FastAPI app behind the body limit; ``.api`` is the FastAPI object (routes, OpenAPI)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app)
        self.api = app


async def _serve_client(socket: WebSocket, feed: LiveFeed) -> None:
    client = feed.add_client()

    async def receive() -> None:
        while True:
            text = await socket.receive_text()
            try:
                request = Subscription.model_validate_json(text)
            except ValidationError as exc:
                await socket.send_text(
                    encode([{"type": "error", "detail": f"not a subscription: {exc.errors()[0]['msg']}"}])
                )
                continue
            client.unsubscribe(request.unsubscribe)
            if client.subscriptions + len(request.subscribe) > MAX_SUBSCRIPTIONS:
                await socket.send_text(
                    encode([{"type": "error", "detail": f"at most {MAX_SUBSCRIPTIONS} subscriptions"}])
                )
                continue
            client.subscribe(request.subscribe)
            if request.packets is not None:
                client.packets = request.packets
            snapshot = [u for u in map(feed.latest, request.subscribe) if u is not None]
            await socket.send_text(encode([{"type": "subscribed", "names": request.subscribe}, *snapshot]))

    async def send() -> None:
        while True:
            await client.ready.wait()
            client.ready.clear()
            while client.queue:
                text, count = client.take()  # the batches queued since the last send, few messages
                await socket.send_text(text)
                client.sent += count

    sender = asyncio.ensure_future(send())
    tasks = [asyncio.ensure_future(receive()), sender, asyncio.ensure_future(client.slow.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if client.too_slow:  # the sender may be stuck behind the client's full buffers: stop it
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await sender
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await socket.close(code=4008, reason=f"too slow: fell {client.backlog} updates behind")
    except WebSocketDisconnect:
        pass
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        feed.remove_client(client)


def _buckets(b: Any) -> list[Bucket]:
    columns = zip(
        b.start.tolist(),
        b.count.tolist(),
        b.minimum.tolist(),
        b.maximum.tolist(),
        b.mean.tolist(),
        strict=True,
    )
    return [
        Bucket(time=iso(t) or "", tai=t, count=n, min=low, max=high, mean=mean)
        for t, n, low, high, mean in columns
    ]


def _samples(samples: Any) -> list[Sample]:
    columns = zip(samples.gen.tolist(), samples.value.tolist(), samples.rcv.tolist(), strict=True)
    return [Sample(time=iso(g) or "", tai=g, value=_plain(v), received=r) for g, v, r in columns]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
