"""participant journey

Revision ID: f387c4449862
Revises: 
Create Date: 2026-11-26 15:40:52.100809

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f387c4449862'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instrument_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_version')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_instrument_version_key_version'))
    )
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('ethics_reference', sa.String(length=100), nullable=True),
    sa.Column('open_link', sa.Boolean(), nullable=False),
    sa.Column('information_sheet_id', sa.Integer(), nullable=False),
    sa.Column('consent_form_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consent_form_id'], ['instrument_version.id'], name=op.f('fk_study_consent_form_id_instrument_version')),
    sa.ForeignKeyConstraint(['information_sheet_id'], ['instrument_version.id'], name=op.f('fk_study_information_sheet_id_instrument_version')),
    sa.ForeignKeyConstraint(['survey_id'], ['instrument_version.id'], name=op.f('fk_study_survey_id_instrument_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
    sa.UniqueConstraint('slug', name=op.f('uq_study_slug'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_section', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_participant_study_id_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('reference', name=op.f('uq_participant_reference')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_participant_token_hash'))
    )
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_study_id'), ['study_id'], unique=False)

    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('consent_form_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consent_form_id'], ['instrument_version.id'], name=op.f('fk_consent_record_consent_form_id_instrument_version')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_consent_record_participant_id_participant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_record_participant_id'), ['participant_id'], unique=False)

    op.create_table('consent_item_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=100), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('agreed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['consent_record.id'], name=op.f('fk_consent_item_answer_record_id_consent_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_item_answer')),
    sa.UniqueConstraint('record_id', 'item_id', name=op.f('uq_consent_item_answer_record_id_item_id'))
    )
    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('consent_record_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['consent_record_id'], ['consent_record.id'], name=op.f('fk_response_consent_record_id_consent_record')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_response_participant_id_participant')),
    sa.ForeignKeyConstraint(['survey_id'], ['instrument_version.id'], name=op.f('fk_response_survey_id_instrument_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('participant_id', 'survey_id', name=op.f('uq_response_participant_id_survey_id'))
    )
    op.create_table('answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('question_key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_answer_response_id_response')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer')),
    sa.UniqueConstraint('response_id', 'question_key', name=op.f('uq_answer_response_id_question_key'))
    )


def downgrade():
    op.drop_table('answer')
    op.drop_table('response')
    op.drop_table('consent_item_answer')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_record_participant_id'))

    op.drop_table('consent_record')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_study_id'))

    op.drop_table('participant')
    op.drop_table('study')
    op.drop_table('instrument_version')
