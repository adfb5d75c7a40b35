"""page indexes: the thread page's newest-first keyset order, the accounts
page's order

Revision ID: 0017
Revises: 0016
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_messages_thread_page', 'messages', ['thread_id', 'created_at', 'id'])
    op.create_index('ix_users_role_name', 'users', ['role', 'name', 'id'])


def downgrade():
    op.drop_index('ix_users_role_name', table_name='users')
    op.drop_index('ix_messages_thread_page', table_name='messages')
