"""Staff pages of the user group: change requests, feature previews, what's new, meetings, the demo organisation."""
