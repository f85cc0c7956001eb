"""instrument provenance, study contacts and approval, link emails

Revision ID: 5b7e2c9d41a0
Revises: 11ecf3bc2151
Create Date: 2026-12-01 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c9d41a0'
down_revision = '11ecf3bc2151'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instrument_version') as batch_op:
        batch_op.add_column(sa.Column('provenance', sa.JSON(), nullable=True))
    with op.batch_alter_table('study') as batch_op:
        batch_op.add_column(sa.Column('contacts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('approved', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('link_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_link_email_participant_id_participant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_email'))
    )
    with op.batch_alter_table('link_email') as batch_op:
        batch_op.create_index(batch_op.f('ix_link_email_participant_id'), ['participant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('link_email') as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_email_participant_id'))
    op.drop_table('link_email')
    with op.batch_alter_table('study') as batch_op:
        batch_op.drop_column('approved')
        batch_op.drop_column('contacts')
    with op.batch_alter_table('instrument_version') as batch_op:
        batch_op.drop_column('provenance')
