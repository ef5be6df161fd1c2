"""Staff pages: casework."""
