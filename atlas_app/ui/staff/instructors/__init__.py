"""Staff pages: instructors."""
