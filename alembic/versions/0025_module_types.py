"""departmental modules name their module type

``case_module.module_type``: the code that gives a module its own screens and rules ("environmental_ticketing",
"utilities_servicing", "rent_arrears", "customer_interactions"), or "generic" for a module of lookup lists only.
An organisation has at most one module of each non-generic type (a partial unique index), so a module type's
services find "the organisation's module" without a choice. Existing modules whose names are the seeded ones get
their type.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED = {
    "Environmental Services Ticketing": "environmental_ticketing",
    "Gas and Electric Utilities Servicing": "utilities_servicing",
    "Rent Arrears Monitoring": "rent_arrears",
    "Customer Interactions": "customer_interactions",
}


def upgrade() -> None:
    op.add_column("case_module", sa.Column("module_type", sa.String(length=40), nullable=False,
                                           server_default="generic"))
    table = sa.table("case_module", sa.column("name", sa.String), sa.column("module_type", sa.String),
                     sa.column("organisation_id", sa.Integer), sa.column("id", sa.Integer))
    bind = op.get_bind()
    for name, code in SEEDED.items():
        # The first module of that name in each organisation (names are unique per organisation).
        bind.execute(table.update().where(table.c.name == name).values(module_type=code))
    op.create_index("uq_case_module_org_type", "case_module", ["organisation_id", "module_type"], unique=True,
                    sqlite_where=sa.text("module_type <> 'generic'"),
                    postgresql_where=sa.text("module_type <> 'generic'"))


def downgrade() -> None:
    op.drop_index("uq_case_module_org_type", table_name="case_module")
    with op.batch_alter_table("case_module") as batch:
        batch.drop_column("module_type")
