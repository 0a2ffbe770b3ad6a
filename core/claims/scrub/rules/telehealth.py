"""Telehealth rules: place of service and modifiers of virtual and in-person sessions, and no service facility.

A session is virtual when its encounter's class is ``VR`` (``ClaimFacts.telehealth``) or it is flagged
audio-only (``ClaimFacts.audio_only``); in person when the encounter's class is known and is anything else. A
claim without an encounter class (a file from elsewhere) is judged on neither side.

Sources: CMS place-of-service code set (02 telehealth outside the patient's home, 10 in the patient's home);
AMA CPT modifiers 95 (synchronous audio-video) and 93 (audio-only); CMS HCPCS modifiers GT (legacy interactive
telecommunication) and FQ (audio-only at RHC/FQHC); the payer profile (``telehealth_pos``,
``telehealth_modifier``, ``audio_only_modifier``) decides which a payer wants.
"""

from __future__ import annotations

from claimbridge.claims.scrub.base import ClaimFacts, ScrubRule
from claimbridge.claims.scrub.examples import example

TELEHEALTH_POS = frozenset({"02", "10"})
VIDEO_MODIFIERS = frozenset({"95", "GT"})
AUDIO_MODIFIERS = frozenset({"93", "FQ"})
TELEHEALTH_MODIFIERS = VIDEO_MODIFIERS | AUDIO_MODIFIERS
_POS_SOURCE = "CMS place-of-service code set (02, 10); payer profile telehealth_pos"
#: for the examples: the example claim's session held over video, and over the phone
_VIDEO = {"telehealth": True, "encounter_class": "VR"}
_PHONE = {**_VIDEO, "audio_only": True}


def is_virtual(facts: ClaimFacts) -> bool:
    return facts.telehealth or facts.audio_only


def is_in_person(facts: ClaimFacts) -> bool:
    return not is_virtual(facts) and facts.encounter_class is not None


def _line(line) -> str:
    return f"line {line.index + 1} ({line.code or 'no code'})"


class PlaceOfService(ScrubRule):
    """A virtual session is billed with a telehealth place of service the payer accepts (profile
    ``telehealth_pos``: 02 and/or 10); an in-person session never with 02 or 10. Payers deny either mismatch."""

    id = "telehealth.pos"
    title = "Virtual sessions use POS 02/10 (profile telehealth_pos); in-person sessions do not"
    fix = ("Set the encounter's location type (POS) in the EHR: 10 when the patient was at home, 02 elsewhere, the "
           "office's POS (11) for an in-person session; or correct the encounter's class (VR = virtual).")
    path = "Claim.item.locationCodeableConcept"
    source = _POS_SOURCE

    passes = (example("the example claim (in person, POS 11)"),
              example("a video session with the patient at home (POS 10)", line={"pos": "10", "modifiers": ("95",)},
                      **_VIDEO),
              example("a video session with the patient elsewhere (POS 02)", line={"pos": "02", "modifiers": ("95",)},
                      **_VIDEO),
              example("POS 02 without an encounter class (not judged)", encounter_class=None, line={"pos": "02"}))
    fails = (example("a video session billed with the office POS 11", **_VIDEO),
             example("an in-person session billed with telehealth POS 10", line={"pos": "10"}),
             example("POS 10 for a payer that accepts only 02", line={"pos": "10", "modifiers": ("95",)},
                     profile={"telehealth_pos": ["02"]}, **_VIDEO))

    def check(self, facts, profile, context):
        if is_virtual(facts):
            accepted = profile.telehealth_pos
            for line in facts.lines:
                if line.pos and line.pos not in accepted:
                    yield self.finding(f"{_line(line)}: a telehealth session is billed with place of service "
                                       f"{line.pos}; payer profile {profile.name} accepts {' or '.join(accepted)}",
                                       path=f"Claim.item[{line.index}].locationCodeableConcept")
        elif is_in_person(facts):
            for line in facts.lines:
                if line.pos in TELEHEALTH_POS:
                    yield self.finding(f"{_line(line)}: an in-person session is billed with telehealth place of "
                                       f"service {line.pos}",
                                       path=f"Claim.item[{line.index}].locationCodeableConcept")


