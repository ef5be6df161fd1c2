"""The organisation's own names of a booking's course and venue in both languages, and the one function that gives
them in a person's language (``in_language``). Every email, letter and SMS about a booking takes its course name,
venue name and directions from here, so a Welsh client gets the Welsh wherever staff wrote it, whatever the
language of the screen or page the change was made on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atlas_app.services.platform import welsh


@dataclass(frozen=True)
class CourseNames:
    """Both languages' texts (empty Welsh: not written)."""

    course_name: str = ""
    course_name_cy: str = ""
    venue_name: str = ""        # "" for an online session without a venue
    venue_name_cy: str = ""
    directions: str = ""        # the venue's directions and access notes
    directions_cy: str = ""
    what_to_bring: str = ""
    what_to_bring_cy: str = ""

    @classmethod
    def of(cls, course_type: Any, venue: Any) -> CourseNames:
        """From rows carrying the course type's and venue's columns (ORM rows or plain rows; ``venue`` may be
        None). Missing columns count as empty."""
        def get(row: Any, name: str) -> str:
            return str(getattr(row, name, "") or "") if row is not None else ""

        return cls(get(course_type, "name"), get(course_type, "name_cy"), get(venue, "name"), get(venue, "name_cy"),
                   get(venue, "accessibility_notes"), get(venue, "accessibility_notes_cy"),
                   get(course_type, "what_to_bring"), get(course_type, "what_to_bring_cy"))

    @classmethod
    def of_rows(cls, course: Any, venue: Any) -> CourseNames:
        """From plain rows of the booking queries, whose columns are labelled ``course_name``, ``course_name_cy``,
        ``what_to_bring``, ``what_to_bring_cy`` (``course``) and ``venue_name``, ``venue_name_cy``,
        ``accessibility_notes``, ``accessibility_notes_cy`` (``venue``; the same row will do for both)."""
        return cls(course.course_name or "", course.course_name_cy or "", venue.venue_name or "",
                   venue.venue_name_cy or "", venue.accessibility_notes or "", venue.accessibility_notes_cy or "",
                   course.what_to_bring or "", course.what_to_bring_cy or "")


@dataclass(frozen=True)
class NamesInLanguage:
    course_name: str
    venue_name: str
    directions: str
    what_to_bring: str


def in_language(names: CourseNames, language: str) -> NamesInLanguage:
    """The names in ``language``: the Welsh where it is asked for and written, else the English."""
    return NamesInLanguage(welsh.pick(names.course_name, names.course_name_cy, language),
                           welsh.pick(names.venue_name, names.venue_name_cy, language),
                           welsh.pick(names.directions, names.directions_cy, language),
                           welsh.pick(names.what_to_bring, names.what_to_bring_cy, language))
