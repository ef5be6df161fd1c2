"""The Reflex application: theme, middleware, API routes, background jobs and pages."""

import asyncio
import contextlib
import logging

import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.utils.exec import is_prod_mode
from reflex_base.event import EventSpec

from atlas_app.api.app import build_api
from atlas_app.services.booking import bookings as booking
from atlas_app.services.booking import reminders, waiting_list
from atlas_app.services.platform import outbox, retention
from atlas_app.services.user_group import demo_org
from atlas_app.services import payments
from atlas_app.services.payments import stripe_gateway
from atlas_app.services.platform.errors import AtlasError, NotAuthenticated
from atlas_app.settings import require_secret_key
from atlas_app.services.platform import auth, i18n
from atlas_app.ui import pages, runtime  # noqa: F401  (pages: declares every page)
from atlas_app.ui.i18n import LanguageMiddleware
from atlas_app.ui.session import AuthGate, guard_uploads

log = logging.getLogger("atlas")


def handle_backend_exception(exception: Exception) -> EventSpec | None:
    """Errors raised on purpose by services carry a message for the user; anything else is logged and generic."""
    if isinstance(exception, NotAuthenticated):
        return rx.redirect("/login")
    if isinstance(exception, AtlasError):
        return rx.toast.error(i18n.gettext(str(exception)), position="top-center", id="atlas-error")
    return default_backend_exception_handler(exception)


# (job, seconds between runs). Each job is safe to run in several workers at once: rows are claimed or changed
# by conditional updates, so nothing is done twice; the nightly ones claim their London day in one row
# (services/platform/nightly.py), so one worker only runs them.
HOUSEKEEPING = [
    (auth.send_requested_links, 2),
    (outbox.deliver_due, 2),
    (booking.release_expired_holds, 15),
    (waiting_list.sweep, 60),
    (booking.expire_offers, 3600),
    (payments.process_overdue, 300),
    (retention.nightly_purge, 600),
    (demo_org.nightly_reset, 300),
    (reminders.queue_due, 300),
]


@contextlib.asynccontextmanager
async def housekeeping():
    """Background jobs: emailing requested password-reset and unlock links, email delivery, freeing seats whose hold ran out, expiring offers past their date,
    releasing or chasing unpaid bookings past their payment deadline, queueing the course reminders that are due,
    the nightly retention purge and, when it is switched on, the nightly reset of the demo organisation."""

    async def every(job, seconds: int):
        while True:
            try:
                await asyncio.to_thread(job)
            except Exception:  # keep going after a database hiccup; the error is logged
                log.exception("housekeeping job %s failed", job.__name__)
            await asyncio.sleep(seconds)

    tasks = [asyncio.create_task(every(job, seconds)) for job, seconds in HOUSEKEEPING]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()


app = rx.App(
    api_transformer=[build_api(), guard_uploads],
    backend_exception_handler=handle_backend_exception,
    stylesheets=["/atlas.css"],
    html_lang="en-GB",
)
app.add_middleware(LanguageMiddleware())
app.add_middleware(AuthGate())
runtime.register(app)
app.register_lifespan_task(housekeeping)
require_secret_key(is_prod_mode())  # a production start with no SECRET_KEY stops here, saying why
stripe_gateway.warn_at_start(is_prod_mode(), log)  # a production start that can take no card payment says so