class VideoModifier(ScrubRule):
    """Lines of an audio-video telehealth session carry the payer's telehealth modifier (profile
    ``telehealth_modifier``: 95 by default, GT for some plans, none for Medicare since 2024) and not the other
    one; a profile of ``none`` requires nothing."""

    id = "telehealth.video_modifier"
    title = "Audio-video telehealth lines carry the payer's modifier (profile telehealth_modifier: 95, GT, none)"
    fix = ("Bill the telehealth session with the modifier the payer wants (payer profile telehealth_modifier) in "
           "claims.payers.<id>.telehealth_modifier, and remove the other telehealth modifier.")
    path = "Claim.item.modifier"
    source = "AMA CPT modifier 95, CMS HCPCS modifier GT; payer profile telehealth_modifier"

    passes = (example("the example claim (in person)"),
              example("a video session with 95", line={"pos": "10", "modifiers": ("95",)}, **_VIDEO),
              example("a video session with GT for a payer that wants GT", line={"pos": "10", "modifiers": ("GT",)},
                      profile={"telehealth_modifier": "GT"}, **_VIDEO),
              example("a video session without modifier for a payer that wants none", line={"pos": "10"},
                      profile={"telehealth_modifier": "none"}, **_VIDEO))
    fails = (example("a video session without 95", line={"pos": "10"}, **_VIDEO),
             example("a video session with GT for a payer that wants 95", line={"pos": "10", "modifiers": ("GT",)},
                     **_VIDEO),
             example("a video session with both 95 and GT", line={"pos": "10", "modifiers": ("95", "GT")}, **_VIDEO))

    def check(self, facts, profile, context):
        if not facts.telehealth or facts.audio_only:
            return
        required = profile.telehealth_modifier
        if required == "none":
            return
        for line in facts.lines:
            wrong = sorted(m for m in line.modifiers if m in TELEHEALTH_MODIFIERS and m != required)
            if required in line.modifiers:
                if wrong:
                    yield self.finding(f"{_line(line)} carries {', '.join(wrong)} besides {required}; payer profile "
                                       f"{profile.name} wants only {required}", path=f"Claim.item[{line.index}].modifier")
                continue
            found = f"carries {', '.join(wrong)} but lacks" if wrong else "lacks"
            yield self.finding(f"{_line(line)}: the telehealth line {found} modifier {required}, which payer "
                               f"profile {profile.name} requires for audio-video telehealth",
                               path=f"Claim.item[{line.index}].modifier")


class AudioOnlyModifier(ScrubRule):
    """Lines of an audio-only session carry the payer's audio-only modifier (profile ``audio_only_modifier``:
    93, or FQ at RHCs and FQHCs) and no audio-video modifier (95, GT): billing a phone session as video is a
    misrepresentation of the service."""

    id = "telehealth.audio_only_modifier"
    title = "Audio-only lines carry 93/FQ (profile audio_only_modifier) and not 95/GT"
    fix = ("Mark the line with the payer's audio-only modifier (93 or FQ) and remove 95/GT; if the session had "
           "video, clear the audio-only flag on the encounter.")
    path = "Claim.item.modifier"
    source = "AMA CPT modifier 93, CMS HCPCS modifier FQ; payer profile audio_only_modifier"

    passes = (example("the example claim (in person)"),
              example("a phone session with 93", line={"pos": "10", "modifiers": ("93",)}, **_PHONE),
              example("a phone session with FQ for a payer that wants FQ", line={"pos": "10", "modifiers": ("FQ",)},
                      profile={"audio_only_modifier": "FQ"}, **_PHONE))
    fails = (example("a phone session without 93", line={"pos": "10"}, **_PHONE),
             example("a phone session billed as video (93 and 95)", line={"pos": "10", "modifiers": ("93", "95")},
                     **_PHONE),
             example("a phone session with 93 for a payer that wants FQ", line={"pos": "10", "modifiers": ("93",)},
                     profile={"audio_only_modifier": "FQ"}, **_PHONE))

    def check(self, facts, profile, context):
        if not facts.audio_only:
            return
        required = profile.audio_only_modifier
        for line in facts.lines:
            path = f"Claim.item[{line.index}].modifier"
            if required != "none" and required not in line.modifiers:
                yield self.finding(f"{_line(line)}: an audio-only line lacks modifier {required}, which payer "
                                   f"profile {profile.name} requires", path=path)
            video = sorted(m for m in line.modifiers if m in VIDEO_MODIFIERS)
            if video:
                yield self.finding(f"{_line(line)}: an audio-only session carries the audio-video modifier "
                                   f"{', '.join(video)}", path=path)


