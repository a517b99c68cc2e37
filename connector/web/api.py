"""The JSON API under `/api/`: stores, orders and fulfilment actions, stock, inbox and outbox.

Every route needs the admin token (`Authorization: Bearer …`), compared in constant time; without it the answer
is 401. The OpenAPI document is at `/api/openapi.json` (and a browsable copy at `/api/docs`).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from connector.orders.export import ExportFormat
from connector.orders.fulfilment import ActionRefused, LocationNeeded, Tracking
from connector.orders.paper import PageSize
from connector.orders.service import BadInput, InvalidChoice, Service
from connector.orders.service import NotFound as OrderNotFound
from connector.stock import ledger
from connector.stock.movements import Reason, delta_problem, pos_movement
from connector.storage.runtime import Runtime
from connector.sync.status import overview


class ActionBody(BaseModel):
    location: str | None = None
    tracking: str | None = Field(default=None, description="Tracking number (ship).")
    carrier: str = ""
    tracking_url: str = ""
    notify: bool = False


class AssignBody(BaseModel):
    location: str = Field(min_length=1, description="The location whose part of the order is assigned.")
    user: str | None = Field(default=None, description="Who does the work; null or empty takes the part back.")


class PaymentBody(BaseModel):
    amount: str = Field(description="Decimal amount, e.g. '24.95'.")
    method: str = Field(min_length=1, description="How it was paid: cash, card, bank transfer…")


class NoteBody(BaseModel):
    text: str = Field(min_length=1)


class CountBody(BaseModel):
    sku: str = Field(min_length=1)
    location: str
    on_hand: int = Field(ge=0)


class StockBody(BaseModel):
    counts: list[CountBody]
    batch: str | None = Field(default=None, description="Idempotency key: the same batch applied twice moves nothing.")


class MovementBody(BaseModel):
    """One POS movement; `reason` is declared before `delta` so the delta's sign can be checked against it."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1, max_length=200, description="The POS's idempotency key: a key seen before is a no-op."
    )
    sku: str = Field(min_length=1, max_length=200)
    location: str = Field(min_length=1, description="A configured location.")
    reason: Reason
    delta: StrictInt = Field(description="Signed change of on-hand: a sale of one is -1.")

    @field_validator("delta")
    @classmethod
    def _sign(cls, value: int, info: ValidationInfo) -> int:
        reason = info.data.get("reason")
        problem = delta_problem(reason, value) if isinstance(reason, Reason) else None
        if problem:
            raise ValueError(problem)
        return value


MAX_MOVEMENTS = 1000


def bearer_guard(runtime: Runtime) -> Any:
    expected = f"Bearer {runtime.config.daemon.admin_token}".encode()

    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        if not authorization or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(
                401, "a valid admin token is required (Authorization: Bearer …)", headers={"WWW-Authenticate": "Bearer"}
            )

    return check


