"""Pages of the module types that have screens of their own (one folder per type, see services/modules)."""
