"""The sign-in form's route from the outside: where it sends a signed-in user next, including a form sent before
the page had filled in its hidden next field, and never to another site."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from atlas_app.api.app import build_api


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test", follow_redirects=False)


def sign_in(api, make_user, next_field: str, referer: str | None) -> str:
    user = make_user("route.admin", roles=("Administrator",))
    headers = {"origin": "http://atlas.test"}
    if referer is not None:
        headers["referer"] = referer
    response = api.post("/api/auth/login", data={"username": user.username, "password": user.password,
                                                 "next": next_field}, headers=headers)
    assert response.status_code == 303
    return response.headers["location"]


@pytest.mark.parametrize(("next_field", "referer", "expected"), [
    ("/admin/logins", "http://atlas.test/login?next=/admin/logins", "/admin/logins"),
    ("", "http://atlas.test/login?next=/admin/logins", "/admin/logins"),        # sent before the page filled it
    ("/staff", "http://atlas.test/login/?next=%2Fadmin%2Flogins", "/admin/logins"),
    ("", "http://atlas.test/login", "/staff"),
    ("", None, "/staff"),
    ("", "http://atlas.test/login?next=https://evil.example/", "/staff"),      # never another site
    ("", "http://atlas.test/login?next=//evil.example/", "/staff"),
    ("https://evil.example/", None, "/staff"),
    ("", "http://atlas.test/bookings?next=/admin/logins", "/staff"),            # only the sign-in page's own address
])
def test_next_page_after_signing_in(api, make_user, next_field, referer, expected):
    assert sign_in(api, make_user, next_field, referer) == expected
