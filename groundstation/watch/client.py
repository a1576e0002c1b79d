"""The ground API as ``paleblue watch`` uses it: a few REST calls and the realtime WebSocket.

Only the standard library for HTTP (``urllib``: the watch makes a handful of requests, never in
the station's process) and ``websockets`` (already the API server's) for the realtime stream.
Every failure a person can cause or meet (a malformed URL, nothing listening, an HTTP error) is a
:class:`WatchError` with one line saying what and where.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any

TIMEOUT_S = 5.0
NO_LIVE_STATION = 4004  # the API's close code on /api/realtime when it serves a finished archive


class WatchError(Exception):
    """What went wrong talking to the API, in one line."""


class ApiRefused(WatchError):
    """The API answered with an HTTP error (``status``, its ``detail``)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail = status, detail


def parse_url(text: str) -> str:
    """``http://HOST:PORT`` (or ``https``; ``HOST:PORT`` and a bare ``PORT`` on 127.0.0.1 too)
    -> the base URL without a trailing slash; :class:`WatchError` saying why it is not one."""
    given = text.strip()
    if given.isdigit():
        given = f"127.0.0.1:{given}"
    if "://" not in given:
        given = f"http://{given}"
    try:
        parts = urllib.parse.urlsplit(given)
        port = parts.port
    except ValueError:
        raise WatchError(f"--api {text!r} is not a URL like http://127.0.0.1:8080 (its port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise WatchError(f"--api {text!r} is not a URL like http://127.0.0.1:8080 (scheme, host and port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise WatchError(f"--api {text!r}: give the server's address only, like http://127.0.0.1:8080")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        self.base_url = parse_url(base_url)
        self.token = token
        self.timeout_s = timeout_s

    @property
    def realtime_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/api/realtime"

    def _request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        url = self.base_url + urllib.parse.quote(path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        if method == "POST" and self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise ApiRefused(exc.code, str(detail)) from None
        except urllib.error.URLError as exc:
            raise WatchError(f"cannot reach the API at {self.base_url}: {_reason(exc.reason)}") from None
        except (OSError, ValueError) as exc:  # a reset connection, an answer that is not JSON
            raise WatchError(f"cannot read the API at {self.base_url}: {_reason(exc)}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params)

    # ------------------------------------------------------------------ what the watch asks

    def status(self) -> dict[str, Any]:
        return self.get("/api/status")

    def dictionary(self) -> dict[str, Any]:
        return self.get("/api/dictionary")

    def alarms(self) -> list[dict[str, Any]]:
        return self.get("/api/alarms")

    def events(self) -> list[dict[str, Any]]:
        return self.get("/api/events")

    def images(self) -> list[dict[str, Any]]:
        return self.get("/api/images")

    def parameters(self, pattern: str = "*") -> list[dict[str, Any]]:
        return self.get("/api/parameters", pattern=pattern)

    def value_at(self, name: str, when: str) -> dict[str, Any] | None:
        """The archived sample of ``name`` at ``when`` (its newest, from ``GET /api/parameters``):
        a history of that one instant, so a long archive is not read whole."""
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        window = timedelta(milliseconds=1)  # the ISO time is rounded to the microsecond
        start, end = ((moment + d).isoformat() for d in (-window, window))
        samples = self.get(f"/api/parameters/{name}/history", start=start, end=end)["samples"]
        return samples[-1] if samples else None

    def acknowledge(self, parameter: str) -> dict[str, Any]:
        """``POST /api/alarms/{parameter}/acknowledge`` (needs the operator token)."""
        if not self.token:
            raise WatchError("acknowledging needs the operator token: --token TOKEN or PALEBLUE_API_TOKEN")
        return self._request("POST", f"/api/alarms/{parameter}/acknowledge")


def _reason(reason: object) -> str:
    text = getattr(reason, "strerror", None) or str(reason)
    return text[:1].upper() + text[1:] if text else "no answer"
