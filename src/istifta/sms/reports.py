"""Recording a delivery report on the message it is about.

A report names the message by its gateway and the gateway's id for it. It
finishes a message that is ``sent`` or ``in_doubt``: ``delivered``, or
``failed`` with the network's error. A message already finished keeps its
state (networks repeat reports, and a late ``failed`` must not undo a
``delivered``). The dispatcher (for reports a gateway hands it) and the
webhook of :mod:`istifta.web.api.sms` both call :func:`record_report`.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, select, update

from istifta.sms.gateways.base import DeliveryReport
from istifta.store.db import Store
from istifta.store.models import SmsMessage

__all__ = ["FINISHABLE", "record_report"]

FINISHABLE = ("sent", "in_doubt")
"""The states a report may finish."""
MAX_ERROR = 500


def record_report(store: Store, gateway: str, report: DeliveryReport, now: datetime) -> bool:
    """Finish the message ``gateway`` knows as ``report.gateway_id``, if it is
    still ``sent`` or ``in_doubt``. Returns whether a message has that id (True
    also when it was finished already and nothing changed)."""
    error = None if report.delivered else (report.error or "the network reported it undelivered")[:MAX_ERROR]
    same = (SmsMessage.gateway == gateway, SmsMessage.gateway_id == report.gateway_id)
    finish = (
        update(SmsMessage)
        .where(*same, SmsMessage.state.in_(FINISHABLE))
        .values(state="delivered" if report.delivered else "failed", error=error, done_at=now)
        .execution_options(synchronize_session=False)
    )
    with store.session() as session, session.begin():
        result = cast(CursorResult[tuple[()]], session.execute(finish))
        if result.rowcount:
            return True
        return session.scalar(select(SmsMessage.id).where(*same).limit(1)) is not None
