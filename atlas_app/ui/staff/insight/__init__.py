"""Staff pages: insight."""
