"""The staff shell (navigation by role, organisation switcher) and the public shell of the booking site.

``staff_page`` registers a page behind sign-in: the page's own data is loaded by its state's ``load`` handler,
which the ``AuthGate`` refuses to run for anonymous callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from atlas_app.services import modules as modules_service
from atlas_app.services.platform import auth as auth_service
from atlas_app.services.platform import users as users_service
from atlas_app.services.platform.permissions import ALL_PERMISSIONS, Perm
from atlas_app.ui.components.forms import native_form
from atlas_app.services.platform.i18n import HTML_LANG
from atlas_app.ui.i18n import _, current, language_switch, to
from atlas_app.ui.runtime import page
from atlas_app.ui.session import before_password_change, private, require


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    icon: str
    permission: str | None = None
    # Shown only to organisations that turned this module type on (services/modules).
    module_type: str | None = None


NAV: list[tuple[str, list[NavItem]]] = [
    ("", [NavItem("Home", "/staff", "house")]),
    (
        "Administration",
        [
            NavItem("Users", "/admin/users", "users", Perm.USERS_MANAGE),
            NavItem("Roles", "/admin/roles", "shield", Perm.ROLES_MANAGE),
            NavItem("Audit trail", "/admin/audit", "scroll-text", Perm.AUDIT_VIEW),
            NavItem("Login report", "/admin/logins", "log-in", Perm.LOGIN_REPORT_VIEW),
            NavItem("Email outbox", "/admin/outbox", "mail", Perm.OUTBOX_VIEW),
        ],
    ),
    ("You", [NavItem("My account", "/account", "user")]),
]


def register_nav(section: str, item: NavItem) -> None:
    """Let an area add its pages to the navigation."""
    for name, items in NAV:
        if name == section:
            items.append(item)
            return
    NAV.insert(len(NAV) - 1, (section, [item]))


@private
class AuthState(rx.State):
    """Who is signed in, for the shell. Holds names and permission codes only; never a token or hash."""

    signed_in: bool = False
    username: str = ""
    full_name: str = ""
    organisation_id: int = 0
    organisation_name: str = ""
    is_platform_admin: bool = False
    permissions: list[str] = []
    organisations: list[dict[str, str]] = []
    must_change_password: bool = False
    must_enrol_two_factor: bool = False
    module_types: list[str] = []

    @rx.event
    async def load(self):
        actor = await require(self)
        orgs = await asyncio.to_thread(users_service.organisations, actor)
        self.signed_in = True
        self.username = actor.username
        self.full_name = actor.full_name
        self.organisation_id = actor.organisation_id or 0
        self.organisation_name = next((n for i, n in orgs if i == actor.organisation_id), "")
        self.is_platform_admin = actor.is_platform_admin
        self.permissions = sorted(ALL_PERMISSIONS if actor.is_platform_admin else actor.permissions)
        self.organisations = [{"id": str(i), "name": n} for i, n in orgs] if actor.is_platform_admin else []
        self.must_change_password = actor.must_change_password
        self.must_enrol_two_factor = actor.must_enrol_two_factor
        self.module_types = await asyncio.to_thread(modules_service.enabled_types, actor)
        if (actor.must_change_password or actor.must_enrol_two_factor) and self.router.url.path != "/account":
            return rx.redirect("/account")

    @rx.event
    async def switch_organisation(self, organisation_id: str):
        actor = await require(self)
        try:
            org_id = int(organisation_id)
        except (TypeError, ValueError):
            return rx.toast.error("Choose an organisation from the list.")
        await asyncio.to_thread(auth_service.switch_organisation, actor, org_id)
        return rx.redirect(self.router.url.path or "/staff", is_external=True)

    @rx.event
    async def sign_out_everywhere(self):
        actor = await require(self)
        await asyncio.to_thread(auth_service.logout_everywhere, actor)
        return rx.redirect("/login?signed_out=1", is_external=True)


# The shell loads (and sends the user to My account) and signing out everywhere work before a password change.
before_password_change(AuthState, "load", "sign_out_everywhere")


def _shown(item: NavItem) -> rx.Var | None:
    """When the item is shown: None for always, else a condition on the signed-in user's permissions and modules."""
    conditions = []
    if item.permission is not None:
        conditions.append(AuthState.permissions.contains(item.permission))
    if item.module_type is not None:
        conditions.append(AuthState.module_types.contains(item.module_type))
    if not conditions:
        return None
    out = conditions[0]
    for c in conditions[1:]:
        out = out & c
    return out


