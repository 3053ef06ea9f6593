"""What the privacy package exports and erases of the lifecycle's per-member data.

Stage, health score and model outlook are profiling of the member (GDPR Art. 15(1)(h)): they
are exported with the rest of the member's data and deleted when the member is erased. The
registration lives here, not next to the lifecycle models, because the privacy package reaches
the lifecycle through coupons and segments; registering from there would close an import cycle.
Imported by ``app.members.routes``, so it runs when the app is built.
"""

from __future__ import annotations

from sqlalchemy import delete

from app.extensions import db
from app.lifecycle.models import MemberLifecycle, MemberStageChange
from app.privacy.registry import register_eraser, register_member_table


def erase_lifecycle(member_id: int) -> None:
    """Delete the member's lifecycle figures and stage history."""
    db.session.execute(delete(MemberStageChange).where(MemberStageChange.member_id == member_id))
    db.session.execute(delete(MemberLifecycle).where(MemberLifecycle.member_id == member_id))


register_member_table("lifecycle", "member_lifecycle")
register_member_table("stage_changes", "member_stage_changes")
register_eraser("lifecycle", erase_lifecycle)
