"""staff two-factor sign-in (TOTP): a user's secret and last used time step, recovery codes, pending second-factor
sign-ins, and the organisation's requirement

``app_user.totp_secret`` is set when enrolment starts and counts only once ``totp_confirmed_at`` is set (after a
first valid code); ``totp_last_step`` is the last time step accepted, so a code is never accepted twice.
``two_factor_recovery_code`` holds the SHA-256 of each single-use recovery code. ``second_factor_challenge`` is a
sign-in whose password was right, waiting for its code (the SHA-256 of its token; short-lived, used once).
``organisation.two_factor_required``: ``none``, ``admins`` (users who manage users) or ``all`` staff.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases (SQLite's batch mode would rebuild tables many others point to).
    op.add_column("app_user", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("app_user", sa.Column("totp_confirmed_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("app_user", sa.Column("totp_last_step", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("organisation", sa.Column("two_factor_required", sa.String(length=10), nullable=False,
                                            server_default="none"))
    op.create_table(
        "two_factor_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_two_factor_recovery_code_user_id", "two_factor_recovery_code", ["user_id"])
    op.create_table(
        "second_factor_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_second_factor_challenge_user_id", "second_factor_challenge", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_second_factor_challenge_user_id", table_name="second_factor_challenge")
    op.drop_table("second_factor_challenge")
    op.drop_index("ix_two_factor_recovery_code_user_id", table_name="two_factor_recovery_code")
    op.drop_table("two_factor_recovery_code")
    op.drop_column("organisation", "two_factor_required")
    op.drop_column("app_user", "totp_last_step")
    op.drop_column("app_user", "totp_confirmed_at")
    op.drop_column("app_user", "totp_secret")