def _nav_link(item: NavItem) -> rx.Component:
    link = rx.link(
        rx.hstack(rx.icon(item.icon, size=18, aria_hidden="true"), rx.text(item.label), spacing="2",
                  align="center"),
        href=item.href,
        underline="none",
        padding_y="0.45em",
        padding_x="0.6em",
        border_radius="var(--radius-2)",
        width="100%",
        color=rx.cond(AuthState.router.url.path == item.href, "var(--accent-11)", "var(--gray-12)"),
        background=rx.cond(AuthState.router.url.path == item.href, "var(--accent-3)", "transparent"),
        aria_current=rx.cond(AuthState.router.url.path == item.href, "page", "false"),
        _hover={"background": "var(--gray-3)"},
    )
    shown = _shown(item)
    return link if shown is None else rx.cond(shown, link)


def _nav() -> rx.Component:
    """Each section under its heading; a heading is shown only when the user can see one of its items."""
    sections = []
    for name, items in NAV:
        heading = rx.fragment()
        if name:
            heading = rx.text(name, size="1", weight="bold", color_scheme="gray", padding_x="0.6em",
                              padding_top="0.8em")
            conditions = [_shown(i) for i in items]
            if all(c is not None for c in conditions):
                any_shown = conditions[0]
                for c in conditions[1:]:
                    any_shown = any_shown | c
                heading = rx.cond(any_shown, heading)
        sections.append(rx.vstack(heading, *[_nav_link(i) for i in items], spacing="0", width="100%"))
    return rx.el.nav(rx.vstack(*sections, spacing="1", width="100%"), aria_label="Main navigation", width="100%")


def _org_switcher() -> rx.Component:
    return rx.cond(
        AuthState.is_platform_admin,
        rx.el.div(
            rx.el.label("Acting for", html_for="org-switcher", class_name="rt-Text rt-r-size-1",
                        style={"display": "block", "color": "var(--gray-11)"}),
            rx.el.select(
                rx.foreach(AuthState.organisations, lambda o: rx.el.option(o["name"], value=o["id"])),
                id="org-switcher",
                value=AuthState.organisation_id.to_string(),
                on_change=AuthState.switch_organisation,
                style={"padding": "0.3em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
                       "background": "var(--color-background)", "max-width": "14em"},
            ),
        ),
        rx.text(AuthState.organisation_name, size="2", color_scheme="gray", id="org-name"),
    )


def _platform_links() -> rx.Component:
    return rx.cond(AuthState.is_platform_admin,
                   rx.hstack(rx.link("Organisations", href="/admin/organisations", size="2", id="nav-organisations"),
                             rx.link("Demo organisation", href="/admin/demo", size="2", id="nav-demo"),
                             rx.link("User group members", href="/admin/user-group-members", size="2",
                                     id="nav-user-group-members"),
                             spacing="3"))


def _sign_out() -> rx.Component:
    return native_form(
        rx.button("Sign out", type="submit", variant="soft", size="2", id="sign-out"),
        action="/api/auth/logout",
        method="post",
    )


def skip_link(label: str = "Skip to main content") -> rx.Component:
    return rx.el.a(
        label,
        href="#main",
        class_name="skip-link",
    )


def _header(menu_button: rx.Component | None = None) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            menu_button or rx.fragment(),
            rx.link(rx.heading("Atlas", size="5"), href="/staff", underline="none", color="inherit"),
            _org_switcher(),
            _platform_links(),
            rx.spacer(),
            rx.text(AuthState.full_name, size="2", display=["none", "none", "block"], id="signed-in-as"),
            _sign_out(),
            align="center",
            spacing="4",
            width="100%",
        ),
        style={"padding": "0.6em 1em", "border-bottom": "1px solid var(--gray-5)", "position": "sticky",
               "top": "0", "background": "var(--color-background)", "z-index": "10"},
    )


