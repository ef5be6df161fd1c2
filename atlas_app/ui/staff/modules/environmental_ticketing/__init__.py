"""Environmental Services Ticketing: the staff queue, the report screen, categories and the dashboard."""
