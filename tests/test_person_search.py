"""Person search indexes (alembic 0010): the name index follows every change to people, postcode prefixes are
searched as index ranges with the same results as ``LIKE 'KEY%'``, and words of one or two letters are found
through ``person_short_word`` (alembic 0014), kept in step by triggers."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from conftest import DIALECT, actor_for, set_columns, sql

from atlas_app.db import write_session
from atlas_app.models.casework import Person, Place
from atlas_app.services.casework import config
from atlas_app.services.casework import people
from atlas_app.services.casework.search import key_prefix_bounds, normalise, postcode_key
from atlas_app.services.platform.errors import ValidationFailed


@pytest.fixture
def worker(org, make_user):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


def ids(rows) -> list[int]:
    return [r.id for r in rows]


def test_key_prefix_bounds():
    assert key_prefix_bounds("TS26") == ("TS26", "TS27")
    assert key_prefix_bounds("TS29") == ("TS29", "TS2A")
    assert key_prefix_bounds("TS2Z") == ("TS2Z", "TS3")
    assert key_prefix_bounds("TS9ZZ") == ("TS9ZZ", "TSA")
    assert key_prefix_bounds("ZZ") == ("ZZ", None)
    assert key_prefix_bounds("") == ("", None)
    with pytest.raises(ValueError):
        key_prefix_bounds("ts26")


def test_prefix_range_selects_exactly_the_keys_that_start_with_the_prefix():
    rng = random.Random(5)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(3000)]
    keys += ["TS2", "TS29ZZ", "TS2Z", "TS3", "Z", "ZZZ", "9", "9Z"]
    for prefix in ["TS2", "TS29", "TS2Z", "Z", "ZZ", "9", "9Z", "A", "", *rng.sample(keys, 50)]:
        low, high = key_prefix_bounds(prefix)
        by_range = {k for k in keys if k >= low and (high is None or k < high)}
        assert by_range == {k for k in keys if k.startswith(prefix)}, prefix


def _place(org_id: int, uprn: int, postcode: str) -> int:
    with write_session() as s:
        place = Place(organisation_id=org_id, uprn=uprn, address_line1=f"{uprn % 100} Church Street",
                      town="Hartlepool", postcode=postcode, postcode_key=postcode_key(postcode),
                      search_text=normalise(f"{uprn % 100} Church Street Hartlepool {postcode}"))
        s.add(place)
        s.flush()
        return place.id


def test_postcode_search_matches_prefixes_in_the_database_as_like_did(org, worker):
    postcodes = ["TS2 9ZZ", "TS29 1AB", "TS3 1AA", "TS24 8AY", "TS24 8AZ", "TS25 1AA", "DL1 1AA"]
    who = {}
    for n, pc in enumerate(postcodes):
        _place(org.id, 100_000_000 + n, pc)
        who[pc] = people.create_person(worker, {"given_name": "Sam", "family_name": f"Resident{chr(65 + n)}",
                                                "uprn": str(100_000_000 + n)}, allow_duplicate=True)
    for query in ["TS2", "ts29", "TS2 9Z", "ts2 9zz", "TS24", "TS24 8A", "TS248AZ", "ts25", "TS3", "T", "DL",
                  "TS9", "TS24 8B"]:
        key = postcode_key(query)
        expected = {who[pc] for pc in postcodes if postcode_key(pc).startswith(key)}
        assert set(ids(people.search_people(worker, postcode=query))) == expected, query


def test_name_index_follows_renames_merges_and_deletes(org, worker):
    ann = people.create_person(worker, {"given_name": "Annabel", "family_name": "Quartermaine"})
    other = people.create_person(worker, {"given_name": "Bartholomew", "family_name": "Quartermaine"})
    assert set(ids(people.search_people(worker, name="uartermai"))) == {ann, other}
    people.update_person(worker, ann, {"given_name": "Annabel", "family_name": "Wolstenholme"})
    assert ids(people.search_people(worker, name="uartermai")) == [other]
    assert ids(people.search_people(worker, name="olstenhol")) == [ann]
    assert ids(people.search_people(worker, name="annabel wolstenholme")) == [ann]
    people.merge_people(worker, other, ann)
    assert ids(people.search_people(worker, name="olstenhol")) == []
    sql("DELETE FROM person WHERE id = :id", id=ann)
    sql("DELETE FROM person WHERE id = :id", id=other)
    assert people.search_people(worker, name="bartholomew") == []
    again = people.create_person(worker, {"given_name": "Bartholomew", "family_name": "Quartermaine"})
    assert ids(people.search_people(worker, name="tholome quarter")) == [again]


def test_short_words_and_sound_alikes_still_match(worker):
    asha = people.create_person(worker, {"given_name": "Asha", "family_name": "Patel", "date_of_birth": "1990-05-06"})
    people.create_person(worker, {"given_name": "Mary", "family_name": "O'Brien"})
    # Words of one or two letters alone match whole words; with another criterion, the starts of words too.
    assert ids(people.search_people(worker, name="as pa")) == []
    assert ids(people.search_people(worker, name="as pa", date_of_birth="1990-05-06")) == [asha]
    assert ids(people.search_people(worker, name="a patel")) == [asha]
    assert ids(people.search_people(worker, name="Aysha Pattel")) == [asha]  # by sound
    assert ids(people.search_people(worker, name="sha tel")) == [asha]  # inside the words
    assert people.search_people(worker, name="zzz") == []


def test_best_matches_first_among_many_candidates(worker):
    for given in ("John", "Joan", "Jane", "Jon", "June"):
        people.create_person(worker, {"given_name": given, "family_name": "Smyth"}, allow_duplicate=True)
    john = people.create_person(worker, {"given_name": "John", "family_name": "Smith"}, allow_duplicate=True)
    rows = people.search_people(worker, name="john smith")
    assert rows[0].id == john and rows[0].score == 1.0
    assert len(rows) == 6 and [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
    assert len(people.search_people(worker, name="john smith", limit=2)) == 2


def test_search_index_objects_exist_on_this_database(database):
    with database.connect() as conn:
        if DIALECT == "postgresql":
            found = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_person_name_trgm'").scalar()
            assert "gin" in found and "gin_trgm_ops" in found
        else:
            names = set(conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars())
            assert {"person_name_fts", "person_name_fts_ai", "person_name_fts_ad", "person_name_fts_au"} <= names


def name_search_plan(s, words: list[str], by_sound: bool) -> str:
    """The database's plan for the name conditions of ``words``, with another criterion given (on PostgreSQL with
    sequential scans off, as they would be too costly on a large table)."""
    query = select(Person.id).where(*people._name_conditions(s.get_bind().dialect.name, words, by_sound, True))
    compiled = str(query.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
    if DIALECT == "postgresql":
        s.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
        return "\n".join(s.connection().exec_driver_sql("EXPLAIN " + compiled.replace("%", "%%")).scalars())
    return "\n".join(str(r) for r in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_names_are_searched_through_the_index(database, worker):
    """The plan of a name search reads the trigram index (PostgreSQL) or the FTS5 table (SQLite), not every
    person. The benchmark exercises the plans at scale (tests/perf/test_person_search_bench.py)."""
    with write_session() as s:
        for by_sound in (False, True):
            plan = name_search_plan(s, ["jon", "smith"], by_sound)
            if DIALECT == "postgresql":
                assert "ix_person_name_trgm" in plan and "Seq Scan" not in plan, plan
            else:
                assert "person_name_fts VIRTUAL TABLE" in plan, plan
                assert "SCAN person" not in plan.replace("SCAN person_name_fts", ""), plan


def _person(worker, given: str, family: str, **extra) -> int:
    return people.create_person(worker, {"given_name": given, "family_name": family, **extra}, allow_duplicate=True)


def short_words() -> set[tuple[str, int]] | None:
    """The rows of SQLite's ``person_short_word`` (PostgreSQL finds short words through its trigram index)."""
    if DIALECT != "sqlite":
        return None
    return {(r.word, r.person_id) for r in sql("SELECT word, person_id FROM person_short_word")}


