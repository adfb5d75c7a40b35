"""scale indexes: the audit trail's case and action filters, the review
queue's newest upload per request (checked with EXPLAIN at seed-scale 1)

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_cases_reference_upper', 'cases', [sa.text('upper(reference)')])
    op.create_index('ix_audit_events_action_prefix', 'audit_events', ['action'],
                    postgresql_ops={'action': 'varchar_pattern_ops'})
    op.create_index('ix_document_versions_request_uploaded', 'document_versions',
                    ['request_id', 'uploaded_at'])


def downgrade():
    op.drop_index('ix_document_versions_request_uploaded', table_name='document_versions')
    op.drop_index('ix_audit_events_action_prefix', table_name='audit_events')
    op.drop_index('ix_cases_reference_upper', table_name='cases')
