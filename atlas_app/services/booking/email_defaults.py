"""The emails Atlas sends clients, as shipped: each kind's merge fields and its default subject and plain-text body
(English). Plain data, so the migration that seeds organisations' templates can read it too.

Each organisation gets its own copy of every kind (``email_template``), which its administrators may edit on the
letters page; ``services/booking/emails.py`` renders them.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

# Merge fields, by group: group -> field -> what it holds.
GROUPS: dict[str, dict[str, str]] = {
    "client": {"name": "Full name", "first_name": "First name", "last_name": "Last name",
               "offer_reference": "Police offer reference",
               "critical_date": "Date the course must be completed by"},
    "booking": {"reference": "Booking reference", "course_name": "Course name", "course_code": "Course code",
                "when": "Day, date and start time", "ends": "Finish time", "venue": "Venue name",
                "where": "Venue name and address", "directions": "Directions and access to the venue (may be blank)",
                "fee": "Course fee",
                "payment_due": "When the fee must be paid by", "awaiting_payment": "True while the fee is unpaid",
                "status": "Booking status", "terms": "Your booking terms as text (confirmation emails; may be blank)"},
    "organisation": {"name": "Organisation name"},
    "change": {"previously": "The course's details before the change (may be blank)"},
    "cancellation": {"money": "What is refunded and what fee is kept (may be blank)"},
    "payment": {"amount": "Amount received", "method": "How it was paid", "received": "When it was received",
                "reference": "Payment reference", "outstanding": "Still to pay",
                "paid_in_full": "True when the fee is paid in full", "demo": "True for a demonstration payment"},
    "refund": {"amount": "Amount refunded", "reason": "Reason for the refund",
               "demo": "True for a demonstration payment"},
    "plan": {"instalments": "The instalments, one a line"},
    "reminder": {"outstanding": "Still to pay", "on_plan": "True when the booking is on a payment plan"},
    "waiting": {"link": "The single-use link to confirm the held seat and pay",
                "hold_until": "When the held seat passes to the next client if not confirmed"},
    "course": {"what_to_bring": "What to bring to the course (may be blank)"},
    "joining": {"online": "True for an online course", "link": "The video link (may be blank)",
                "meeting_id": "The meeting id (may be blank)", "passcode": "The passcode (may be blank)"},
}

_BASE = ("client", "booking", "organisation")

_COURSE = ("Course: {{ booking.course_name }} ({{ booking.course_code }})\n"
           "When: {{ booking.when }} to {{ booking.ends }}\n"
           "Where: {{ booking.where }}\n"
           "Offer reference: {{ client.offer_reference }}\n"
           "Critical date: {{ client.critical_date }}")
_FEE = ("{% if booking.awaiting_payment %}\n\nFee: {{ booking.fee }}, to be paid by {{ booking.payment_due }}."
        "{% endif %}")
_CLOSE = ("\n\nPlease bring your photocard driving licence. If you cannot attend, transfer or cancel your booking "
          "before the course through the booking site or by telephone.")
_BRING = "{% if course.what_to_bring %}\n\nPlease bring: {{ course.what_to_bring }}{% endif %}"
_JOINING = ("{% if joining.online %}\n\nJoining the course online:"
            "{% if joining.link %}\nVideo link: {{ joining.link }}{% endif %}"
            "{% if joining.meeting_id %}\nMeeting id: {{ joining.meeting_id }}{% endif %}"
            "{% if joining.passcode %}\nPasscode: {{ joining.passcode }}{% endif %}"
            "{% if not joining.link %}\nThe joining details will be on Manage your booking before the course."
            "{% endif %}{% endif %}")
_PREVIOUSLY = "{% if change.previously %}\nPreviously: {{ change.previously }}{% endif %}"
_DEMO_RECEIPT = ("{% if payment.demo %}DEMO — no real money: this receipt is for a demonstration payment. "
                 "No card was charged.\n\n{% endif %}")
_PAYMENT_COURSE = ("\n\nCourse: {{ booking.course_name }} ({{ booking.course_code }})\n"
                   "When: {{ booking.when }}\nWhere: {{ booking.venue }}\nPayment reference: {{ payment.reference }}")


class Kind:
    __slots__ = ("code", "label", "groups", "subject", "body")

    def __init__(self, code: str, label: str, groups: tuple[str, ...], subject: str, body: str) -> None:
        self.code, self.label, self.groups, self.subject, self.body = code, label, groups, subject, body

    @property
    def fields(self) -> dict[str, dict[str, str]]:
        return {g: GROUPS[g] for g in self.groups}


KINDS: dict[str, Kind] = {k.code: k for k in [
    Kind("booking_confirmation", "Booking confirmation", (*_BASE, "course"),
         "Your course booking {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "Thank you for booking your course. Your booking reference is {{ booking.reference }}.\n\n"
         + _COURSE + _FEE + _BRING + _CLOSE),
    Kind("booking_transfer", "Booking moved to another session", _BASE,
         "Your course booking has moved: {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "Your booking has been moved. Your new booking reference is {{ booking.reference }}.\n\n"
         + _COURSE + _FEE + _CLOSE),
    Kind("booking_cancellation", "Booking cancelled", (*_BASE, "cancellation"),
         "Your course booking {{ booking.reference }} is cancelled",
         "Dear {{ client.name }},\n\n"
         "Your booking {{ booking.reference }} has been cancelled."
         "{% if cancellation.money %}\n\n{{ cancellation.money }}{% endif %}\n\n"
         + _COURSE + _CLOSE),
    Kind("session_moved", "Course date, time or venue changed", (*_BASE, "change"),
         "Your course has changed: {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "The course you are booked on (booking {{ booking.reference }}) has been changed. Your booking stays in "
         "place; the new details are below." + _PREVIOUSLY + "\n\n" + _COURSE + _FEE + _CLOSE),
    Kind("session_cancelled", "Course cancelled", (*_BASE, "change"),
         "Your course has been cancelled: {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "We are sorry: the course you are booked on (booking {{ booking.reference }}) has been cancelled. Please "
         "choose another date through the booking site or by telephone; we will be in touch if you do not."
         + _PREVIOUSLY + "\n\n" + _COURSE + _CLOSE),
    Kind("payment_receipt", "Payment receipt", (*_BASE, "payment"),
         "{% if payment.paid_in_full %}Payment received: booking {{ booking.reference }} is confirmed"
         "{% else %}Payment received for booking {{ booking.reference }}{% endif %}",
         "Dear {{ client.name }},\n\n" + _DEMO_RECEIPT +
         "Thank you: we have received {{ payment.amount }} ({{ payment.method }}) for booking "
         "{{ booking.reference }}.\nReceived: {{ payment.received }}\n\n"
         "{% if payment.paid_in_full %}Your course fee is paid in full and your booking is confirmed."
         "{% else %}Still to pay: {{ payment.outstanding }}, by {{ booking.payment_due }}.{% endif %}"
         + _PAYMENT_COURSE),
    Kind("payment_seat_lost", "Payment received after the place was lost", (*_BASE, "payment"),
         "Your payment for booking {{ booking.reference }}",
         "Dear {{ client.name }},\n\n" + _DEMO_RECEIPT +
         "Thank you: we have received your payment of {{ payment.amount }} for booking {{ booking.reference }}.\n"
         "Unfortunately the place you chose was no longer available when the payment arrived. Your money is safe: "
         "we will contact you to offer another date or to refund you in full." + _PAYMENT_COURSE),
    Kind("refund", "Refund", (*_BASE, "refund"),
         "Refund for booking {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "{% if refund.demo %}DEMO — no real money: no real money was paid or refunded.\n\n{% endif %}"
         "We have refunded {{ refund.amount }} of your payment for booking {{ booking.reference }}.\n"
         "Reason: {{ refund.reason }}\n\n"
         "Card refunds usually reach your account within 5 to 10 working days."),
    Kind("payment_plan", "Payment plan agreed", (*_BASE, "plan"),
         "Your payment plan for booking {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "We have agreed that you may pay for your course in instalments:\n\n"
         "{{ plan.instalments }}\n\n"
         "Booking reference: {{ booking.reference }}"),
    Kind("payment_reminder", "Payment overdue reminder", (*_BASE, "reminder"),
         "Reminder: payment for course booking {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "{% if reminder.on_plan %}An instalment of your payment plan is overdue{% else %}Your course fee is overdue"
         "{% endif %}. {{ reminder.outstanding }} is still to pay for booking {{ booking.reference }}.\n\n"
         "Please pay online through the booking site or telephone us to pay by card."),
    Kind("waiting_list_seat", "Waiting list: a seat is held for you", (*_BASE, "waiting"),
         "A place is held for you until {{ waiting.hold_until }} (booking {{ booking.reference }})",
         "Dear {{ client.name }},\n\n"
         "A place has become free on a course that matches your waiting list choices, and we are holding it for "
         "you until {{ waiting.hold_until }}.\n\n" + _COURSE + "\nFee: {{ booking.fee }}\n\n"
         "To take the place, confirm it and pay here:\n{{ waiting.link }}\n\n"
         "If you do not confirm it by then, the place is offered to the next person waiting and you come off the "
         "waiting list."),
    Kind("booking_released", "Unpaid booking released", _BASE,
         "Your course booking {{ booking.reference }} has been released",
         "Dear {{ client.name }},\n\n"
         "The fee for booking {{ booking.reference }} was not paid by {{ booking.payment_due }}, so the place has "
         "been released.\n\n"
         "You can book again before your offer's critical date ({{ client.critical_date }}) using offer reference "
         "{{ client.offer_reference }}."),
    Kind("course_reminder", "Course reminder (email)", (*_BASE, "course", "joining"),
         "Reminder: your course on {{ booking.when }} ({{ booking.reference }})",
         "Dear {{ client.name }},\n\n"
         "This is a reminder of your course booking {{ booking.reference }}.\n\n"
         + _COURSE + _JOINING + _BRING + _FEE
         + "\n\nIf you cannot attend, transfer or cancel your booking before the course."),
    Kind("course_reminder_sms", "Course reminder (text message)", (*_BASE, "joining"),
         "Text message {{ booking.reference }}",
         "{{ organisation.name }}: reminder of your {{ booking.course_code }} course {{ booking.when }}"
         "{% if joining.online %} online{% if joining.link %}: {{ joining.link }}{% endif %}"
         "{% else %} at {{ booking.venue }}{% endif %}. Ref {{ booking.reference }}."),
    Kind("joining_changed", "Joining details changed (online course)", (*_BASE, "joining"),
         "New joining details for your course {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "The joining details of your online course have changed. Please use these instead of any you were sent "
         "before." + _JOINING.replace("{% if joining.online %}", "").replace("{% endif %}{% endif %}", "{% endif %}")
         + "\n\nBooking reference: {{ booking.reference }}"),
    Kind("did_not_attend", "Did not attend", _BASE,
         "You did not attend your course {{ booking.reference }}",
         "Dear {{ client.name }},\n\n"
         "Our records show that you did not attend your {{ booking.course_name }} course on {{ booking.when }} "
         "(booking {{ booking.reference }}).\n\n"
         "If your offer's critical date ({{ client.critical_date }}) allows, you may be able to book another "
         "course: contact us quoting offer reference {{ client.offer_reference }}. After the critical date the offer "
         "goes back to the police."),
]}


# --- the shipped Welsh wording (for clients who asked for Welsh; an organisation may store its own) -----------

_COURSE_CY = ("Cwrs: {{ booking.course_name }} ({{ booking.course_code }})\n"
              "Pryd: {{ booking.when }} tan {{ booking.ends }}\n"
              "Ble: {{ booking.where }}\n"
              "Cyfeirnod y cynnig: {{ client.offer_reference }}\n"
              "Dyddiad terfyn: {{ client.critical_date }}")
_FEE_CY = ("{% if booking.awaiting_payment %}\n\nFfi: {{ booking.fee }}, i’w thalu erbyn {{ booking.payment_due }}."
           "{% endif %}")
_CLOSE_CY = ("\n\nDewch â’ch trwydded yrru cerdyn-llun. Os na allwch fod yn bresennol, trosglwyddwch neu ganslo eich "
             "archeb cyn y cwrs drwy’r safle archebu neu dros y ffôn.")
_PREVIOUSLY_CY = "{% if change.previously %}\nCyn hyn: {{ change.previously }}{% endif %}"
_DEMO_RECEIPT_CY = ("{% if payment.demo %}DEMO — dim arian go iawn: mae’r dderbynneb hon ar gyfer taliad arddangos. "
                    "Ni chodwyd tâl ar unrhyw gerdyn.\n\n{% endif %}")
_PAYMENT_COURSE_CY = ("\n\nCwrs: {{ booking.course_name }} ({{ booking.course_code }})\n"
                      "Pryd: {{ booking.when }}\nBle: {{ booking.venue }}\nCyfeirnod y taliad: {{ payment.reference }}")

_JOINING_CY = ("\n\nYmuno â’r cwrs ar-lein:{% if joining.link %}\nDolen fideo: {{ joining.link }}{% endif %}{% if joining.meeting_id %}\nRhif y cyfarfod: {{ joining.meeting_id }}{% endif %}{% if joining.passcode %}\nCod mynediad: {{ joining.passcode }}{% endif %}{% if not joining.link %}\nBydd y manylion ymuno ar Rheoli eich archeb cyn y cwrs.{% endif %}")
WELSH = "cy"
# kind -> (subject, body) in Welsh, with the same merge fields as the English.
WELSH_WORDING: dict[str, tuple[str, str]] = {
    "booking_confirmation": (
        "Archeb eich cwrs {{ booking.reference }}",
        "Annwyl {{ client.name }},\n\n"
        "Diolch am archebu eich cwrs. Eich cyfeirnod archebu yw {{ booking.reference }}.\n\n"
        + _COURSE_CY + _FEE_CY
        + "{% if course.what_to_bring %}\n\nDewch â’r canlynol gyda chi: {{ course.what_to_bring }}{% endif %}"
        + _CLOSE_CY),
    "booking_transfer": (
        "Mae archeb eich cwrs wedi’i symud: {{ booking.reference }}",
        "Annwyl {{ client.name }},\n\n"
        "Mae eich archeb wedi’i symud. Eich cyfeirnod archebu newydd yw {{ booking.reference }}.\n\n"
        + _COURSE_CY + _FEE_CY + _CLOSE_CY),
    "booking_cancellation": (
        "Mae archeb eich cwrs {{ booking.reference }} wedi’i chanslo",
        "Annwyl {{ client.name }},\n\n"
        "Mae eich archeb {{ booking.reference }} wedi’i chanslo."
        "{% if cancellation.money %}\n\n{{ cancellation.money }}{% endif %}\n\n"
        + _COURSE_CY + _CLOSE_CY),
    "session_moved": (
        "Mae eich cwrs wedi newid: {{ booking.reference }}",
        "Annwyl {{ client.name }},\n\n"
        "Mae’r cwrs rydych wedi’i archebu (archeb {{ booking.reference }}) wedi newid. Mae eich archeb yn dal yn "
        "ddilys; mae’r manylion newydd isod." + _PREVIOUSLY_CY + "\n\n" + _COURSE_CY + _FEE_CY + _CLOSE_CY),
    "session_cancelled": (
        "Mae eich cwrs wedi’i ganslo: {{ booking.reference }}",
        "Annwyl {{ client.name }},\n\n"
        "Mae’n ddrwg gennym: mae’r cwrs rydych wedi’i archebu (archeb {{ booking.reference }}) wedi’i ganslo. "
        "Dewiswch ddyddiad arall drwy’r safle archebu neu dros y ffôn; byddwn yn cysylltu â chi os na fyddwch yn "
        "gwneud hynny." + _PREVIOUSLY_CY + "\n\n" + _COURSE_CY + _CLOSE_CY),
    "payment_receipt": (
        ("{% if payment.paid_in_full %}Taliad wedi dod i law: mae archeb {{ booking.reference }} wedi’i chadarnhau"
        "{% else %}Taliad wedi dod i law ar gyfer archeb {{ booking.reference }}{% endif %}"),
        "Annwyl {{ client.name }},\n\n" + _DEMO_RECEIPT_CY +
        "Diolch: rydym wedi cael {{ payment.amount }} ({{ payment.method }}) ar gyfer archeb "
        "{{ booking.reference }}.\nWedi dod i law: {{ payment.received }}\n\n"
        "{% if payment.paid_in_full %}Mae ffi eich cwrs wedi’i thalu’n llawn ac mae eich archeb wedi’i chadarnhau."
        "{% else %}I’w dalu o hyd: {{ payment.outstanding }}, erbyn {{ booking.payment_due }}.{% endif %}"
        + _PAYMENT_COURSE_CY),
    "payment_seat_lost": (
        "Eich taliad ar gyfer archeb {{ booking.reference }}",
        "Annwyl {{ client.name }},\n\n" + _DEMO_RECEIPT_CY +
        "Diolch: rydym wedi cael eich taliad o {{ payment.amount }} ar gyfer archeb {{ booking.reference }}.\n"
        "Yn anffodus, nid oedd y lle a ddewisoch ar gael mwyach pan gyrhaeddodd y taliad. Mae eich arian yn "
        "ddiogel: byddwn yn cysylltu â chi i gynnig dyddiad arall neu i roi ad-daliad llawn i chi."
        + _PAYMENT_COURSE_CY),
    "refund": (
        "Ad-daliad ar gyfer archeb {{ booking.reference }}",
        ("Annwyl {{ client.name }},\n\n"
        "{% if refund.demo %}DEMO — dim arian go iawn: ni thalwyd nac ad-dalwyd unrhyw arian go iawn.\n\n{% endif %}"
        "Rydym wedi ad-dalu {{ refund.amount }} o’ch taliad ar gyfer archeb {{ booking.reference }}.\n"
        "Rheswm: {{ refund.reason }}\n\n"
        "Fel arfer mae ad-daliadau cerdyn yn cyrraedd eich cyfrif o fewn 5 i 10 diwrnod gwaith.")),
    "payment_plan": (
        "Eich cynllun talu ar gyfer archeb {{ booking.reference }}",
        ("Annwyl {{ client.name }},\n\n"
        "Rydym wedi cytuno y cewch dalu am eich cwrs fesul rhandaliad:\n\n"
        "{{ plan.instalments }}\n\n"
        "Cyfeirnod archebu: {{ booking.reference }}")),
    "payment_reminder": (
        "Nodyn atgoffa: taliad ar gyfer archeb cwrs {{ booking.reference }}",
        ("Annwyl {{ client.name }},\n\n"
        "{% if reminder.on_plan %}Mae un o randaliadau eich cynllun talu yn hwyr{% else %}Mae ffi eich cwrs yn hwyr"
        "{% endif %}. Mae {{ reminder.outstanding }} i’w dalu o hyd ar gyfer archeb {{ booking.reference }}.\n\n"
        "Talwch ar-lein drwy’r safle archebu neu ffoniwch ni i dalu â cherdyn.")),
    "booking_released": (
        "Mae archeb eich cwrs {{ booking.reference }} wedi’i rhyddhau",
        ("Annwyl {{ client.name }},\n\n"
        "Ni thalwyd y ffi ar gyfer archeb {{ booking.reference }} erbyn {{ booking.payment_due }}, felly mae’r lle "
        "wedi’i ryddhau.\n\n"
        "Gallwch archebu eto cyn dyddiad terfyn eich cynnig ({{ client.critical_date }}) gan ddefnyddio cyfeirnod "
        "y cynnig {{ client.offer_reference }}.")),
    "course_reminder": (
        "Nodyn atgoffa: eich cwrs ar {{ booking.when }} ({{ booking.reference }})",
        ("Annwyl {{ client.name }},\n\n"
         "Dyma nodyn i’ch atgoffa am archeb eich cwrs {{ booking.reference }}.\n\n"
         "Cwrs: {{ booking.course_name }} ({{ booking.course_code }})\n"
         "Pryd: {{ booking.when }} tan {{ booking.ends }}\n"
         "Ble: {{ booking.where }}\n"
         "Cyfeirnod y cynnig: {{ client.offer_reference }}\n"
         "Dyddiad terfyn: {{ client.critical_date }}{% if joining.online %}"
         + _JOINING_CY + "{% endif %}"
         "{% if course.what_to_bring %}\n\nDewch â’r canlynol gyda chi: {{ course.what_to_bring }}{% endif %}"
         "{% if booking.awaiting_payment %}\n\nFfi: {{ booking.fee }}, i’w thalu erbyn {{ booking.payment_due }}."
         "{% endif %}\n\nOs na allwch fod yn bresennol, trosglwyddwch neu ganslo eich archeb cyn y cwrs.")),
    "course_reminder_sms": (
        "Neges destun {{ booking.reference }}",
        ("{{ organisation.name }}: nodyn atgoffa am eich cwrs {{ booking.course_code }} {{ booking.when }}"
         "{% if joining.online %} ar-lein{% if joining.link %}: {{ joining.link }}{% endif %}{% else %} yn "
         "{{ booking.venue }}{% endif %}. Cyf {{ booking.reference }}.")),
    "did_not_attend": (
        "Ni wnaethoch fynychu eich cwrs {{ booking.reference }}",
        ("Annwyl {{ client.name }},\n\n"
         "Mae ein cofnodion yn dangos na wnaethoch fynychu eich cwrs {{ booking.course_name }} ar {{ booking.when }} "
         "(archeb {{ booking.reference }}).\n\n"
         "Os yw dyddiad terfyn eich cynnig ({{ client.critical_date }}) yn caniatáu, efallai y gallwch archebu cwrs "
         "arall: cysylltwch â ni gan ddyfynnu cyfeirnod y cynnig {{ client.offer_reference }}. Ar ôl y dyddiad "
         "terfyn mae’r cynnig yn mynd yn ôl i’r heddlu.")),
    "joining_changed": (
        "Manylion ymuno newydd ar gyfer eich cwrs {{ booking.reference }}",
        ("Annwyl {{ client.name }},\n\n"
         "Mae manylion ymuno eich cwrs ar-lein wedi newid. Defnyddiwch y rhain yn lle unrhyw rai a anfonwyd atoch "
         "o’r blaen." + _JOINING_CY + "\n\nCyfeirnod archebu: {{ booking.reference }}")),
    "waiting_list_seat": (
        "Mae lle wedi’i gadw i chi tan {{ waiting.hold_until }} (archeb {{ booking.reference }})",
        ("Annwyl {{ client.name }},\n\n"
         "Mae lle wedi dod yn rhydd ar gwrs sy’n cyfateb i’ch dewisiadau ar y rhestr aros, ac rydym yn ei gadw i "
         "chi tan {{ waiting.hold_until }}.\n\n"
         "Cwrs: {{ booking.course_name }} ({{ booking.course_code }})\n"
         "Pryd: {{ booking.when }} tan {{ booking.ends }}\n"
         "Ble: {{ booking.where }}\n"
         "Cyfeirnod y cynnig: {{ client.offer_reference }}\n"
         "Dyddiad terfyn: {{ client.critical_date }}\n"
         "Ffi: {{ booking.fee }}\n\n"
         "I gymryd y lle, cadarnhewch ef a thalwch yma:\n{{ waiting.link }}\n\n"
         "Os na fyddwch yn ei gadarnhau erbyn hynny, cynigir y lle i’r person nesaf sy’n aros a byddwch yn dod oddi "
         "ar y rhestr aros.")),
}


def shipped(kind: Kind, language: str) -> tuple[str, str]:
    """The shipped (subject, body) of ``kind`` in ``language`` (English when there is no shipped translation)."""
    if language == WELSH and kind.code in WELSH_WORDING:
        return WELSH_WORDING[kind.code]
    return kind.subject, kind.body
