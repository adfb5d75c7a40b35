"""stored objects: one table owns every object in the bucket

Each document version's key, size, SHA-256 and type move to a stored_objects
row with the version's UUID (the associated data its object was encrypted
with); the version points at it. A purged version's object is 'deleted', a
missing one's 'missing'.

Revision ID: 0004
Revises: 0003


"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stored_objects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stored_by_id', sa.Integer(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purpose', sa.Enum('document_version', name='purpose', native_enum=False, length=32), nullable=False),
    sa.Column('state', sa.Enum('stored', 'deleted', 'missing', name='objectstate', native_enum=False, length=16), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['stored_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('stored_objects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_objects_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stored_objects_stored_by_id'), ['stored_by_id'], unique=False)

    op.execute("""
        INSERT INTO stored_objects (uuid, key, size, sha256, content_type, case_id, stored_by_id,
                                    stored_at, purpose, state)
        SELECT v.uuid, v.storage_key, v.size, v.sha256, v.content_type, d.case_id,
               v.uploaded_by_id, v.uploaded_at, 'document_version',
               CASE v.status WHEN 'purged' THEN 'deleted' WHEN 'missing' THEN 'missing'
                             ELSE 'stored' END
        FROM document_versions v JOIN documents d ON d.id = v.document_id
    """)
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stored_object_id', sa.Integer(), nullable=True))
    op.execute("""
        UPDATE document_versions SET stored_object_id =
            (SELECT s.id FROM stored_objects s WHERE s.uuid = document_versions.uuid)
    """)
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.alter_column('stored_object_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('document_versions_stored_object_id_key', ['stored_object_id'])
        batch_op.create_foreign_key('document_versions_stored_object_id_fkey', 'stored_objects', ['stored_object_id'], ['id'])
        # Its unique constraint goes with it (PostgreSQL drops it, batch leaves it out).
        batch_op.drop_column('storage_key')
        batch_op.drop_column('sha256')
        batch_op.drop_column('size')
        batch_op.drop_column('content_type')


def downgrade():
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_type', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('storage_key', sa.String(length=200), nullable=True))
    for column, source in (('content_type', 'content_type'), ('size', 'size'),
                           ('sha256', 'sha256'), ('storage_key', 'key')):
        op.execute(f"""
            UPDATE document_versions SET {column} =
                (SELECT s.{source} FROM stored_objects s
                 WHERE s.id = document_versions.stored_object_id)
        """)
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.alter_column('content_type', existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column('size', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('storage_key', existing_type=sa.String(length=200), nullable=False)
        batch_op.create_unique_constraint('document_versions_storage_key_key', ['storage_key'])
        batch_op.drop_constraint('document_versions_stored_object_id_fkey', type_='foreignkey')
        batch_op.drop_constraint('document_versions_stored_object_id_key', type_='unique')
        batch_op.drop_column('stored_object_id')

    with op.batch_alter_table('stored_objects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_objects_stored_by_id'))
        batch_op.drop_index(batch_op.f('ix_stored_objects_case_id'))

    op.drop_table('stored_objects')