def test_short_names_are_found_exactly(worker):
    li_na = _person(worker, "Li", "Na")
    wei_li = _person(worker, "Wei", "Li")
    ng = _person(worker, "Amelia", "Ng", date_of_birth="1971-03-04")
    wu = _person(worker, "Jo", "Wu")
    lily = _person(worker, "Lily", "Nash")
    john = _person(worker, "John", "Smith")
    jo_smith = _person(worker, "Jo", "Smith")
    assert set(ids(people.search_people(worker, name="Li"))) == {li_na, wei_li}  # not Lily
    assert ids(people.search_people(worker, name="Li Na")) == [li_na]  # not Lily Nash
    assert ids(people.search_people(worker, name="na li")) == [li_na]
    assert ids(people.search_people(worker, name="Ng")) == [ng]
    assert ids(people.search_people(worker, name="wu")) == [wu]
    assert ids(people.search_people(worker, name="wei li")) == [wei_li]
    assert ids(people.search_people(worker, name="JO WU")) == [wu]
    assert set(ids(people.search_people(worker, name="jo"))) == {wu, jo_smith}
    # With a longer word, the longer word still matches by prefix and the short one first as a whole word...
    assert ids(people.search_people(worker, name="li wei")) == [wei_li]
    assert ids(people.search_people(worker, name="amel ng")) == [ng]
    # ...then as the start of a word, ranked below the exact match.
    assert ids(people.search_people(worker, name="jo smith")) == [jo_smith, john]
    assert ids(people.search_people(worker, name="li nas")) == [lily]
    assert people.search_people(worker, name="ng smith") == []
    # Combined with the other criteria.
    assert ids(people.search_people(worker, name="ng", date_of_birth="1971-03-04")) == [ng]
    assert people.search_people(worker, name="ng", date_of_birth="1971-03-05") == []
    assert people.search_people(worker, name="xu") == []
    if DIALECT == "sqlite":
        assert {(w, p) for w, p in short_words() if p in (li_na, wu)} == {("li", li_na), ("na", li_na),
                                                                          ("jo", wu), ("wu", wu)}


