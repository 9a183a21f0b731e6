"""invitations and sign-in failures: single-use invitation links, a rate limit every process shares

``invitations`` holds the SHA-256 of each code (never the code), the name, tier and role the
person will have, who invited them, when it expires, and when it was used or withdrawn.
``sign_in_failures`` holds one row per failed sign-in per key (the SHA-256 of ``name:...`` or
``addr:...``) for the rate limit's window, so the limit holds across restarts and processes.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(100), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("invited_by", sa.Integer, sa.ForeignKey("people.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="SET NULL")),
    )
    op.create_index("ix_invitations_name", "invitations", ["name"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_sign_in_failures_key_hash", "sign_in_failures", ["key_hash"])
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_at", "sign_in_failures")
    op.drop_index("ix_sign_in_failures_key_hash", "sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_invitations_name", "invitations")
    op.drop_table("invitations")
