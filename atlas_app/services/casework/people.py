"""People: names, date of birth, language, typed contact details and reference numbers, address history,
relationships; tolerant search; possible duplicates on create; audited merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, column, func, intersect, literal_column, or_, table, update
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry
from atlas_app.models.casework import (
    Case,
    CaseLookup,
    CasePerson,
    Person,
    PersonAddress,
    PersonContact,
    PersonReference,
    PersonRelationship,
    Place,
    Task,
)
from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.actor import Actor
from atlas_app.services.casework.config import active_lookup
from atlas_app.services.casework.search import (
    key_prefix_bounds,
    normalise,
    postcode_key,
    reference_key,
    similarity,
    soundex,
)
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm

LANGUAGES = {"en": "English", "cy": "Welsh (Cymraeg)", "pl": "Polish", "pa": "Punjabi", "ur": "Urdu",
             "ro": "Romanian", "ar": "Arabic", "bn": "Bengali", "other": "Other"}


class PossibleDuplicates(Conflict):
    """Creating the person would probably duplicate someone already recorded."""

    def __init__(self, candidates: list[PersonRow]) -> None:
        names = "; ".join(f"{c.name} ({c.ref})" for c in candidates[:5])
        super().__init__(f"This may be someone already recorded: {names}.")
        self.candidates = candidates


@dataclass(frozen=True)
class PersonRow:
    id: int
    ref: str
    name: str
    date_of_birth: date | None
    address: str
    postcode: str
    score: float = 0.0


@dataclass(frozen=True)
class LinkRow:
    id: int
    label: str
    value: str
    extra: str = ""


@dataclass(frozen=True)
class PersonDetail:
    id: int
    ref: str
    title: str
    given_name: str
    family_name: str
    name: str
    date_of_birth: date | None
    preferred_language: str
    notes: str
    merged_into_ref: str
    contacts: list[LinkRow] = field(default_factory=list)
    references: list[LinkRow] = field(default_factory=list)
    # label = address, value = uprn, extra = "from – to"
    addresses: list[LinkRow] = field(default_factory=list)
    # label = relationship as read from this person, value = other person's name, extra = other person's id
    relationships: list[LinkRow] = field(default_factory=list)
    # label = case title, value = status, extra = role
    cases: list[LinkRow] = field(default_factory=list)
    history: list[LinkRow] = field(default_factory=list)


def person_ref(person_id: int) -> str:
    return f"P{person_id:06d}"


def parse_person_ref(value: Any) -> int:
    text = str(value or "").strip().upper()
    match = re.fullmatch(r"P?0*(\d{1,10})", text)
    person_id = bounds.id_or_none(match.group(1)) if match else None
    if person_id is None:
        raise NotFound("No such person.")
    return person_id


def parse_date(value: Any, name: str, required: bool = False) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        if required:
            raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} is required.", {name: "required"})
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} must be a date like 2024-03-31.",
                           {name: "invalid"})


def _text(value: Any, name: str, max_len: int, required: bool = False) -> str:
    out = " ".join(str(value or "").split())
    if required and not out:
        raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} is required.", {name: "required"})
    if len(out) > max_len:
        raise ValidationFailed(f"{name.replace('_', ' ').capitalize()} is too long ({max_len} characters at most).",
                               {name: "too long"})
    return out


def get_person_row(s: Session, org_id: int, person_id: Any, lock: bool = False) -> Person:
    pid = parse_person_ref(person_id)
    query = select(Person).where(Person.id == pid, Person.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    person = s.exec(query).first()
    if person is None:
        raise NotFound("No such person.")
    return person


def place_by_uprn(s: Session, org_id: int, uprn: Any) -> Place:
    text = str(uprn or "").strip()
    if not text.isdigit() or len(text) > 12:
        raise ValidationFailed("A UPRN is a number of up to 12 digits.", {"uprn": "invalid"})
    place = s.exec(select(Place).where(Place.organisation_id == org_id, Place.uprn == int(text))).first()
    if place is None:
        raise ValidationFailed(f"UPRN {text} is not in the gazetteer.", {"uprn": "unknown"})
    return place


def full_name(person: Person) -> str:
    return " ".join(p for p in (person.title, person.given_name, person.family_name) if p)


def place_label(place: Place) -> str:
    parts = [place.address_line1, place.address_line2, place.address_line3, place.town, place.postcode]
    label = ", ".join(p for p in parts if p)
    return label or f"UPRN {place.uprn}"


def _keys(given: str, family: str) -> dict[str, str]:
    return {"name_norm": normalise(f"{given} {family}")[:210], "given_key": soundex(given.split()[0] if given
                                                                                     else ""),
            "family_key": soundex(family.split()[-1] if family else "")}


def _person_values(data: dict[str, Any]) -> dict[str, Any]:
    given = _text(data.get("given_name"), "given_name", 100, required=True)
    family = _text(data.get("family_name"), "family_name", 100, required=True)
    dob = parse_date(data.get("date_of_birth"), "date_of_birth")
    if dob is not None and not date(1900, 1, 1) <= dob <= date.today():
        raise ValidationFailed("Date of birth must be in the past (and after 1900).", {"date_of_birth": "invalid"})
    language = str(data.get("preferred_language") or "en").strip().lower()
    if language not in LANGUAGES:
        raise ValidationFailed("Choose a language from the list.", {"preferred_language": "unknown"})
    return {
        "title": _text(data.get("title"), "title", 20),
        "given_name": given,
        "family_name": family,
        "date_of_birth": dob,
        "preferred_language": language,
        "notes": str(data.get("notes") or "").strip()[:2000],
        **_keys(given, family),
    }


def _current_addresses(s: Session, person_ids: list[int]) -> dict[int, Place]:
    if not person_ids:
        return {}
    rows = s.exec(
        select(PersonAddress.person_id, Place).join(Place, Place.id == PersonAddress.place_id)
        .where(PersonAddress.person_id.in_(person_ids), PersonAddress.to_date.is_(None))
        .order_by(PersonAddress.from_date, PersonAddress.id)
    ).all()
    return {pid: place for pid, place in rows}


def _rows(s: Session, people: list[Any], scores: dict[int, float] | None = None) -> list[PersonRow]:
    places = _current_addresses(s, [p.id for p in people])
    out = []
    for p in people:
        place = places.get(p.id)
        out.append(PersonRow(p.id, person_ref(p.id), full_name(p), p.date_of_birth,
                             place_label(place) if place else "", place.postcode if place else "",
                             round((scores or {}).get(p.id, 0.0), 3)))
    return out


def find_possible_duplicates(s: Session, org_id: int, given: str, family: str, dob: date | None,
                             exclude_id: int | None = None) -> list[PersonRow]:
    """People with a family name that sounds the same and either the same date of birth or a given name that
    sounds the same (or shares its initial when no date of birth is known)."""
    keys = _keys(given, family)
    query = select(Person).where(Person.organisation_id == org_id, Person.merged_into_id.is_(None),
                                 Person.family_key == keys["family_key"])
    if exclude_id is not None:
        query = query.where(Person.id != exclude_id)
    candidates = s.exec(query.limit(500)).all()
    matches = []
    for p in candidates:
        same_given = p.given_key == keys["given_key"] or similarity(p.given_name, given) >= 0.5
        if dob is not None and p.date_of_birth is not None:
            if p.date_of_birth == dob and (same_given or p.given_name[:1].lower() == given[:1].lower()):
                matches.append(p)
        elif same_given:
            matches.append(p)
    return _rows(s, matches)


def create_person(actor: Actor, data: dict[str, Any], allow_duplicate: bool = False) -> int:
    """Create a person (optionally living at ``data['uprn']``). Raises PossibleDuplicates unless allowed."""
    org_id = actor.org_for(Perm.CASES_MANAGE)
    values = _person_values(data)
    with write_session() as s:
        place = place_by_uprn(s, org_id, data["uprn"]) if str(data.get("uprn") or "").strip() else None
        if not allow_duplicate:
            dupes = find_possible_duplicates(s, org_id, values["given_name"], values["family_name"],
                                             values["date_of_birth"])
            if dupes:
                raise PossibleDuplicates(dupes)
        person = Person(organisation_id=org_id, **values)
        s.add(person)
        s.flush()
        after = {k: v for k, v in values.items() if k not in ("name_norm", "given_key", "family_key")}
        if place is not None:
            from_date = parse_date(data.get("from_date"), "from_date")
            s.add(PersonAddress(organisation_id=org_id, person_id=person.id, place_id=place.id, from_date=from_date))
            after["uprn"] = place.uprn
        if allow_duplicate:
            after["created_despite_possible_duplicate"] = True
        audit.record(s, actor, "person", person.id, "created", after=after, subject=audit.about_person(person.id))
        return person.id


def update_person(actor: Actor, person_id: Any, data: dict[str, Any]) -> None:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    values = _person_values(data)
    with write_session() as s:
        person = get_person_row(s, org_id, person_id, lock=True)
        before = {k: getattr(person, k) for k in values}
        for key, value in values.items():
            setattr(person, key, value)
        person.updated_at = utcnow()
        s.add(person)
        old, new = audit.changes(before, values)
        for key in ("name_norm", "given_key", "family_key"):
            old.pop(key, None)
            new.pop(key, None)
        if new:
            audit.record(s, actor, "person", person.id, "updated", before=old, after=new,
                         subject=audit.about_person(person.id))


def add_contact(actor: Actor, person_id: Any, contact_type_id: Any, value: str, preferred: bool = False) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    value = _text(value, "value", 200, required=True)
    with write_session() as s:
        person = get_person_row(s, org_id, person_id)
        ctype = active_lookup(s, org_id, contact_type_id, "contact_type", field="contact_type_id")
        if ctype.name.lower() == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValidationFailed("That is not an email address.", {"value": "invalid"})
        row = PersonContact(organisation_id=org_id, person_id=person.id, contact_type_id=ctype.id, value=value,
                            is_preferred=bool(preferred))
        s.add(row)
        s.flush()
        audit.record(s, actor, "person", person.id, "contact_added", after={"type": ctype.name, "value": value},
                     subject=audit.about_person(person.id))
        return row.id


def add_reference(actor: Actor, person_id: Any, reference_type_id: Any, value: str) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    value = _text(value, "value", 60, required=True)
    key = reference_key(value)
    if not key:
        raise ValidationFailed("A reference number needs letters or digits.", {"value": "invalid"})
    with write_session() as s:
        person = get_person_row(s, org_id, person_id)
        rtype = active_lookup(s, org_id, reference_type_id, "reference_type", field="reference_type_id")
        if "national insurance" in rtype.name.lower() and not re.fullmatch(r"[A-CEGHJ-PR-TW-Z]{2}\d{6}[A-D]", key):
            raise ValidationFailed("A National Insurance number looks like AB 12 34 56 C.", {"value": "invalid"})
        clash = s.exec(select(PersonReference.person_id).where(
            PersonReference.organisation_id == org_id, PersonReference.reference_type_id == rtype.id,
            PersonReference.value_key == key, PersonReference.person_id != person.id)).first()
        if clash:
            raise Conflict(f"{rtype.name} {value} is already recorded for {person_ref(clash)}.")
        row = PersonReference(organisation_id=org_id, person_id=person.id, reference_type_id=rtype.id, value=value,
                              value_key=key)
        s.add(row)
        s.flush()
        audit.record(s, actor, "person", person.id, "reference_added", after={"type": rtype.name, "value": value},
                     subject=audit.about_person(person.id))
        return row.id


def add_address(actor: Actor, person_id: Any, uprn: Any, from_date: Any = None, to_date: Any = None) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    start = parse_date(from_date, "from_date")
    end = parse_date(to_date, "to_date")
    if start and end and end < start:
        raise ValidationFailed("The 'to' date must not be before the 'from' date.", {"to_date": "before from"})
    with write_session() as s:
        person = get_person_row(s, org_id, person_id)
        place = place_by_uprn(s, org_id, uprn)
        if end is None and start is not None:
            # A new current address ends the previous current one the day it starts.
            for current in s.exec(select(PersonAddress).where(PersonAddress.person_id == person.id,
                                                              PersonAddress.to_date.is_(None))).all():
                if current.place_id != place.id and (current.from_date is None or current.from_date <= start):
                    current.to_date = start
                    s.add(current)
        row = PersonAddress(organisation_id=org_id, person_id=person.id, place_id=place.id, from_date=start,
                            to_date=end)
        s.add(row)
        s.flush()
        audit.record(s, actor, "person", person.id, "address_added",
                     after={"uprn": place.uprn, "from": start, "to": end}, subject=audit.about_person(person.id))
        return row.id


def add_relationship(actor: Actor, person_id: Any, related_person_id: Any, relationship_type_id: Any,
                     from_date: Any = None) -> int:
    org_id = actor.org_for(Perm.CASES_MANAGE)
    start = parse_date(from_date, "from_date")
    with write_session() as s:
        person = get_person_row(s, org_id, person_id)
        other = get_person_row(s, org_id, related_person_id)
        if other.id == person.id:
            raise ValidationFailed("A person cannot be related to themselves.", {"related_person_id": "same"})
        if other.merged_into_id is not None:
            raise ValidationFailed(f"{person_ref(other.id)} was merged into {person_ref(other.merged_into_id)}.",
                                   {"related_person_id": "merged"})
        rtype = active_lookup(s, org_id, relationship_type_id, "relationship_type", field="relationship_type_id")
        row = PersonRelationship(organisation_id=org_id, person_id=person.id, related_person_id=other.id,
                                 relationship_type_id=rtype.id, from_date=start)
        s.add(row)
        s.flush()
        audit.record(s, actor, "person", person.id, "relationship_added",
                     after={"relationship": rtype.name, "related_person": person_ref(other.id)},
                     subject=audit.about_person(person.id))
        return row.id


# Name searches score at most this many matching people (in Python) before choosing the best ``limit``: first
# those whose name contains every word, then those who match only by sound.
NAME_CANDIDATES = 1000

_NAME_FTS = table("person_name_fts", column("rowid"))


def key_starts_with(col: Any, key: str) -> Any:
    """``col`` starts with ``key`` (a postcode or reference key), as a range an ordinary index answers."""
    try:
        low, high = key_prefix_bounds(key)
    except ValueError:
        return col.like(f"{key}%")
    return and_(col >= low, col < high) if high is not None else col >= low


# On PostgreSQL the trigram index (alembic 0010) is on this expression: the name and, in capitals, its Soundex keys
# ("jonathan smith J535 S530"). A lower-case word is in it only where it is in the name; a key only where it is one
# of the keys. The text must stay exactly as in the index definition for the planner to use the index.
PG_NAME_SEARCH = "(person.name_norm || ' ' || person.given_key || ' ' || person.family_key)"


# Words shorter than this have no trigram of their own inside a word ("%li%" has none), so they are looked up
# whole (or, widening, as the start of a word): on PostgreSQL through the same trigram index, with the word's
# boundaries in the pattern ("% li %" has the trigrams "  l", " li", "li "); on SQLite, whose FTS5 trigram
# tokenizer cannot look up fewer than three characters, in ``person_short_word`` (alembic 0014).
SHORT_WORD = 3
_SHORT_WORDS = table("person_short_word", column("word"), column("person_id"))


def _short_word_ids(word: str) -> Any:
    return select(_SHORT_WORDS.c.person_id).where(_SHORT_WORDS.c.word == word)


def _short_word_condition(dialect: str, word: str, widen: bool) -> Any:
    """The name has the word ``word`` (one or two letters); with ``widen``, also a word that starts with it ("jo"
    for "John"). In the searchable text of PostgreSQL's index every word of the name is followed by a space (the
    Soundex keys come after it, in capitals, which a lower-case pattern never matches)."""
    if dialect == "postgresql":
        searchable = literal_column(PG_NAME_SEARCH)
        tail = "%" if widen else " %"
        return or_(searchable.like(f"{word}{tail}"), searchable.like(f"% {word}{tail}"))
    options = [Person.id.in_(_short_word_ids(word))]
    if widen:
        options += [Person.name_norm.like(f"{word}%"), Person.name_norm.like(f"% {word}%")]
    return or_(*options)


def _name_conditions(dialect: str, words: list[str], by_sound: bool, narrowed: bool = False) -> list[Any]:
    """Conditions on ``person`` for every word.

    Words of three letters or more: the name contains the word or (``by_sound``) a given or family name sounds
    like it. PostgreSQL answers both from the one trigram index, combining the words' bitmaps; on SQLite one FTS5
    query over the trigram table (``name_norm`` for the substrings, ``name_keys`` for the Soundex keys) answers
    every such word. On PostgreSQL, words with digits are checked row by row on the rows the other criteria leave.

    Words of one or two letters ("li", "ng", "jo"): the name has that word. When ``by_sound`` (the widening pass)
    and ``narrowed`` (a longer word or another criterion picks the rows first), a word of the name that starts with
    it also matches ("jo smith" finds John Smith). PostgreSQL combines them in the same bitmaps as the longer
    words; on SQLite the ids from the FTS5 table and ``person_short_word`` are intersected before any person is
    read."""
    conditions = []
    fts_terms = []
    short_ids = []
    searchable = literal_column(PG_NAME_SEARCH)
    for word in words:
        widen = by_sound and narrowed
        if len(word) < SHORT_WORD:
            if dialect == "sqlite" and not widen:
                short_ids.append(_short_word_ids(word))
            else:
                conditions.append(_short_word_condition(dialect, word, widen))
            continue
        key = soundex(word) if by_sound else ""
        if dialect == "sqlite":
            fts_terms.append(f'(name_norm : "{word}" OR name_keys : "{key}")' if key else f'name_norm : "{word}"')
            continue
        if dialect == "postgresql" and word.isalpha():
            options = [searchable.like(f"%{word}%")] + ([searchable.like(f"%{key}%")] if key else [])
            conditions.append(or_(*options))
            continue
        options = [Person.name_norm.like(f"%{word}%")]
        if key:
            options += [Person.given_key == key, Person.family_key == key]
        conditions.append(or_(*options))
    if fts_terms:  # words are normalised (a-z, 0-9), so they are safe inside the quotes
        match = literal_column("person_name_fts").op("MATCH")(" AND ".join(fts_terms))
        short_ids.insert(0, select(_NAME_FTS.c.rowid).where(match))
    if short_ids:
        conditions.insert(0, Person.id.in_(intersect(*short_ids) if len(short_ids) > 1 else short_ids[0]))
    return conditions


def search_people(actor: Actor, *, name: str = "", date_of_birth: Any = None, reference: str = "",
                  postcode: str = "", address: str = "", limit: int = 50) -> list[PersonRow]:
    """People matching every criterion given. Names match by words (any order), by prefix or part of a word, and
    by sound (Soundex), so "jon smyth", "smi" and "Jonathon Smith" all find Jonathan Smith; best matches first."""
    org_id = actor.org_for(Perm.CASES_VIEW)
    dob = parse_date(date_of_birth, "date_of_birth")
    words = normalise(name).split()[:6]
    other_criteria = bool(dob or reference.strip() or postcode.strip() or address.strip())
    if not (words or other_criteria):
        return []
    if words and not other_criteria and all(len(w) == 1 for w in words):
        # Initials alone would match a large share of everyone.
        raise ValidationFailed("Type at least two letters of a name, or add a date of birth, reference number or "
                               "postcode to search by initials.", {"name": "too short"})
    narrowed = other_criteria or any(len(w) >= SHORT_WORD for w in words)
    with read_session() as s:
        dialect = s.get_bind().dialect.name
        conditions = [Person.organisation_id == org_id, Person.merged_into_id.is_(None)]
        if dob:
            conditions.append(Person.date_of_birth == dob)
        if reference.strip():
            key = reference_key(reference)
            conditions.append(Person.id.in_(select(PersonReference.person_id).where(
                PersonReference.organisation_id == org_id, PersonReference.value_key == key)))
        if postcode.strip() or address.strip():
            place_q = select(PersonAddress.person_id).join(Place, Place.id == PersonAddress.place_id).where(
                PersonAddress.organisation_id == org_id)
            if postcode.strip():
                place_q = place_q.where(Place.organisation_id == org_id,
                                        key_starts_with(Place.postcode_key, postcode_key(postcode)))
            for word in normalise(address).split()[:6]:
                place_q = place_q.where(Place.search_text.like(f"%{word}%"))
            conditions.append(Person.id.in_(place_q))
        # The candidates' few columns are all the scoring and the rows need.
        columns = select(Person.id, Person.name_norm, Person.title, Person.family_name, Person.given_name,
                         Person.date_of_birth)
        if words:
            first = columns.where(*conditions, *_name_conditions(dialect, words, False))
            if not narrowed:
                # Only short words: the shortest names holding them are the closest ("li li" before "li smith"),
                # and there are few enough people with a given short word to sort them all.
                first = first.order_by(func.length(Person.name_norm), Person.id)
            candidates = list(s.exec(first.limit(NAME_CANDIDATES)).all())
            if len(candidates) < NAME_CANDIDATES and narrowed:  # else the second pass would repeat the first
                seen = {c.id for c in candidates}
                sounds = s.exec(columns.where(*conditions, *_name_conditions(dialect, words, True, narrowed))
                                .limit(NAME_CANDIDATES)).all()
                candidates += [c for c in sounds if c.id not in seen][:NAME_CANDIDATES - len(candidates)]
        else:
            candidates = s.exec(columns.where(*conditions).limit(NAME_CANDIDATES)).all()
        query_text = " ".join(words)
        scores = {c.id: (similarity(c.name_norm, query_text) if words else 1.0) for c in candidates}
        candidates = sorted(candidates, key=lambda c: (-scores[c.id], c.family_name.lower(), c.given_name.lower(),
                                                       c.id))[:limit]
        return _rows(s, candidates, scores)


def _lookup_names(s: Session, ids: set[int]) -> dict[int, CaseLookup]:
    ids.discard(None)
    if not ids:
        return {}
    return {v.id: v for v in s.exec(select(CaseLookup).where(CaseLookup.id.in_(ids))).all()}


def _span(start: date | None, end: date | None) -> str:
    if not start and not end:
        return ""
    return f"{start.isoformat() if start else '?'} to {end.isoformat() if end else 'now'}"


def get_person(actor: Actor, person_id: Any) -> PersonDetail:
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        p = get_person_row(s, org_id, person_id)
        contacts = s.exec(select(PersonContact).where(PersonContact.person_id == p.id,
                                                      PersonContact.organisation_id == org_id)
                          .order_by(PersonContact.id)).all()
        refs = s.exec(select(PersonReference).where(PersonReference.person_id == p.id,
                                                    PersonReference.organisation_id == org_id)
                      .order_by(PersonReference.id)).all()
        addresses = s.exec(select(PersonAddress, Place).join(Place, Place.id == PersonAddress.place_id)
                           .where(PersonAddress.person_id == p.id, PersonAddress.organisation_id == org_id)
                           .order_by(PersonAddress.to_date.is_(None).desc(), PersonAddress.from_date.desc())).all()
        rels_out = s.exec(select(PersonRelationship, Person).join(Person, Person.id ==
                                                                  PersonRelationship.related_person_id)
                          .where(PersonRelationship.person_id == p.id,
                                 PersonRelationship.organisation_id == org_id)).all()
        rels_in = s.exec(select(PersonRelationship, Person).join(Person, Person.id == PersonRelationship.person_id)
                         .where(PersonRelationship.related_person_id == p.id,
                                PersonRelationship.organisation_id == org_id)).all()
        cases = s.exec(select(CasePerson, Case).join(Case, Case.id == CasePerson.case_id)
                       .where(CasePerson.person_id == p.id, CasePerson.organisation_id == org_id)
                       .order_by(Case.opened_at.desc())).all()
        lookups = _lookup_names(s, {c.contact_type_id for c in contacts} | {r.reference_type_id for r in refs}
                                | {r.relationship_type_id for r, _ in rels_out}
                                | {r.relationship_type_id for r, _ in rels_in} | {cp.role_id for cp, _ in cases})
        history = s.exec(select(AuditEntry).where(AuditEntry.organisation_id == org_id,
                                                  AuditEntry.entity == "person",
                                                  AuditEntry.entity_id == str(p.id))
                         .order_by(AuditEntry.id.desc()).limit(50)).all()
        return PersonDetail(
            id=p.id, ref=person_ref(p.id), title=p.title, given_name=p.given_name, family_name=p.family_name,
            name=full_name(p), date_of_birth=p.date_of_birth, preferred_language=p.preferred_language,
            notes=p.notes, merged_into_ref=person_ref(p.merged_into_id) if p.merged_into_id else "",
            contacts=[LinkRow(c.id, lookups[c.contact_type_id].name, c.value, "preferred" if c.is_preferred else "")
                      for c in contacts],
            references=[LinkRow(r.id, lookups[r.reference_type_id].name, r.value) for r in refs],
            addresses=[LinkRow(a.id, place_label(pl), str(pl.uprn), _span(a.from_date, a.to_date))
                       for a, pl in addresses],
            relationships=[LinkRow(r.id, lookups[r.relationship_type_id].name, full_name(o), str(o.id))
                           for r, o in rels_out]
            + [LinkRow(r.id, lookups[r.relationship_type_id].reverse_name, full_name(o), str(o.id))
               for r, o in rels_in],
            cases=[LinkRow(c.id, c.title, c.status, lookups[cp.role_id].name if cp.role_id in lookups else "")
                   for cp, c in cases],
            history=[LinkRow(h.seq, h.action.replace("_", " "), h.username, h.at.isoformat()) for h in history],
        )


def merge_people(actor: Actor, keep_id: Any, remove_id: Any) -> None:
    """Fold the duplicate ``remove_id`` into ``keep_id``: its contacts, references, addresses, relationships,
    case links and tasks move over; the duplicate stays (marked merged) so old references to it still resolve."""
    org_id = actor.org_for(Perm.CASES_MANAGE)
    with write_session() as s:
        keep = get_person_row(s, org_id, keep_id, lock=True)
        gone = get_person_row(s, org_id, remove_id, lock=True)
        if keep.id == gone.id:
            raise ValidationFailed("Choose two different people to merge.", {"remove_id": "same"})
        if keep.merged_into_id is not None or gone.merged_into_id is not None:
            raise Conflict("One of these people has already been merged into another record.")
        moved: dict[str, int] = {}
        for model in (PersonContact, PersonAddress):
            moved[model.__tablename__] = s.exec(update(model).where(model.person_id == gone.id,
                                                                    model.organisation_id == org_id)
                                                .values(person_id=keep.id)).rowcount
        # References: drop exact duplicates of the kept person's, move the rest.
        kept_refs = {(r.reference_type_id, r.value_key) for r in s.exec(
            select(PersonReference).where(PersonReference.person_id == keep.id)).all()}
        refs = 0
        for ref in s.exec(select(PersonReference).where(PersonReference.person_id == gone.id)).all():
            if (ref.reference_type_id, ref.value_key) in kept_refs:
                s.delete(ref)
            else:
                ref.person_id = keep.id
                s.add(ref)
                refs += 1
        moved["person_reference"] = refs
        rels = 0
        for rel in s.exec(select(PersonRelationship).where(
                or_(PersonRelationship.person_id == gone.id, PersonRelationship.related_person_id == gone.id))).all():
            if rel.person_id == gone.id:
                rel.person_id = keep.id
            if rel.related_person_id == gone.id:
                rel.related_person_id = keep.id
            if rel.person_id == rel.related_person_id:
                s.delete(rel)  # they were related to each other
            else:
                s.add(rel)
                rels += 1
        moved["person_relationship"] = rels
        kept_cases = set(s.exec(select(CasePerson.case_id).where(CasePerson.person_id == keep.id)).all())
        links = 0
        for link in s.exec(select(CasePerson).where(CasePerson.person_id == gone.id)).all():
            if link.case_id in kept_cases:
                s.delete(link)
            else:
                link.person_id = keep.id
                s.add(link)
                links += 1
        moved["case_person"] = links
        moved["case_task"] = s.exec(update(Task).where(Task.person_id == gone.id, Task.organisation_id == org_id)
                                    .values(person_id=keep.id)).rowcount
        for key in ("date_of_birth", "title"):
            if getattr(keep, key) in (None, "") and getattr(gone, key) not in (None, ""):
                setattr(keep, key, getattr(gone, key))
        if gone.notes and gone.notes not in keep.notes:
            keep.notes = (keep.notes + "\n" + gone.notes).strip()[:2000]
        keep.updated_at = utcnow()
        gone.merged_into_id = keep.id
        gone.updated_at = utcnow()
        s.add(keep)
        s.add(gone)
        snapshot = {"name": full_name(gone), "date_of_birth": gone.date_of_birth, "ref": person_ref(gone.id)}
        audit.record(s, actor, "person", keep.id, "merged_in", after={"merged": snapshot, "moved": moved},
                     subject=audit.about_person(keep.id))
        audit.record(s, actor, "person", gone.id, "merged_into", after={"into": person_ref(keep.id)},
                     subject=audit.about_person(gone.id))


def people_at_place(s: Session, org_id: int, place_id: int) -> list[LinkRow]:
    rows = s.exec(select(PersonAddress, Person).join(Person, Person.id == PersonAddress.person_id)
                  .where(PersonAddress.place_id == place_id, PersonAddress.organisation_id == org_id)
                  .order_by(PersonAddress.to_date.is_(None).desc(), PersonAddress.from_date.desc())).all()
    return [LinkRow(p.id, full_name(p), person_ref(p.id), _span(a.from_date, a.to_date)) for a, p in rows]


def count_people(actor: Actor) -> int:
    org_id = actor.org_for(Perm.CASES_VIEW)
    with read_session() as s:
        return s.exec(select(func.count()).select_from(Person).where(Person.organisation_id == org_id)).one()
