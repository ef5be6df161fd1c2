"""The reminders page's state, driven directly: an administrator edits a course type's schedule and the Notify
template ids; staff without the permission cannot."""

from __future__ import annotations

import pytest
from booking_data import make_catalogue
from conftest import actor_for
from state_support import run, signed_in, substate

from atlas_app.services.booking import reminders
from atlas_app.services.platform import notify_templates
from atlas_app.services.platform.errors import PermissionDenied
from atlas_app.ui.staff.booking import reminders as page_module
from atlas_app.ui.staff.booking.reminders import RemindersState


def _open(monkeypatch, actor) -> RemindersState:
    signed_in(monkeypatch, actor, page_module)
    state = substate(RemindersState)
    run(state.load())
    return state


def test_administrator_edits_the_schedule(monkeypatch, org, actor):
    cat = make_catalogue(org.id)
    state = _open(monkeypatch, actor)
    assert [c["name"] for c in state.courses] == ["NSAC course (NSAC)", "NSACX course (NSACX)"]
    run(state.choose(str(cat.course_type_id)))
    assert [p["label"] for p in state.points] == ["Email 7 days before", "Email 2 days before",
                                                  "Text message 1 day before"]
    run(state.add_point({"channel": "sms", "days": "0", "hours": "3"}))
    assert state.error == "" and "Text message 3 hours before" in [p["label"] for p in state.points]
    run(state.remove_point("email:168"))
    assert [p["label"] for p in state.points] == ["Email 2 days before", "Text message 1 day before",
                                                  "Text message 3 hours before"]
    course = next(c for c in reminders.schedules(actor) if c.course_type_id == cat.course_type_id)
    assert not course.is_default and len(course.points) == 3
    run(state.add_point({"channel": "email", "days": "x", "hours": "0"}))
    assert "whole number" in state.error
    run(state.add_point({"channel": "email", "days": "90", "hours": "0"}))
    assert "between 1 hour and 60 days" in state.error
    run(state.use_shipped())
    assert len(state.points) == 3 and state.courses[0]["source"] == "Shipped schedule"


def test_notify_template_ids_are_saved(monkeypatch, org, actor):
    make_catalogue(org.id)
    state = _open(monkeypatch, actor)
    run(state.save_notify({"kind": "course_reminder_sms", "channel": "sms",
                           "template_id": "4f9d0e2a-1111-2222-3333-444455556666"}))
    assert state.notice == "Notify template saved."
    assert state.notify_rows == [{"kind": "course_reminder_sms", "label": "Course reminder (text message)",
                                  "channel": "Text message", "channel_code": "sms",
                                  "template_id": "4f9d0e2a-1111-2222-3333-444455556666"}]
    run(state.save_notify({"kind": "course_reminder", "channel": "email", "template_id": "nope"}))
    assert "template id" in state.error.lower()
    assert len(notify_templates.list_templates(actor)) == 1


def test_staff_without_the_permission_are_refused(monkeypatch, org, make_user):
    cat = make_catalogue(org.id)
    clerk = actor_for(make_user("pat.clerk", roles=("Contact centre",)))
    signed_in(monkeypatch, clerk, page_module)
    state = substate(RemindersState)
    with pytest.raises(PermissionDenied):
        run(state.load())
    state.course_id = str(cat.course_type_id)
    with pytest.raises(PermissionDenied):
        run(state.add_point({"channel": "email", "days": "1", "hours": "0"}))
    assert all(s.is_default for s in reminders.schedules(actor_for(make_user("ada.admin", roles=("Administrator",)))))
