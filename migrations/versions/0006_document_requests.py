"""document requests: the firm asks a person on the case for a document

Revision ID: 0006
Revises: 0005


"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('addressee_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'submitted', 'accepted', 'rejected', 'waived',
                               name='requeststate', native_enum=False, length=16),
              nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['addressee_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_requests_addressee_id'), ['addressee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_requests_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_requests_state'), ['state'], unique=False)

    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_document_versions_request_id'), ['request_id'], unique=False)
        batch_op.create_foreign_key('document_versions_request_id_fkey', 'document_requests',
                                    ['request_id'], ['id'])


def downgrade():
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_constraint('document_versions_request_id_fkey', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_document_versions_request_id'))
        batch_op.drop_column('request_id')

    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_requests_state'))
        batch_op.drop_index(batch_op.f('ix_document_requests_case_id'))
        batch_op.drop_index(batch_op.f('ix_document_requests_addressee_id'))

    op.drop_table('document_requests')
