"""case team: every assigned attorney on their case's team; invitations know their email;
the sent emails still to be blanked are indexed

Revision ID: 0011
Revises: 0010

Access to a case is now its team (the memberships) alone, so an assigned
attorney not yet a member is made one. Invitations point at the outbox row
of their email (the firm sees whether it went out), and the database keeps
one pending invitation per email and case. The periodic purge of sent
emails finds the ones it has not blanked yet through a partial index.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

PENDING = "used_at IS NULL AND voided_at IS NULL"
UNPURGED = "recipient <> ''"


def upgrade():
    op.execute(sa.text(
        "INSERT INTO case_memberships (case_id, user_id, role, added_at) "
        "SELECT c.id, c.assigned_attorney_id, 'attorney', c.created_at FROM cases c "
        "WHERE c.assigned_attorney_id IS NOT NULL AND NOT EXISTS ("
        "  SELECT 1 FROM case_memberships m"
        "  WHERE m.case_id = c.id AND m.user_id = c.assigned_attorney_id)"))
    # Only the newest pending invitation of an email to a case has ever
    # worked; void any older ones before the database starts to insist.
    op.execute(sa.text(
        "UPDATE invitations SET voided_at = created_at WHERE " + PENDING + " AND case_id IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM invitations newer WHERE newer.email = invitations.email"
        "  AND newer.case_id = invitations.case_id AND newer.used_at IS NULL"
        "  AND newer.voided_at IS NULL AND newer.id > invitations.id)"))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outbox_message_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_invitations_outbox_message_id_outbox_messages',
                                    'outbox_messages', ['outbox_message_id'], ['id'])
        batch_op.create_index('uq_invitations_pending', ['email', 'case_id'], unique=True,
                              postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_sent_unpurged', ['sent_at'], unique=False,
                              postgresql_where=sa.text(UNPURGED),
                              sqlite_where=sa.text(UNPURGED))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_sent_unpurged')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('uq_invitations_pending')
        batch_op.drop_constraint('fk_invitations_outbox_message_id_outbox_messages',
                                 type_='foreignkey')
        batch_op.drop_column('outbox_message_id')
    # The memberships added stay: before this revision they gave no more access
    # than the assignment did.
