"""The daemon: one process with the HTTP server, the APScheduler scheduler and a monitor.

Concurrency model: threads. uvicorn serves in its own thread; APScheduler's thread pool runs the background jobs
(polls, inbox and outbox work, lease renewal); the main thread waits on a stop event and watches both. The
platform SDKs are synchronous, so nothing here is async except uvicorn's own loop.

* SIGTERM / SIGINT set the stop event: the server stops taking requests, the scheduler finishes the jobs that are
  running (no new ones start), and the process exits 0. The stores' syncs share the event: a poll (a backfill too)
  ends after its current page with its cursor kept, and a wait for a rate limit or a retry ends at once.
* At start, claims a killed predecessor left on inbox and outbox rows are released at once (`reclaim`).
* A background job that raises an exception nobody handled is a dead loop: the monitor stops everything and the
  process exits 1, instead of hanging on with half its work silently gone.
* Webhook answers go first (`connector.sync.receipts_first`): background work yields while a receipt is in
  flight, and the interpreter hands its lock between threads every `SWITCH_INTERVAL` instead of every 5 ms, so a
  receipt that arrives while the inbox worker computes waits a fraction of a millisecond, not 5, at each handover.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import Any

import structlog
import uvicorn
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from connector.runtime.config import Config
from connector.runtime.errors import FatalError, RetriableError
from connector.stock import back_orders
from connector.stock.folder import ImportFolder
from connector.stock.order_effects import Stocker
from connector.storage.db import DatabaseLock, upgrade
from connector.storage.leases import release_lease, release_orphaned_claims, renew_lease
from connector.storage.runtime import Runtime
from connector.sync.outbox import drain
from connector.sync.status import store_status
from connector.sync.store_sync import StoreSync, process_inbox
from connector.web.app import create_app

log = structlog.get_logger(__name__)

INBOX_GATHER = 0.01  # seconds a woken inbox drain waits, so deliveries arriving together are claimed together
# Seconds between forced GIL handovers (Python's default is 5 ms). bench/webhook_ack.py at 300/s on 2 cores: p99
# 26-37 ms with 5 ms, 21-27 ms with 0.5 ms.
SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True)
class Job:
    """A background loop: `func` runs every `interval`; an exception escaping it ends the daemon."""

    id: str
    func: Callable[[], Any]
    interval: timedelta
    max_instances: int = 1


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        """Signals belong to the daemon's main thread, which stops the server itself."""


