"""accounts: passwords, tiers, disabled people, scoped expiring tokens, server-side web sessions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200)))
        batch.add_column(sa.Column("disabled", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("tier", sa.String(100), nullable=False,
                                   server_default="free"))
        batch.add_column(sa.Column("external_subject", sa.String(500)))
        batch.create_unique_constraint("uq_people_external_subject", ["external_subject"])
    with op.batch_alter_table("tokens") as batch:
        # tokens made before scopes existed keep what they could do: everything
        batch.add_column(sa.Column("scopes", sa.String(100), nullable=False,
                                   server_default="read write admin"))
        batch.add_column(sa.Column("expires_at", sa.Float))
        batch.add_column(sa.Column("last_used_at", sa.Float))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
    )
    op.create_index("ix_web_sessions_person", "web_sessions", ["person_id"])
    op.create_index("ix_tokens_person", "tokens", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_tokens_person", "tokens")
    op.drop_index("ix_web_sessions_person", "web_sessions")
    op.drop_table("web_sessions")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("uq_people_external_subject", type_="unique")
        batch.drop_column("external_subject")
        batch.drop_column("tier")
        batch.drop_column("disabled")
        batch.drop_column("password_hash")
