"""Scrub rules for Prairie State Medicaid (payer id ``PSMCD``), a fictional state Medicaid plan.

An example of a third-party claimbridge plugin in its own distribution: the entry point ``prairie_medicaid``
(group ``claimbridge``) names :mod:`prairie_medicaid_rules.plugin`.
"""

__version__ = "0.1.0"
