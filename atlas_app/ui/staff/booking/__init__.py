"""Staff pages: booking."""
