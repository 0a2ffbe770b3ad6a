"""Identity rules: NPIs and taxonomies, group billing, supervision and what a kind of provider may bill."""

from __future__ import annotations

import re

from claimbridge.claims.build import npi_check_digit_ok
from claimbridge.claims.scrub.base import ClaimFacts, Provider, ScrubRule
from claimbridge.claims.scrub.examples import example

BILLING = "Claim.contained.where(id='billing')"
_TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")


_NPI_OK: dict[str, bool] = {}


def npi_ok(npi: str) -> bool:
    """:func:`npi_check_digit_ok`, memoized (a practice has a handful of NPIs; every claim carries three)."""
    ok = _NPI_OK.get(npi)
    if ok is None:
        ok = npi_check_digit_ok(npi)
        if len(_NPI_OK) < 50_000:
            _NPI_OK[npi] = ok
    return ok


_TAXONOMY_OK: dict[str, bool] = {}


def taxonomy_ok(code: str) -> bool:
    """Whether ``code`` is NUCC-shaped (10 characters, the last X), memoized."""
    ok = _TAXONOMY_OK.get(code)
    if ok is None:
        ok = bool(_TAXONOMY.match(code))
        if len(_TAXONOMY_OK) < 50_000:
            _TAXONOMY_OK[code] = ok
    return ok


def _providers(facts: ClaimFacts) -> list[tuple[str, Provider]]:
    return [(role, provider) for role, provider in (("rendering", facts.rendering),
                                                    ("supervising", facts.supervising),
                                                    ("referring", facts.referring)) if provider is not None]


def taxonomy_matches(taxonomy: str | None, patterns: list[str]) -> str | None:
    """The first of ``patterns`` (full NUCC codes or prefixes such as ``103T``) that ``taxonomy`` matches."""
    if not taxonomy:
        return None
    taxonomy = taxonomy.upper()
    for pattern in patterns:
        if taxonomy.startswith(pattern.upper()):
            return pattern
    return None


def _provider(npi: str | None, taxonomy: str | None, seq: int) -> Provider:
    """A named care team member at ``Claim.careTeam[seq]``, for the examples."""
    return Provider(npi=npi, taxonomy=taxonomy, name_present=True, path=f"Claim.careTeam[{seq}]")


#: a payer restriction for the examples: psychologists (103T) may not bill 90792
_NO_90792 = {"taxonomies": ["103T"], "codes": ["90792"], "reason": "90792 includes medical services"}


class NpiCheckDigit(ScrubRule):
    id = "identity.npi_check_digit"
    title = "Billing, rendering, supervising and referring NPIs are 10 digits with a valid check digit"
    fix = "Correct the NPI in the EHR provider profile (or practice.npi); look it up in the NPPES NPI registry."
    path = f"{BILLING}.identifier"
    source = "CMS NPI standard (Luhn check digit over 80840 + the first nine digits)"
    passes = (example("the example claim"),
              example("valid supervising and referring NPIs", supervising=_provider("1436219871", "101YM0800X", 1),
                      referring=_provider("1245319599", None, 2)))
    fails = (example("a billing NPI with a bad check digit", billing_npi="1234567890"),
             example("a 9-digit billing NPI", billing_npi="184729301"),
             example("a rendering NPI with a bad check digit", rendering=_provider("1540388621", "103TC0700X", 0)),
             example("a referring NPI with a bad check digit", referring=_provider("1234567890", None, 1)))

    def check(self, facts, profile, context):
        if facts.billing_npi and not npi_ok(facts.billing_npi):
            yield self.finding(f"billing NPI {facts.billing_npi} is not 10 digits with a valid check digit")
        for role, provider in _providers(facts):
            if provider.npi and not npi_ok(provider.npi):
                yield self.finding(f"{role} NPI {provider.npi} is not 10 digits with a valid check digit",
                                   path=provider.path)


class TaxonomyFormat(ScrubRule):
    id = "identity.taxonomy_format"
    title = "Provider taxonomy codes are NUCC-shaped: 10 characters ending in X"
    fix = "Correct the NUCC taxonomy in the EHR (PractitionerRole.specialty) or practice.taxonomy."
    path = "Claim.careTeam.qualification"
    source = "NUCC Health Care Provider Taxonomy; 837P PRV03"
    passes = (example("the example claim"),
              example("no taxonomy given for the billing or rendering provider", billing_taxonomy=None,
                      rendering=_provider("1540388620", None, 0)))
    fails = (example("a billing taxonomy not ending in X", billing_taxonomy="261QM08010"),
             example("a 4-character rendering taxonomy", rendering=_provider("1540388620", "103T", 0)),
             example("a lowercase supervising taxonomy", supervising=_provider("1436219871", "101ym0800x", 1)))

    def check(self, facts, profile, context):
        if facts.billing_taxonomy and not taxonomy_ok(facts.billing_taxonomy):
            yield self.finding(f"billing taxonomy {facts.billing_taxonomy!r} is not 10 characters ending in X",
                               path=f"{BILLING}.identifier")
        for role, provider in _providers(facts):
            if provider.taxonomy and not taxonomy_ok(provider.taxonomy):
                yield self.finding(f"{role} taxonomy {provider.taxonomy!r} is not 10 characters ending in X",
                                   path=f"{provider.path}.qualification")


