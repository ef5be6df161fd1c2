"""Staff pages, one package per area."""
