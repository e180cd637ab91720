"""client day rollups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:10:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clientday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("analyzer_version", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("msgs_in", sa.Integer(), nullable=False),
        sa.Column("msgs_out", sa.Integer(), nullable=False),
        sa.Column("mood_sum", sa.Float(), nullable=False),
        sa.Column("positive_in", sa.Integer(), nullable=False),
        sa.Column("negative_in", sa.Integer(), nullable=False),
        sa.Column("objections", sa.Integer(), nullable=False),
        sa.Column("objections_open", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("conflicts_open", sa.Integer(), nullable=False),
        sa.Column("escalate_marked", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("reply_minutes_sum", sa.Float(), nullable=False),
        sa.Column("reply_minutes_max", sa.Float(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "analyzer_version", "day"),
    )
    with op.batch_alter_table("clientday", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clientday_client_id"), ["client_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clientday", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clientday_client_id"))
    op.drop_table("clientday")