def test_the_closest_short_names_come_first_among_many(worker, monkeypatch):
    monkeypatch.setattr(people, "NAME_CANDIDATES", 5)  # as if thousands of people were called Li
    for given in ("Mei", "Wei", "Jun", "Hui", "Yan", "Lan", "Ming"):
        _person(worker, given, "Li")
    li_li = _person(worker, "Li", "Li")
    assert ids(people.search_people(worker, name="Li Li"))[0] == li_li
    assert ids(people.search_people(worker, name="li"))[0] == li_li


def test_short_names_with_accents_and_punctuation(worker):
    li = _person(worker, "Lí", "Hò")  # the normaliser folds accents: stored and searched as "li ho"
    mary_jo = _person(worker, "Mary-Jo", "O'Neill")
    assert normalise("Lí Hò") == "li ho"
    assert ids(people.search_people(worker, name="Li Ho")) == [li]
    assert ids(people.search_people(worker, name="LÍ")) == [li]
    assert ids(people.search_people(worker, name="hò")) == [li]
    assert ids(people.search_people(worker, name="jo")) == [mary_jo]  # a hyphen separates words
    assert ids(people.search_people(worker, name="mary-jo")) == [mary_jo]


def test_letters_that_do_not_decompose_and_other_alphabets_are_spelt_in_latin(worker):
    assert normalise("Łukasz Żółć") == "lukasz zolc"
    assert normalise("Straße Øyvind Đỗ Æsa") == "strasse oyvind do aesa"
    assert normalise("Олена Шевченко") == "olena shevchenko"
    assert normalise("Αλέξανδρος") == "alexandros"
    lukasz = _person(worker, "Łukasz", "Żółć")
    olena = _person(worker, "Олена", "Шевченко")
    for typed in ("Lukasz", "łukasz", "Lukasz Zolc", "żółć"):
        assert ids(people.search_people(worker, name=typed)) == [lukasz], typed
    for typed in ("Olena", "Олена Шевченко", "olena shevchenko", "Shevchenko"):
        assert ids(people.search_people(worker, name=typed)) == [olena], typed


def test_short_word_index_follows_edits_merges_and_deletes(worker):
    a = _person(worker, "Mei", "Li", date_of_birth="1980-01-02")
    b = _person(worker, "Mei", "Lee")
    assert ids(people.search_people(worker, name="li")) == [a]
    people.update_person(worker, b, {"given_name": "Mei", "family_name": "Xu"})
    assert ids(people.search_people(worker, name="xu")) == [b]
    people.update_person(worker, a, {"given_name": "Mei", "family_name": "Lim"})
    assert people.search_people(worker, name="li") == []
    assert ids(people.search_people(worker, name="lim")) == [a]
    assert ("li", a) not in (short_words() or set())
    people.update_person(worker, a, {"given_name": "Mei", "family_name": "Li"})
    assert ids(people.search_people(worker, name="li")) == [a]
    # A merged person leaves the index in the same transaction; the kept record keeps its words.
    people.merge_people(worker, b, a)
    assert people.search_people(worker, name="li") == []
    assert ids(people.search_people(worker, name="xu")) == [b]
    assert short_words() in (None, {("xu", b)})
    # Changes made outside the service (imports, corrections in SQL) are followed too.
    set_columns(Person, Person.id == b, name_norm="mei wu")
    assert ids(people.search_people(worker, name="wu")) == [b] and people.search_people(worker, name="xu") == []
    sql("DELETE FROM person WHERE id = :id", id=a)
    sql("DELETE FROM person WHERE id = :id", id=b)
    assert short_words() in (None, set())
    c = _person(worker, "Mei", "Ho")  # on SQLite the id may be reused: no stale words come back with it
    assert ids(people.search_people(worker, name="ho")) == [c]
    assert people.search_people(worker, name="wu") == []


def test_initials_alone_ask_for_more(worker):
    j = _person(worker, "J", "Smith", date_of_birth="1960-07-08")
    with pytest.raises(ValidationFailed, match="at least two letters"):
        people.search_people(worker, name="J")
    with pytest.raises(ValidationFailed, match="at least two letters"):
        people.search_people(worker, name="j. r.")
    assert ids(people.search_people(worker, name="J", date_of_birth="1960-07-08")) == [j]
    assert ids(people.search_people(worker, name="j smith")) == [j]
    assert ids(people.search_people(worker, name="s", date_of_birth="1960-07-08")) == [j]  # start of a word


def test_short_words_are_searched_through_their_index(database, worker):
    """Short words are looked up in an index, alone or with longer words, never by reading every person: the
    trigram index on PostgreSQL (with the words' boundaries), ``person_short_word`` by its key on SQLite."""
    with write_session() as s:
        for words, by_sound in ((["li", "na"], False), (["li", "smith"], False), (["jo", "smith"], True)):
            plan = name_search_plan(s, words, by_sound)
            if DIALECT == "postgresql":
                assert "ix_person_name_trgm" in plan and "Seq Scan" not in plan, plan
            else:
                assert "SCAN person" not in plan.replace("SCAN person_name_fts", ""), plan
                if not by_sound:
                    assert "SEARCH person_short_word" in plan, plan
