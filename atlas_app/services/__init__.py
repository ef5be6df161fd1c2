"""Framework-free domain logic: the only code that changes data.

Every public function takes a database session and (where someone acts) an ``Actor``, checks permission and
tenancy, validates its input, writes the change and its audit entry, and returns plain data.
"""
