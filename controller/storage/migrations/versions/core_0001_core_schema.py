"""core schema: units, stations, clusters, agents, users, roles, audit, signing

Revision ID: core_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.storage.types import UTCDateTime


revision = 'core_0001'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:

    op.create_table('admin_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('level', sa.Enum('province', 'district', 'commune', 'village', name='unitlevel', native_enum=False, length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('admin_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_unit_key'), ['key'], unique=True)

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('unix_user', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unix_user')
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_username'), ['username'], unique=True)

    op.create_table('admin_unit_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'valid_from')
    )
    with op.batch_alter_table('admin_unit_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_unit_version_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_unit_version_unit_id'), ['unit_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_digest')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_commune_at', ['commune_id', 'at'], unique=False)

    op.create_table('counter',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('commune_id', 'name')
    )
    op.create_table('role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('viewer', 'operator', 'approver', 'technician', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('granted_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'unit_id', 'role')
    )
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_grant_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_grant_user_id'), ['user_id'], unique=False)

    op.create_table('signing_epoch',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('bumped_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('commune_id')
    )
    op.create_table('signing_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('seed', sa.LargeBinary(length=32), nullable=False),
    sa.Column('status', sa.Enum('active', 'trusted', 'revoked', name='keystatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_id')
    )
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_key_commune_id'), ['commune_id'], unique=False)

    op.create_table('station',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('ip', 'wired', 'fm', 'hybrid', name='stationkind', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'key')
    )
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_station_commune_id'), ['commune_id'], unique=False)

    op.create_table('cluster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('ip', 'wired', 'fm', name='clusterkind', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
    sa.ForeignKeyConstraint(['village_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'key')
    )
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_village_id'), ['village_id'], unique=False)

    op.create_table('agent',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'active', 'revoked', name='agentstatus', native_enum=False, length=16), nullable=False),
    sa.Column('curve_public_key', sa.LargeBinary(length=32), nullable=True),
    sa.Column('broker_password_hash', sa.String(length=256), nullable=True),
    sa.Column('serial', sa.String(length=64), nullable=True),
    sa.Column('sim_iccid', sa.String(length=32), nullable=True),
    sa.Column('imei', sa.String(length=32), nullable=True),
    sa.Column('install_date', sa.Date(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('notes', sa.String(length=1000), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('enrolled_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], ),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cluster_id'),
    sa.UniqueConstraint('curve_public_key')
    )
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_commune_id'), ['commune_id'], unique=False)

    op.create_table('enrolment_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('issued_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('claimed_at', UTCDateTime(), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], ),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['issued_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_digest')
    )
    with op.batch_alter_table('enrolment_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_code_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_code_commune_id'), ['commune_id'], unique=False)




    _make_audit_log_append_only()


AUDIT_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
}
DROP_AUDIT_TRIGGERS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_log_no_update",
               "DROP TRIGGER IF EXISTS audit_log_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
                   "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                   "DROP FUNCTION IF EXISTS audit_log_append_only()"],
}


def _make_audit_log_append_only() -> None:
    """The audit log refuses UPDATE and DELETE in the database itself."""
    for statement in AUDIT_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_AUDIT_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)

    with op.batch_alter_table('enrolment_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_code_commune_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_code_agent_id'))

    op.drop_table('enrolment_code')
    with op.batch_alter_table('agent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_commune_id'))

    op.drop_table('agent')
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_village_id'))
        batch_op.drop_index(batch_op.f('ix_cluster_station_id'))
        batch_op.drop_index(batch_op.f('ix_cluster_commune_id'))

    op.drop_table('cluster')
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_station_commune_id'))

    op.drop_table('station')
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_key_commune_id'))

    op.drop_table('signing_key')
    op.drop_table('signing_epoch')
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_grant_user_id'))
        batch_op.drop_index(batch_op.f('ix_role_grant_unit_id'))

    op.drop_table('role_grant')
    op.drop_table('counter')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_commune_at')

    op.drop_table('audit_log')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('admin_unit_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_unit_version_unit_id'))
        batch_op.drop_index(batch_op.f('ix_admin_unit_version_parent_id'))

    op.drop_table('admin_unit_version')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_username'))

    op.drop_table('app_user')
    with op.batch_alter_table('admin_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_unit_key'))

    op.drop_table('admin_unit')

