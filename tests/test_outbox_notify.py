"""Text messages in the outbox and GOV.UK Notify: the official client against the local Notify stand-in
(tests/notify_fake.py), delivery receipts through the callback route."""

from __future__ import annotations

import json

import pytest
from conftest import all_rows
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_fake import API_KEY, SERVICE_ID, FakeNotify
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import write_session
from atlas_app.models import EmailMessage
from atlas_app.services.platform import notify_templates, outbox
from atlas_app.services.platform.errors import ValidationFailed

CALLBACK_TOKEN = "callback-token-for-tests-1234"


@pytest.fixture
def notify(set_env):
    fake = FakeNotify().start()
    set_env(NOTIFY_API_KEY=API_KEY, NOTIFY_API_BASE=fake.url, NOTIFY_CALLBACK_TOKEN=CALLBACK_TOKEN)
    yield fake
    fake.stop()


def queue(**kw) -> int:
    kw.setdefault("body", "Your course is tomorrow at 9:30.")
    with write_session() as s:
        return outbox.queue(s, **kw).id


def message(message_id: int) -> EmailMessage:
    return all_rows(EmailMessage, EmailMessage.id == message_id)[0]


# --- text messages without a provider ------------------------------------------------------------------------


def test_sms_is_held_without_a_provider_and_email_goes_by_smtp(smtp, org):
    sms_id = queue(channel="sms", to_phone="07700 900123", organisation_id=org.id, kind="reminder")
    email_id = queue(to="driver@example.org", subject="Reminder", organisation_id=org.id, kind="reminder")
    assert message(sms_id).status == "held" and message(sms_id).to_phone == "+447700900123"
    assert message(email_id).status == "queued"
    report = outbox.deliver_due()
    assert report.sent == 1 and len(smtp.messages) == 1
    assert message(sms_id).status == "held" and message(email_id).provider == "smtp"


def test_phone_numbers_are_checked():
    assert outbox.normalise_phone("+44 7700 900123") == "+447700900123"
    assert outbox.normalise_phone("447700900123") == "+447700900123"
    assert outbox.is_mobile("07700900123") and not outbox.is_mobile("01632 960001")
    for bad in ("", "call me", "0770", "+44+7700900123", "0770090012a"):
        with pytest.raises(ValidationFailed):
            queue(channel="sms", to_phone=bad)


def test_listing_shows_the_channel_and_number(org, actor):
    queue(channel="sms", to_phone="07700900123", organisation_id=org.id)
    rows, total = outbox.list_messages(actor)
    assert total == 1 and rows[0].channel == "sms" and rows[0].to_address == "+447700900123"


# --- the stand-in speaks Notify's API to the official client ---------------------------------------------------


def test_stand_in_checks_the_jwt_as_notify_does(notify):
    template_id = notify.template("sms")
    wrong_secret = f"k-{SERVICE_ID}-00000000-0000-0000-0000-000000000000"
    with pytest.raises(HTTPError) as refused:
        NotificationsAPIClient(wrong_secret, base_url=notify.url).send_sms_notification(
            "07700900123", template_id, {"body": "x"})
    assert refused.value.status_code == 403
    assert refused.value.message == [{"error": "AuthError", "message": "Invalid token: API key not found"}]
    import requests

    bare = requests.post(f"{notify.url}/v2/notifications/sms", json={})
    assert bare.status_code == 401 and bare.json()["status_code"] == 401
    import time

    import jwt

    stale = jwt.encode({"iss": SERVICE_ID, "iat": int(time.time()) - 120}, API_KEY[-36:], algorithm="HS256")
    old = requests.post(f"{notify.url}/v2/notifications/sms", json={},
                        headers={"Authorization": f"Bearer {stale}"})
    assert old.status_code == 403 and "30 seconds" in old.json()["errors"][0]["message"]
    good = NotificationsAPIClient(API_KEY, base_url=notify.url).send_sms_notification(
        "07700900123", template_id, {"body": "hello"}, reference="r1")
    assert good["content"]["body"] == "hello" and good["reference"] == "r1"


# --- sending through Notify -------------------------------------------------------------------------------------


def test_email_and_sms_go_through_notify_with_the_organisations_templates(notify, actor, org, smtp):
    email_template = notify.template("email", body="Hello ((client_first_name)). ((body))",
                                     subject="((subject))")
    sms_template = notify.template("sms", body="((body))")
    notify_templates.set_template(actor, "reminder", "email", email_template)
    notify_templates.set_template(actor, "reminder", "sms", sms_template)
    context = {"client": {"first_name": "Ann", "name": "Ann Lee"}, "booking": {"awaiting_payment": False}}
    email_id = queue(to="ann@example.org", subject="Your course", body="See you on Monday.", kind="reminder",
                     organisation_id=org.id, personalisation=context)
    sms_id = queue(channel="sms", to_phone="07700900123", body="Course tomorrow 9:30", kind="reminder",
                   organisation_id=org.id, personalisation=context)
    # A kind without a Notify template still goes by SMTP, the default.
    plain_id = queue(to="ann@example.org", subject="Receipt", kind="payment_receipt", organisation_id=org.id)

    report = outbox.deliver_due()
    assert report.sent == 3
    emails, texts = notify.sent("email"), notify.sent("sms")
    assert len(emails) == 1 and len(texts) == 1
    assert emails[0]["body"] == "Hello Ann. See you on Monday." and emails[0]["subject"] == "Your course"
    assert emails[0]["reference"] == f"atlas-{email_id}"
    assert texts[0]["phone_number"] == "+447700900123" and texts[0]["body"] == "Course tomorrow 9:30"
    assert message(email_id).provider == "notify" and message(email_id).provider_id == emails[0]["id"]
    assert message(sms_id).delivery_status == "created"
    assert message(plain_id).provider == "smtp" and len(smtp.messages) == 1


