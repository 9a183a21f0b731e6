"""runtime shapes: each runtime records its shape, background flag and accelerator devices

The usage ledger counts accelerator seconds by shape, and a runtime re-attached after a restart
of the control plane keeps its shape, background execution and devices.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("runtimes") as batch:
        batch.add_column(sa.Column("shape", sa.String(100), nullable=False,
                                   server_default="standard"))
        batch.add_column(sa.Column("background", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("devices", sa.JSON, nullable=False, server_default="[]"))
    op.create_index("ix_runtimes_person_started", "runtimes", ["person_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_runtimes_person_started", "runtimes")
    with op.batch_alter_table("runtimes") as batch:
        batch.drop_column("devices")
        batch.drop_column("background")
        batch.drop_column("shape")
