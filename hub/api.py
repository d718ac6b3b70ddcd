"""The reference hub's HTTP API (FastAPI; its OpenAPI description is at /openapi.json).

Endpoints (docs/hub-api.md explains them for integrators who replace this hub):

    GET  /v1/status            public: the ledger key and the hub's clock
    GET  /v1/blocks?since=H    a reader: blocks above height H as JSON Lines, a page at
                               a time (gzip when asked; X-Gatehouse-Height: the head)
    POST /v1/enrol             {code, device, public_key} -> {device, ledger_key, ...};
                               refused attempts are throttled per client address (429)
    POST /v1/records           {records: [...]}, signed by the device -> acknowledgement
    GET  /v1/conflicts         a reader: tickets admitted more often than their entries

A reader is an enrolled, unrevoked device signing the request as it signs an upload
(GET, the path with its query, an empty body), or the hub operator with the token
``gate hub operator-token`` made (``Authorization: Bearer TOKEN``). The ledger names
every ticket and holder key, and the conflicts every admission: neither is public.

Every hub call runs on one worker thread (``HubWorker``): SQLite connections never
cross threads, and requests are applied one at a time, which is what a ledger authority
wants. A heartbeat block is appended every ``heartbeat`` seconds so gates can tell how
fresh their copy is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from errors import GatehouseError, HubRefusal
from sync.throttle import Throttle
from sync.wire import (
    HEADER_DEVICE,
    HEADER_HEIGHT,
    HEADER_SIGNATURE,
    HEADER_TIME,
    MAX_PAGE_BYTES,
    MAX_RECORDS_PER_REQUEST,
)

from .service import Hub

T = TypeVar("T")


class HubWorker:
    """Owns the :class:`Hub` on a single thread and runs every call there."""

    def __init__(self, hub_dir: Path, now: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub")
        self.hub: Hub = self._pool.submit(lambda: Hub(hub_dir, now=now)).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.submit(self.hub.close).result()
        self._pool.shutdown()


class RecordsUpload(BaseModel):
    """A batch of records; the raw body is what the device signed."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Any] | str] = Field(max_length=MAX_RECORDS_PER_REQUEST)


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    device: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")


