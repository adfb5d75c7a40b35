"""running a case: stage path, USCIS tracking, parole, agenda

Revision ID: 0008
Revises: 0007
Cases gain a row version (two people changing one case at once: the second
is refused), USCIS's decision and the parole period; timeline events gain a
client-visible flag and structured data. New tables hold RFE deadlines and
appointments, expedite requests, re-parole reminders sent, the reference
counters (seeded here from the references already handed out) and calendar
feed secrets.
"""
import re
import uuid

from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reference_counters',
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year')
    )
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    sa.UniqueConstraint('user_id')
    )
    op.create_table('case_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('rfe_response', 'biometrics', 'interview', name='deadlinekind', native_enum=False, length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('met_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_deadlines_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_deadlines_due_on'), ['due_on'], unique=False)

    op.create_table('expedite_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('requested_on', sa.Date(), nullable=False),
    sa.Column('ground', sa.Enum('life_threatening_medical', 'child_under_16', 'urgent_humanitarian', 'disability', 'family_reunification', 'severe_financial_loss', 'uscis_error', 'us_government_interest', 'nonprofit_interest', name='urgencyflag', native_enum=False, length=32), nullable=False),
    sa.Column('outcome', sa.Enum('pending', 'granted', 'denied', name='expediteoutcome', native_enum=False, length=32), nullable=False),
    sa.Column('outcome_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('expedite_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expedite_requests_case_id'), ['case_id'], unique=False)

    op.create_table('parole_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('parole_ends_on', sa.Date(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'parole_ends_on', 'days_before')
    )
    with op.batch_alter_table('parole_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parole_reminders_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision', sa.Enum('approved', 'denied', name='decision', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('decided_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('parole_entry_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('parole_ends_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.create_index(batch_op.f('ix_cases_parole_ends_on'), ['parole_ends_on'], unique=False)

    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_visible', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=False, server_default='{}'))


    # Invitations get a public id (the people panel resends and revokes them by URL).
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uuid', sa.Uuid(), nullable=True))
    invitations = sa.table('invitations', sa.column('id', sa.Integer), sa.column('uuid', sa.Uuid))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.select(invitations.c.id)).all():
        bind.execute(invitations.update().where(invitations.c.id == row_id)
                     .values(uuid=uuid.uuid4()))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.alter_column('uuid', existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint('uq_invitations_uuid', ['uuid'])

    # Events written before this revision with no client text were the firm's alone.
    op.execute("UPDATE timeline_events SET client_visible = false WHERE client_text = ''")
    _seed_reference_counters()


def _seed_reference_counters():
    """Start each prefix and year after the highest reference already used."""
    bind = op.get_bind()
    highest = {}
    for (reference,) in bind.execute(sa.text("SELECT reference FROM cases")):
        match = re.fullmatch(r"([A-Z]+)-(\d{4})-(\d+)", reference)
        if match:
            key = (match[1], int(match[2]))
            highest[key] = max(highest.get(key, 0), int(match[3]))
    counters = sa.table("reference_counters", sa.column("prefix"), sa.column("year"),
                        sa.column("last"))
    if highest:
        op.bulk_insert(counters, [{"prefix": p, "year": y, "last": n}
                                  for (p, y), n in highest.items()])


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_invitations_uuid', type_='unique')
        batch_op.drop_column('uuid')
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.drop_column('data')
        batch_op.drop_column('client_visible')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_parole_ends_on'))
        batch_op.drop_column('version')
        batch_op.drop_column('parole_ends_on')
        batch_op.drop_column('parole_entry_on')
        batch_op.drop_column('decided_on')
        batch_op.drop_column('decision')

    with op.batch_alter_table('parole_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parole_reminders_case_id'))

    op.drop_table('parole_reminders')
    with op.batch_alter_table('expedite_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expedite_requests_case_id'))

    op.drop_table('expedite_requests')
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_deadlines_due_on'))
        batch_op.drop_index(batch_op.f('ix_case_deadlines_case_id'))

    op.drop_table('case_deadlines')
    op.drop_table('calendar_feeds')
    op.drop_table('reference_counters')
