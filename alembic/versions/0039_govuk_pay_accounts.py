"""each organisation's own GOV.UK Pay account

* ``govuk_pay_account``: one row per organisation that entered its own GOV.UK Pay account: the API key and the
  webhook signing secret, encrypted (Fernet, under a key derived from the deployment's secret), the last characters
  of the key for recognising it, and whether the account allows telephone (MOTO) payments. An organisation without
  a row uses the deployment's GOVUK_PAY_* settings.

Revision ID: 0039
Revises: 0037
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0039'
down_revision: str | None = '0037'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "govuk_pay_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=False, server_default=""),
        sa.Column("api_key_hint", sa.String(length=12), nullable=False, server_default=""),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=False, server_default=""),
        sa.Column("moto_allowed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ux_govuk_pay_account_organisation_id", "govuk_pay_account", ["organisation_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_govuk_pay_account_organisation_id", table_name="govuk_pay_account")
    op.drop_table("govuk_pay_account")
