"""intake questionnaires and signatures: what a request asks for, the
document a signature request is for and its sealed copy, and the encrypted
answers of each questionnaire

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                      server_default='document'))
        batch_op.add_column(sa.Column('questionnaire_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sign_version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sign_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('signed_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_document_requests_sign_version_id_document_versions',
                                    'document_versions', ['sign_version_id'], ['id'])
        batch_op.create_foreign_key('fk_document_requests_signed_version_id_document_versions',
                                    'document_versions', ['signed_version_id'], ['id'])
    op.create_table(
        'questionnaire_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.Uuid(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['document_requests.id'],
                                name='fk_questionnaire_responses_request_id_document_requests'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name='fk_questionnaire_responses_updated_by_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_questionnaire_responses'),
        sa.UniqueConstraint('request_id', name='uq_questionnaire_responses_request_id'),
        sa.UniqueConstraint('uuid', name='uq_questionnaire_responses_uuid'))


def downgrade():
    op.drop_table('questionnaire_responses')
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.drop_constraint('fk_document_requests_signed_version_id_document_versions',
                                 type_='foreignkey')
        batch_op.drop_constraint('fk_document_requests_sign_version_id_document_versions',
                                 type_='foreignkey')
        for column in ('signed_version_id', 'sign_sha256', 'sign_version_id',
                       'questionnaire_key', 'kind'):
            batch_op.drop_column(column)