class GroupNpi(ScrubRule):
    id = "identity.group_npi"
    title = "The billing NPI is the group's, not the rendering clinician's (profile: requires_group_npi)"
    fix = ("Bill under the group's type 2 NPI (practice.npi / the billing Organization); the clinician's NPI goes "
           "in the rendering provider only.")
    path = f"{BILLING}.identifier"
    source = "payer policy (payer profile requires_group_npi)"
    passes = (example("the example claim", profile={"requires_group_npi": True}),
              example("the rendering NPI as billing NPI, the payer not asking for a group NPI",
                      billing_npi="1540388620"))
    fails = (example("the rendering NPI as billing NPI, the payer asking for a group NPI", billing_npi="1540388620",
                     profile={"requires_group_npi": True}),)

    def check(self, facts, profile, context):
        if (profile.requires_group_npi and facts.billing_npi and facts.rendering is not None
                and facts.rendering.npi == facts.billing_npi):
            yield self.finding(f"{profile.name}: billing NPI {facts.billing_npi} is the rendering clinician's; "
                               "this payer wants the group NPI")


class SupervisorRequired(ScrubRule):
    id = "identity.supervisor_required"
    title = "Clinicians whose taxonomy the payer lists bill with a supervising provider"
    fix = ("Record the supervising licensed clinician on the encounter (participant type SPRF) in the EHR; it "
           "becomes loop 2310D.")
    path = "Claim.careTeam"
    source = "payer policy (payer profile supervision_required_taxonomies)"
    passes = (example("the example claim", profile={"supervision_required_taxonomies": ["101YM"]}),
              example("an associate counselor billing with a supervisor",
                      rendering=_provider("1436219871", "101YM0800X", 0),
                      supervising=_provider("1983371067", "101YP2500X", 1),
                      profile={"supervision_required_taxonomies": ["101YM"]}))
    fails = (example("an associate counselor billing without a supervisor",
                     rendering=_provider("1436219871", "101YM0800X", 0),
                     profile={"supervision_required_taxonomies": ["101YM"]}),)

    def check(self, facts, profile, context):
        rendering = facts.rendering
        if rendering is None or facts.supervising is not None:
            return
        matched = taxonomy_matches(rendering.taxonomy, profile.supervision_required_taxonomies)
        if matched:
            yield self.finding(f"{profile.name}: a rendering provider with taxonomy {rendering.taxonomy} bills "
                               "only under a supervising provider, and the claim has none",
                               path=rendering.path)


class SupervisorNotRendering(ScrubRule):
    id = "identity.supervisor_not_rendering"
    title = "The supervising provider is not the rendering provider"
    fix = "Record the supervisor as a separate participant (SPRF), or remove the supervisor from the encounter."
    path = "Claim.careTeam"
    source = "837P TR3 005010X222A1, loop 2310D (a different provider than 2310B)"
    passes = (example("the example claim"),
              example("a supervisor other than the rendering provider",
                      supervising=_provider("1983371067", "101YP2500X", 1)))
    fails = (example("the rendering provider as the supervisor", supervising=_provider("1540388620", "103TC0700X", 1)),)

    def check(self, facts, profile, context):
        if (facts.rendering is not None and facts.supervising is not None and facts.rendering.npi
                and facts.rendering.npi == facts.supervising.npi):
            yield self.finding(f"the supervising provider (NPI {facts.supervising.npi}) is the rendering "
                               "provider", path=facts.supervising.path)


class ProviderRestriction(ScrubRule):
    id = "identity.provider_restriction"
    title = "A provider type bills only the codes the payer lets it bill (profile: provider_restrictions)"
    fix = ("Have an eligible clinician bill the service, or use the code this provider type may bill "
           "(e.g. 90791 instead of 90792; psychotherapy without the E/M add-on).")
    path = "Claim.item.productOrService"
    source = "payer policy (payer profile provider_restrictions; Medicare: CMS scope of practice)"
    passes = (example("the example claim", profile={"provider_restrictions": [_NO_90792]}),
              example("90792 by a provider type the payer does not restrict", line={"code": "90792"},
                      rendering=_provider("1540388620", "2084P0800X", 0),
                      profile={"provider_restrictions": [_NO_90792]}))
    fails = (example("a psychologist billing 90792", line={"code": "90792"},
                     profile={"provider_restrictions": [_NO_90792]}),
             example("90792 on a second line", more_lines=[{"code": "90792"}],
                     profile={"provider_restrictions": [_NO_90792]}))

    def check(self, facts, profile, context):
        rendering = facts.rendering
        if rendering is None or not rendering.taxonomy or not profile.provider_restrictions:
            return
        for restriction in profile.provider_restrictions:
            if not taxonomy_matches(rendering.taxonomy, restriction.taxonomies):
                continue
            for line in facts.lines:
                if line.code in restriction.codes:
                    reason = f" ({restriction.reason})" if restriction.reason else ""
                    yield self.finding(f"{profile.name}: a provider with taxonomy {rendering.taxonomy} may not "
                                       f"bill {line.code}{reason}",
                                       path=f"Claim.item[{line.index}].productOrService")


RULES: list[type[ScrubRule]] = [NpiCheckDigit, TaxonomyFormat, GroupNpi, SupervisorRequired, SupervisorNotRendering,
                                ProviderRestriction]
