"""Demo organisation reset benchmark (``make bench``): the demo data of all three demo organisations seeded, then
Demo Borough Council reset (every row deleted and regenerated). Target: under 60 s on either database. Writes
``tests/perf/results/demo_reset.json`` with the load average."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.models import Organisation, User
from atlas_app.services import demo
from atlas_app.services.user_group import demo_org
from conftest import DIALECT, UserInfo, actor_for

TARGET_SECONDS = 60
RESULTS = Path(__file__).resolve().parent / "results" / "demo_reset.json"


def test_resetting_the_demo_organisation_takes_under_a_minute():
    demo.seed_demo()
    with read_session() as s:
        u = s.exec(select(User).where(User.username == "platform.admin")).one()
        assert s.exec(select(Organisation).where(Organisation.slug == "demo")).first() is not None
    platform = actor_for(UserInfo(u.id, u.username, "", u.organisation_id, u.email))
    started = time.monotonic()
    report = demo_org.reset(platform)
    seconds = time.monotonic() - started
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"database": DIALECT, "rows_deleted": report.deleted, "seconds": round(seconds, 2),
                                   "load_average": os.getloadavg()}, indent=2))
    print(f"demo reset on {DIALECT}: {report.deleted} rows deleted and regenerated in {seconds:.1f} s")
    assert seconds < TARGET_SECONDS
