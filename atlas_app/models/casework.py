"""Casework: departmental modules and their lookup lists, teams, people, UPRN-keyed places, and cases made of
demands, activities of tasks, intentions and system conditions.

Every row belongs to one organisation (``organisation_id``); child rows carry it too so every query can be scoped
in SQL without a join.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import CaseStatus, DemandClass, check_name, check_sql

# The kinds of lookup list an administrator manages. Module-scoped kinds belong to one department's module; the
# others are shared by the whole organisation.
LOOKUP_KINDS: dict[str, str] = {
    "demand_type": "Demand types",
    "demand_category": "Demand categories",
    "task_category": "Task categories",
    "intention_type": "Intention types",
    "team_type": "Team types",
    "system_condition": "System-condition categories",
    "channel": "Channels",
    "case_role": "Roles of people in a case",
    "contact_type": "Contact-detail types",
    "reference_type": "Reference-number types",
    "relationship_type": "Relationship types",
}
MODULE_KINDS = ("demand_type", "demand_category", "task_category", "intention_type", "team_type",
                "system_condition")


class CaseModule(SQLModel, table=True):
    """A department's configuration (Customer Interactions, Rent Arrears Monitoring, ...)."""

    __tablename__ = "case_module"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", name="uq_case_module_org_name"),
        # At most one module of each type with screens of its own per organisation (services/modules).
        Index("uq_case_module_org_type", "organisation_id", "module_type", unique=True,
              sqlite_where=text("module_type <> 'generic'"), postgresql_where=text("module_type <> 'generic'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    # The code that gives the module its screens and rules (services/modules), or "generic" (lookup lists only).
    module_type: str = Field(default="generic", max_length=40, sa_column_kwargs={"server_default": "generic"})
    description: str = Field(default="", max_length=500)
    # A read-only consumer (the Strategic Measures Dashboard) reads other modules' cases and opens none itself.
    is_read_only: bool = Field(default=False)
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseLookup(SQLModel, table=True):
    """One value of one lookup list. Retired values stay on old records and are no longer offered."""

    __tablename__ = "case_lookup"
    __table_args__ = (Index("ix_case_lookup_org_kind", "organisation_id", "kind", "sort_order"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    module_id: int | None = Field(default=None, foreign_key="case_module.id", index=True)
    kind: str = Field(max_length=30)
    name: str = Field(max_length=120)
    # relationship_type: how the relationship reads from the other person's side ("parent of" / "child of").
    reverse_name: str = Field(default="", max_length=120)
    # demand_type / demand_category: "value" or "failure" demand.
    demand_class: str = Field(default="", max_length=10)
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseTeam(SQLModel, table=True):
    __tablename__ = "case_team"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_case_team_org_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=120)
    team_type_id: int = Field(foreign_key="case_lookup.id", index=True)
    is_active: bool = Field(default=True)


class CaseTeamMember(SQLModel, table=True):
    __tablename__ = "case_team_member"

    team_id: int = Field(sa_column=Column(Integer, ForeignKey("case_team.id", ondelete="CASCADE"),
                                          primary_key=True))
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"),
                                          primary_key=True, index=True))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)


