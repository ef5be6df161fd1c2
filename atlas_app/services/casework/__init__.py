"""Casework (Person, Place, Problem): cases of demands, module configuration, people, places, search, gazetteer imports."""
