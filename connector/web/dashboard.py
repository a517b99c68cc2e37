"""The support dashboard at `/`: server-rendered pages over `Service` and the read model, behind a login.

    GET  /login, POST /login        the admin token, posted once; a signed session cookie afterwards
    GET  /logout, POST /logout      end the session
    GET  /                          stores (health, polls, webhooks, inbox, outbox), activity chart, poll lag
    GET  /queue?location=X          open fulfilments at a location, newest first, with their actions
    GET  /orders?q=REF              find an order by id, number or store:external_id
    GET  /orders/{ref}              one order: lines, fulfilments and the full timeline
    POST /orders/{ref}/fulfil       start | pack | ship | pickup, at one location
    POST /orders/{ref}/assign       assign one location's part to a member of staff (an empty name clears it)
    POST /orders/{ref}/pay          record a payment (takes no money)
    POST /orders/{ref}/confirm      confirm a reservation: its held stock becomes allocated
    GET  /dead                      dead letters and failed write-backs
    POST /dead/{id}/replay, POST /outbox/{id}/retry
    GET  /static/{name}             the stylesheet and icon, from `web/static/`

Pages need a login (else 303 to `/login`); every POST needs the session's CSRF token (else 403 and nothing is
done). Actions run as actor `dashboard`, then call `on_action` (which wakes the outbox worker); a refusal
(`ActionRefused`) comes back as a flash message on the page the form was on.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from connector.orders.fulfilment import ActionRefused, Tracking
from connector.orders.model import PaymentStatus, address_lines
from connector.orders.paper import PageSize
from connector.orders.service import NotFound, Service
from connector.storage.runtime import Runtime
from connector.sync.status import store_status
from connector.web import charts, readmodel
from connector.web.security import Guard, Session

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
ACTOR = "dashboard"
DONE = {"start": "started", "pack": "marked packed", "ship": "marked shipped", "pickup": "marked picked up"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FormText = Annotated[str, Form()]


def safe_next(url: str, default: str = "/") -> str:
    """A local path to go back to; anything that could leave the site (`//host`, `\\`, a scheme) gives `default`."""
    ok = url.startswith("/") and not url.startswith("//") and "\\" not in url and url.isprintable()
    return url if ok else default


def _when(value: str | datetime | None) -> str:
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["duration"] = charts.duration
    return env


def _static_files() -> dict[str, tuple[bytes, str]]:
    return {
        path.name: (path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        for path in STATIC.iterdir()
        if path.is_file()
    }


def pdf_response(pdf: bytes, filename: str) -> Response:
    """A PDF to save (the print buttons): an attachment, never cached (it holds customer data)."""
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "document.pdf"
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"}
    return Response(pdf, media_type="application/pdf", headers=headers)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


class Dashboard:
    """The pages' shared machinery: templates, the login guard, and running an action behind its CSRF check."""

    def __init__(self, runtime: Runtime, service: Service, on_action: Callable[[], None] | None) -> None:
        self.runtime = runtime
        self.service = service
        self.on_action = on_action
        self.guard = Guard(
            runtime.config.daemon.admin_token, secure=runtime.config.daemon.public_url.startswith("https://")
        )
        self.env = _environment()
        self.locations = [loc.name for loc in runtime.config.locations]

    def page(self, request: Request, name: str, session: Session | None, status: int = 200, **ctx: Any) -> Response:
        html = self.env.get_template(name).render(
            flash=self.guard.take_flash(request),
            csrf=session.csrf if session else "",
            logged_in=session is not None,
            locations=self.locations,
            path=request.url.path,
            **ctx,
        )
        response = HTMLResponse(html, status_code=status, headers=HEADERS)
        self.guard.clear_flash(request, response)
        return response

    def login_required(self, request: Request) -> Session:
        """A FastAPI dependency: the current session, or a 303 to the login page that comes back here."""
        session = self.guard.current(request)
        if session is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, "log in first", headers={"Location": f"/login?next={quote(here, safe='/')}"})
        return session

    def act(
        self, request: Request, csrf_token: str, back: str, work: Callable[[], str], what: str, target: str
    ) -> Response:
        """Run `work` (which returns the success message) if the session and its CSRF token hold, then go back."""
        session = self.guard.current(request)
        if session is None:
            return redirect("/login")
        if not self.guard.csrf_ok(session, csrf_token):
            log.warning("dashboard_post_refused", reason="csrf", action=what, target=target)
            return self.page(request, "refused.html", session, status=403)
        try:
            message, kind = work(), "ok"
        except (ActionRefused, NotFound) as exc:
            message, kind = str(exc), "error"
            log.info("dashboard_action_refused", action=what, target=target, reason=message)
        else:
            log.info("dashboard_action_applied", action=what, target=target)
            if self.on_action is not None:
                self.on_action()
        response = redirect(safe_next(back))
        self.guard.flash(response, kind, message)
        return response


