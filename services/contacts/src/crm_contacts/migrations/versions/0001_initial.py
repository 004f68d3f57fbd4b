"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 15:39:28.679787

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from crmkit.runtime_tables import create_runtime_tables


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Contacts, accounts, tags, identities, timeline, custom fields, merges, audit; plus the
    runtime tables (outbox, inbox, dead letters, idempotency keys)."""
    create_runtime_tables(op.get_bind())
    op.create_table('accounts',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('parent_account_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_owner', ['owner_id', 'seq'], unique=False)
        batch_op.create_index('ix_accounts_region', ['region', 'seq'], unique=False)
        batch_op.create_index('ix_accounts_updated', ['updated_at'], unique=False)

    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('contact_merges',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('survivor_id', sa.String(length=36), nullable=False),
    sa.Column('merged_id', sa.String(length=36), nullable=False),
    sa.Column('merged_by', sa.String(length=100), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merged_snapshot', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('contact_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_merges_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_merges_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('contacts',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('company_name', sa.String(length=300), nullable=False),
    sa.Column('merged_into_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_owner', ['owner_id', 'seq'], unique=False)
        batch_op.create_index('ix_contacts_region', ['region', 'seq'], unique=False)
        batch_op.create_index('ix_contacts_updated', ['updated_at'], unique=False)

    op.create_table('custom_field_definitions',
    sa.Column('entity', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'key')
    )
    op.create_table('entity_identities',
    sa.Column('entity', sa.String(length=10), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'entity_id', 'kind', 'value')
    )
    with op.batch_alter_table('entity_identities', schema=None) as batch_op:
        batch_op.create_index('ix_entity_identities_value', ['entity', 'kind', 'value'], unique=False)

    op.create_table('entity_tags',
    sa.Column('entity', sa.String(length=10), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('entity', 'entity_id', 'tag')
    )
    with op.batch_alter_table('entity_tags', schema=None) as batch_op:
        batch_op.create_index('ix_entity_tags_tag', ['entity', 'tag'], unique=False)

    op.create_table('timeline_entries',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('contact_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_contact', ['contact_id', 'occurred_at', 'seq'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    """Downgrade schema."""
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_contact')

    op.drop_table('timeline_entries')
    with op.batch_alter_table('entity_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_entity_tags_tag')

    op.drop_table('entity_tags')
    with op.batch_alter_table('entity_identities', schema=None) as batch_op:
        batch_op.drop_index('ix_entity_identities_value')

    op.drop_table('entity_identities')
    op.drop_table('custom_field_definitions')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_updated')
        batch_op.drop_index('ix_contacts_region')
        batch_op.drop_index('ix_contacts_owner')

    op.drop_table('contacts')
    with op.batch_alter_table('contact_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_merges_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_contact_merges_merged_id'))

    op.drop_table('contact_merges')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entity')

    op.drop_table('audit_log')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_updated')
        batch_op.drop_index('ix_accounts_region')
        batch_op.drop_index('ix_accounts_owner')

    op.drop_table('accounts')
    # ### end Alembic commands ###
