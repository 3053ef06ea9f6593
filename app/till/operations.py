"""The till's operations, each as the steps it fills in of the pipeline (``app.till.pipeline``).

===================  =========================  ==========================================
operation            step 5 (present)            steps 8–10 (checks, rules, apply)
===================  =========================  ==========================================
``Scan``             the card                   rules ``scan``; a scan token for the visit
``BookPurchase``     the card                   rules ``purchase``; book, earn, stamps
``RefundPurchase``   the receipt's buyer        amount left; rules ``refund``; take back
``RedeemCoupon``     the card, if shown         the coupon's terms; rules; redeem once
``ValidateCoupon``   the card, if shown         the coupon's terms; a dry run, undone
``ReverseRedemption``  none                     who may reverse, and when; reverse
``LookupVisit``      none: the member by id       the active card (``lookup``); rules ``scan``
===================  =========================  ==========================================

Each class holds the request's values and what the steps learnt; its methods are plain
functions of them, the ``TillContext`` and the ``Visit``.

A double scan is not fraud: the same rotating ``LW2:`` code scanned twice at the same till
within ``DOUBLE_SCAN_SECONDS`` (a cashier pressing scan twice, a till retrying) gets the first
scan's answer again, scan token included, instead of ``code-replayed``. The answer is kept under
the code's fingerprint in the till's idempotency scope. The same code at another till, or
later, is still refused as a replay and raises the ``replayed-code`` event.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.campaigns.codes import read_code
from app.campaigns.redemption import (
    Evaluation,
    OfflineContext,
    evaluate_coupon,
    redeem_coupon,
    reverse_redemption,
    validation_answer,
)
from app.cards.presentation import CardRefused, issue_scan_token, present_looked_up_card
from app.cards.service import active_card
from app.db import utcnow
from app.extensions import db
from app.fraud.attempts import fingerprint_code, update_attempt
from app.fraud.blocks import card_blocked, member_blocked
from app.fraud.models import CardBlock
from app.fraud.rules import RiskContext
from app.fraud.verdict import risk_context
from app.idempotency import IdempotencyKey, seal_answer, unseal_answer
from app.ledger.models import Purchase
from app.ledger.purchases import (
    accepted_programme,
    book_purchase,
    book_refund,
    check_refund_amount,
    lock_receipt,
    receipt_ref,
)
from app.member_numbers import format_member_number
from app.rewards.stamps import record_stamps_for_purchase, reverse_stamps_for_refund
from app.till.desk import member_summary, refuse_spending_after_lookup
from app.till.pipeline import TillContext, TillOperation, Visit

DOUBLE_SCAN_SECONDS = 120
DOUBLE_SCAN_OPERATION = "scan-lw2"


def judge_as_scan(till: TillContext, visit: Visit) -> RiskContext:
    """What the fraud rules judge when a card is shown or a member is found at the till."""
    assert visit.card is not None
    return risk_context(
        "scan",
        till.caller,
        member_id=visit.member_id,
        card_id=visit.card.card_id,
        credential=visit.card.credential,
        prior_use=visit.prior_use,
    )


def signed_scan_answer(till: TillContext, visit: Visit, member: dict[str, Any]) -> dict[str, Any]:
    """The answer to a scan: the card, the member as shown, and a scan token for the visit."""
    assert visit.card is not None
    token, expires_at = issue_scan_token(visit.card, till.till_id)
    return {
        "card_id": str(visit.card.card_id),
        "member": member,
        "credential": visit.card.credential,
        "scan_token": token,
        "scan_token_expires_at": expires_at.isoformat(),
    }


@dataclass
class Scan(TillOperation):
    """Scan a member card and hand out a scan token for the rest of the visit."""

    name: str = "scan"
    idempotent: bool = False
    locks_member: bool = False

    def __post_init__(self) -> None:
        self.attempt_code = self.payload["code"]

    def card_code(self) -> str | None:
        """Return the code scanned."""
        return str(self.payload["code"])

    def _double_scan_key(self) -> str:
        return f"scan:{fingerprint_code(self.payload['code'])}"

    def replayed_card_code(self, till: TillContext, refusal: CardRefused) -> Any | None:
        """Answer a live code scanned twice at this till within the window with the first scan."""
        first = db.session.get(IdempotencyKey, (till.scope, self._double_scan_key()))
        if first is None or first.response_body is None:
            return None
        if utcnow() - first.created_at > timedelta(seconds=DOUBLE_SCAN_SECONDS):
            return None
        return json.loads(unseal_answer(first.scope, first.key, first.response_body))

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Judge the scan."""
        return judge_as_scan(till, visit)

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Sign the scan token and show the member."""
        assert visit.card is not None and visit.member is not None
        answer = signed_scan_answer(
            till,
            visit,
            {
                "member_number": format_member_number(visit.member.id),
                "display_name": visit.member.display_name,
                "points_balance": visit.member.points_balance,
                "tier": visit.member.tier,
            },
        )
        if visit.card.credential == "rotating":
            db.session.add(
                IdempotencyKey(
                    scope=till.scope,
                    key=self._double_scan_key(),
                    operation=DOUBLE_SCAN_OPERATION,
                    request_hash="",
                    status_code=200,
                    response_body=seal_answer(
                        till.scope, self._double_scan_key(), json.dumps(answer)
                    ),
                    created_at=visit.now,
                )
            )
        return answer


@dataclass
class BookPurchase(TillOperation):
    """Book a purchase for the card shown and credit the points it earns."""

    name: str = "purchase"
    status: int = 201
    offline_time: datetime | None = None

    def __post_init__(self) -> None:
        self.attempt_code = self.payload["code"]

    def read(self, till: TillContext) -> None:
        """Refuse a currency the programme does not take (before the card is touched)."""
        self.facts["programme"] = accepted_programme(self.payload["currency"])

    def card_code(self) -> str | None:
        """Return the card presented."""
        return str(self.payload["code"])

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Judge the purchase, under the member lock."""
        assert visit.card is not None
        return risk_context(
            "purchase",
            till.caller,
            member_id=visit.member_id,
            card_id=visit.card.card_id,
            credential=visit.card.credential,
            amount_cents=self.payload["amount_cents"],
            member_email=visit.member.email if visit.member else None,
        )

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Book the receipt, earn the points, add the stamps."""
        assert visit.card is not None and visit.member is not None
        body = self.payload
        lines = list(body.get("lines") or [])
        booked = book_purchase(
            visit.member,
            at=till.staff,
            card_id=visit.card.card_id,
            receipt_id=body["receipt_id"],
            amount_cents=body["amount_cents"],
            lines=lines,
            programme=self.facts["programme"],
            now=visit.now,
        )
        stamps = record_stamps_for_purchase(
            visit.member.id,
            lines,
            receipt_ref(till.store_id, body["receipt_id"]),
            receipt_is_new=True,  # book_purchase inserted it, or refused a duplicate
        )
        return {
            "purchase_id": booked.purchase_id,
            "entry_id": booked.entry.id,
            "points_earned": booked.points_earned,
            "points_balance": booked.entry.balance_after,
            "tier": booked.tier.code,
            "promotion": booked.promotion.name if booked.promotion else None,
            "stamps": stamps,
        }


@dataclass
class RefundPurchase(TillOperation):
    """Refund (part of) a receipt of this store and take back its share of the points."""

    name: str = "refund"
    status: int = 201
    guarded: bool = False  # no code is presented: nothing to guess

    def member_without_card(self, till: TillContext) -> int | None:
        """Lock the receipt's purchase; the refund is about its buyer."""
        purchase = lock_receipt(till.store_id, self.payload["receipt_id"])
        self.facts["purchase"] = purchase
        update_attempt(member_id=purchase.member_id)
        return purchase.member_id

    def check(self, till: TillContext, visit: Visit) -> None:
        """Refuse more than what is left of the purchase."""
        check_refund_amount(self.facts["purchase"], self.payload["amount_cents"])

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Judge the refund (refund abuse)."""
        return risk_context(
            "refund",
            till.caller,
            member_id=visit.member_id,
            amount_cents=self.payload["amount_cents"],
            member_email=visit.member.email if visit.member else None,
        )

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Take back the points and the stamps of the refunded lines."""
        assert visit.member is not None
        purchase: Purchase = self.facts["purchase"]
        booked = book_refund(
            purchase,
            visit.member,
            at=till.staff,
            amount_cents=self.payload["amount_cents"],
            lines=self.payload.get("lines"),
        )
        lines = self.payload.get("lines")
        if lines is None and purchase.refunded_cents == purchase.amount_cents:
            lines = purchase.lines  # a full refund returns every line
        stamps = (
            reverse_stamps_for_refund(
                purchase.member_id, lines, receipt_ref(till.store_id, purchase.receipt_id)
            )
            if lines
            else []
        )
        return {
            "refund_id": booked.refund.id,
            "entry_id": booked.entry.id,
            "points_refunded": booked.refund.points_refunded,
            "points_balance": booked.entry.balance_after,
            "tier": booked.tier.code,
            "refunded_cents": purchase.refunded_cents,
            "remaining_cents": purchase.amount_cents - purchase.refunded_cents,
            "stamps": stamps,
        }


