"""Rent Arrears Monitoring: the arithmetic, the import (all or nothing, idempotent), the set-based recompute agreeing
with the pure functions, stage entry rules with their letters and intentions, arrangements kept and broken, contacts,
measures, and tenancy seen from another organisation."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from conftest import DIALECT, actor_for, all_rows, run_cli
from rent_support import WEEKLY, seed, tenancy, weeks_of, write

from atlas_app.db import read_session, write_session
from atlas_app.models.casework import Activity, Case, Demand, Intention
from atlas_app.models.rent_arrears import (
    RentArrangement,
    RentLetter,
    RentStage,
    RentTenancy,
    RentTransaction,
)
from atlas_app.services.casework import cases, config
from atlas_app.services.modules.rent_arrears import (
    arrears,
    imports,
    recompute,
    tenancies,
)
from atlas_app.services.modules.rent_arrears.arrears import StageRule, Txn
from atlas_app.services.platform.errors import (
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

START = date(2025, 1, 6)  # a Monday


@pytest.fixture
def worker(org, make_user):
    seed(org.id)
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


@pytest.fixture
def essex(other_org, make_user):
    seed(other_org.id)
    return actor_for(make_user("tom.reid", roles=("Case worker",), org_info=other_org))


def stage_of(tenancy_id: int) -> str:
    with read_session() as s:
        t = s.get(RentTenancy, tenancy_id)
        return s.get(RentStage, t.stage_id).code if t.stage_id else ""


def row(tenancy_id: int) -> RentTenancy:
    with read_session() as s:
        return s.get(RentTenancy, tenancy_id)


# --- the arithmetic -----------------------------------------------------------------------------------------------


def test_figures_balance_weeks_and_trend():
    txns = [Txn(START + timedelta(days=7 * n), "charge", 10_000) for n in range(20)]
    txns += [Txn(START + timedelta(days=7 * n + 4), "payment", -5_000) for n in range(20)]
    as_of = START + timedelta(days=7 * 19 + 6)
    f = arrears.figures(txns, 10_000, as_of)
    assert f.balance_pence == 100_000
    assert f.arrears_weeks_x100 == 1000
    assert f.trend_4w_pence == 20_000 and f.trend_13w_pence == 65_000
    assert f.last_payment_on == START + timedelta(days=7 * 19 + 4)
    assert arrears.arrears_weeks_x100(-500, 10_000) == 0
    assert arrears.arrears_weeks_x100(10_001, 10_000) == 100  # rounded down: "more than a week" is > 100
    assert arrears.arrears_weeks_x100(5_000, 0) == 0


RULES = [StageRule(1, "reminder", 100), StageRule(2, "contact", 400, 14), StageRule(3, "notice", 800, 28),
         StageRule(4, "court", 800, 28)]


@pytest.mark.parametrize(("current", "x100", "days", "kept", "expected"), [
    (None, 100, 0, False, None),        # exactly one week: not more than one week
    (None, 101, 0, False, 1),           # more than one week: reminder
    (None, 900, 0, False, 1),           # one stage at a time, even with nine weeks
    (1, 450, 13, False, 1),             # contact needs 14 days at reminder
    (1, 450, 14, False, 2),
    (1, 400, 30, False, 1),             # four weeks is not more than four weeks
    (2, 850, 28, True, 2),              # a kept arrangement holds the tenancy at its stage
    (None, 850, 0, True, 1),            # ... but the first stage still applies
    (2, 850, 27, False, 2),
    (2, 850, 28, False, 3),
    (3, 850, 28, False, 4),
    (4, 2000, 400, False, 4),           # the last stage
    (3, 99, 5, False, None),            # arrears down to under a week: leaves the stages
    (9, 150, 5, False, 1),              # a stage no longer active counts as none
])
def test_stage_entry_rules(current, x100, days, kept, expected):
    assert arrears.next_stage(RULES, current if current != 9 else None, x100, days, kept) == expected


def test_monthly_instalments_fall_on_the_last_day_of_short_months():
    assert arrears.due_dates(date(2024, 1, 31), "monthly", date(2024, 5, 1)) == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert arrears.due_dates(date(2025, 3, 1), "fortnightly", date(2025, 3, 29)) == [
        date(2025, 3, 1), date(2025, 3, 15), date(2025, 3, 29)]
    with pytest.raises(ValueError):
        arrears.due_dates(START, "yearly", START)


def test_arrangement_kept_and_broken():
    start = date(2025, 3, 3)
    paid = [Txn(start + timedelta(days=7 * n + 1), "payment", -2_000) for n in range(4)]
    check = arrears.check_arrangement(2_000, "weekly", start, paid, start + timedelta(days=27))
    assert check.kept and check.due_pence == 8_000 and check.paid_pence == 8_000
    # Week 5 not paid: broken when its grace days are over, not before.
    assert arrears.check_arrangement(2_000, "weekly", start, paid, start + timedelta(days=30)).kept
    late = arrears.check_arrangement(2_000, "weekly", start, paid, start + timedelta(days=31))
    assert not late.kept and late.broken_on == start + timedelta(days=31) and late.paid_pence == 8_000
    # Paying late within the grace days keeps it; a Housing Benefit credit counts, a credit adjustment does not.
    assert arrears.check_arrangement(2_000, "weekly", start, [Txn(start + timedelta(days=3), "payment", -2_000)],
                                     start + timedelta(days=5)).kept
    assert arrears.check_arrangement(2_000, "weekly", start, [Txn(start, "housing_benefit", -2_000)],
                                     start + timedelta(days=5)).kept
    assert not arrears.check_arrangement(2_000, "weekly", start, [Txn(start, "adjustment", -2_000)],
                                         start + timedelta(days=5)).kept
    # Payments before the start do not count; nothing is due before the first instalment.
    assert not arrears.check_arrangement(2_000, "weekly", start, [Txn(start - timedelta(days=1), "payment", -9_000)],
                                         start + timedelta(days=3)).kept
    assert arrears.check_arrangement(2_000, "weekly", start, [], start - timedelta(days=10)).kept


def test_priority_order():
    p = tenancies.priority
    assert p(500, 0, WEEKLY, False, 3) < p(500, 0, WEEKLY, False, 20) < p(500, 0, WEEKLY, False, None)
    assert p(500, 0, WEEKLY, True, 3) == p(500, 0, WEEKLY, False, 3) + 400
    assert p(500, 20_000, WEEKLY, False, 3) == 700
    assert p(500, -20_000, WEEKLY, False, 3) == 500


# --- the import ---------------------------------------------------------------------------------------------------


def test_import_then_rerun_changes_nothing(worker, tmp_path):
    a = tenancy(worker, "RA100", 100001)
    b = tenancy(worker, "RA200", 100002)
    rows = weeks_of("RA100", START, 8, 10_000) + weeks_of("RA200", START, 8, 5_000)
    rows.append(("RA200-HB1", "RA200", "14/01/2025", "HB", "", "20.00"))
    rows.append(("RA200-ADJ", "RA200", "2025-01-15", "adjustment", "", "-7.50"))
    path = write(tmp_path, rows)
    as_of = START + timedelta(days=7 * 8)
    report = imports.import_transactions(worker, path, as_of=as_of)
    assert (report.rows_read, report.inserted, report.already_imported) == (34, 34, 0)
    assert row(a).balance_pence == 0
    assert row(b).balance_pence == 8 * 5_000 - 2_000 - 750
    before = [(t.id, t.balance_pence, t.arrears_weeks_x100, t.stage_id) for t in all_rows(RentTenancy, order_by=RentTenancy.id)]
    letters_before = len(all_rows(RentLetter))
    again = imports.import_transactions(worker, path, as_of=as_of)
    assert (again.inserted, again.already_imported) == (0, 34)
    assert len(all_rows(RentTransaction)) == 34
    assert [(t.id, t.balance_pence, t.arrears_weeks_x100, t.stage_id) for t in all_rows(RentTenancy, order_by=RentTenancy.id)] == before
    assert len(all_rows(RentLetter)) == letters_before
    kinds = {t.external_id: (t.kind, t.amount_pence) for t in all_rows(RentTransaction)}
    assert kinds["RA200-HB1"] == ("housing_benefit", -2_000) and kinds["RA200-ADJ"] == ("adjustment", -750)


def test_bad_rows_are_named_and_nothing_is_imported(worker, tmp_path):
    tenancy(worker, "RA100", 100001)
    rows = weeks_of("RA100", START, 3, 10_000)
    rows += [("X1", "RA999", "2025-01-06", "charge", "", "100.00"),
             ("X2", "RA100", "31/02/2025", "charge", "", "100.00"),
             ("X3", "RA100", "2025-01-06", "refund", "", "100.00"),
             ("X4", "RA100", "2025-01-06", "payment", "", "-5.00"),
             ("", "RA100", "2025-01-06", "payment", "", "1.234")]
    path = write(tmp_path, rows)
    with pytest.raises(imports.ImportRefused) as caught:
        imports.import_transactions(worker, path)
    errors = caught.value.report.errors
    assert len(errors) == 5
    assert errors[0].startswith("line 8: no tenancy has rent account 'RA999'")
    assert errors[1].startswith("line 9: date '31/02/2025' is not a date")
    assert "type 'refund'" in errors[2] and errors[2].startswith("line 10")
    assert "only an adjustment can be negative" in errors[3]
    assert "transaction_id is missing" in errors[4] and "amount '1.234'" in errors[4]
    assert all_rows(RentTransaction) == []
    with pytest.raises(ValidationFailed, match="header row has no amount"):
        imports.import_text(worker, "transaction_id,rent_account,date,type\n", "bad.csv")


def test_cli_imports_and_refuses(worker, org, tmp_path):
    tenancy(worker, "RA100", 100001)
    good = write(tmp_path, weeks_of("RA100", START, 3, 0), "good.csv")
    out = run_cli("import-rent-transactions", str(good), "--org", org.slug, "--as-of", "2025-01-27", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "6 rows read" in out.stdout or "3 rows read" in out.stdout
    assert "1 to Reminder letter" in out.stdout
    bad = write(tmp_path, [("Z1", "NOPE", "2025-01-06", "charge", "", "1")], "bad.csv")
    out = run_cli("import-rent-transactions", str(bad), "--org", org.slug)
    assert out.returncode == 1 and "line 2: no tenancy has rent account 'NOPE'" in out.stderr
    assert run_cli("import-rent-transactions", str(bad), "--org", "nowhere").returncode == 2


def test_the_set_based_recompute_agrees_with_the_pure_functions(worker, tmp_path):
    rng = random.Random(7)
    ids = {}
    rows = []
    for n in range(6):
        account = f"RA{n}"
        weekly = rng.choice([8_000, 9_550, 12_345])
        ids[account] = (tenancy(worker, account, 200000 + n, weekly=weekly), weekly)
        for w in range(20):
            day = START + timedelta(days=7 * w)
            rows.append((f"{account}-C{w}", account, day.isoformat(), "charge", "", f"{weekly / 100:.2f}"))
            if rng.random() < 0.7:
                kind = rng.choice(["payment", "housing_benefit", "universal_credit"])
                rows.append((f"{account}-P{w}", account, (day + timedelta(days=rng.randint(0, 6))).isoformat(), kind,
                             "card", f"{rng.randint(1000, 15000) / 100:.2f}"))
            if rng.random() < 0.1:
                rows.append((f"{account}-A{w}", account, day.isoformat(), "adjustment", "",
                             f"{rng.randint(-3000, 3000) / 100:.2f}"))
    as_of = START + timedelta(days=7 * 17 + 2)  # later transactions are not counted yet
    imports.import_transactions(worker, write(tmp_path, rows), as_of=as_of)
    txns = {}
    for t in all_rows(RentTransaction):
        txns.setdefault(t.tenancy_id, []).append(Txn(t.posted_on, t.kind, t.amount_pence))
    for tid, weekly in ids.values():
        expected = arrears.figures(txns[tid], weekly, as_of)
        t = row(tid)
        assert (t.balance_pence, t.arrears_weeks_x100, t.trend_4w_pence, t.trend_13w_pence, t.last_payment_on) == (
            expected.balance_pence, expected.arrears_weeks_x100, expected.trend_4w_pence, expected.trend_13w_pence,
            expected.last_payment_on)


# --- stages, letters, intentions, arrangements ----------------------------------------------------------------


def test_a_tenancy_moves_through_the_stages_with_letters_and_intentions(worker, make_user, tmp_path):
    officer = make_user("ian.officer", roles=("Case worker",))
    tid = tenancy(worker, "RA100", 100001, officer_user_id=officer.id)
    paid = tenancy(worker, "RA300", 100003)
    rows = weeks_of("RA100", START, 3, 0) + weeks_of("RA300", START, 3, WEEKLY)
    imports.import_transactions(worker, write(tmp_path, rows, "w1.csv"), as_of=START + timedelta(days=20))
    assert stage_of(tid) == "reminder" and stage_of(paid) == ""
    t = row(tid)
    assert t.arrears_weeks_x100 == 300 and t.case_id
    letters = all_rows(RentLetter)
    assert [x.template_code for x in letters] == ["rent_reminder"]
    assert "£300.00" in letters[0].body and "Jo Tenant100001" in letters[0].body
    detail = cases.get_case(worker, t.case_id)
    assert [p.name for p in detail.people] == ["Jo Tenant100001"] and detail.places[0].ref == "100001"
    assert any("Letter produced: Rent arrears: reminder" in a.note for a in detail.activities)
    intention = all_rows(Intention)[0]
    assert intention.owner_user_id == officer.id and intention.due_on == START + timedelta(days=34)
    # Two more weeks unpaid (five weeks in arrears), but only 14 days at the reminder stage moves it on.
    more = weeks_of("RA100", START + timedelta(days=21), 2, 0, prefix="U")
    imports.import_transactions(worker, write(tmp_path, more, "w2.csv"), as_of=START + timedelta(days=33))
    assert stage_of(tid) == "reminder"
    recompute.recompute(worker, as_of=START + timedelta(days=34))
    assert stage_of(tid) == "contact"
    assert [x.template_code for x in all_rows(RentLetter, order_by=RentLetter.id)] == ["rent_reminder", "rent_contact"]
    # Paid off: leaves the stages; the case stays.
    clear = [("PAY-ALL", "RA100", (START + timedelta(days=35)).isoformat(), "payment", "card", "500.00")]
    imports.import_transactions(worker, write(tmp_path, clear, "w3.csv"), as_of=START + timedelta(days=36))
    assert stage_of(tid) == "" and row(tid).case_id == t.case_id


def test_a_broken_arrangement_raises_the_case_and_a_kept_one_holds_the_stage(worker, tmp_path):
    tid = tenancy(worker, "RA100", 100001)
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 6, 0), "w1.csv"),
                                as_of=START + timedelta(days=41))
    assert stage_of(tid) == "reminder"
    recompute.recompute(worker, as_of=START + timedelta(days=56))
    assert stage_of(tid) == "contact"
    start = START + timedelta(days=57)
    tenancies.add_arrangement(worker, tid, amount="120", frequency="weekly", start_on=start.isoformat())
    # Kept for three weeks (rent keeps growing the arrears past eight weeks, yet the stage holds).
    rows = weeks_of("RA100", START + timedelta(days=42), 6, 0, prefix="M")
    rows += [(f"K{n}", "RA100", (start + timedelta(days=7 * n)).isoformat(), "payment", "cash", "120.00")
             for n in range(3)]
    imports.import_transactions(worker, write(tmp_path, rows, "w2.csv"), as_of=start + timedelta(days=90))
    # 90 days on with only three instalments paid: broken.
    arrangement = all_rows(RentArrangement)[0]
    assert arrangement.status == "broken" and arrangement.broken_on == start + timedelta(days=24)
    t = row(tid)
    assert t.arrangement_broken
    assert "rent_arrangement_broken" in [x.template_code for x in all_rows(RentLetter)]
    notes = [a.note for a in all_rows(Activity, Activity.case_id == t.case_id)]
    assert any(n.startswith("Arrangement broken on") for n in notes)
    # Raised: the broken flag puts it at the top of the caseload, and it moves on to notice.
    assert stage_of(tid) == "notice"
    # The caseload's SQL priority counts the broken arrangement exactly as the pure rule does.
    entry = next(r for r in tenancies.caseload(worker) if r.id == tid)
    assert entry.arrangement_broken
    assert entry.priority == tenancies.priority(t.arrears_weeks_x100, t.trend_4w_pence, WEEKLY, True, None)


def test_kept_arrangement_holds_escalation(worker, tmp_path):
    tid = tenancy(worker, "RA100", 100001)
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 6, 0), "w1.csv"),
                                as_of=START + timedelta(days=41))
    recompute.recompute(worker, as_of=START + timedelta(days=56))
    assert stage_of(tid) == "contact"
    start = START + timedelta(days=57)
    tenancies.add_arrangement(worker, tid, amount="50", frequency="weekly", start_on=start.isoformat())
    rows = [(f"K{n}", "RA100", (start + timedelta(days=7 * n)).isoformat(), "payment", "cash", "50.00")
            for n in range(6)]
    rows += weeks_of("RA100", START + timedelta(days=42), 6, 0, prefix="M")
    imports.import_transactions(worker, write(tmp_path, rows, "w2.csv"), as_of=start + timedelta(days=36))
    assert all_rows(RentArrangement)[0].status == "active"
    assert row(tid).arrears_weeks_x100 > 800 and stage_of(tid) == "contact"


def test_stage_rules_are_configurable(actor, worker, tmp_path):
    stages = tenancies.list_stages(actor)
    reminder = stages[0]
    tenancies.save_stage(actor, reminder.id, name="Friendly reminder", min_arrears_weeks="2.5",
                         min_days_in_previous=0, letter_code="rent_reminder",
                         intention_type_id=reminder.intention_type_id, intention_due_days=3)
    tid = tenancy(worker, "RA100", 100001)
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 2, 0)),
                                as_of=START + timedelta(days=13))
    assert stage_of(tid) == "" and row(tid).arrears_weeks_x100 == 200
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START + timedelta(days=14), 1, 0, "V"),
                                              "w2.csv"), as_of=START + timedelta(days=15))
    assert stage_of(tid) == "reminder"
    assert tenancies.measures(worker, as_of=START + timedelta(days=15)).by_stage[0] == ("Friendly reminder", 1)
    with pytest.raises(PermissionDenied):
        tenancies.save_stage(worker, reminder.id, name="x", min_arrears_weeks="1", min_days_in_previous=0,
                             letter_code="rent_reminder")
    with pytest.raises(ValidationFailed):
        tenancies.save_stage(actor, reminder.id, name="x", min_arrears_weeks="one", min_days_in_previous=0,
                             letter_code="rent_reminder")
    with pytest.raises(ValidationFailed):
        tenancies.save_stage(actor, reminder.id, name="x", min_arrears_weeks="1", min_days_in_previous=0,
                             letter_code="booking_confirmation")


# --- contacts, caseload, measures -------------------------------------------------------------------------------


def _rent_type(actor, name):
    mid = next(m.id for m in config.list_modules(actor) if m.module_type == "rent_arrears")
    return next(v.id for v in config.options(actor, "demand_type", mid) if v.name == name)


def test_logging_a_contact_and_the_measures(worker, tmp_path):
    tid = tenancy(worker, "RA100", 100001, patch="North")
    south = tenancy(worker, "RA200", 100002, patch="South")
    rows = weeks_of("RA100", START, 4, 0) + weeks_of("RA200", START, 4, 7_500)  # RA200: exactly one week behind
    imports.import_transactions(worker, write(tmp_path, rows), as_of=START + timedelta(days=27))
    load = tenancies.caseload(worker)
    assert [r.id for r in load] == [tid, south] and load[0].last_contact == "never"
    assert [r.id for r in tenancies.caseload(worker, patch="South")] == [south]
    assert [r.id for r in tenancies.caseload(worker, stage="reminder")] == [tid]
    assert [r.id for r in tenancies.caseload(worker, stage="none")] == [south]
    assert [r.id for r in tenancies.caseload(worker, search="tenant100002")] == [south]
    demand = tenancies.log_contact(worker, tid, demand_type_id=_rent_type(worker, "Query about an arrears letter"),
                                   note="Tenant rang: did not understand the letter")
    tenancies.log_contact(worker, tid, demand_type_id=_rent_type(worker, "Arrangement to pay"),
                          note="Offered an arrangement", demand_class="value")
    with read_session() as s:
        d = s.get(Demand, demand)
        assert d.demand_class == "failure" and s.get(Case, d.case_id).id == row(tid).case_id
    assert row(tid).last_contact_at is not None
    assert tenancies.caseload(worker)[0].days_since_contact == 0
    timeline = cases.get_case(worker, row(tid).case_id)
    assert any(a.note.startswith("Contact (Query about an arrears letter)") for a in timeline.activities)
    m = tenancies.measures(worker, as_of=START + timedelta(days=27))
    assert m.total_arrears_pence == 40_000 + 10_000 and m.in_arrears == 2
    assert m.rent_due == "£800.00" and m.collected == "£300.00" and m.collection_rate == "37.5%"
    assert dict(m.by_stage)["Reminder letter"] == 1
    assert (m.contacts, m.failure_contacts, m.failure_share) == (2, 1, "50%")
    with pytest.raises(ValidationFailed):
        tenancies.log_contact(worker, tid, demand_type_id=_rent_type(worker, "Arrangement to pay"), note="")


# --- tenancy (organisations) ----------------------------------------------------------------------------------


def test_another_organisations_tenancies_are_never_visible(worker, essex, tmp_path):
    tid = tenancy(worker, "RA100", 100001)
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 3, 0)),
                                as_of=START + timedelta(days=20))
    assert tenancies.caseload(essex) == []
    with pytest.raises(NotFound):
        tenancies.get_tenancy(essex, tid)
    with pytest.raises(NotFound):
        tenancies.log_contact(essex, tid, demand_type_id=_rent_type(essex, "Arrangement to pay"), note="x")
    with pytest.raises(NotFound):
        tenancies.add_arrangement(essex, tid, amount="10", frequency="weekly", start_on="2025-03-01")
    letter = all_rows(RentLetter)[0]
    with pytest.raises(NotFound):
        tenancies.letter_pdf(essex, letter.id)
    # Essex's file naming Hartlepool's rent account finds no tenancy, and Essex's recompute leaves it alone.
    with pytest.raises(imports.ImportRefused) as caught:
        imports.import_transactions(essex, write(tmp_path, [("E1", "RA100", "2025-01-06", "payment", "", "900")],
                                                 "essex.csv"))
    assert "no tenancy has rent account 'RA100'" in caught.value.report.errors[0]
    before = row(tid)
    recompute.recompute(essex, as_of=START + timedelta(days=200))
    assert row(tid).balance_pence == before.balance_pence and row(tid).computed_on == before.computed_on
    assert tenancies.measures(essex).total_arrears_pence == 0
    # The same rent account reference and transaction ids in Essex are Essex's own.
    tenancy(essex, "RA100", 900001)
    imports.import_transactions(essex, write(tmp_path, weeks_of("RA100", START, 3, 0), "e2.csv"),
                                as_of=START + timedelta(days=20))
    assert len(all_rows(RentTransaction)) == 6


def test_the_module_must_be_turned_on(worker, actor, tmp_path):
    with write_session() as s:
        from atlas_app.models.casework import CaseModule

        module = s.exec(__import__("sqlmodel").select(CaseModule).where(
            CaseModule.organisation_id == worker.organisation_id, CaseModule.module_type == "rent_arrears")).one()
        module.is_active = False
        s.add(module)
    with pytest.raises(NotFound, match="Rent Arrears Monitoring is not turned on"):
        tenancies.caseload(worker)
    with pytest.raises(NotFound):
        imports.import_text(worker, "transaction_id,rent_account,date,type,amount\n", "x.csv")


def test_letter_pdf_and_templates_are_editable(actor, worker, tmp_path):
    from atlas_app.services.insight import letters

    tenancy(worker, "RA100", 100001)
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 3, 0)),
                                as_of=START + timedelta(days=20))
    name, pdf = tenancies.letter_pdf(worker, all_rows(RentLetter)[0].id)
    assert name == "letter-rent_reminder-RA100.pdf" and pdf.startswith(b"%PDF")
    letters.save_template(actor, "rent_reminder", "Reminder", "Account {{ tenancy.rent_account }}",
                          "Dear {{ tenant.name }}, you owe {{ tenancy.balance }}.")
    with pytest.raises(ValidationFailed):
        letters.save_template(actor, "rent_reminder", "Reminder", "x", "{{ booking.reference }}")
    with pytest.raises(ValidationFailed):
        letters.save_template(actor, "booking_confirmation", "Booking", "x", "{{ tenancy.balance }}")


# --- the pages' states ----------------------------------------------------------------------------------------


def test_caseload_and_tenancy_states(monkeypatch, worker, essex, tmp_path):
    from state_support import signed_in, substate
    from state_support import run as run_handler

    from atlas_app.ui.staff.modules.rent_arrears import caseload as caseload_page
    from atlas_app.ui.staff.modules.rent_arrears import tenancy as tenancy_page

    tid = tenancy(worker, "RA100", 100001, patch="North")
    tenancy(worker, "RA200", 100002, patch="South")
    imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 3, 0) +
                                              weeks_of("RA200", START, 3, 7_000)), as_of=START + timedelta(days=20))
    signed_in(monkeypatch, worker, caseload_page, tenancy_page)
    load = substate(caseload_page.CaseloadState)
    run_handler(load.load())
    assert [r["account"] for r in load.rows] == ["RA100", "RA200"]
    assert load.rows[0]["stage"] == "Reminder letter" and load.rows[0]["contact"] == "never"
    assert {m["k"] for m in load.measures} >= {"Total arrears", "Contacts that were failure demand"}
    run_handler(load.filter({"stage": "none", "patch": "", "q": ""}))
    assert [r["account"] for r in load.rows] == ["RA200"]
    run_handler(load.filter({"stage": "", "patch": "North", "q": ""}))
    assert [r["account"] for r in load.rows] == ["RA100"]

    page = substate(tenancy_page.TenancyState)
    page.router.page.params["id"] = str(tid)
    run_handler(page.load())
    assert page.found and page.account == "RA100" and page.case_ref and page.letters
    query = next(d["id"] for d in page.demand_types if d["name"].startswith("Query about an arrears letter"))
    run_handler(page.log_contact({"demand_type_id": query, "note": "Confused by the letter", "demand_class": "",
                                  "channel_id": ""}))
    assert page.error == "" and page.notice == "Contact logged on the case."
    assert row(tid).last_contact_at is not None
    run_handler(page.log_contact({"demand_type_id": query, "note": ""}))
    assert page.error == "Say what was discussed."
    run_handler(page.add_arrangement({"amount": "25", "frequency": "weekly", "start_on": "2025-02-03"}))
    assert page.notice == "Arrangement recorded." and page.arrangements[0]["status"] == "active"

    # Another organisation's officer opening this tenancy's URL finds nothing, and cannot log on it.
    signed_in(monkeypatch, essex, caseload_page, tenancy_page)
    theirs = substate(tenancy_page.TenancyState)
    theirs.router.page.params["id"] = str(tid)
    run_handler(theirs.load())
    assert not theirs.found and theirs.account == ""
    theirs.tenancy_id = str(tid)
    run_handler(theirs.log_contact({"demand_type_id": query, "note": "x"}))
    assert theirs.error == "No such tenancy."
    other_load = substate(caseload_page.CaseloadState)
    run_handler(other_load.load())
    assert other_load.rows == []


@pytest.mark.parametrize("parallel", [False, True])
def test_a_repeated_id_is_written_once_and_the_reader_process_gives_the_same(worker, tmp_path, parallel):
    tid = tenancy(worker, "RA100", 100001)
    rows = weeks_of("RA100", START, 30, 9_000)
    rows.append(rows[0])  # the rent system sent one transaction twice
    rows.append(("RA100-ODD", "RA100", "2025-02-03", "Housing Benefit", "", "15.00"))  # spelt out
    report = imports.import_transactions(worker, write(tmp_path, rows), as_of=START + timedelta(days=7 * 30),
                                         batch_size=7, parallel=parallel)
    assert (report.rows_read, report.inserted, report.already_imported) == (62, 61, 1)
    assert row(tid).balance_pence == 30 * 1_000 - 1_500
    bad = rows[:5] + [("Q1", "RA100", "2025-13-01", "charge", "", "1")] + rows[5:20]
    with pytest.raises(imports.ImportRefused) as caught:
        imports.import_transactions(worker, write(tmp_path, bad, "bad.csv"), batch_size=4, parallel=parallel)
    assert caught.value.report.errors == ["line 7: date '2025-13-01' is not a date (YYYY-MM-DD or DD/MM/YYYY)"]


def test_an_administrator_changes_a_stage_on_the_caseload_page(monkeypatch, actor, worker):
    from state_support import run as run_handler
    from state_support import signed_in, substate

    from atlas_app.ui.staff.modules.rent_arrears import caseload as caseload_page

    signed_in(monkeypatch, actor, caseload_page)
    state = substate(caseload_page.CaseloadState)
    run_handler(state.load())
    assert state.can_configure and [s["name"] for s in state.stages][0] == "Reminder letter"
    first = state.stages[0]
    run_handler(state.save_stage({"stage_id": first["id"], "name": "First reminder", "weeks": "1.5", "days": "0",
                                  "letter": "rent_reminder", "intention": first["intention"], "due": "10",
                                  "active": "on"}))
    assert state.stage_error == "" and state.stages[0]["name"] == "First reminder"
    assert state.stages[0]["weeks"] == "1.50" and state.stages[0]["due"] == "10"
    run_handler(state.save_stage({"stage_id": first["id"], "name": "x", "weeks": "lots", "days": "0",
                                  "letter": "rent_reminder"}))
    assert "weeks of rent" in state.stage_error
    # A case worker sees no stage settings and cannot save one.
    signed_in(monkeypatch, worker, caseload_page)
    other = substate(caseload_page.CaseloadState)
    run_handler(other.load())
    assert not other.can_configure and other.stages == []
    with pytest.raises(PermissionDenied):
        run_handler(other.save_stage({"stage_id": first["id"], "name": "y", "weeks": "1", "days": "0",
                                      "letter": "rent_reminder"}))


def test_the_caseload_upload_keeps_the_file_privately_for_the_import(monkeypatch, worker, tmp_path):
    from state_support import run as run_handler
    from state_support import signed_in, substate

    from atlas_app.ui.staff.modules.rent_arrears import caseload as caseload_page

    class Upload:
        name = "week.csv"

        def __init__(self, data: bytes) -> None:
            self.data = data

        async def read(self, size: int = -1) -> bytes:
            out, self.data = self.data[:size], self.data[size:]
            return out

    tenancy(worker, "RA100", 100001)
    signed_in(monkeypatch, worker, caseload_page)
    state = substate(caseload_page.CaseloadState)
    event = run_handler(state.upload([Upload(imports.sample_csv(weeks_of("RA100", START, 2, 0)).encode())]))
    assert state.importing and event is not None
    # The file is kept in the data directory's uploads folder (private), not Reflex's public upload folder.
    assert state._upload_path.endswith(".csv") and "/uploads/rent-" in state._upload_path
    report = imports.import_transactions(worker, state._upload_path, as_of=START + timedelta(days=13))
    assert report.inserted == 2
    empty = substate(caseload_page.CaseloadState)
    run_handler(empty.upload([]))
    assert empty.import_error == "Choose a file first." and not empty.importing


def _foreign_keys() -> list[tuple[str, str]]:
    with read_session() as s:
        return [tuple(r) for r in s.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'rent_transaction'::regclass AND contype = 'f' ORDER BY conname")).all()]


@pytest.mark.parametrize("parallel", [False, True])
def test_a_large_file_is_moved_in_bulk_with_the_same_result_and_its_foreign_keys_back(worker, tmp_path, dialect,
                                                                                       parallel):
    """A file over ``bulk_min_bytes`` is staged and moved in several statements (here every 5 rows) with the
    foreign keys dropped and put back (PostgreSQL): the same rows and figures as the ordinary path, the keys as they
    were, and a file refused half-way leaves nothing and the keys in place."""
    keys = _foreign_keys() if dialect == "postgresql" else []
    a = tenancy(worker, "RA100", 100001)
    b = tenancy(worker, "RA200", 100002)
    rows = weeks_of("RA100", START, 6, 10_000) + weeks_of("RA200", START, 6, 4_000)
    rows.insert(9, rows[2])  # sent twice, in different moves
    bulk = dict(bulk_min_bytes=1, move_rows=5, batch_size=3, parallel=parallel)
    report = imports.import_transactions(worker, write(tmp_path, rows), as_of=START + timedelta(days=42), **bulk)
    assert (report.rows_read, report.inserted, report.already_imported) == (25, 24, 1)
    assert row(a).balance_pence == 0 and row(b).balance_pence == 6 * 6_000
    again = imports.import_transactions(worker, write(tmp_path, rows), **bulk)
    assert (again.inserted, again.already_imported) == (0, 25)
    late_bad = weeks_of("RA100", START, 8, 0, prefix="N") + [("N-BAD", "RA100", "2025-02-30", "charge", "", "1")]
    with pytest.raises(imports.ImportRefused) as caught:
        imports.import_transactions(worker, write(tmp_path, late_bad, "bad.csv"), **bulk)
    assert caught.value.report.errors == ["line 10: date '2025-02-30' is not a date (YYYY-MM-DD or DD/MM/YYYY)"]
    assert len(all_rows(RentTransaction)) == 24
    if dialect == "postgresql":
        assert _foreign_keys() == keys and len(keys) == 2
        # The keys are really back: a transaction of no tenancy is refused by the database.
        with pytest.raises(IntegrityError), write_session() as s:
            s.add(RentTransaction(organisation_id=worker.organisation_id, tenancy_id=a + 10_000, external_id="X",
                                  posted_on=START, kind="charge", amount_pence=1))


@pytest.mark.skipif(DIALECT != "postgresql", reason="the foreign keys are dropped and put back on PostgreSQL only")
def test_a_bulk_import_that_cannot_lock_the_tables_keeps_the_foreign_keys_and_still_imports(worker, tmp_path,
                                                                                            monkeypatch):
    from atlas_app.db import get_engine

    monkeypatch.setattr(imports, "BULK_LOCK_TIMEOUT", "200ms")
    keys = _foreign_keys()
    a = tenancy(worker, "RA100", 100001)
    reader = get_engine().connect()
    try:
        reader.execute(text("SELECT count(*) FROM rent_transaction"))  # holds its lock until the transaction ends
        report = imports.import_transactions(worker, write(tmp_path, weeks_of("RA100", START, 4, 10_000)),
                                             as_of=START + timedelta(days=28), bulk_min_bytes=1, move_rows=3)
    finally:
        reader.close()
    assert report.inserted == 8 and row(a).balance_pence == 0
    assert _foreign_keys() == keys


def test_the_caseload_read_from_the_priority_index_is_the_exact_top_of_the_pure_rule(worker, tmp_path):
    """``priority_base`` is kept by the database with each row; the caseload reads the first ``limit`` from its
    index and still returns exactly the ``limit`` highest priorities (time without contact reorders them)."""
    from datetime import UTC, datetime

    rng = random.Random(41)
    ids, rows = [], []
    for n in range(24):
        account = f"RA{n:03d}"
        ids.append(tenancy(worker, account, 300000 + n, weekly=rng.choice([8_000, 10_000, 12_500])))
        rows += weeks_of(account, START, 10, rng.choice([0, 2_000, 6_000, 9_000]))
    imports.import_transactions(worker, write(tmp_path, rows), as_of=START + timedelta(days=70))
    now = datetime.now(UTC)
    with write_session() as s:
        for n, tid in enumerate(ids):
            t = s.get(RentTenancy, tid)
            t.last_contact_at = None if n % 4 == 0 else now - timedelta(days=rng.choice([1, 9, 20, 40]))
            t.arrangement_broken = n % 7 == 0
            s.add(t)
    expected = []
    for tid in ids:
        t = row(tid)
        assert t.priority_base == tenancies.priority(t.arrears_weeks_x100, t.trend_4w_pence, t.weekly_rent_pence,
                                                     t.arrangement_broken, 0)
        days = (now - t.last_contact_at).days if t.last_contact_at else None
        if t.arrears_weeks_x100 > 0 or t.stage_id is not None:
            expected.append((-tenancies.priority(t.arrears_weeks_x100, t.trend_4w_pence, t.weekly_rent_pence,
                                                 t.arrangement_broken, days), tid))
    expected.sort()
    assert len(expected) > 6
    for limit in (1, 3, 5, len(expected)):
        got = tenancies.caseload(worker, limit=limit)
        assert [(-r.priority, r.id) for r in got] == expected[:limit]
