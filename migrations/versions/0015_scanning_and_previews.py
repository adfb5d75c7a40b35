"""malware scanning and safe previews: each version's scan and preview state,
and the preview pages

Versions stored before this revision are set to ``scanning``: nobody but
their uploader opens them until the scanner (or, with scanning off, the
sweep) has cleared them.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'scan_state', sa.Enum('scanning', 'clean', 'infected', 'failed', 'unscanned',
                                  'released',
                                  name='scanstate', native_enum=False, length=16),
            nullable=False, server_default='scanning'))
        batch_op.add_column(sa.Column('scan_result', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column(
            'preview_state', sa.Enum('pending', 'ready', 'none', name='previewstate',
                                     native_enum=False, length=16),
            nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('preview_note', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_document_versions_scan_state', ['scan_state'])
    op.create_table(
        'previews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('page', sa.Integer(), nullable=False),
        sa.Column('stored_object_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['document_versions.id'],
                                name='fk_previews_version_id_document_versions'),
        sa.ForeignKeyConstraint(['stored_object_id'], ['stored_objects.id'],
                                name='fk_previews_stored_object_id_stored_objects'),
        sa.PrimaryKeyConstraint('id', name='pk_previews'),
        sa.UniqueConstraint('version_id', 'page', name='uq_previews_version_id'),
        sa.UniqueConstraint('stored_object_id', name='uq_previews_stored_object_id'))
    op.create_index('ix_previews_version_id', 'previews', ['version_id'])


def downgrade():
    op.drop_index('ix_previews_version_id', table_name='previews')
    op.drop_table('previews')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_document_versions_scan_state')
        for column in ('preview_note', 'preview_state', 'scanned_at', 'scan_result', 'scan_state'):
            batch_op.drop_column(column)
