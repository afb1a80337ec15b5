"""What Deskhand did per customer message: the idempotency claim and the outcome (SQLite or Postgres).

One row per (helpdesk, ticket, customer message). A job claims the row before it posts, so duplicate,
late or replayed deliveries and two jobs racing on one ticket post at most one note; a job that Celery
re-delivers after a crash keeps its task id and may resume its own claim.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

outcomes = Table(
    "ticket_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("helpdesk", String(32), nullable=False),
    Column("ticket_id", String(64), nullable=False),
    Column("message_id", String(128), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # claimed | posted | failed
    Column("category", String(64)),
    Column("role", String(32)),
    Column("drafted", Boolean),
    Column("detail", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("helpdesk", "ticket_id", "message_id", name="uq_outcome_message"),
)


@dataclass(frozen=True)
class OutcomeRow:
    helpdesk: str
    ticket_id: str
    message_id: str
    job_id: str
    status: str
    category: str | None
    role: str | None
    drafted: bool | None
    detail: str | None


@dataclass(frozen=True)
class Claim:
    """What `Store.claim` decided. True when this job may answer the message; when it may not, `status`
    says why: `posted` (a note was already posted for this message) or `claimed` (`job_id` is on it)."""

    granted: bool
    status: str  # the row's status: claimed | posted
    job_id: str  # the job that holds the row (this job when granted)

    def __bool__(self) -> bool:
        return self.granted


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    """Outcomes table over any SQLAlchemy URL (`sqlite:///var/deskhand.db`, `postgresql+psycopg://…`)."""

    def __init__(self, url: str, *, stale_claim_after: timedelta = timedelta(minutes=15)):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        self.stale_claim_after = stale_claim_after
        metadata.create_all(self.engine)

    def claim(self, helpdesk: str, ticket_id: int, message_id: str, job_id: str) -> Claim:
        """A granted `Claim` if this job may answer the message: it claimed it now, holds the claim already,
        or the previous claim failed or went stale without posting. Otherwise a refused `Claim` whose
        `status` is `posted` (a note was already posted) or `claimed` (another job, `job_id`, is on it)."""
        now = _now()
        key = dict(helpdesk=helpdesk, ticket_id=str(ticket_id), message_id=message_id)
        where = [outcomes.c[k] == v for k, v in key.items()]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(outcomes).values(**key, job_id=job_id, status="claimed", created_at=now, updated_at=now))
            return Claim(True, "claimed", job_id)
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(select(outcomes).where(*where)).one()
            if row.status == "posted":
                return Claim(False, "posted", row.job_id)
            updated_at = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=timezone.utc)
            if row.job_id == job_id or row.status == "failed" or now - updated_at > self.stale_claim_after:
                # compare-and-set on the job id we saw, so two takers cannot both win
                res = conn.execute(
                    update(outcomes)
                    .where(outcomes.c.id == row.id, outcomes.c.job_id == row.job_id, outcomes.c.status != "posted")
                    .values(job_id=job_id, status="claimed", updated_at=now)
                )
                if res.rowcount == 1:
                    return Claim(True, "claimed", job_id)
                row = conn.execute(select(outcomes).where(*where)).one()  # the taker that won, or its note
            return Claim(False, "posted" if row.status == "posted" else "claimed", row.job_id)

    def finish(
        self,
        helpdesk: str,
        ticket_id: int,
        message_id: str,
        *,
        status: str,
        category: str | None = None,
        role: str | None = None,
        drafted: bool | None = None,
        detail: str = "",
    ) -> None:
        """Record the outcome of a claimed message (`posted` or `failed`)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outcomes)
                .where(
                    outcomes.c.helpdesk == helpdesk,
                    outcomes.c.ticket_id == str(ticket_id),
                    outcomes.c.message_id == message_id,
                )
                .values(status=status, category=category, role=role, drafted=drafted, detail=detail[:500], updated_at=_now())
            )

    def outcomes(self, helpdesk: str | None = None) -> list[OutcomeRow]:
        query = select(outcomes).order_by(outcomes.c.id)
        if helpdesk:
            query = query.where(outcomes.c.helpdesk == helpdesk)
        with self.engine.connect() as conn:
            return [
                OutcomeRow(**{k: r._mapping[k] for k in OutcomeRow.__dataclass_fields__}) for r in conn.execute(query)
            ]