def build_api(runtime: Runtime, service: Service, on_change: Any = None) -> APIRouter:
    api = APIRouter(prefix="/api", dependencies=[Depends(bearer_guard(runtime))])
    actor = "api"

    def refused(exc: Exception) -> HTTPException:
        return HTTPException(404 if isinstance(exc, OrderNotFound) else 409, str(exc))

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await run_in_threadpool(fn, *args, **kwargs)
        except (InvalidChoice, LocationNeeded) as exc:
            raise HTTPException(422, {"message": str(exc), "choices": exc.choices}) from None
        except (ActionRefused, OrderNotFound) as exc:
            raise refused(exc) from None
        if on_change is not None:
            on_change()
        return result

    @api.get("/stores", summary="Per-store sync state, the daemon's heartbeat and the overall health")
    async def stores() -> dict[str, Any]:
        def read() -> dict[str, Any]:
            with runtime.reads() as session:
                return overview(session, runtime.config)

        result: dict[str, Any] = await run_in_threadpool(read)
        return result

    @api.get("/orders", summary="Orders, newest first")
    async def orders(
        store: str | None = None,
        status: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        backordered: Annotated[bool, Query(description="Only orders waiting for stock.")] = False,
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await run(
            service.orders, store=store, status=status, limit=limit, backordered=backordered
        )
        return result

    @api.get(
        "/orders/export",
        summary="Export orders: CSV (a row per order line), XML (see connector orders export --xsd) or JSON lines",
        response_class=StreamingResponse,
        responses={200: {"content": {f.media_type: {} for f in ExportFormat}}, 422: {"description": "Bad filter"}},
    )
    async def export_orders(
        format: ExportFormat = ExportFormat.CSV,  # the query parameter's public name
        since: Annotated[datetime | None, Query(description="Orders changed at or after this time.")] = None,
        store: str | None = None,
        status: str | None = None,
        delimiter: Annotated[Literal[",", ";"], Query(description="CSV field separator.")] = ",",
        bom: Annotated[bool, Query(description="CSV: start with a UTF-8 byte order mark.")] = False,
    ) -> StreamingResponse:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        options: dict[str, Any] = {"delimiter": delimiter, "bom": bom} if format is ExportFormat.CSV else {}
        try:
            chunks = await run_in_threadpool(service.export, format, store=store, status=status, since=since, **options)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        name = f"orders{format.suffix}"
        return StreamingResponse(
            iterate_in_threadpool(chunks),
            media_type=format.media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.get(
        "/print/picklist",
        summary="A location's pick list (PDF): every fulfilment still to pick, by SKU and by order",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}, 422: {"description": "Unknown location"}},
    )
    async def print_picklist(location: str, size: PageSize = PageSize.A4) -> Response:
        pdf = await run(service.picklist, location, size=size)
        return _pdf(pdf, f"picklist-{location}.pdf")

    @api.get(
        "/orders/{ref}/slip",
        summary="Packing slips (PDF): a page per fulfilment of the order, or only the named location's",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "No such order or part"}},
    )
    async def print_slip(ref: str, location: str | None = None, size: PageSize = PageSize.A4) -> Response:
        pdf = await run(service.slips, ref, location=location, size=size)
        return _pdf(pdf, f"slip-{ref}.pdf")

    @api.get("/orders/{ref}", summary="One order with its fulfilments and timeline")
    async def order(ref: str, raw: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = await run(service.order, ref, raw=raw)
        return result

    for action in ("start", "pack", "ship", "pickup", "cancel"):
        api.add_api_route(
            f"/orders/{{ref}}/{action}",
            _action_route(service, action, run, actor),
            methods=["POST"],
            summary=f"Fulfilment: {action}",
        )

    @api.post("/orders/{ref}/assign", summary="Assign one location's part of the order to a member of staff")
    async def assign(ref: str, body: AssignBody) -> dict[str, Any]:
        result: dict[str, Any] = await run(service.assign, ref, body.location, body.user or "", actor=actor)
        return result

    @api.post("/orders/{ref}/pay", summary="Record a payment (takes no money)")
    async def pay(ref: str, body: PaymentBody) -> dict[str, Any]:
        result: dict[str, Any] = await run(service.pay, ref, body.amount, body.method, actor=actor)
        return result

    @api.post("/orders/{ref}/note", summary="Add an internal note (never sent to the platform or customer)")
    async def note(ref: str, body: NoteBody) -> dict[str, Any]:
        result: dict[str, Any] = await run(service.note, ref, body.text, actor=actor)
        return result

    @api.post("/orders/{ref}/confirm", summary="Confirm a reservation: the held stock becomes allocated")
    async def confirm(ref: str) -> dict[str, Any]:
        result: dict[str, Any] = await run(service.confirm, ref, actor=actor)
        return result

    @api.get("/stock", summary="Stock per SKU and location")
    async def stock(sku: str | None = None, location: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await run(service.stock, sku=sku, location=location)
        return result

    @api.put("/stock", summary="Set absolute on-hand counts (a POS feed)")
    async def put_stock(body: StockBody) -> dict[str, Any]:
        counts = [ledger.Count(c.sku, c.location, c.on_hand) for c in body.counts]
        moved = await run(service.set_stock, counts, body.batch)
        return {"counts": len(counts), "changed": moved}

    @api.post("/stock/movements", summary="Apply POS movements (one transaction; a key seen before is a no-op)")
    async def move_stock(
        body: Annotated[list[MovementBody], Body(max_length=MAX_MOVEMENTS)],
    ) -> dict[str, list[dict[str, str]]]:
        movements = [pos_movement(m.key, m.sku, m.location, m.delta, m.reason) for m in body]
        try:
            applied = await run(service.move_stock, movements)
        except BadInput as exc:
            raise HTTPException(
                422, [{"type": "value_error", "loc": ["body", *exc.where], "msg": exc.message}]
            ) from None
        return {
            "results": [
                {"key": m.key, "status": "applied" if new else "duplicate"}
                for m, new in zip(body, applied, strict=True)
            ]
        }

    @api.get("/stock/{sku}/history", summary="Every change of a SKU's stock, newest first")
    async def stock_history(
        sku: str, location: str | None = None, limit: Annotated[int, Query(ge=1, le=10000)] = 200
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await run(service.stock_history, sku, location=location, limit=limit)
        return result

    @api.get("/inbox", summary="Received deliveries and dead letters")
    async def inbox(
        dead: bool = False, store: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await run(service.inbox, dead=dead, store=store, limit=limit)
        return result

    @api.post("/inbox/{item_id}/replay", summary="Queue a delivery again")
    async def replay(item_id: int) -> dict[str, Any]:
        await run(service.replay, item_id)
        return {"queued": item_id}

    @api.get("/outbox", summary="Write-backs to the platforms")
    async def outbox(
        failed: bool = False, store: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await run(service.outbox, failed=failed, store=store, limit=limit)
        return result

    @api.post("/outbox/{item_id}/retry", summary="Try a failed write-back again")
    async def retry(item_id: int) -> dict[str, Any]:
        await run(service.retry, item_id)
        return {"queued": item_id}

    return api


def _pdf(pdf: bytes, filename: str) -> Response:
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "document.pdf"
    headers = {"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"}
    return Response(pdf, media_type="application/pdf", headers=headers)


def _action_route(service: Service, action: str, run: Any, actor: str) -> Any:
    async def route(ref: str, body: ActionBody | None = None) -> dict[str, Any]:
        body = body or ActionBody()
        if action == "ship" and not body.tracking and body.carrier:
            raise HTTPException(422, "a carrier was given without a tracking number")
        tracking = Tracking(body.tracking, body.carrier, body.tracking_url) if body.tracking else None
        result: dict[str, Any] = await run(
            service.act, ref, action, actor=actor, location=body.location, tracking=tracking, notify=body.notify
        )
        return result

    route.__name__ = f"order_{action}"
    return route
