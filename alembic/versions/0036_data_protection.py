"""purge of reports, letters and files; TOTP secrets sealed at rest

* ``case_file.anonymised_at``: when retention emptied a case of its free text (a resident's report too: a case with
  nobody on it is purged by its module's period once closed).
* ``servicing_letter.person_id``: who a servicing letter was addressed to, so a purge of that person deletes its PDF.
* ``app_user.totp_secret`` holds the secret sealed (``secret_box``: AES-GCM under a key derived from SECRET_KEY),
  so it is widened, and every secret stored in the clear is sealed here (and opened again on downgrade).

Revision ID: 0036
Revises: 0043
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0036'
down_revision: str | None = '0043'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _secrets(bind) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in bind.execute(sa.text(
        "SELECT id, totp_secret FROM app_user WHERE totp_secret IS NOT NULL AND totp_secret <> ''")).all()]


def upgrade() -> None:
    from atlas_app.services.platform import secret_box
    from atlas_app.services.platform.totp import secret_context

    op.add_column("case_file", sa.Column("anonymised_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("servicing_letter") as batch:  # SQLite adds a foreign key by a rebuild
        batch.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_servicing_letter_person_id_person", "person", ["person_id"], ["id"])
        batch.create_index("ix_servicing_letter_person_id", ["person_id"])
    bind = op.get_bind()
    with op.batch_alter_table("app_user") as batch:  # SQLite: a rebuild (foreign keys are off while migrating)
        batch.alter_column("totp_secret", type_=sa.String(length=255), existing_nullable=True)
    for user_id, value in _secrets(bind):
        if not secret_box.is_sealed(value):
            bind.execute(sa.text("UPDATE app_user SET totp_secret = :v WHERE id = :id"),
                         {"v": secret_box.seal(value, secret_context(user_id)), "id": user_id})


def downgrade() -> None:
    from atlas_app.services.platform import secret_box
    from atlas_app.services.platform.totp import secret_context

    bind = op.get_bind()
    for user_id, value in _secrets(bind):
        if secret_box.is_sealed(value):
            bind.execute(sa.text("UPDATE app_user SET totp_secret = :v WHERE id = :id"),
                         {"v": secret_box.open_sealed(value, secret_context(user_id)), "id": user_id})
    with op.batch_alter_table("app_user") as batch:
        batch.alter_column("totp_secret", type_=sa.String(length=64), existing_nullable=True)
    with op.batch_alter_table("servicing_letter") as batch:  # SQLite drops a foreign key's column by a rebuild
        batch.drop_index("ix_servicing_letter_person_id")
        batch.drop_constraint("fk_servicing_letter_person_id_person", type_="foreignkey")
        batch.drop_column("person_id")
    op.drop_column("case_file", "anonymised_at")
