"""people, tokens and runtimes

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "runtimes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("notebook_path", sa.String(4096), nullable=False),
        sa.Column("image", sa.String(200), nullable=False),
        sa.Column("backend", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("end_reason", sa.String(1000)),
        sa.Column("backend_state", sa.JSON, nullable=False),
        sa.Column("exec_state", sa.JSON, nullable=False),
    )
    op.create_index("ix_runtimes_status", "runtimes", ["status"])


def downgrade() -> None:
    op.drop_index("ix_runtimes_status", "runtimes")
    op.drop_table("runtimes")
    op.drop_table("tokens")
    op.drop_table("people")
