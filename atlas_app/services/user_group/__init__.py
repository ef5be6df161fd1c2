"""The user group: change requests (raised, voted on and discussed by member organisations, moved through their
statuses by the service provider), what's new in each release, the demo organisation, and the group's meetings."""

# Areas of Atlas a change request or a release note is about: code -> label. Also the areas of feature previews.
AREAS: dict[str, str] = {
    "booking": "Course booking",
    "payments": "Payments",
    "instructors": "Instructors and cars",
    "casework": "Casework and modules",
    "dashboards": "Dashboards and reports",
    "letters": "Letters and email",
    "platform": "Platform and administration",
}
