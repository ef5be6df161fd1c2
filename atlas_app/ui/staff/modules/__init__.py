"""Pages of module types with screens of their own (services/modules)."""
