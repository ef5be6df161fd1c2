"""audit chain per organisation: one hash chain, and one head row, for each organisation

Every audit entry used to be appended to one chain whose single head row every writer of every organisation locked,
so one organisation's writers queued behind another's. From this revision each organisation has its own chain and
head row, and entries with no organisation (the system's) have theirs, chain 0.

``audit_entry.chain`` says which chain an entry is on (its organisation's id, or 0) and ``seq`` is its place in that
chain (unique per chain). ``audit_chain_head.id`` is the chain.

Entries written before this revision are not re-linked: re-hashing them would also hide any tampering already done.
They stay, as they are, at the start of chain 0, the system's chain (the old head row, id 1, becomes the head of
chain 0 and goes on from there), and keep verifying as before. Each organisation's own chain starts with its first
entry after this revision.

Downgrade folds nothing back: it is refused once any entry is on an organisation's chain, since joining the chains
again would mean rewriting their hashes.

Revision ID: 0017
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('audit_entry', sa.Column('chain', sa.Integer(), nullable=False, server_default='0'))
    op.drop_index('ix_audit_entry_seq', table_name='audit_entry')
    op.create_index('ux_audit_entry_chain_seq', 'audit_entry', ['chain', 'seq'], unique=True)
    op.execute("UPDATE audit_chain_head SET id = 0 WHERE id = 1")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM audit_entry WHERE chain <> 0 LIMIT 1")).first() is not None:
        raise RuntimeError("The audit trail has entries on per-organisation chains; they cannot be joined into one "
                           "chain again without rewriting their hashes, so this revision cannot be undone.")
    op.execute("DELETE FROM audit_chain_head WHERE id <> 0")
    op.execute("UPDATE audit_chain_head SET id = 1 WHERE id = 0")
    op.drop_index('ux_audit_entry_chain_seq', table_name='audit_entry')
    op.create_index('ix_audit_entry_seq', 'audit_entry', ['seq'], unique=True)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_column('chain')
