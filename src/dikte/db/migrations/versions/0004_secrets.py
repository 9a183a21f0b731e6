"""secrets: each person's secrets, encrypted, and the notebooks granted access to each

``secrets.ciphertext`` is AES-256-GCM (nonce + ciphertext + tag) under a key derived from the
server key for the purpose "secrets" (see dikte.keys and dikte.db.secrets); the value itself is
never stored. ``secret_grants`` names the notebooks (drive paths) allowed to read a secret.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("person_id", "name", name="uq_secrets_person_name"),
    )
    op.create_table(
        "secret_grants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret_id", sa.Integer, sa.ForeignKey("secrets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("notebook_path", sa.String(4096), nullable=False),
        sa.Column("notebook_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("secret_id", "notebook_key", name="uq_secret_grants_secret_notebook"),
    )


def downgrade() -> None:
    op.drop_table("secret_grants")
    op.drop_table("secrets")
