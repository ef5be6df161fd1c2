"""/admin/accessibility: administrators edit their organisation's public accessibility statement (GOV.UK model
structure), section by section, in English and in Welsh. A section left empty shows the shipped wording, marked
here as such; the public page is /accessibility/<slug> (and /cy/...)."""

from __future__ import annotations

import asyncio
from datetime import date

import reflex as rx

from atlas_app.services.platform import accessibility as service
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Administration", NavItem("Accessibility statement", "/admin/accessibility", "accessibility",
                                       Perm.SETTINGS_MANAGE))

LANGUAGE_NAMES = {"en": "English", "cy": "Welsh (Cymraeg)"}


@private
class StatementState(rx.State):
    language: str = "en"
    sections: list[dict[str, str]] = []
    reviewed_on: str = ""
    public_path: str = ""
    error: str = ""
    notice: str = ""
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        statement = await asyncio.to_thread(service.statement_for_editing, actor, self.language)
        self.sections = [{"key": s.key, "heading": s.heading, "text": "" if s.is_default else s.text,
                          "default": s.text if s.is_default else "", "state": "shipped wording" if s.is_default
                          else "your wording"} for s in statement.sections]
        self.reviewed_on = statement.reviewed_on.isoformat() if statement.reviewed_on else ""
        self.public_path = ("/cy" if self.language == "cy" else "") + f"/accessibility/{statement.organisation_slug}"
        self.form_key += 1

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def choose_language(self, value: str):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.language = "cy" if value == "cy" else "en"
        self.error = self.notice = ""
        await self._refresh(actor)

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        form = form if isinstance(form, dict) else {}
        try:
            raw = str(form.get("reviewed_on") or "").strip()
            reviewed = date.fromisoformat(raw) if raw else None
        except ValueError:
            self.error = "Enter the review date as a date."
            return
        try:
            await asyncio.to_thread(service.save_statement, actor, self.language,
                                    {k: str(form.get(k) or "") for k in service.SECTION_KEYS}, reviewed)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.notice = f"The {LANGUAGE_NAMES[self.language]} statement is saved."
        await self._refresh(actor)


S = StatementState


@staff_page("/admin/accessibility", "Accessibility statement", on_load=S.load)
def statement_page() -> rx.Component:
    return rx.vstack(
        rx.text("Your public accessibility statement, in the GOV.UK model statement's structure. Leave a section "
                "empty to use the shipped wording."),
        rx.hstack(
            rx.el.label("Language", html_for="statement-language", style={"font_weight": "600"}),
            rx.el.select(rx.el.option("English", value="en"), rx.el.option("Welsh (Cymraeg)", value="cy"),
                         id="statement-language", value=S.language, on_change=S.choose_language,
                         style={"min_height": "44px"}),
            rx.link("See the public page", href=S.public_path, id="statement-public-link"),
            spacing="3", align="center", wrap="wrap",
        ),
        rx.cond(S.error != "", rx.callout(S.error, icon="triangle_alert", color_scheme="red", role="alert")),
        rx.cond(S.notice != "", rx.callout(S.notice, icon="check", color_scheme="green", role="status")),
        rx.form(
            rx.vstack(
                rx.foreach(S.sections, lambda sec: rx.vstack(
                    rx.el.label(sec["heading"], html_for="statement-" + sec["key"], style={"font_weight": "600"}),
                    rx.text("Now showing: ", sec["state"], size="1", color_scheme="gray",
                            id="statement-" + sec["key"] + "-state"),
                    rx.el.textarea(name=sec["key"], id="statement-" + sec["key"], default_value=sec["text"],
                                   placeholder=sec["default"], rows="5", max_length=service.MAX_SECTION,
                                   aria_describedby="statement-" + sec["key"] + "-state",
                                   style={"width": "100%", "padding": "0.5em"}),
                    spacing="1", width="100%", align_items="stretch",
                )),
                rx.el.label("Last reviewed on", html_for="statement-reviewed", style={"font_weight": "600"}),
                rx.el.input(type="date", name="reviewed_on", id="statement-reviewed", default_value=S.reviewed_on,
                            style={"min_height": "44px"}),
                rx.button("Save statement", type="submit", id="statement-save", size="3"),
                spacing="3", width="100%", align_items="stretch",
            ),
            on_submit=S.save,
            key=S.form_key,
        ),
        spacing="4",
        width="100%",
        align_items="stretch",
    )
