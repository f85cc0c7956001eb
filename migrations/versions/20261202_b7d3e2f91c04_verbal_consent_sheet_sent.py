"""consent_record: for verbal consent, when and in which language the information sheet was sent

Revision ID: b7d3e2f91c04
Revises: a41c7e9d2b58
Create Date: 2026-12-02 00:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d3e2f91c04'
down_revision = 'a41c7e9d2b58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consent_record') as batch_op:
        batch_op.add_column(sa.Column('sheet_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sheet_sent_language', sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table('consent_record') as batch_op:
        batch_op.drop_column('sheet_sent_language')
        batch_op.drop_column('sheet_sent_at')
