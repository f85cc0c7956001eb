"""nominee import jobs: large web uploads checked and imported by the worker

Revision ID: 9e3f5a7c1d2b
Revises: c4e8a1f07b3d
Create Date: 2026-12-01 19:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9e3f5a7c1d2b'
down_revision = 'c4e8a1f07b3d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('nominee_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('valid_only', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('total_lines', sa.Integer(), nullable=False),
    sa.Column('valid_lines', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                            name=op.f('fk_nominee_import_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_nominee_import_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nominee_import'))
    )
    with op.batch_alter_table('nominee_import') as batch_op:
        batch_op.create_index(batch_op.f('ix_nominee_import_study_id'), ['study_id'], unique=False)


def downgrade():
    with op.batch_alter_table('nominee_import') as batch_op:
        batch_op.drop_index(batch_op.f('ix_nominee_import_study_id'))
    op.drop_table('nominee_import')
