"""The till pipeline: every till operation runs the same steps, in one order, in one function.

``run_till_operation`` is the whole story of a till request, read top to bottom:

1. **note the attempt**: the attempt log records the request whatever its outcome
   (``app.fraud.attempts``; written at the end, in the transaction that survives);
2. **claim the idempotency key**: a retry with the same ``Idempotency-Key`` gets the first
   answer back and stops here (``app.idempotency``);
3. **read the request**: refusals the request alone decides, before anything is looked up (a
   coupon code's check symbol, a currency the programme does not take);
4. **lockout**: a till or address that guessed too often is refused (``too-many-attempts``);
5. **present the card**: an ``LW1:``/``LW2:`` code or a scan token names the card and its
   member, or is refused with the card's reason (``app.cards.presentation``);
6. **blocks**: a card or member blocked by staff is refused (``app.fraud.blocks``);
7. **lock the member**: ``SELECT ... FOR UPDATE`` of the member row, so one member's
   earnings, redemptions, refunds and tier changes run one at a time until commit;
8. **the operation's own checks**: the coupon's terms, the receipt, the refund amount;
9. **risk assessment**: the fraud rules (``app.fraud.verdict``) may flag, ask for a step-up
   or deny;
10. **apply**: book the purchase, redeem the coupon, refund, issue the scan token; the domain
    events it publishes reach the outbox together when it ends (``batched_events``);
11. **answer**: stored under the idempotency key, so a retry gets exactly this.

Steps 5 to 7 cost one statement (and a rotating code its conditional UPDATE): the code's own
checks (format, signature, scan token) need no database, then the card, its block and its
member (locked or not) are read together, and ``app.cards.presentation.accept_card`` decides
on the card's row. An operation that does not lock the member (a scan) reads the card's last
accepted use for the impossible-travel rule in the same statement; one that locks reads it
after the lock, when the rules run, so that a use committed while it waited is seen.

A refusal in steps 5 and 8 that looks like guessing (a forged card, an unknown coupon code)
counts towards the lockout. Each operation (``app.till.operations``) fills in steps 3, 5, 8,
9 and 10 with plain functions of typed values; nothing here reads ``flask.g``: the till, its
store and cashier and the client's address arrive once, as a ``TillContext``, made at the edge
(``app.till.routes``). The rules see a ``RiskContext``, never the request.

Offline sync (``app.till.sync``) runs the same function for each queued event; it claims the
event's own id as the idempotency key and writes the event's attempt itself (``offline=True``
skips steps 1 and 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, true

from app.accounts.models import Member
from app.campaigns.redemption import TillPlace
from app.cards.models import Card
from app.cards.presentation import (
    CARD_STATE_COLUMNS,
    CardRefused,
    CardState,
    PresentedCard,
    accept_card,
    read_card_code,
)
from app.db import utcnow
from app.errors import Problem
from app.extensions import db
from app.fraud.attempts import note_attempt, update_attempt
from app.fraud.blocks import card_blocked, member_blocked
from app.fraud.lockout import check_guess_lockout, count_failed_guess
from app.fraud.models import CardBlock
from app.fraud.rules import (
    LAST_ACCEPTED_USE,
    UNREAD,
    Caller,
    PriorUse,
    RiskContext,
    Unread,
    prior_use_of,
    prior_use_params,
)
from app.fraud.settings import rule_settings
from app.fraud.verdict import Approval, assess
from app.idempotency import (
    IdempotencyKey,
    answer_idempotent,
    claim_idempotency_key,
    unseal_answer,
)
from app.ledger.purchases import TillStaff
from app.ledger.service import unknown_member
from app.outbox.service import batched_events


@dataclass(frozen=True)
class TillContext:
    """Where a till request happens and who makes it, taken from the till session once."""

    till_id: int
    store_id: int
    staff_id: int
    role: str
    client_address: str | None = None
    approval: Approval | None = None  # a manager's approval shown with the request
    staff_email: str | None = None  # the cashier's e-mail, read with the till's block

    @property
    def scope(self) -> str:
        """Return the idempotency scope of this till (keys are unique per till)."""
        return f"till:{self.till_id}"

    @property
    def place(self) -> TillPlace:
        """Return the till as the coupon services name it."""
        return TillPlace(self.till_id, self.store_id, self.staff_id, self.role)

    @property
    def staff(self) -> TillStaff:
        """Return the till as the ledger names it."""
        return TillStaff(self.till_id, self.store_id, self.staff_id)

    @property
    def caller(self) -> Caller:
        """Return the till as the fraud rules see it."""
        return Caller(
            "till",
            self.staff_id,
            till_id=self.till_id,
            store_id=self.store_id,
            client_address=self.client_address,
            email=self.staff_email,
        )


@dataclass
class Visit:
    """What the pipeline learnt about the customer: the card shown and the member."""

    now: datetime
    card: PresentedCard | None = None
    member_id: int | None = None
    member: Member | None = None  # the member's row, locked in step 7
    # the card's last accepted use, read with the card when the member is not locked
    prior_use: PriorUse | None | Unread = UNREAD


@dataclass(frozen=True)
class TillAnswer:
    """The answer to a till operation: its body and status, and whether it was a replay."""

    body: Any
    status: int
    replayed: bool = False


@dataclass
class TillOperation:
    """One kind of till operation: the steps it fills in. Subclasses override what they need.

    ``name`` names the operation in the attempt log and as the idempotency operation;
    ``payload`` is what the idempotency fingerprint covers (the request body).
    """

    payload: Mapping[str, Any]
    name: str = "till-operation"
    attempt_name: str | None = None  # the attempt log's name, when it differs from ``name``
    status: int = 200
    idempotent: bool = True  # a write that needs an Idempotency-Key
    guarded: bool = True  # step 4: codes are presented, so a guessing till is locked out
    locks_member: bool = True  # step 7
    dry_run: bool = False  # validate: run every step, then undo everything
    attempt_code: str | None = None  # the code whose fingerprint the attempt log keeps
    facts: dict[str, Any] = field(default_factory=dict)  # what the steps learnt, for apply

    def read(self, till: TillContext) -> None:
        """Step 3: refuse what the request alone gets wrong."""

    def card_code(self) -> str | None:
        """Step 5: the card code, rotating code or scan token presented, if any."""
        return None

    def member_without_card(self, till: TillContext) -> int | None:
        """Step 5 without a card: the member the operation is about (a refund's buyer)."""
        return None

    def replayed_card_code(self, till: TillContext, refusal: CardRefused) -> Any | None:
        """Step 5: the answer to give instead of a ``code-replayed`` refusal, if any."""
        return None

    def check(self, till: TillContext, visit: Visit) -> None:
        """Step 8: the operation's own checks."""

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Step 9: what the fraud rules should judge (``None``: no rules for this operation)."""
        return None

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Step 10: do it; return the JSON-ready answer."""
        raise NotImplementedError


def run_till_operation(
    till: TillContext, operation: TillOperation, *, offline: bool = False
) -> TillAnswer:
    """Run one till operation through every step of the pipeline, in order."""
    claim = None
    if not offline:  # 1. note the attempt
        note_attempt(operation.attempt_name or operation.name, code=operation.attempt_code)
        if operation.idempotent:  # 2. claim the idempotency key
            claim = claim_idempotency_key(till.scope, operation.name, operation.payload)
            if claim.replay is not None:
                return TillAnswer(claim.replay, claim.replay.status_code, replayed=True)
    savepoint = db.session.begin_nested() if operation.dry_run else None
    try:
        operation.read(till)  # 3. read the request
        if operation.guarded:
            check_guess_lockout()  # 4. lockout
        visit = Visit(now=utcnow())
        try:
            # 5. present the card, 6. blocks, 7. lock the member: one statement reads the card,
            # its block and its member, and locks the member's row
            replayed = present(till, operation, visit, lock=operation.locks_member)
            if replayed is not None:
                return TillAnswer(replayed, operation.status)
            operation.check(till, visit)  # 8. the operation's own checks
        except Problem as refusal:
            count_failed_guess(refusal.type)
            raise
        risk = operation.risk(till, visit)
        if risk is not None:
            assess(risk, till.approval)  # 9. risk assessment
        with batched_events():  # the events of the step reach the outbox in one round trip
            body = operation.apply(till, visit)  # 10. apply
    finally:
        if savepoint is not None:
            savepoint.rollback()
    if claim is not None:  # 11. answer
        return TillAnswer(answer_idempotent(claim, body, operation.status), operation.status)
    return TillAnswer(body, operation.status)


# Steps 5 to 7 in one statement, built once: the card a checked code names (the columns
# ``accept_card`` decides on), its member, and the card's block; ``FOR UPDATE`` of the member's
# row when the operation writes for them, so one member's earnings, redemptions, refunds and
# tier changes run one at a time until commit.
_CARD_AND_MEMBER = (
    select(Member, CardBlock.card_id, *CARD_STATE_COLUMNS)
    .select_from(Card)
    .join(Member, Member.id == Card.member_id)
    .outerjoin(CardBlock, CardBlock.card_id == bindparam("card_key"))
    .where(Card.id == bindparam("card_id"))
    .execution_options(populate_existing=True)
)
_CARD_AND_LOCKED_MEMBER = _CARD_AND_MEMBER.with_for_update(of=Member)
# Without the lock, the same statement also reads the card's last accepted use for the
# impossible-travel rule (with the lock it would read the history from before the wait).
_CARD_MEMBER_AND_PRIOR_USE = _CARD_AND_MEMBER.outerjoin(LAST_ACCEPTED_USE, true()).add_columns(
    *LAST_ACCEPTED_USE.c
)


def present(till: TillContext, operation: TillOperation, visit: Visit, *, lock: bool) -> Any:
    """Steps 5 to 7: accept the card shown, refuse a blocked card or member, lock the member.

    The code's own checks (format, signature, scan token) need no database; then one
    statement reads the card, its block and its member (locked when ``lock``). Returns the
    operation's answer to a replayed live code when it has one (``None`` otherwise). An
    operation without a card names its member (a refund's buyer): locked, never refused.
    """
    code = operation.card_code()
    if code is None:
        visit.member_id = operation.member_without_card(till)
        load_member(visit, lock=lock)
        return None
    row = None
    try:
        shown = read_card_code(code, till.till_id, visit.now)
        params = {"card_id": shown.card_id, "card_key": str(shown.card_id)}
        if lock:
            row = db.session.execute(_CARD_AND_LOCKED_MEMBER, params).first()
        else:
            params |= prior_use_params(shown.card_id, rule_settings(), visit.now)
            row = db.session.execute(_CARD_MEMBER_AND_PRIOR_USE, params).first()
            if row is not None:
                visit.prior_use = prior_use_of(*row[6:9])
        visit.card = accept_card(shown, CardState(*row[2:6]) if row else None, visit.now)
    except CardRefused as refusal:
        update_attempt(member_id=refusal.member_id, card_id=refusal.card_id)
        if refusal.type == "code-replayed":
            answer = operation.replayed_card_code(till, refusal)
            if answer is not None:
                return answer
        raise
    assert row is not None  # accept_card refuses a card without a row
    member, card_block = row[0], row[1]
    visit.member_id = member.id
    update_attempt(member_id=member.id, card_id=visit.card.card_id)
    if card_block is not None:
        raise card_blocked()
    if member.blocked:
        raise member_blocked()
    visit.member = member
    return None


# A member reached without a card (see ``load_member``), built once.
_READ_MEMBER = (
    select(Member)
    .where(Member.id == bindparam("member_id"))
    .execution_options(populate_existing=True)
)
_LOCK_MEMBER = _READ_MEMBER.with_for_update(of=Member)


def load_member(visit: Visit, *, lock: bool) -> None:
    """Read the member an operation names without a card, locked when ``lock``; not refused.

    Taking points back from a blocked member (a refund) is never refused.
    """
    if visit.member_id is None:
        return
    query = _LOCK_MEMBER if lock else _READ_MEMBER
    member = db.session.execute(query, {"member_id": visit.member_id}).scalar()
    if member is None:
        raise unknown_member(visit.member_id)
    visit.member = member


def stored_answer(scope: str, key: str) -> Any | None:
    """Return the JSON answer stored under an idempotency key, if there is one."""
    row = db.session.get(IdempotencyKey, (scope, key))
    if row is None or row.response_body is None:
        return None
    return json.loads(unseal_answer(row.scope, row.key, row.response_body))