class InPersonModifier(ScrubRule):
    """An in-person session carries none of the telehealth modifiers 95, GT, 93 or FQ."""

    id = "telehealth.in_person_modifier"
    title = "In-person lines carry no telehealth modifier (95, GT, 93, FQ)"
    fix = ("Remove the telehealth modifier from the in-person service, or, if the session was virtual, set the "
           "encounter's class to VR in the EHR.")
    path = "Claim.item.modifier"
    source = "AMA CPT modifiers 95/93, CMS HCPCS modifiers GT/FQ (telehealth only)"

    passes = (example("the example claim (in person, no modifier)"),
              example("an in-person session with non-telehealth modifiers HQ and 59", line={"modifiers": ("HQ", "59")}),
              example("a video session with 95", line={"pos": "10", "modifiers": ("95",)}, **_VIDEO),
              example("95 without an encounter class (not judged)", encounter_class=None, line={"modifiers": ("95",)}))
    fails = (example("an in-person session with 95", line={"modifiers": ("95",)}),
             example("an in-person session with audio-only 93 beside HQ", line={"modifiers": ("HQ", "93")}))

    def check(self, facts, profile, context):
        if not is_in_person(facts):
            return
        for line in facts.lines:
            found = sorted(m for m in line.modifiers if m in TELEHEALTH_MODIFIERS)
            if found:
                yield self.finding(f"{_line(line)}: an in-person session carries telehealth modifier "
                                   f"{', '.join(found)}", path=f"Claim.item[{line.index}].modifier")


class ServiceFacility(ScrubRule):
    """A telehealth claim has no service facility (loop 2310C): the service happened where the patient was,
    and the place of service (02/10) says so."""

    id = "telehealth.service_facility"
    title = "Telehealth claims have no service facility location"
    fix = ("Remove the service location from the virtual encounter in the EHR (or correct the encounter's class "
           "if the session was in person).")
    path = "Claim.facility"
    source = "837P TR3 005010X222A1 loop 2310C (not used for POS 02/10); CMS telehealth billing guidance"

    passes = (example("the example claim (no service facility)"),
              example("an in-person session at a service facility (the annex)", has_service_facility=True),
              example("a video session without a service facility", line={"pos": "10", "modifiers": ("95",)},
                      **_VIDEO))
    fails = (example("a video session naming a service facility", has_service_facility=True,
                     line={"pos": "10", "modifiers": ("95",)}, **_VIDEO),
             example("a phone session naming a service facility", has_service_facility=True,
                     line={"pos": "10", "modifiers": ("93",)}, **_PHONE))

    def check(self, facts, profile, context):
        if is_virtual(facts) and facts.has_service_facility:
            yield self.finding("a telehealth claim names a service facility; telehealth claims must not")


RULES: list[type[ScrubRule]] = [PlaceOfService, VideoModifier, AudioOnlyModifier, InPersonModifier, ServiceFacility]
