"""Instructors and training cars: records, the assignment engine with database-enforced no double booking, vehicles."""
