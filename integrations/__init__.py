"""Helpdesk adapters: Zendesk (zenpy), Freshdesk (requests) and a local folder. Never imports worker/."""
