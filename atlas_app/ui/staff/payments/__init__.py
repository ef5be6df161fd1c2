"""Staff pages: payments."""
