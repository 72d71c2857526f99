"""The body size limit, enforced before any route runs: by Content-Length, then by the bytes
actually read (a client may lie or send chunks). The body is held in memory only up to the
limit, then handed to the app unchanged.

Paths starting with one of ``upload_paths`` (the CSV uploads) get ``upload_limit`` instead:
a campaign file is megabytes, while every other body stays small.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsconsent.web.errors import error_response


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None,
                 upload_paths: tuple[str, ...] = ()) -> None:
        self.app, self.limit = app, limit
        self.upload_limit = upload_limit or limit
        self.upload_paths = upload_paths

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.startswith(self.upload_paths) else self.limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int,
                      code: str, message: str) -> None:
        await error_response(status, code, message)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope["headers"]).get(b"content-length")
        too_big = f"the body is larger than {limit} bytes"
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(scope, receive, send, 400, "bad_request",
                                   "the Content-Length header is not a number")
                return
            if int(declared) > limit:
                await self._refuse(scope, receive, send, 413, "payload_too_large", too_big)
                return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, 413, "payload_too_large", too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
