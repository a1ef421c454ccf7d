"""Invitations by SMS: the electorate's phones, message templates and their
segments, the durable dispatch queue and the gateways (outbox, SMPP, HTTP)."""
