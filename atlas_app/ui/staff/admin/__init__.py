"""Staff pages: admin."""
