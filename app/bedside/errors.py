"""The bedside use cases' own refusals (the domain packages raise theirs: NotConfirmed, OrderNotPlaced, ...)."""

from __future__ import annotations


class OrderInvalid(ValueError):
    """The order form names no known element or medication, or its reviewed fluid volume cannot be used."""