def build_dashboard(runtime: Runtime, service: Service, on_action: Callable[[], None] | None = None) -> APIRouter:
    dash = Dashboard(runtime, service, on_action)
    router = APIRouter(include_in_schema=False)
    _login_routes(router, dash)
    _page_routes(router, dash)
    _action_routes(router, dash)
    _static_route(router)
    return router


def _login_routes(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/login")
    def login_form(request: Request, back: Annotated[str, Query(alias="next")] = "/") -> Response:
        if dash.guard.current(request) is not None:
            return redirect(safe_next(back))
        csrf = dash.guard.login_csrf(request)
        response = dash.page(request, "login.html", None, login_csrf=csrf, next=safe_next(back), error="")
        dash.guard.remember_login_csrf(response, csrf)
        return response

    @router.post("/login")
    def login(
        request: Request,
        token: FormText = "",
        csrf_token: FormText = "",
        back: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        if not dash.guard.login_csrf_ok(request, csrf_token):
            log.warning("dashboard_post_refused", reason="csrf", action="login")
            return dash.page(request, "refused.html", None, status=403)
        if not dash.guard.token_ok(token):
            log.warning("dashboard_login_failed", client=request.client.host if request.client else "")
            return dash.page(
                request,
                "login.html",
                None,
                status=401,
                login_csrf=csrf_token,
                next=safe_next(back),
                error="That is not the admin token.",
            )
        response = redirect(safe_next(back))
        dash.guard.start(response)
        log.info("dashboard_login_succeeded")
        return response

    @router.get("/logout")
    def logout_form(request: Request) -> Response:
        session = dash.guard.current(request)
        return dash.page(request, "logout.html", session) if session else redirect("/login")

    @router.post("/logout")
    def logout(request: Request, csrf_token: FormText = "") -> Response:
        session = dash.guard.current(request)
        if session is None:
            return redirect("/login")
        if not dash.guard.csrf_ok(session, csrf_token):
            log.warning("dashboard_post_refused", reason="csrf", action="logout")
            return dash.page(request, "refused.html", session, status=403)
        response = redirect("/login")
        dash.guard.end(session, response)
        dash.guard.flash(response, "ok", "Logged out.")
        log.info("dashboard_logged_out")
        return response


def _page_routes(router: APIRouter, dash: Dashboard) -> None:
    logged_in = Depends(dash.login_required)

    @router.get("/")
    def overview(request: Request, session: Session = logged_in) -> Response:
        now = datetime.now(UTC)
        with dash.runtime.reads() as db:
            stores = store_status(db, dash.runtime.config, now)
            counts = readmodel.open_counts(db)
            hours = readmodel.hourly_activity(db, now)
        names = [s["store"] for s in stores]
        return dash.page(
            request,
            "overview.html",
            session,
            stores=stores,
            counts=counts,
            activity=charts.activity_chart(hours, names),
            lag=charts.lag_chart(stores),
            recent=dash.service.orders(limit=15),
        )

    @router.get("/queue")
    def queue(request: Request, session: Session = logged_in, location: str = "") -> Response:
        location = location or (dash.locations[0] if dash.locations else "")
        if location not in dash.locations:
            return dash.page(request, "missing.html", session, status=404, what=f"location {location!r}")
        with dash.runtime.reads() as db:
            rows = readmodel.queue(db, location)
            waiting = readmodel.back_ordered(db, location)
            counts = readmodel.open_counts(db)
        return dash.page(
            request,
            "queue.html",
            session,
            location=location,
            rows=rows,
            waiting=waiting,
            counts=counts,
            back=f"/queue?location={location}",
        )

    @router.get("/orders")
    def find(request: Request, session: Session = logged_in, q: str = "") -> Response:
        try:
            order = dash.service.order(q.strip())
        except NotFound:
            response = redirect("/")
            dash.guard.flash(response, "error", f"No order {q.strip()!r}.")
            return response
        return redirect(f"/orders/{order['id']}")

    @router.get("/orders/{ref}")
    def order(request: Request, ref: str, session: Session = logged_in) -> Response:
        try:
            data = dash.service.order(ref)
        except NotFound:
            return dash.page(request, "missing.html", session, status=404, what=f"order {ref!r}")
        paid = Decimal(data["paid_amount"] or 0)
        return dash.page(
            request,
            "order.html",
            session,
            order=data,
            back=f"/orders/{data['id']}",
            settled=PaymentStatus(data["payment_status"]).settled,
            outstanding=max(Decimal(data["total"]) - paid, Decimal(0)),
            address=address_lines(data["shipping_address"]),
        )

    @router.get("/print/picklist")
    def print_picklist(
        request: Request, session: Session = logged_in, location: str = "", size: PageSize = PageSize.A4
    ) -> Response:
        if location not in dash.locations:
            return dash.page(request, "missing.html", session, status=404, what=f"location {location!r}")
        return pdf_response(dash.service.picklist(location, size=size), f"picklist-{location}.pdf")

    @router.get("/orders/{ref}/slip.pdf")
    def print_slip(
        request: Request, ref: str, session: Session = logged_in, location: str = "", size: PageSize = PageSize.A4
    ) -> Response:
        try:
            pdf = dash.service.slips(ref, location=location or None, size=size)
        except (NotFound, ValueError) as exc:
            return dash.page(request, "missing.html", session, status=404, what=str(exc))
        return pdf_response(pdf, f"slip-{ref}{'-' + location if location else ''}.pdf")

    @router.get("/dead")
    def dead(request: Request, session: Session = logged_in) -> Response:
        with dash.runtime.reads() as db:
            failed = readmodel.failed_writes(db)
        return dash.page(request, "dead.html", session, letters=dash.service.inbox(dead=True, limit=200), failed=failed)


def _action_routes(router: APIRouter, dash: Dashboard) -> None:
    service = dash.service

    @router.post("/orders/{ref}/fulfil")
    def fulfil(
        request: Request,
        ref: str,
        action: FormText = "",
        location: FormText = "",
        tracking: FormText = "",
        carrier: FormText = "",
        csrf_token: FormText = "",
        back: FormText = "/",
    ) -> Response:
        def work() -> str:
            if action not in DONE:
                raise ActionRefused(f"unknown action {action!r}")
            if carrier.strip() and not tracking.strip():
                raise ActionRefused("a carrier was given without a tracking number")
            parcel = Tracking(tracking.strip(), carrier.strip()) if tracking.strip() else None
            result = service.act(ref, action, actor=ACTOR, location=location or None, tracking=parcel)
            return f"Order {result['number']}{f' at {location}' if location else ''}: {DONE[action]}."

        return dash.act(request, csrf_token, back, work, action, ref)

    @router.post("/orders/{ref}/assign")
    def assign(
        request: Request,
        ref: str,
        location: FormText = "",
        user: FormText = "",
        csrf_token: FormText = "",
        back: FormText = "/",
    ) -> Response:
        def work() -> str:
            result = service.assign(ref, location, user, actor=ACTOR)
            name = user.strip()
            return f"Order {result['number']} at {location}: " + (f"assigned to {name}." if name else "unassigned.")

        return dash.act(request, csrf_token, back, work, "assign", ref)

    @router.post("/orders/{ref}/pay")
    def pay(
        request: Request,
        ref: str,
        amount: FormText = "",
        method: FormText = "",
        csrf_token: FormText = "",
        back: FormText = "/",
    ) -> Response:
        def work() -> str:
            if not method.strip():
                raise ActionRefused("say how it was paid (cash, card, bank transfer…)")
            result = service.pay(ref, amount.strip(), method.strip(), actor=ACTOR)
            return f"Payment of {amount.strip()} {result['currency']} recorded for order {result['number']}."

        return dash.act(request, csrf_token, back, work, "pay", ref)

    @router.post("/orders/{ref}/confirm")
    def confirm(request: Request, ref: str, csrf_token: FormText = "", back: FormText = "/") -> Response:
        def work() -> str:
            result = service.confirm(ref, actor=ACTOR)
            return f"Reservation {result['number']} confirmed: its stock is allocated, it is now a pickup order."

        return dash.act(request, csrf_token, back, work, "confirm", ref)

    @router.post("/dead/{item_id}/replay")
    def replay(request: Request, item_id: int, csrf_token: FormText = "") -> Response:
        def work() -> str:
            service.replay(item_id)
            return f"Delivery {item_id} queued again."

        return dash.act(request, csrf_token, "/dead", work, "replay", str(item_id))

    @router.post("/outbox/{item_id}/retry")
    def retry(request: Request, item_id: int, csrf_token: FormText = "") -> Response:
        def work() -> str:
            service.retry(item_id)
            return f"Write-back {item_id} queued again."

        return dash.act(request, csrf_token, "/dead", work, "retry", str(item_id))


def _static_route(router: APIRouter) -> None:
    files = _static_files()

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in files:
            return Response("not found", status_code=404, media_type="text/plain")
        body, media_type = files[name]
        return Response(
            body, media_type=media_type, headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"}
        )