def _mobile_menu() -> rx.Component:
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(
                rx.icon_button(rx.icon("menu", aria_hidden="true"), variant="ghost", aria_label="Open menu",
                               size="3")
            ),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(
                            rx.drawer.title("Menu"),
                            rx.spacer(),
                            rx.drawer.close(rx.icon_button(rx.icon("x", aria_hidden="true"), variant="ghost",
                                                           aria_label="Close menu")),
                            width="100%",
                        ),
                        _nav(),
                        padding="1em",
                        width="100%",
                    ),
                    background="var(--color-background)",
                    width="18em",
                    height="100%",
                    top="0",
                    left="0",
                )
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def staff_shell(content: rx.Component, title: str) -> rx.Component:
    return rx.box(
        skip_link(),
        _header(_mobile_menu()),
        rx.hstack(
            rx.box(_nav(), width="15em", min_width="15em", padding="0.5em", border_right="1px solid var(--gray-5)",
                   min_height="calc(100vh - 3.5em)", display=["none", "none", "block"]),
            rx.el.main(
                rx.cond(
                    AuthState.signed_in,
                    rx.vstack(rx.heading(title, size="7", as_="h1"), content, spacing="4", width="100%",
                              align_items="stretch"),
                    rx.center(rx.spinner(size="3"), rx.text("Loading…", margin_left="0.5em"), padding="3em"),
                ),
                id="main",
                tab_index=-1,
                style={"flex": "1", "min-width": "0", "padding": "1.25em", "max-width": "1400px"},
            ),
            spacing="0",
            align_items="start",
            width="100%",
        ),
        rx.cond(rx.State.is_hydrated, rx.el.span(id="hydrated", style={"display": "none"})),
    )


def staff_page(route: str, title: str, on_load: Callable | list | None = None) -> Callable:
    """Register a staff page inside the shell. The page's load handler re-checks permission on the server."""
    loads = [AuthState.load]
    if on_load is not None:
        loads.extend(on_load if isinstance(on_load, list) else [on_load])

    def decorator(fn: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @page(route=route, title=f"{title} · Atlas", on_load=loads)
        def render() -> rx.Component:
            return staff_shell(fn(), title)

        render.__name__ = fn.__name__
        return fn

    return decorator


def public_shell(*children: rx.Component, width: str = "36em") -> rx.Component:
    """The booking site's frame: mobile first, one column, in the language the page is compiled in (``lang`` on
    the frame), with a link to the same page in the other language."""
    return rx.box(
        skip_link(_("Skip to main content")),
        rx.el.header(
            rx.hstack(
                rx.link(rx.heading("Atlas", size="5"), href=to("/"), underline="none", color="inherit"),
                rx.spacer(),
                language_switch(),
                rx.link(_("Staff sign in"), href="/login", size="2"),
                align="center",
                spacing="4",
                width="100%",
            ),
            style={"padding": "0.75em 1em", "border-bottom": "1px solid var(--gray-5)"},
        ),
        rx.el.main(
            rx.vstack(*children, spacing="4", width="100%", align_items="stretch"),
            id="main",
            tab_index=-1,
            style={"max-width": width, "margin": "0 auto", "padding": "1.5em 1em"},
        ),
        rx.el.footer(
            rx.hstack(
                # A plain link with its colour inline: a themed link took a pale accent on some pages.
                rx.el.a(_("Accessibility statement"), href=to("/accessibility"), id="footer-accessibility",
                        style={"display": "inline-flex", "align_items": "center", "min_height": "44px",
                               "color": "#1d2e7a", "text_decoration": "underline", "font_size": "14px"}),
                spacing="4",
                wrap="wrap",
            ),
            style={"max-width": width, "margin": "0 auto", "padding": "1em", "border-top": "1px solid var(--gray-5)"},
        ),
        rx.cond(rx.State.is_hydrated, rx.el.span(id="hydrated", style={"display": "none"})),
        lang=HTML_LANG[current()],
    )
