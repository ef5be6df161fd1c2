"""Rent Arrears Monitoring pages: the caseload (with measures and the import) and the tenancy page."""
