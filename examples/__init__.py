"""Runnable examples for mano (service packages, specific managers, notebooks)."""
