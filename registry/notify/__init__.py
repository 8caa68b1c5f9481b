"""Notifications and the mail outbox: written in the same transaction as the event, sent later."""
