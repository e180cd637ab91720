"""indexes for the nightly run over a large history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:30:00

The escalation step reads the recent window of every client (message.sent_at) and the rollups of the days before
it (clientday by version and day); the analysis step asks which messages this analyzer version has analysed
(analysis by version and message). Without these each was a scan of the whole table.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_sent_at", ["sent_at"], unique=False)
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.create_index("ix_analysis_version_message", ["analyzer_version", "message_id"], unique=False)
    with op.batch_alter_table("clientday", schema=None) as batch_op:
        batch_op.create_index("ix_clientday_version_day", ["analyzer_version", "day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clientday", schema=None) as batch_op:
        batch_op.drop_index("ix_clientday_version_day")
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_index("ix_analysis_version_message")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_sent_at")
