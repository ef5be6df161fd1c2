"""Public pages for clients and residents (no sign-in)."""
