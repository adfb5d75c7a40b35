"""message attachments: a document may begin as a message's attachment

Revision ID: 0010
Revises: 0009
Only the readers of that message see such a document (and its versions).

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_message_id'), ['message_id'], unique=False)
        batch_op.create_foreign_key('fk_documents_message_id_messages', 'messages',
                                    ['message_id'], ['id'])


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint('fk_documents_message_id_messages', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_documents_message_id'))
        batch_op.drop_column('message_id')
