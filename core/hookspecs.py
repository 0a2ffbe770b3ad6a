"""Every hook claimbridge calls, in one place.

Hooks are small and narrow: they never receive the application, a database session or the scheduler. They
evolve by *adding* arguments only; an implementation may accept fewer arguments than its spec (pluggy passes
only the ones it names), so old plugins keep working.

Each docstring has the same shape: purpose, parameters, return value and call semantics, version added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from claimbridge.claims.results import RemittancePosted
    from claimbridge.claims.scrub.base import ScrubRule
    from claimbridge.claims.scrub.profiles import PayerProfile
    from claimbridge.claims.states import StatusChange
    from claimbridge.connectors import Clearinghouse, EhrSource, EligibilityTransport

PROJECT = "claimbridge"

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def register_sources(register: Callable[[type[EhrSource]], None]) -> None:
    """Register EHR source classes.

    :param register: call it once per :class:`~claimbridge.connectors.EhrSource` subclass. The class's
        ``type_name`` is what configuration names in ``sources[].type``; two plugins registering the same
        ``type_name`` is an error reported at start-up.
    :return: nothing; every implementation is called.

    Added in 0.1.
    """


@hookspec
def register_clearinghouses(register: Callable[[type[Clearinghouse]], None]) -> None:
    """Register clearinghouse connector classes.

    :param register: call it once per :class:`~claimbridge.connectors.Clearinghouse` subclass; its
        ``type_name`` is what ``clearinghouses[].type`` names.
    :return: nothing; every implementation is called.

    Added in 0.1.
    """


@hookspec
def register_eligibility_transports(register: Callable[[type[EligibilityTransport]], None]) -> None:
    """Register real-time eligibility transports (a 270 in, its 271 back) for clearinghouses that offer one.

    :param register: call it once per :class:`~claimbridge.connectors.EligibilityTransport` subclass; its
        ``type_name`` is the clearinghouse type it serves. On-demand checks (``claimbridge eligibility check``)
        through a clearinghouse of that type use it; without one they go as a 270 file like the scheduled ones.
    :return: nothing; every implementation is called.

    Added in 0.2.
    """


@hookspec
def adjust_claim(claim: dict[str, Any], context: dict[str, Any]) -> None:
    """Amend a freshly built FHIR Claim before it is validated, scrubbed and stored.

    Use it for practice-specific mapping (a modifier a local payer wants, a note). Change ``claim`` in place.

    :param claim: the Claim as FHIR R4 JSON (a dict), contained resources included.
    :param context: read-only facts: ``source`` (source name), ``encounter_key`` (e.g. ``Encounter/42``),
        ``version`` (claim version number, 1 for the original).
    :return: nothing; every implementation is called, in registration order (last registered first).
        An implementation that raises :class:`~claimbridge.errors.RecordError` sends the encounter to
        quarantine with its reason.

    Added in 0.1.
    """


@hookspec
def claim_status_changed(event: StatusChange) -> None:
    """Be told that a claim moved from one status to another (after the change is committed).

    :param event: a :class:`~claimbridge.claims.states.StatusChange` (pcn, version, old and new status,
        actor, reason, when). It holds no PHI.
    :return: nothing. Every implementation is called in its own ``try``: one that raises is logged and
        the others (and the pipeline) go on.

    Added in 0.1.
    """


@hookspec
def register_scrub_rules(register: Callable[[type[ScrubRule]], None]) -> None:
    """Register claim scrub rules.

    :param register: call it once per :class:`~claimbridge.claims.scrub.base.ScrubRule` subclass (with ``id``,
        ``severity``, ``title``, ``fix``, ``path``, ``source`` and a ``check`` method). Rule ids are dotted and
        lowercase; prefix yours with your plugin's name (``mypractice.referral_on_file``). Two plugins
        registering one id is an error reported at start-up. The built-in rules are registered the same way by
        the built-in plugin ``scrub_builtin``.
    :return: nothing; every implementation is called. Every registered rule runs on every claim, except where
        a payer profile lists it in ``disabled_rules``; a rule that raises becomes the error finding
        ``scrubber.rule_failed``.

    Added in 0.2.
    """


@hookspec
def register_payer_profiles(register: Callable[[PayerProfile], None]) -> None:
    """Register payer profiles.

    :param register: call it once per :class:`~claimbridge.claims.scrub.profiles.PayerProfile` instance. Two
        plugins registering one profile name is an error reported at start-up (the shipped profiles
        ``default``, ``medicare``, ``medicaid-example`` and ``commercial-example`` come from ``scrub_builtin``).
        A practice's own ``payers/<name>.yaml`` replaces a registered profile of the same name.
    :return: nothing; every implementation is called.

    Added in 0.2.
    """


@hookspec
def remittance_posted(remittance: RemittancePosted) -> None:
    """Be told that one 835 transaction (one payment) was posted, with its results as FHIR.

    Called once per posted 835 transaction, after the posting committed; a remittance delivered again posts
    nothing and is not announced again. Use it to send the results on (the ``ehr_fhir`` plugin writes them back
    to FHIR sources that have ``write_back`` on).

    :param remittance: a :class:`~claimbridge.claims.results.RemittancePosted`: the remittance id, payer key
        and trace number, the ``PaymentReconciliation`` and one
        :class:`~claimbridge.claims.results.PostedClaimResponse` (claim id, PCN, source, encounter key,
        outcome, ``ClaimResponse``) per claim payment, plus the settings and the configuration folder. The
        resources hold PHI and Decimals: never log them; write them with
        :func:`claimbridge.claims.money.claim_to_json`; copy before changing them.
    :return: nothing. Every implementation is called in its own ``try``: one that raises is logged, recorded
        with the remittance (its message must hold no PHI) and the others go on; it never undoes the posting.

    Added in 0.3.
    """
