"""identity.* rules."""

from __future__ import annotations

from claimbridge.claims import systems
from claimbridge.claims.scrub.profiles import ProviderRestriction, builtin_profiles
from claimbridge.claims.scrub.rules import identity

from .conftest import contained, demo_claim, profile, run_rule, set_code

BAD_NPI = "1234567890"  # fails the check digit (DOMAIN.md)


def _set_npi(claim, local_id, npi):
    res = contained(claim, local_id)
    res["identifier"] = [i for i in res["identifier"] if i.get("system") != systems.NPI] + [
        {"system": systems.NPI, "value": npi}]


def _add_referring(claim, npi):
    claim["contained"].append({"resourceType": "Practitioner", "id": "referring",
                               "identifier": [{"system": systems.NPI, "value": npi}],
                               "name": [{"family": "Referrer"}]})
    claim["careTeam"].append({"sequence": 3, "provider": {"reference": "#referring"},
                              "role": {"coding": [{"system": systems.CARE_TEAM_ROLE, "code": "referring"}]}})


def test_npi_check_digit_for_every_role():
    claim = demo_claim("enc-011")  # has a supervisor
    _add_referring(claim, "1245319599")
    assert run_rule(identity.NpiCheckDigit, claim) == []
    for local_id in ("billing", "rendering", "supervisor", "referring"):
        _set_npi(claim, local_id, BAD_NPI)
    findings = run_rule(identity.NpiCheckDigit, claim)
    assert [f.message.split(" NPI")[0] for f in findings] == ["billing", "rendering", "supervising", "referring"]
    assert all(BAD_NPI in f.message for f in findings)
    assert [f.path for f in findings][1:] == ["Claim.careTeam[0]", "Claim.careTeam[1]", "Claim.careTeam[2]"]


def test_taxonomy_format():
    claim = demo_claim("enc-002")
    assert run_rule(identity.TaxonomyFormat, claim) == []
    claim["careTeam"][0]["qualification"] = {"coding": [{"system": systems.NUCC, "code": "103T"}]}
    next(i for i in contained(claim, "billing")["identifier"] if i["system"] == systems.NUCC)["value"] = "261QM08010"
    findings = run_rule(identity.TaxonomyFormat, claim)
    assert ["billing taxonomy '261QM08010'" in findings[0].message, "rendering taxonomy '103T'" in findings[1].message] \
        == [True, True]
    assert findings[1].path == "Claim.careTeam[0].qualification"


def test_group_npi_only_where_the_profile_requires_it():
    claim = demo_claim("enc-002")
    _set_npi(claim, "billing", contained(claim, "rendering")["identifier"][0]["value"])
    assert run_rule(identity.GroupNpi, claim, requires_group_npi=False) == []
    [finding] = run_rule(identity.GroupNpi, claim, requires_group_npi=True)
    assert "is the rendering clinician's" in finding.message
    assert run_rule(identity.GroupNpi, demo_claim("enc-002"), requires_group_npi=True) == []


def test_supervisor_required_for_listed_taxonomies():
    claim = demo_claim("enc-011")  # rendering 101YM0800X, supervised
    assert run_rule(identity.SupervisorRequired, claim, supervision_required_taxonomies=["101YM"]) == []
    claim["careTeam"] = claim["careTeam"][:1]
    [finding] = run_rule(identity.SupervisorRequired, claim, supervision_required_taxonomies=["101YM"])
    assert "101YM0800X" in finding.message and finding.path == "Claim.careTeam[0]"
    assert run_rule(identity.SupervisorRequired, claim, supervision_required_taxonomies=["103T"]) == []


def test_supervisor_must_differ_from_rendering():
    claim = demo_claim("enc-011")
    assert run_rule(identity.SupervisorNotRendering, claim) == []
    _set_npi(claim, "supervisor", contained(claim, "rendering")["identifier"][0]["value"])
    [finding] = run_rule(identity.SupervisorNotRendering, claim)
    assert finding.path == "Claim.careTeam[1]"


def test_medicare_provider_restrictions():
    medicare = builtin_profiles()["medicare"]
    claim = demo_claim("enc-001")  # psychologist 103TC0700X, 90791
    assert run_rule(identity.ProviderRestriction, claim, profile=medicare) == []
    set_code(claim, 0, "90792")
    [finding] = run_rule(identity.ProviderRestriction, claim, profile=medicare)
    assert "103TC0700X may not bill 90792" in finding.message and finding.path == "Claim.item[0].productOrService"
    # the default profile has no restrictions
    assert run_rule(identity.ProviderRestriction, claim) == []


def test_provider_restrictions_match_taxonomy_prefixes():
    claim = demo_claim("enc-006")  # clinical social worker 1041C0700X, 90791
    restricted = profile(provider_restrictions=[ProviderRestriction(taxonomies=["1041"], codes=["90791"],
                                                                    reason="not covered")])
    [finding] = run_rule(identity.ProviderRestriction, claim, profile=restricted)
    assert "(not covered)" in finding.message
