"""The request owns the transaction.

Services flush and never commit. When the view has answered, ``finish_request_transaction``
commits if the answer is a success and rolls back otherwise, so a request that fails half way
leaves nothing behind. Work that must be recorded whatever the outcome (the attempt log)
registers a callback with ``record_on_finish``: on success it joins the request's own
transaction; on failure it runs in a fresh transaction after the rollback, so a refused
attempt is on record even though everything else the request did is undone.

Work that is not part of the answer and must only happen if the request's changes were saved
(refreshing wallet passes after points changed) registers with ``after_commit``: it runs once
the request's transaction has committed, each callback in its own short transaction, and a
failure there is logged without touching the answer, which is already decided and saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, g
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import Problem, problem_response
from app.extensions import db

log = logging.getLogger("app.transactions")


@dataclass(frozen=True)
class Outcome:
    """How a request ended, for callbacks that record it."""

    status: int
    problem_type: str | None


FinishCallback = Callable[[Outcome], None]


def record_on_finish(callback: FinishCallback) -> None:
    """Run ``callback`` with the request's outcome, in whichever transaction survives."""
    g.setdefault("finish_callbacks", []).append(callback)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the request's transaction commits (never if it rolls back)."""
    g.setdefault("after_commit_callbacks", []).append(callback)


def _run_after_commit() -> None:
    for callback in g.pop("after_commit_callbacks", []):
        try:
            callback()
            db.session.commit()
        except Exception:  # the answer is committed; this work is only late, not lost data
            db.session.rollback()
            log.exception("after-commit step failed")


def _run_callbacks(outcome: Outcome) -> None:
    for callback in g.get("finish_callbacks", []):
        callback(outcome)


def finish_request_transaction(response: Response) -> Response:
    """Commit a successful request, roll back a failed one, and record its outcome."""
    problem_type = g.get("problem_type")
    outcome = Outcome(response.status_code, problem_type)
    if response.status_code < 400:
        try:
            _run_callbacks(outcome)
            db.session.commit()
        except (IntegrityError, DBAPIError) as exc:
            db.session.rollback()
            log.warning("commit failed: %s", exc.__class__.__name__)
            problem = Problem(
                "conflict",
                409,
                "Conflict",
                "The request collided with a concurrent change; nothing was saved. Retry it.",
            )
            g.problem_type = problem.type
            response = problem_response(problem)
            outcome = Outcome(409, problem.type)
        else:
            _run_after_commit()
            return response
    db.session.rollback()
    if g.get("finish_callbacks"):
        try:
            _run_callbacks(outcome)
            db.session.commit()
        except Exception:  # the answer must still go out; the failure is logged
            db.session.rollback()
            log.exception("could not record the outcome of a failed request")
    return response


def init_app(app: Flask) -> None:
    """Install the per-request transaction handling."""
    app.after_request(finish_request_transaction)
