"""What automations ask of other packages, registered by those packages at start-up.

Automations need to know a member's health score, whether they are in a segment, their
birthday, and whether they consented to marketing or surveys. Those facts belong to the
lifecycle, segments and profiles packages; this module only names the questions, and each
package registers its answer with ``register_*(app, function)``. Nothing here imports them,
so the dependency points from them to us and there is no cycle.

``app.automations.sources`` registers every answer (consent, birthdays, segments, health).
Were one missing:

* **segments**: an automation limited to a segment enrols nobody (and logs why);
* **health**: the ``health_below`` trigger finds nobody;
* **birthdays**: the ``birthday`` trigger finds nobody;
* **consent**: every member counts as consenting (the programme's membership terms cover its
  messages); once the profiles package registers, only members with a recorded consent for
  the purpose (``marketing`` for coupons and push, ``surveys`` for surveys) are enrolled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime

from flask import Flask, current_app

log = logging.getLogger("app.automations")

SEGMENTS_KEY = "lw_automation_segment_filter"
HEALTH_KEY = "lw_automation_health_source"
BIRTHDAYS_KEY = "lw_automation_birthday_source"
CONSENT_KEY = "lw_automation_consent_filter"

# (segment id, candidate member ids, as of) -> the candidates that are in the segment
SegmentFilter = Callable[[int, Sequence[int], datetime], set[int]]
# as of -> member id -> health score 0-100
HealthSource = Callable[[datetime], dict[int, int]]
# day -> ids of members whose birthday it is
BirthdaySource = Callable[[date], list[int]]
# (member ids, purpose) -> the members who consented to the purpose
ConsentFilter = Callable[[list[int], str], set[int]]


def register_segment_filter(app: Flask, function: SegmentFilter) -> None:
    """Answer "which of these members are in segment N?"."""
    app.extensions[SEGMENTS_KEY] = function


def register_health_source(app: Flask, function: HealthSource) -> None:
    """Answer "what is each member's health score?"."""
    app.extensions[HEALTH_KEY] = function


def register_birthday_source(app: Flask, function: BirthdaySource) -> None:
    """Answer "whose birthday is it on this day?"."""
    app.extensions[BIRTHDAYS_KEY] = function


def register_consent_filter(app: Flask, function: ConsentFilter) -> None:
    """Answer "which of these members consented to this purpose?"."""
    app.extensions[CONSENT_KEY] = function


def members_in_segment(segment_id: int, member_ids: Sequence[int], as_of: datetime) -> set[int]:
    """Return the members of ``member_ids`` in the segment (none without a segment source)."""
    function: SegmentFilter | None = current_app.extensions.get(SEGMENTS_KEY)
    if function is None:
        log.warning("segment %s: no segment source is registered; nobody is enrolled", segment_id)
        return set()
    return function(segment_id, member_ids, as_of)


def health_scores(as_of: datetime) -> dict[int, int]:
    """Return member id -> health score (empty without a health source)."""
    function: HealthSource | None = current_app.extensions.get(HEALTH_KEY)
    return {} if function is None else function(as_of)


def birthdays_on(day: date) -> list[int]:
    """Return the members whose birthday is ``day`` (none without a birthday source)."""
    function: BirthdaySource | None = current_app.extensions.get(BIRTHDAYS_KEY)
    return [] if function is None else function(day)


def members_with_consent(member_ids: list[int], purpose: str) -> set[int]:
    """Return the members who consented to ``purpose`` (all of them without a consent source)."""
    function: ConsentFilter | None = current_app.extensions.get(CONSENT_KEY)
    return set(member_ids) if function is None else function(member_ids, purpose)


def has_segment_source() -> bool:
    """Tell whether a segment source is registered."""
    return SEGMENTS_KEY in current_app.extensions