class Daemon:
    def __init__(
        self, runtime: Runtime, *, extra_jobs: tuple[Job, ...] = (), on_started: Callable[[], None] | None = None
    ) -> None:
        self.runtime = runtime
        self._on_started = on_started
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._failure: str | None = None
        self._extra_jobs = extra_jobs
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self.server: _Server | None = None
        self.app: FastAPI | None = None
        self.stocker = Stocker(runtime.config)
        self.syncs = {s.name: StoreSync(runtime, s, stop=self._stop) for s in runtime.config.stores}
        for sync in self.syncs.values():
            sync.hooks.append(self.stocker)
        self.owned: set[str] = set()
        self._inbox_lock = threading.Lock()
        self._inbox_wanted = threading.Event()

    # --- jobs ---------------------------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        """The background loops, rebuilt from the configuration at every start (never from a job store)."""
        daemon = self.runtime.config.daemon
        jobs = [
            Job("leases", self._renew_leases, daemon.lease_ttl / 3),
            # A tick during a long drain returns at once instead of being skipped with a warning every interval.
            Job("inbox", self._drain_inbox, daemon.inbox_interval, max_instances=2),
        ]
        jobs += [
            Job(f"poll:{s.name}", partial(self._poll, s.name), s.poll_interval) for s in self.runtime.config.stores
        ]
        jobs.append(Job("reservations", self._expire_holds, timedelta(minutes=1)))
        stock = self.runtime.config.stock
        if stock.import_dir is not None:
            folder = ImportFolder(self.runtime, self.stocker, stock.import_dir)
            jobs.append(Job("stock-import", folder.scan, stock.import_interval))
        jobs.append(Job("outbox", self._drain_outbox, daemon.outbox_interval))
        jobs.append(Job("gauges", self._update_gauges, timedelta(seconds=10)))
        return [*jobs, *self._extra_jobs]

    def _renew_leases(self) -> None:
        """Hold the daemon's own lease and each store's (a store's platform traffic has one owner at a time)."""
        ttl = self.runtime.config.daemon.lease_ttl
        with self.runtime.sessions.begin() as session:
            renew_lease(session, f"daemon:{self.identity}", self.identity, ttl)
            for name in self.syncs:
                if renew_lease(session, f"store:{name}", self.identity, ttl):
                    self.owned.add(name)
                else:
                    self.owned.discard(name)

    def _owned_syncs(self) -> dict[str, StoreSync]:
        return {name: sync for name, sync in self.syncs.items() if name in self.owned}

    def _drain_inbox(self) -> None:
        """Ingest webhook deliveries until none is pending (woken early by deliveries)."""
        if not self._inbox_lock.acquire(blocking=False):
            return  # a drain is running: it takes what is pending
        try:
            self._stop.wait(INBOX_GATHER)
            while not self._stop.is_set():
                self._inbox_wanted.clear()
                if not process_inbox(self._owned_syncs(), self.identity) and not self._inbox_wanted.is_set():
                    break
        finally:
            self._inbox_lock.release()

    def _wake_inbox(self) -> None:
        """Called after each kept delivery: at most one wake per drain (hundreds of deliveries a second must not
        each reschedule the job); a drain in progress picks the delivery up in its next claim."""
        if self._inbox_wanted.is_set():
            return
        self._inbox_wanted.set()
        if not self._inbox_lock.locked():
            self._wake("inbox")

    def _wake_outbox(self) -> None:
        self._wake("outbox")

    def _wake(self, job_id: str) -> None:
        """Run a job now instead of at its next tick (a missed wake is caught by the tick)."""
        if not self.scheduler.running:
            return
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))

    def _drain_outbox(self) -> None:
        """Apply due write-backs of the stores this replica owns (their clients share the stores' budgets, which
        tell the drain which stores to leave for later while their rate limit is spent)."""
        owned = self._owned_syncs()
        if not owned:
            return
        clients = {sync.store_id: sync.client for sync in owned.values()}
        names = {sync.store_id: name for name, sync in owned.items()}
        location_ids = {sync.store_id: sync.location_ids for sync in owned.values()}
        drain(
            self.runtime.sessions,
            clients,
            location_ids,
            self.identity,
            self.runtime.metrics,
            names,
            stop=self._stop.is_set,
            budgets={sync.store_id: sync.budget for sync in owned.values()},
        )

    def _update_gauges(self) -> None:
        """Poll lag and outbox depth per store, back-ordered orders per location, for `/metrics`."""
        metrics = self.runtime.metrics
        with self.runtime.reads() as session:
            for row in store_status(session, self.runtime.config):
                age = row["last_success_age_s"]
                metrics.poll_lag.labels(row["store"]).set(age if age is not None else float("nan"))
                metrics.outbox_depth.labels(row["store"]).set(row["outbox"]["pending"])
            waiting = {w["location"]: w["orders"] for w in back_orders.summary(session)}
        places = [loc.name for loc in self.runtime.config.locations] + [back_orders.ANYWHERE]
        for place in places:
            metrics.back_orders.labels(place).set(waiting.get(place, 0))

    def _expire_holds(self) -> None:
        with self.runtime.sessions.begin() as session:
            expired = self.stocker.expire_holds(session)
        if expired:
            log.info("reservations_expired", count=expired)

    def _poll(self, name: str) -> None:
        """One poll of one store; platform trouble is recorded on the store, not fatal to the daemon."""
        if name not in self.owned:
            return
        try:
            self.syncs[name].poll()
        except (RetriableError, FatalError) as exc:
            log.warning("poll_deferred", store=name, error=str(exc))

    def _on_job_error(self, event: JobExecutionEvent) -> None:
        self._failure = f"background job {event.job_id} died: {event.exception!r}"
        log.error("background_job_died", job=event.job_id, error=repr(event.exception), traceback=event.traceback)
        self._stop.set()

    # --- lifecycle ----------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        self._stop.set()

    def run(self) -> int:
        """Run until stopped; 0 after a clean stop, 1 when a background loop or the server died."""
        config = self.runtime.config
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            return self._run(config)
        finally:
            sys.setswitchinterval(switch)

    def _run(self, config: Config) -> int:
        with DatabaseLock(config.daemon.database_url) as lock:
            upgrade(self.runtime.engine)
            self.runtime.sync_stores()
            self._renew_leases()
            self.reclaim(sole=lock.held)
            sock = self._bind()
            if sock is None:
                return 1
            self._install_signals()
            self._start_scheduler()
            thread = self._start_server(sock)
            if self._wait_serving(thread):
                log.info("daemon_started", listen=config.daemon.listen, stores=[s.name for s in config.stores])
                if self._on_started:
                    self._on_started()
            self._monitor(thread)
            self._shutdown(thread)
        if self._failure:
            log.error("daemon_stopped", reason=self._failure)
            return 1
        log.info("daemon_stopped", reason="signal")
        return 0

    def reclaim(self, *, sole: bool) -> None:
        """Take back at once the deliveries and write-backs a killed predecessor left claimed (SQLite: this daemon
        holds the file lock, so it is the only one; PostgreSQL: the holder's daemon lease has expired)."""
        with self.runtime.sessions.begin() as session:
            released = release_orphaned_claims(session, self.identity, sole=sole)
        if released:
            log.info("orphaned_claims_released", count=released)

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    def _start_scheduler(self) -> None:
        self.scheduler.add_listener(self._on_job_error, EVENT_JOB_ERROR)
        now = datetime.now(UTC)
        for job in self.jobs():
            self.scheduler.add_job(
                job.func,
                "interval",
                seconds=job.interval.total_seconds(),
                id=job.id,
                next_run_time=now,
                max_instances=job.max_instances,
            )
        self.scheduler.start()
        self.runtime.scheduler_running = True

    def _bind(self) -> socket.socket | None:
        """Bind the listening socket here, so a taken port is reported plainly before anything starts."""
        daemon = self.runtime.config.daemon
        sock = socket.socket(socket.AF_INET6 if ":" in daemon.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: without it, keep-alive answers wait ~40 ms for a delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((daemon.host.strip("[]"), daemon.port))
        except OSError as exc:
            sock.close()
            self._failure = f"cannot listen on {daemon.listen}: {exc.strerror}"
            log.error("daemon_stopped", reason=self._failure)
            return None
        return sock

    def _serve(self, sock: socket.socket) -> None:
        assert self.server is not None
        try:
            self.server.run(sockets=[sock])
        finally:
            sock.close()

    def _start_server(self, sock: socket.socket) -> threading.Thread:
        self.app = create_app(self.runtime, on_webhook=self._wake_inbox, on_action=self._wake_outbox)
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        self.server = _Server(config)
        thread = threading.Thread(target=self._serve, args=(sock,), name="http", daemon=True)
        thread.start()
        return thread

    def _wait_serving(self, server_thread: threading.Thread) -> bool:
        """Wait until uvicorn listens (or gave up, which the monitor then reports)."""
        while self.server is not None and not self.server.started:
            if not server_thread.is_alive() or self._stop.wait(0.02):
                return False
        return True

    def _monitor(self, server_thread: threading.Thread) -> None:
        while not self._stop.wait(0.2):
            if not server_thread.is_alive():
                self._failure = "the HTTP server stopped unexpectedly"
                return

    def _shutdown(self, server_thread: threading.Thread) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.scheduler.shutdown(wait=True)
        self.runtime.scheduler_running = False
        for sync in self.syncs.values():
            sync.close()
        with self.runtime.sessions.begin() as session:
            for name in self.owned:
                release_lease(session, f"store:{name}", self.identity)
            release_lease(session, f"daemon:{self.identity}", self.identity)  # its heartbeat: `status` sees it stop
        server_thread.join(timeout=15)
        if self.app is not None:
            self.app.state.delivery_writer.close()
