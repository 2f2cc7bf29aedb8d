"""The HTTP edge of the service: the body limit, the JSON-body checks, and one error shape.

Every 4xx the service sends is JSON ``{"error": "..."}`` naming what was wrong: the field, the
limit, the content type, the byte, the path or the allowed methods.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error_message(status: int, method: str, path: str, allow: str | None = None, detail: str | None = None) -> str:
    """The ``error`` text of a 4xx: the path of a 404, the allowed methods of a 405, else ``detail``.

    ``detail`` left at Starlette's default (the bare reason phrase) says nothing a client can act on,
    so an unknown path and a wrong method are described from the request instead.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status the standard does not name
        phrase = ""
    if status == 404 and detail in (None, "", phrase):
        return f"no such path: {path} (the API's paths are listed at /openapi.json)"
    if status == 405 and detail in (None, "", phrase):
        return f"method {method} is not allowed on {path}; allowed: {allow or 'none'}"
    return detail or phrase or f"HTTP {status}"


async def http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's ``HTTPException`` handler, answering ``{"error": ...}`` instead of ``{"detail": ...}``."""
    headers = exc.headers or {}
    allow = Headers(headers=headers).get("allow")
    message = error_message(exc.status_code, request.method, request.url.path, allow, str(exc.detail))
    return JSONResponse(status_code=exc.status_code, content={"error": message}, headers=headers)


class BodyTooLarge(HTTPException):
    """413 for a body over the limit; an ``HTTPException`` so FastAPI's body reading lets it through
    to the handler rather than turning it into a 400."""

    def __init__(self, max_bytes: int, declared: int | None = None):
        sent = f"{declared} bytes" if declared is not None else f"more than {max_bytes} bytes"
        super().__init__(status_code=413, detail=f"request body: {sent}, the limit is {max_bytes}")


class BodyLimit:
    """413 for a request body over ``max_bytes``, however it is sent.

    A declared Content-Length over the limit is refused before anything reads the body. A body
    without one (``Transfer-Encoding: chunked``) is counted as the app reads it: the read that
    crosses the limit raises :class:`BodyTooLarge`, so at most the limit plus one chunk is ever in
    memory and the rest is never read by the app (the server discards it after the answer).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware wraps every request and response in
    extra tasks and streams, a cost paid on every call. Not FastAPI's own ``max_body_size``: its
    413 for a declared length is plain text naming no limit, replacing whatever the app answered.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return await self._refuse(BodyTooLarge(self.max_bytes, int(length)), scope, receive, send)

        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside FastAPI's handlers; they answer it themselves
            if started:
                raise
            await self._refuse(exc, scope, receive, send)

    @staticmethod
    async def _refuse(exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse(status_code=413, content={"error": exc.detail})(scope, receive, send)


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters aside: the types FastAPI parses as JSON."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_json_body(content_type: str | None, body: bytes) -> None:
    """415 naming the content type unless the body is sent as JSON; 400 naming the byte unless it is UTF-8.

    FastAPI itself reads any other content type as raw bytes (a 422 about a "dictionary" that
    never names the content type) and answers undecodable bytes with a bare 400.
    """
    if not is_json(content_type):
        raise HTTPException(415, f"content-type: {content_type or 'none given'} is not accepted; "
                                 "send the body as application/json")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"request body: not UTF-8, byte 0x{body[exc.start]:02x} at position "
                                 f"{exc.start} ({exc.reason})") from exc


class JsonBodyRoute(APIRoute):
    """A route whose request body is checked by :func:`check_json_body` before FastAPI parses it.

    FastAPI's documented way to customise request handling per route (``app.router.route_class``);
    routes without a body are left as they are. The body read here is cached on the request, so
    FastAPI's own parsing does not read it again.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            body = await request.body()
            if body:  # an empty body is FastAPI's "field required", naming the field
                check_json_body(request.headers.get("content-type"), body)
            return await handler(request)

        return checked


class JsonErrors:
    """Every 4xx the whole service sends is ``{"error": ...}``, whoever produced it.

    biomedserve's routes answer in that shape already; BentoML's router (an unknown path, a wrong
    method on ``/healthz``) and its static files answer plain text, which this re-sends as JSON
    with the same status and headers, naming the path or the allowed methods. Added to the BentoML
    service, so it sees the responses of every route; JSON and non-4xx responses pass untouched.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            return await self.app(scope, receive, send)
        held: Message | None = None
        text = b""

        async def rewritten(message: Message) -> None:
            nonlocal held, text
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                if 400 <= message["status"] < 500 and not is_json(headers.get("content-type")):
                    held = message  # re-sent as JSON once its (short) text is complete
                    return
            elif held is not None and message["type"] == "http.response.body":
                text = (text + message.get("body", b""))[:1000]
                if not message.get("more_body", False):
                    await self._as_json(held, text.decode("utf-8", "replace"), scope, receive, send)
                return
            await send(message)

        await self.app(scope, receive, rewritten)

    @staticmethod
    async def _as_json(start: Message, text: str, scope: Scope, receive: Receive, send: Send) -> None:
        status = start["status"]
        kept = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")]
        allow = Headers(raw=kept).get("allow")
        response = JSONResponse(status_code=status, content={
            "error": error_message(status, scope["method"], scope["path"], allow, text.strip() or None)})
        response.raw_headers += kept
        await response(scope, receive, send)