def create_app(
    hub_dir: str | Path,
    *,
    heartbeat: float = 10.0,
    clock: Callable[[], float] = time.time,
    enrol_attempts: int = 10,
    enrol_window: float = 60.0,
) -> FastAPI:
    """The hub app over ``hub_dir`` (which must exist). ``clock`` is the hub's time for
    everything (signed requests, codes, blocks, the enrolment throttle); each client
    address may make ``enrol_attempts`` refused enrolment attempts per ``enrol_window``
    seconds (:mod:`sync.throttle`)."""
    state: dict[str, HubWorker] = {}
    throttle = Throttle(enrol_attempts, enrol_window, clock)

    def now() -> int:
        return int(clock())

    def reader(path: str) -> Callable[..., Awaitable[None]]:
        """What lets a request for ``path`` through: an enrolled device's signature over
        it (``path`` and the query, as sent) or the operator's token; for anyone else
        :class:`HubRefusal` 401 (409 for a signed request already received)."""

        async def check(
            request: Request,
            # Declared so that the OpenAPI description shows them; checked below (401
            # for any of them wrong, in any way), never by FastAPI.
            authorization: str | None = Header(None, description="Bearer OPERATOR-TOKEN"),
            device: str = Header("", alias=HEADER_DEVICE),
            signed_at: str = Header("", alias=HEADER_TIME),
            signature: str = Header("", alias=HEADER_SIGNATURE),
        ) -> None:
            worker = state["worker"]
            if authorization is not None:
                scheme, _, token = authorization.partition(" ")
                if scheme.lower() != "bearer" or not await worker.call(
                    worker.hub.is_operator, token.strip()
                ):
                    raise HubRefusal(401, "the operator token is not the hub's")
                return
            query = request.scope.get("query_string", b"").decode("latin-1")
            await worker.call(
                worker.hub.authenticate,
                device,
                request.method,
                path + (f"?{query}" if query else ""),
                signed_at,
                signature,
                await request.body(),
                now(),
            )

        return check

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = state["worker"] = HubWorker(Path(hub_dir), now())
        beat = asyncio.create_task(_heartbeats(worker, heartbeat, now)) if heartbeat else None
        try:
            yield
        finally:
            if beat is not None:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
            worker.close()

    app = FastAPI(title="Gatehouse reference hub", version="1", lifespan=lifespan)
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    @app.exception_handler(HubRefusal)
    async def refused(request: Request, exc: HubRefusal) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": 'Bearer realm="gatehouse-hub"'} if exc.status == 401 else None
        )
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own reply echoes the input, which fails on bytes that are not UTF-8;
        # say where and what without echoing anything.
        detail = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg"))}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)

    @app.exception_handler(GatehouseError)
    async def failed(request: Request, exc: GatehouseError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=409)

    @app.get("/v1/status")
    async def status() -> dict[str, Any]:
        return await state["worker"].call(state["worker"].hub.status, now())

    @app.get(
        "/v1/blocks", response_class=PlainTextResponse, dependencies=[Depends(reader("/v1/blocks"))]
    )
    async def blocks(since: int = Query(-1, ge=-1, le=2**62)) -> PlainTextResponse:
        hub = state["worker"].hub

        def page() -> tuple[list[str], int]:
            return (hub.authority.blocks_page(since, MAX_PAGE_BYTES), hub.authority.head()[0])

        lines, height = await state["worker"].call(page)
        return PlainTextResponse(
            "".join(line + "\n" for line in lines),
            media_type="application/x-ndjson",
            headers={HEADER_HEIGHT: str(height)},
        )

    @app.post("/v1/enrol", response_model=None)
    async def enrol(request: Request, body: EnrolRequest) -> dict[str, Any] | JSONResponse:
        address = request.client.host if request.client else None
        wait = throttle.take(address)
        if wait:
            return JSONResponse(
                {
                    "error": f"too many refused enrolment attempts from this address: try "
                    f"again in {wait} s"
                },
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        hub = state["worker"].hub
        reply = await state["worker"].call(
            hub.enrol, body.code, body.device, body.public_key, now()
        )  # a refusal keeps the token taken
        throttle.give_back(address)
        return reply

    @app.post("/v1/records")
    async def records(
        request: Request,
        upload: RecordsUpload,
        # Checked by Hub.authenticate (401 for any of them wrong, in any way), not here.
        device: str = Header("", alias=HEADER_DEVICE),
        signed_at: str = Header("", alias=HEADER_TIME),
        signature: str = Header("", alias=HEADER_SIGNATURE),
    ) -> JSONResponse:
        hub = state["worker"].hub
        raw = await request.body()  # the exact bytes the device signed
        await state["worker"].call(
            hub.authenticate, device, "POST", "/v1/records", signed_at, signature, raw, now()
        )
        result = await state["worker"].call(hub.records, device, upload.records, now())
        reply = {
            "device": result.device,
            "acked": result.acked,
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "error": result.error,
        }
        return JSONResponse(reply, status_code=200 if result.error is None else 409)

    @app.get("/v1/conflicts", dependencies=[Depends(reader("/v1/conflicts"))])
    async def conflicts() -> list[dict[str, Any]]:
        found = await state["worker"].call(state["worker"].hub.conflicts)
        return [
            {
                "ticket": c.ticket,
                "entries": c.entries,
                "admissions": [{"device": d, "seq": s, "at": a} for d, s, a in c.admissions],
            }
            for c in found
        ]

    return app


async def _heartbeats(worker: HubWorker, every: float, now: Callable[[], int]) -> None:
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(GatehouseError):
            await worker.call(worker.hub.authority.heartbeat, now())
