"""access requests grants register

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("os_user", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("who", sa.String(length=128), nullable=True),
        sa.Column("unit", sa.String(length=128), nullable=True),
        sa.Column("documents", sa.JSON(), nullable=True),
        sa.Column("what", sa.String(length=256), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("approver", sa.String(length=128), nullable=True),
        sa.Column("handled_by", sa.String(length=128), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("prev_hash"),
    )
    with op.batch_alter_table("register_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_register_entry_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_register_entry_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_register_entry_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_register_entry_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_register_entry_seq"), ["seq"], unique=True)

    op.create_table(
        "register_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("register_signature", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_register_signature_seq"), ["seq"], unique=False)

    op.create_table(
        "principal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=True),
        sa.Column("unit", sa.String(length=128), nullable=True),
        sa.Column("officer_pk", sa.Integer(), nullable=True),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("os_user", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_pk"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("os_user"),
    )
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_principal_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_principal_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_principal_officer_pk"), ["officer_pk"], unique=False)

    op.create_table(
        "access_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["principal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"],
            ["principal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["principal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_request_requester_id"), ["requester_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_request_scope"), ["scope"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_request_status"), ["status"], unique=False)

    op.create_table(
        "access_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("storage_version", sa.String(length=1024), nullable=True),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_document_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_document_sha256"), ["sha256"], unique=False)

    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("grantee_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["principal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grantee_id"],
            ["principal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["principal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_grant_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_grant_grantee_id"), ["grantee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_grant_scope"), ["scope"], unique=False)

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidentiality", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("confidentiality")

    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_grant_scope"))
        batch_op.drop_index(batch_op.f("ix_access_grant_grantee_id"))
        batch_op.drop_index(batch_op.f("ix_access_grant_expires_at"))

    op.drop_table("access_grant")
    with op.batch_alter_table("access_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_document_sha256"))
        batch_op.drop_index(batch_op.f("ix_access_document_request_id"))

    op.drop_table("access_document")
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_request_status"))
        batch_op.drop_index(batch_op.f("ix_access_request_scope"))
        batch_op.drop_index(batch_op.f("ix_access_request_requester_id"))

    op.drop_table("access_request")
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_principal_officer_pk"))
        batch_op.drop_index(batch_op.f("ix_principal_name"))
        batch_op.drop_index(batch_op.f("ix_principal_kind"))

    op.drop_table("principal")
    with op.batch_alter_table("register_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_register_signature_seq"))

    op.drop_table("register_signature")
    with op.batch_alter_table("register_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_register_entry_seq"))
        batch_op.drop_index(batch_op.f("ix_register_entry_request_id"))
        batch_op.drop_index(batch_op.f("ix_register_entry_grant_id"))
        batch_op.drop_index(batch_op.f("ix_register_entry_event"))
        batch_op.drop_index(batch_op.f("ix_register_entry_at"))

    op.drop_table("register_entry")