@dataclass
class RedeemCoupon(TillOperation):
    """Redeem a coupon once, with the member's card if one was shown."""

    name: str = "coupon-redeem"
    offline: OfflineContext | None = None

    def __post_init__(self) -> None:
        self.attempt_code = self.payload["code"]

    def read(self, till: TillContext) -> None:
        """Refuse a typo (wrong check symbol) before anything is looked up."""
        self.facts["canonical"] = read_code(self.payload["code"])

    def card_code(self) -> str | None:
        """Return the member card shown with the coupon, if any."""
        code = self.payload.get("card_code")
        return str(code) if code else None

    def _when(self, visit: Visit) -> datetime:
        # An offline redemption happened at the till's time, never in the future.
        return min(self.offline.local_time, visit.now) if self.offline else visit.now

    def check(self, till: TillContext, visit: Visit) -> None:
        """Claim the coupon and check its terms against this basket, store and member.

        The claim is the conditional UPDATE that makes it single use (``evaluate_coupon``);
        a refusal here or in the fraud rules rolls it back with the request.
        """
        refuse_spending_after_lookup(visit.card)
        evaluation = evaluate_coupon(
            self.facts["canonical"],
            place=till.place,
            basket_cents=self.payload["basket_cents"],
            lines=self.payload.get("lines") or [],
            member_id=visit.member_id,
            when=self._when(visit),
            claim_at=visit.now,
        )
        if evaluation.refusal is not None:
            raise evaluation.refusal
        self.facts["evaluation"] = evaluation

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Judge a live redemption; an offline one happened already."""
        if self.offline is not None:
            return None
        evaluation: Evaluation = self.facts["evaluation"]
        bound_to = evaluation.coupon.member_id
        return risk_context(
            "coupon-redeem",
            till.caller,
            member_id=bound_to if bound_to is not None else visit.member_id,
            card_id=visit.card.card_id if visit.card else None,
            credential=visit.card.credential if visit.card else None,
            amount_cents=self.payload["basket_cents"],
        )

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Redeem the coupon (one conditional UPDATE) and credit bonus points."""
        return redeem_coupon(
            self.facts["evaluation"],
            place=till.place,
            receipt_id=self.payload["receipt_id"],
            basket_cents=self.payload["basket_cents"],
            member_id=visit.member_id,
            card_id=visit.card.card_id if visit.card else None,
            now=visit.now,
            offline=self.offline,
        )


