"""Rent Arrears Monitoring (module type ``rent_arrears``).

* ``arrears``: the pure arithmetic (balance, arrears in weeks, trend, stage entry rules, arrangements kept/broken).
* ``tenancies``: recovery stages (configuration), tenancies and their tenants, arrangements, contacts, the caseload
  and the measures.
* ``imports``: the weekly CSV of rent transactions from the rent system (all or nothing, idempotent).
* ``recompute``: the set-based recompute of every tenancy's figures after an import, then the stage moves (each
  with its letter and intention) and broken arrangements (which raise the case).
"""

CODE = "rent_arrears"
