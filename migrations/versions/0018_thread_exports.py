"""thread exports: a thread laid out as a file by a job, kept for a day

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'thread_exports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.Uuid(), nullable=False),
        sa.Column('thread_id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False),
        sa.Column('state', sa.Enum('preparing', 'ready', 'failed', 'expired',
                                   name='exportstate', native_enum=False, length=16),
                  nullable=False),
        sa.Column('pending_key', sa.String(length=80), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('filename', sa.String(length=200), nullable=True),
        sa.Column('stored_object_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['thread_id'], ['message_threads.id'],
                                name='fk_thread_exports_thread_id_message_threads'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name='fk_thread_exports_requested_by_id_users'),
        sa.ForeignKeyConstraint(['stored_object_id'], ['stored_objects.id'],
                                name='fk_thread_exports_stored_object_id_stored_objects'),
        sa.PrimaryKeyConstraint('id', name='pk_thread_exports'),
        sa.UniqueConstraint('pending_key', name='uq_thread_exports_pending_key'),
        sa.UniqueConstraint('uuid', name='uq_thread_exports_uuid'))
    op.create_index('ix_thread_exports_thread_id', 'thread_exports', ['thread_id'])
    op.create_index('ix_thread_exports_requested_by_id', 'thread_exports', ['requested_by_id'])
    op.create_index('ix_thread_exports_expires_at', 'thread_exports', ['expires_at'])


def downgrade():
    op.drop_table('thread_exports')
