"""The module's letters to the tenant: the appointment letter, one for each failed access attempt (1st, 2nd,
3rd), then the legal-access stage. They are the organisation's letter templates (``letter_template``, codes
starting ``utilities_``), edited on the letters page like any other, merged through the platform's sandboxed
template engine with the fields below, laid out by the letters engine (``services/insight/letters.py``), kept as a
PDF (content-addressed) and listed on the home's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from atlas_app.db import utcnow
from atlas_app.models import Organisation
from atlas_app.models.casework import Place
from atlas_app.models.letters import LetterTemplate
from atlas_app.models.utilities import Engineer, EngineerAppointment, ServicingLetter
from atlas_app.services.casework.people import people_at_place
from atlas_app.services.modules.utilities_servicing import storage
from atlas_app.services.platform import templating
from atlas_app.timeutil import LONDON, london_date

CODE_PREFIX = "utilities_"
APPOINTMENT = "utilities_appointment"
NO_ACCESS = ("utilities_no_access_1", "utilities_no_access_2", "utilities_no_access_3")
LEGAL = "utilities_legal_access"
# The access stage each failed attempt reaches, and the letter it sends.
STAGES = ("letter_1", "letter_2", "letter_3", "legal")
STAGE_LABELS = {"": "", "letter_1": "1st access letter", "letter_2": "2nd access letter",
                "letter_3": "3rd access letter", "legal": "Legal access stage"}

MERGE_FIELDS: dict[str, dict[str, str]] = {
    "tenant": {"name": "Tenant's name (or \"The occupier\")", "address": "Postal address (one line per part)"},
    "home": {"address": "Address on one line", "uprn": "UPRN", "postcode": "Postcode"},
    "appointment": {"date": "Appointment date", "time": "Start time", "end_time": "Finish time",
                    "engineer": "Engineer's name"},
    "attempt": {"number": "Failed access attempts so far", "date": "Date of the last failed attempt"},
    "organisation": {"name": "Organisation name"},
    "today": {"": "Today's date"},
}

SHIPPED: tuple[tuple[str, str, str, str], ...] = (
    (APPOINTMENT, "Servicing: appointment", "Your gas and electrical safety check on {{ appointment.date }}",
     "Dear {{ tenant.name }},\n\nWe need to carry out the annual safety check of the gas appliances and electrical "
     "installation in your home at {{ home.address }}. This check is required by law to keep you safe.\n\n"
     "Your appointment: {{ appointment.date }} between {{ appointment.time }} and {{ appointment.end_time }}.\n"
     "Engineer: {{ appointment.engineer }}\n\nPlease make sure someone aged 18 or over is at home. If the time does "
     "not suit you, contact us to change it.\n\nYours sincerely,\n{{ organisation.name }}"),
    (NO_ACCESS[0], "Servicing: first failed access", "We could not get into your home on {{ attempt.date }}",
     "Dear {{ tenant.name }},\n\nOur engineer called at {{ home.address }} on {{ attempt.date }} to carry out your "
     "safety check but could not get in.\n\nThe check is a legal requirement. Please contact us within 7 days to "
     "arrange a new appointment.\n\nYours sincerely,\n{{ organisation.name }}"),
    (NO_ACCESS[1], "Servicing: second failed access", "Second missed safety check at {{ home.address }}",
     "Dear {{ tenant.name }},\n\nThis is the second time we could not get into your home for its safety check "
     "(last attempt {{ attempt.date }}).\n\nYou must allow access for this check under your tenancy agreement. "
     "Please contact us within 7 days.\n\nYours sincerely,\n{{ organisation.name }}"),
    (NO_ACCESS[2], "Servicing: third failed access", "Final request for access to {{ home.address }}",
     "Dear {{ tenant.name }},\n\nWe have now tried {{ attempt.number }} times to carry out the safety check at your "
     "home, most recently on {{ attempt.date }}.\n\nIf you do not contact us within 7 days we will take legal "
     "action to gain access, and may recover the costs from you.\n\nYours sincerely,\n{{ organisation.name }}"),
    (LEGAL, "Servicing: legal access", "Legal action to gain access to {{ home.address }}",
     "Dear {{ tenant.name }},\n\nDespite {{ attempt.number }} attempts we have not been able to carry out the "
     "legally required safety check at your home. Your case has been passed to our legal team, who will apply "
     "for an injunction to gain access.\n\nYou can still stop this by contacting us now to arrange the check.\n\n"
     "Yours sincerely,\n{{ organisation.name }}"),
)


def letter_for_attempt(number: int) -> tuple[str, str]:
    """The (access stage, letter code) reached by the ``number``-th failed attempt (1-based)."""
    if number <= 3:
        return STAGES[number - 1], NO_ACCESS[number - 1]
    return "legal", LEGAL


def ensure_templates(s: Session, org_id: int) -> int:
    have = set(s.exec(select(LetterTemplate.code).where(LetterTemplate.organisation_id == org_id,
                                                        LetterTemplate.code.startswith(CODE_PREFIX))).all())
    added = 0
    for code, name, subject, body in SHIPPED:
        if code not in have:
            s.add(LetterTemplate(organisation_id=org_id, code=code, name=name, subject=subject, body=body,
                                 updated_by="atlas"))
            added += 1
    if added:
        s.flush()
    return added


def _day(value) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}" if value else ""


@dataclass(frozen=True)
class Produced:
    id: int
    code: str
    subject: str
    pdf: bytes


def produce(s: Session, actor_name: str, org_id: int, place: Place, code: str,
            appointment: EngineerAppointment | None = None, attempts: int = 0,
            attempt_at: datetime | None = None) -> Produced:
    """Merge, lay out and keep one letter for a home (inside the caller's transaction)."""
    from atlas_app.services.casework.people import place_label
    from atlas_app.services.insight.letters import addressed_pdf, check_template

    ensure_templates(s, org_id)
    template = s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == org_id,
                                                   LetterTemplate.code == code)).first()
    org = s.get(Organisation, org_id)
    people = people_at_place(s, org_id, place.id)
    name = people[0].label if people else "The occupier"
    lines = "\n".join(p for p in [place.address_line1, place.address_line2, place.address_line3, place.town,
                                  place.postcode] if p)
    ctx: dict[str, Any] = {
        "tenant": {"name": name, "address": lines},
        "home": {"address": place_label(place), "uprn": str(place.uprn), "postcode": place.postcode},
        "appointment": dict.fromkeys(MERGE_FIELDS["appointment"], ""),
        "attempt": {"number": str(attempts), "date": _day(london_date(attempt_at)) if attempt_at else ""},
        "organisation": {"name": org.name if org else ""},
        "today": _day(london_date(utcnow())),
    }
    if appointment is not None:
        engineer = s.get(Engineer, appointment.engineer_id)
        a, b = appointment.block_start.astimezone(LONDON), appointment.block_end.astimezone(LONDON)
        ctx["appointment"] = {"date": _day(a), "time": f"{a:%H:%M}", "end_time": f"{b:%H:%M}",
                              "engineer": engineer.full_name if engineer else ""}
    check_template(template.subject, "subject", MERGE_FIELDS)
    check_template(template.body, "body", MERGE_FIELDS)
    subject = templating.render(template.subject, ctx, MERGE_FIELDS, "subject")
    body = templating.render(template.body, ctx, MERGE_FIELDS, "body")
    pdf = addressed_pdf(org.name if org else "", [(name, lines, subject, body)])
    digest = storage.put(pdf)
    row = ServicingLetter(organisation_id=org_id, place_id=place.id,
                          appointment_id=appointment.id if appointment else None,
                          person_id=people[0].id if people else None, template_code=code,
                          subject=subject[:300], pdf_sha256=digest, produced_by=actor_name)
    s.add(row)
    s.flush()
    return Produced(row.id, code, subject, pdf)
