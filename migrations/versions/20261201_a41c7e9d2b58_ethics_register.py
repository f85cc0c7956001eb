"""ethics register: participant IDs, the information sheet on each consent record, who recorded
verbal consent, withdrawals, and the audit chain

Revision ID: a41c7e9d2b58
Revises: d7a2c6e94f10
Create Date: 2026-12-01 23:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a41c7e9d2b58'
down_revision = 'd7a2c6e94f10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('study') as batch_op:
        batch_op.add_column(sa.Column('last_pid', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('withdrawal_window_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('participant') as batch_op:
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_participant_study_id_pid'), ['study_id', 'pid'])
    with op.batch_alter_table('consent_record') as batch_op:
        batch_op.add_column(sa.Column('information_sheet_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('information_sheet_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recorded_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_consent_record_information_sheet_id_instrument_version'),
                                    'instrument_version', ['information_sheet_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_consent_record_recorded_by_id_user_account'),
                                    'user_account', ['recorded_by_id'], ['id'])
    # Participants who consented before IDs existed get them in order of first consent given.
    op.execute("""
        UPDATE participant SET pid = (
            SELECT COUNT(*) FROM participant AS other
            WHERE other.study_id = participant.study_id
              AND (SELECT MIN(r.recorded_at) FROM consent_record AS r
                   WHERE r.participant_id = other.id AND r.given)
                  IS NOT NULL
              AND ((SELECT MIN(r.recorded_at) FROM consent_record AS r
                    WHERE r.participant_id = other.id AND r.given),
                   other.id)
                  <= ((SELECT MIN(r.recorded_at) FROM consent_record AS r
                       WHERE r.participant_id = participant.id AND r.given),
                      participant.id))
        WHERE EXISTS (SELECT 1 FROM consent_record AS r
                      WHERE r.participant_id = participant.id AND r.given)
    """)
    op.execute("""
        UPDATE study SET last_pid = COALESCE(
            (SELECT MAX(pid) FROM participant WHERE participant.study_id = study.id), 0)
    """)
    op.create_table(
        'withdrawal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('cutoff_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decision_reason', sa.String(length=500), nullable=True),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['participant_id'], ['participant.id'],
                                name=op.f('fk_withdrawal_participant_id_participant')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'],
                                name=op.f('fk_withdrawal_recorded_by_id_user_account')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                                name=op.f('fk_withdrawal_decided_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawal')),
        sa.UniqueConstraint('participant_id', name=op.f('uq_withdrawal_participant_id')),
    )
    op.create_table(
        'audit_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('participant_id', sa.Integer(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
        sa.UniqueConstraint('seq', name=op.f('uq_audit_event_seq')),
    )
    op.create_index(op.f('ix_audit_event_kind'), 'audit_event', ['kind'])
    op.create_index(op.f('ix_audit_event_participant_id'), 'audit_event', ['participant_id'])
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )


def downgrade():
    op.drop_table('audit_head')
    op.drop_index(op.f('ix_audit_event_participant_id'), table_name='audit_event')
    op.drop_index(op.f('ix_audit_event_kind'), table_name='audit_event')
    op.drop_table('audit_event')
    op.drop_table('withdrawal')
    with op.batch_alter_table('consent_record') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consent_record_recorded_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_consent_record_information_sheet_id_instrument_version'),
                                 type_='foreignkey')
        batch_op.drop_column('recorded_by_id')
        batch_op.drop_column('information_sheet_hash')
        batch_op.drop_column('information_sheet_id')
    with op.batch_alter_table('participant') as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_participant_study_id_pid'), type_='unique')
        batch_op.drop_column('pid')
    with op.batch_alter_table('study') as batch_op:
        batch_op.drop_column('withdrawal_window_days')
        batch_op.drop_column('last_pid')
