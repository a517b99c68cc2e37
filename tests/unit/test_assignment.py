"""Assigning a location's part of an order to a member of staff, and who the timeline says acted on write-backs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.orders.fulfilment import ActionRefused
from connector.orders.model import FulfilmentStatus
from connector.platforms.base import PlatformWrite
from connector.runtime.metrics import Metrics
from connector.storage import tables as t
from connector.storage.db import session_factory
from connector.sync.outbox import drain
from tests.unit.test_fulfilment import outbox, setup

FS = FulfilmentStatus


def entries(session: Session, kind: str) -> list[tuple[str, str]]:
    query = select(t.TimelineEntry).where(t.TimelineEntry.kind == kind).order_by(t.TimelineEntry.id)
    return [(e.summary, e.actor) for e in session.scalars(query)]


def test_an_assignment_is_kept_on_the_part_and_told_on_the_timeline(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"A": 1, "B": 1})
    parts = {f.location: f for f in row.fulfilments}
    flow.assign(session, row, "utrecht", "  Ann  ", "cli:ann")
    flow.assign(session, row, "utrecht", "Bob", "dashboard")
    flow.assign(session, row, "utrecht", "", "api")
    flow.assign(session, row, "amsterdam", "Cy", "api")
    session.flush()
    assert (parts["utrecht"].assigned_user, parts["amsterdam"].assigned_user) == (None, "Cy")
    assert entries(session, "assignment") == [
        ("utrecht: assigned to Ann", "cli:ann"),
        ("utrecht: assigned to Bob (was Ann)", "dashboard"),
        ("utrecht: unassigned (was Bob)", "api"),
        ("amsterdam: assigned to Cy", "api"),
    ]
    last = session.scalars(select(t.TimelineEntry).order_by(t.TimelineEntry.id.desc())).first()
    assert last is not None
    assert last.details == {"fulfilment": parts["amsterdam"].id, "location": "amsterdam", "from": None, "to": "Cy"}
    assert outbox(session) == []  # no platform has a field for it


def test_assigning_the_same_user_again_changes_nothing(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 1})
    flow.assign(session, row, "utrecht", "Ann", "api")
    flow.assign(session, row, "utrecht", "Ann ", "api")
    flow.assign(session, row, "utrecht", "Ann", "cli:x")
    session.flush()
    assert entries(session, "assignment") == [("utrecht: assigned to Ann", "api")]


def test_an_assignment_survives_the_workflow_and_packing_leaves_a_part_unassigned(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 1})
    flow.transition(session, row, FS.PACKED, actor="dashboard")
    assert row.fulfilments[0].assigned_user is None  # nobody is invented for the one who clicked
    flow.assign(session, row, "utrecht", "Ann", "dashboard")
    flow.transition(session, row, FS.SHIPPED, actor="dashboard")
    assert row.fulfilments[0].assigned_user == "Ann"


@pytest.mark.parametrize(
    ("location", "user", "why"),
    [
        ("rotterdam", "Ann", "has no fulfilment at 'rotterdam'"),
        ("utrecht", "A" * 81, "at most 80 characters"),
        ("utrecht", "Ann\nBob", "printable text on one line"),
    ],
)
def test_an_assignment_that_cannot_be_shown_or_placed_is_refused(
    session: Session, location: str, user: str, why: str
) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 1})
    with pytest.raises(ActionRefused, match=why):
        flow.assign(session, row, location, user, "api")
    assert row.fulfilments[0].assigned_user is None
    assert entries(session, "assignment") == []


def test_finished_and_cancelled_work_cannot_be_reassigned(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"A": 1, "B": 1})
    flow.transition(session, row, FS.PACKED, actor="t", location="utrecht")
    flow.transition(session, row, FS.SHIPPED, actor="t", location="utrecht")
    with pytest.raises(ActionRefused, match="the utrecht part of order #9 is already shipped"):
        flow.assign(session, row, "utrecht", "Ann", "api")
    flow.transition(session, row, FS.CANCELLED, actor="t", location="amsterdam")
    with pytest.raises(ActionRefused, match="has no fulfilment at 'amsterdam'"):
        flow.assign(session, row, "amsterdam", "Ann", "api")


class _Accepting:
    """A platform that takes every write."""

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        return {"status_id": write.target}


def test_queued_write_backs_name_who_acted_and_the_worker_names_itself(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        flow, row = setup(session, "bigcommerce", {"B": 1})
        flow.transition(session, row, FS.PACKED, actor="cli:ann")
        store_id = row.store_id
    drain(sessions, {store_id: _Accepting()}, {}, "worker-1", Metrics(), {store_id: "s"})  # type: ignore[dict-item]
    with sessions() as session:
        assert entries(session, "outbound") == [
            ("queued set_status -> 9 (order)", "cli:ann"),
            ("set_status -> 9 (order): written", "outbox"),
        ]
