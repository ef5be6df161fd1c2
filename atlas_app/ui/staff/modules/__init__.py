"""Pages of module types with screens of their own, one package per type (see services/modules)."""