def test_sms_without_a_template_is_held_with_the_reason(notify, org):
    sms_id = queue(channel="sms", to_phone="07700900123", kind="reminder", organisation_id=org.id)
    assert message(sms_id).status == "queued"
    outbox.deliver_due()
    row = message(sms_id)
    assert row.status == "held" and "template" in row.last_error and notify.sent() == []


def test_notify_refusal_fails_the_message_and_a_server_error_is_retried(notify, actor, org):
    template_id = notify.template("sms", body="((body)) ((booking_reference))")
    notify_templates.set_template(actor, "reminder", "sms", template_id)
    missing = queue(channel="sms", to_phone="07700900123", kind="reminder", organisation_id=org.id)
    outbox.deliver_due()
    row = message(missing)
    assert row.status == "failed" and "Missing personalisation: booking_reference" in row.last_error

    notify.fail_next.append(500)
    later = queue(channel="sms", to_phone="07700900123", kind="reminder", organisation_id=org.id,
                  personalisation={"booking": {"reference": "B1"}})
    report = outbox.deliver_due()
    assert report.retrying == 1 and message(later).status == "queued" and "500" in message(later).last_error


def test_pdf_letter_goes_as_a_precompiled_letter(notify, org):
    pdf = b"%PDF-1.4 a letter"
    with write_session() as s:
        letter_id = outbox.queue(s, channel="letter", body="Letter to the client", organisation_id=org.id,
                                 attachments=[("letter.pdf", "application/pdf", pdf)]).id
    assert outbox.deliver_due().sent == 1
    letters = notify.sent("letter")
    assert len(letters) == 1 and letters[0]["pdf"] == pdf and letters[0]["reference"] == f"atlas-{letter_id}"
    assert message(letter_id).provider_id == letters[0]["id"]


# --- delivery receipts ---------------------------------------------------------------------------------------


def _callback(payload: dict, token: str = CALLBACK_TOKEN):
    with TestClient(build_api()) as client:
        return client.post("/api/notify/callback", content=json.dumps(payload),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def test_delivery_receipts_update_the_outbox_once_and_in_order(notify, actor, org):
    notify_templates.set_template(actor, "reminder", "sms", notify.template("sms"))
    sms_id = queue(channel="sms", to_phone="07700900123", kind="reminder", organisation_id=org.id)
    outbox.deliver_due()
    notification_id = message(sms_id).provider_id

    assert _callback(notify.receipt(notification_id, "delivered"), token="wrong-token").status_code == 401
    assert message(sms_id).delivery_status == "created"
    answer = _callback(notify.receipt(notification_id, "delivered"))
    assert answer.status_code == 200 and answer.json()["outcome"] == "updated"
    assert message(sms_id).delivery_status == "delivered" and message(sms_id).delivered_at is not None
    # A late "sending" receipt does not undo the delivery; a repeat changes nothing.
    assert _callback(notify.receipt(notification_id, "sending")).json()["outcome"] == "unchanged"
    assert _callback(notify.receipt(notification_id, "delivered")).json()["outcome"] == "unchanged"
    assert message(sms_id).delivery_status == "delivered" and message(sms_id).status == "sent"
    assert _callback({"id": "00000000-0000-0000-0000-000000000000", "status": "delivered"}).json()["outcome"] \
        == "unknown"


def test_permanent_failure_receipt_marks_the_message_failed(notify, actor, org):
    notify_templates.set_template(actor, "reminder", "email", notify.template("email"))
    email_id = queue(to="nobody@example.org", subject="S", kind="reminder", organisation_id=org.id)
    outbox.deliver_due()
    _callback(notify.receipt(message(email_id).provider_id, "permanent-failure"))
    row = message(email_id)
    assert row.status == "failed" and row.last_error == "GOV.UK Notify: permanent-failure"


def test_notify_template_ids_are_checked_and_scoped(actor, other_actor):
    with pytest.raises(ValidationFailed):
        notify_templates.set_template(actor, "reminder", "sms", "not-a-uuid")
    notify_templates.set_template(actor, "reminder", "sms", "4F9D0E2A-1111-2222-3333-444455556666")
    assert [r.template_id for r in notify_templates.list_templates(actor)] == ["4f9d0e2a-1111-2222-3333-444455556666"]
    assert notify_templates.list_templates(other_actor) == []
    notify_templates.set_template(actor, "reminder", "sms", "")
    assert notify_templates.list_templates(actor) == []
