"""staff accounts nominees invitations

Revision ID: 11ecf3bc2151
Revises: f387c4449862
Create Date: 2026-11-26 16:24:04.453877

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '11ecf3bc2151'
down_revision = 'f387c4449862'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('preferred_language', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('user_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_role_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_role')),
    sa.UniqueConstraint('user_id', 'role', name=op.f('uq_user_role_user_id_role'))
    )
    op.create_table('invitation_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('runner', sa.String(length=200), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_invitation_batch_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_invitation_batch_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_batch'))
    )
    with op.batch_alter_table('invitation_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_batch_study_id'), ['study_id'], unique=False)

    op.create_table('nominee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('la_code', sa.String(length=3), nullable=False),
    sa.Column('service_area', sa.String(length=20), nullable=False),
    sa.Column('agency', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('preferred_language', sa.String(length=7), nullable=False),
    sa.Column('link_nonce', sa.String(length=64), nullable=False),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_nominee_participant_id_participant')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_nominee_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nominee')),
    sa.UniqueConstraint('participant_id', name=op.f('uq_nominee_participant_id')),
    sa.UniqueConstraint('study_id', 'email', name=op.f('uq_nominee_study_id_email'))
    )
    with op.batch_alter_table('nominee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nominee_la_code'), ['la_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_nominee_study_id'), ['study_id'], unique=False)

    op.create_table('invitation_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('nominee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=10), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('smtp_reply', sa.Text(), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['invitation_batch.id'], name=op.f('fk_invitation_message_batch_id_invitation_batch')),
    sa.ForeignKeyConstraint(['nominee_id'], ['nominee.id'], name=op.f('fk_invitation_message_nominee_id_nominee')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_message')),
    sa.UniqueConstraint('batch_id', 'nominee_id', name=op.f('uq_invitation_message_batch_id_nominee_id'))
    )
    with op.batch_alter_table('invitation_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_message_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitation_message_nominee_id'), ['nominee_id'], unique=False)

    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('opened_at')

    with op.batch_alter_table('invitation_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_message_nominee_id'))
        batch_op.drop_index(batch_op.f('ix_invitation_message_batch_id'))

    op.drop_table('invitation_message')
    with op.batch_alter_table('nominee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nominee_study_id'))
        batch_op.drop_index(batch_op.f('ix_nominee_la_code'))

    op.drop_table('nominee')
    with op.batch_alter_table('invitation_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_batch_study_id'))

    op.drop_table('invitation_batch')
    op.drop_table('user_role')
    op.drop_table('user_account')