@dataclass
class ValidateCoupon(TillOperation):
    """Tell whether a coupon would be accepted now and what it is worth; change nothing."""

    name: str = "coupon-validate"
    idempotent: bool = False
    locks_member: bool = False
    dry_run: bool = True  # a rotating card code's one use included, everything is undone

    def __post_init__(self) -> None:
        self.attempt_code = self.payload["code"]

    def read(self, till: TillContext) -> None:
        """Refuse a typo (wrong check symbol) before anything is looked up."""
        self.facts["canonical"] = read_code(self.payload["code"])

    def card_code(self) -> str | None:
        """Return the member card shown with the coupon, if any."""
        code = self.payload.get("card_code")
        return str(code) if code else None

    def check(self, till: TillContext, visit: Visit) -> None:
        """Evaluate the coupon; a refusal of its terms goes into the answer, not an error."""
        refuse_spending_after_lookup(visit.card)
        self.facts["evaluation"] = evaluate_coupon(
            self.facts["canonical"],
            place=till.place,
            basket_cents=self.payload["basket_cents"],
            lines=self.payload.get("lines") or [],
            member_id=visit.member_id,
            when=visit.now,
        )

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Answer valid or not; the attempt log records a refusal even though this is a 200."""
        evaluation: Evaluation = self.facts["evaluation"]
        if evaluation.refusal is not None:
            update_attempt(refusal_type=evaluation.refusal.type)
        return validation_answer(evaluation, visit.now)


@dataclass
class ReverseRedemption(TillOperation):
    """Undo a redemption (the sale was cancelled): same till within the window, or a manager."""

    name: str = "redemption-reverse"
    attempt_name: str | None = "coupon-reverse"
    guarded: bool = False
    locks_member: bool = False  # the reversal locks the member itself, after the redemption

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Reverse the redemption and any bonus points it credited."""
        return reverse_redemption(
            uuid.UUID(str(self.payload["redemption_id"])),
            place=till.place,
            reason=self.payload["reason"],
        )


@dataclass
class LookupVisit(TillOperation):
    """Open a visit for a member found by search (no card with them): name, number or phone.

    Nothing is presented: the member's active card stands in with the credential ``lookup``,
    so the scan token says how the member was identified, the fraud rules judge it like a
    printed card, and a redemption with it is refused while the lookup policy says earn only.
    """

    name: str = "member-lookup-visit"
    idempotent: bool = False
    guarded: bool = False
    locks_member: bool = False

    def member_without_card(self, till: TillContext) -> int | None:
        """Return the member the cashier chose."""
        return int(self.payload["member_id"])

    def check(self, till: TillContext, visit: Visit) -> None:
        """Refuse an unknown or blocked member and a blocked card; take the active card."""
        member = visit.member  # read by step 6; a member reached without a card is not refused
        assert member is not None
        if member.blocked:
            raise member_blocked()
        visit.card = present_looked_up_card(active_card(member.id).id)
        if db.session.get(CardBlock, str(visit.card.card_id)) is not None:
            raise card_blocked()
        update_attempt(member_id=member.id, card_id=visit.card.card_id)

    def risk(self, till: TillContext, visit: Visit) -> RiskContext | None:
        """Judge it as a scan, with the credential ``lookup``."""
        return judge_as_scan(till, visit)

    def apply(self, till: TillContext, visit: Visit) -> Any:
        """Sign the scan token and show the member, as a scan answers."""
        assert visit.card is not None and visit.member is not None
        return signed_scan_answer(till, visit, member_summary(visit.member))
