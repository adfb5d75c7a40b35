"""resumable uploads (tus): an upload in progress and its stored pieces

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'resumable_uploads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.Uuid(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('offset', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=True),
        sa.Column('state', sa.Enum('receiving', 'saving', 'saved', 'failed', 'ended',
                                   name='uploadstate', native_enum=False, length=16),
                  nullable=False),
        sa.Column('uploaded_from', sa.String(length=45), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_resumable_uploads_case_id_cases'),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name='fk_resumable_uploads_uploaded_by_id_users'),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name='fk_resumable_uploads_document_id_documents'),
        sa.ForeignKeyConstraint(['request_id'], ['document_requests.id'], name='fk_resumable_uploads_request_id_document_requests'),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name='fk_resumable_uploads_message_id_messages'),
        sa.ForeignKeyConstraint(['version_id'], ['document_versions.id'], name='fk_resumable_uploads_version_id_document_versions'),
        sa.PrimaryKeyConstraint('id', name='pk_resumable_uploads'),
        sa.UniqueConstraint('uuid', name='uq_resumable_uploads_uuid'))
    op.create_index('ix_resumable_uploads_case_id', 'resumable_uploads', ['case_id'])
    op.create_index('ix_resumable_uploads_uploaded_by_id', 'resumable_uploads', ['uploaded_by_id'])
    op.create_index('ix_resumable_uploads_expires_at', 'resumable_uploads', ['expires_at'])
    op.create_table(
        'upload_pieces',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.Integer(), nullable=False),
        sa.Column('start', sa.BigInteger(), nullable=False),
        sa.Column('stored_object_id', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['upload_id'], ['resumable_uploads.id'], name='fk_upload_pieces_upload_id_resumable_uploads'),
        sa.ForeignKeyConstraint(['stored_object_id'], ['stored_objects.id'], name='fk_upload_pieces_stored_object_id_stored_objects'),
        sa.PrimaryKeyConstraint('id', name='pk_upload_pieces'),
        sa.UniqueConstraint('upload_id', 'start', name='uq_upload_pieces_upload_id'))
    op.create_index('ix_upload_pieces_upload_id', 'upload_pieces', ['upload_id'])


def downgrade():
    op.drop_index('ix_upload_pieces_upload_id', table_name='upload_pieces')
    op.drop_table('upload_pieces')
    op.drop_index('ix_resumable_uploads_expires_at', table_name='resumable_uploads')
    op.drop_index('ix_resumable_uploads_uploaded_by_id', table_name='resumable_uploads')
    op.drop_index('ix_resumable_uploads_case_id', table_name='resumable_uploads')
    op.drop_table('resumable_uploads')
