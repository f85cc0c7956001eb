"""nominee: why and by whom a researcher marked someone declined

Revision ID: d7a2c6e94f10
Revises: 9e3f5a7c1d2b
Create Date: 2026-12-01 20:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd7a2c6e94f10'
down_revision = '9e3f5a7c1d2b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('nominee') as batch_op:
        batch_op.add_column(sa.Column('declined_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('declined_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_nominee_declined_by_id_user_account'),
                                    'user_account', ['declined_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('nominee') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_nominee_declined_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('declined_by_id')
        batch_op.drop_column('declined_reason')
