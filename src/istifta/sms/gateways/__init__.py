"""SMS gateways: one file each behind the small interface of ``base.py``
(outbox, SMPP, HTTP; ``fake.py`` is the in-memory gateway for unit tests),
and :func:`gateway_for`, which makes the one the settings name."""

from __future__ import annotations

from istifta.sms.gateways.base import Gateway
from istifta.sms.settings import SmsSettings

__all__ = ["gateway_for"]


def gateway_for(settings: SmsSettings) -> Gateway:
    """The gateway ``ISTIFTA_SMS_GATEWAY`` names."""
    if settings.gateway == "smpp":
        from istifta.sms.gateways.smpp import SmppGateway

        return SmppGateway(settings)
    if settings.gateway == "http":
        from istifta.sms.gateways.http import HttpGateway

        return HttpGateway(settings)
    from istifta.sms.gateways.outbox import OutboxGateway

    return OutboxGateway(settings)