class Place(SQLModel, table=True):
    """A UPRN-keyed property or object from the gazetteer."""

    __tablename__ = "place"
    __table_args__ = (
        UniqueConstraint("organisation_id", "uprn", name="uq_place_org_uprn"),
        Index("ix_place_org_postcode", "organisation_id", "postcode_key"),
        # A map pin matched to the nearest place (environmental reports); migration 0026.
        Index("ix_place_org_grid", "organisation_id", "x_coordinate", "y_coordinate"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    uprn: int = Field(sa_column=Column(BigInteger, nullable=False))
    parent_uprn: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    usrn: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    address_line1: str = Field(default="", max_length=200)
    address_line2: str = Field(default="", max_length=200)
    address_line3: str = Field(default="", max_length=200)
    town: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=10)
    # Postcode upper-case without spaces, for exact and prefix search.
    postcode_key: str = Field(default="", max_length=10)
    # The whole address lower-case with punctuation removed, for "contains" search.
    search_text: str = Field(default="", max_length=700)
    classification: str = Field(default="", max_length=10)
    # approved, alternative, provisional, historical, rejected, deleted (a delete marker from the gazetteer).
    status: str = Field(default="approved", max_length=20)
    x_coordinate: float | None = Field(default=None)
    y_coordinate: float | None = Field(default=None)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    source: str = Field(default="", max_length=20)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (
        Index("ix_person_org_family_key", "organisation_id", "family_key"),
        Index("ix_person_org_given_key", "organisation_id", "given_key"),
        Index("ix_person_org_dob", "organisation_id", "date_of_birth"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    title: str = Field(default="", max_length=20)
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    date_of_birth: date | None = Field(default=None)
    # ISO 639-1: "en", "cy" (Welsh), ... for correspondence.
    preferred_language: str = Field(default="en", max_length=10)
    notes: str = Field(default="", max_length=2000)
    # Search keys computed in Python (services.casework_search): normalised names and their phonetic codes.
    name_norm: str = Field(default="", max_length=210)
    given_key: str = Field(default="", max_length=8)
    family_key: str = Field(default="", max_length=8)
    merged_into_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Retention: a legal hold keeps the person (and their cases) from being anonymised.
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PersonContact(SQLModel, table=True):
    __tablename__ = "person_contact"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    contact_type_id: int = Field(foreign_key="case_lookup.id")
    value: str = Field(max_length=200)
    is_preferred: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonReference(SQLModel, table=True):
    __tablename__ = "person_reference"
    __table_args__ = (Index("ix_person_reference_org_key", "organisation_id", "value_key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    reference_type_id: int = Field(foreign_key="case_lookup.id")
    value: str = Field(max_length=60)
    # Upper-case without spaces or punctuation.
    value_key: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonAddress(SQLModel, table=True):
    """Where a person lived (or lives: no ``to_date``)."""

    __tablename__ = "person_address"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    place_id: int = Field(foreign_key="place.id", index=True)
    from_date: date | None = Field(default=None)
    to_date: date | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PersonRelationship(SQLModel, table=True):
    """``person_id`` is <type.name> ``related_person_id``; read the other way it is <type.reverse_name>."""

    __tablename__ = "person_relationship"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    related_person_id: int = Field(foreign_key="person.id", index=True)
    relationship_type_id: int = Field(foreign_key="case_lookup.id")
    from_date: date | None = Field(default=None)
    to_date: date | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Case(SQLModel, table=True):
    __tablename__ = "case_file"
    __table_args__ = (CheckConstraint(check_sql("status", CaseStatus), name=check_name("case_file", "status")),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    module_id: int = Field(foreign_key="case_module.id", index=True)
    title: str = Field(max_length=200)
    status: str = Field(default=CaseStatus.OPEN, max_length=20)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Set when retention anonymised the case's free text (and its report's, when it is a resident's report).
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CasePerson(SQLModel, table=True):
    __tablename__ = "case_person"
    __table_args__ = (UniqueConstraint("case_id", "person_id", name="uq_case_person"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role_id: int | None = Field(default=None, foreign_key="case_lookup.id")


class CasePlace(SQLModel, table=True):
    __tablename__ = "case_place"
    __table_args__ = (UniqueConstraint("case_id", "place_id", name="uq_case_place"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    place_id: int = Field(foreign_key="place.id", index=True)


class Demand(SQLModel, table=True):
    """A problem the customer brought, classified value or failure; received → need met gives end-to-end time."""

    __tablename__ = "case_demand"
    __table_args__ = (
        # Covering on PostgreSQL: the dashboards count demands by period, type, class and one-stop from the index.
        Index("ix_case_demand_org_received", "organisation_id", "received_at",
              postgresql_include=["demand_type_id", "demand_class", "one_stop"]),
        Index("ix_case_demand_org_need_met", "organisation_id", "need_met_at"),
        CheckConstraint(check_sql("demand_class", DemandClass), name=check_name("case_demand", "demand_class")),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    demand_type_id: int = Field(foreign_key="case_lookup.id")
    category_id: int | None = Field(default=None, foreign_key="case_lookup.id")
    demand_class: str = Field(max_length=10)  # DemandClass
    channel_id: int | None = Field(default=None, foreign_key="case_lookup.id")
    description: str = Field(default="", max_length=2000)
    received_at: datetime = Field(sa_type=UTCDateTime)
    one_stop: bool = Field(default=False)
    need_met_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Activity(SQLModel, table=True):
    __tablename__ = "case_activity"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    staff_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    note: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    __tablename__ = "case_task"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    activity_id: int = Field(foreign_key="case_activity.id", index=True)
    task_category_id: int = Field(foreign_key="case_lookup.id")
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    staff_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    minutes: int = Field(default=0)


class Intention(SQLModel, table=True):
    """A follow-up with a due date and an owner (a user or a team)."""

    __tablename__ = "case_intention"
    __table_args__ = (Index("ix_case_intention_org_open_due", "organisation_id", "completed_at", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    case_id: int = Field(foreign_key="case_file.id", index=True)
    intention_type_id: int = Field(foreign_key="case_lookup.id")
    owner_user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="case_team.id", index=True)
    due_on: date = Field()
    note: str = Field(default="", max_length=1000)
    outcome: str = Field(default="", max_length=1000)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SystemCondition(SQLModel, table=True):
    """Something that got in the way of doing the job, against a case or one of its demands."""

    __tablename__ = "case_system_condition"
    __table_args__ = (Index("ix_case_system_condition_org_recorded", "organisation_id", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    demand_id: int | None = Field(default=None, foreign_key="case_demand.id", index=True)
    category_id: int = Field(foreign_key="case_lookup.id")
    note: str = Field(default="", max_length=2000)
    minutes_lost: int = Field(default=0)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
