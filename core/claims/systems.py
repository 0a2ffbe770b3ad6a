"""Code systems and identifier systems used by the claim profile (docs/claim-profile.md)."""

NPI = "http://hl7.org/fhir/sid/us-npi"
TIN = "urn:oid:2.16.840.1.113883.4.4"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
NUCC = "http://nucc.org/provider-taxonomy"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
CLAIM_FILING_INDICATOR = "https://x12.org/codes/claim-filing-indicator"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
RELATED_CLAIM_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
SNOMED = "http://snomed.info/sct"

PCN_SYSTEM = "https://claimbridge.dev/fhir/sid/pcn"
ENCOUNTER_KEY_SYSTEM = "https://claimbridge.dev/fhir/sid/encounter-key"
PRIOR_AUTH_SYSTEM = "https://claimbridge.dev/fhir/sid/prior-authorization"
EXT_FREQUENCY = "https://claimbridge.dev/fhir/StructureDefinition/claim-frequency"
EXT_LINE_CONTROL = "https://claimbridge.dev/fhir/StructureDefinition/line-control-number"
EXT_MODIFIER = "https://claimbridge.dev/fhir/StructureDefinition/procedure-modifier"
EXT_MINUTES = "https://claimbridge.dev/fhir/StructureDefinition/session-minutes"
#: on an Encounter (valueBoolean): the telehealth session was audio-only (modifier 93/FQ, not 95/GT)
EXT_AUDIO_ONLY = "https://claimbridge.dev/fhir/StructureDefinition/audio-only"
#: on an Encounter (valueCode ``late_cancel`` or ``no_show``): a missed appointment the practice charges a fee
#: for; the Encounter's ``status`` is ``cancelled``. Billed only to payers whose profile lists the kind in
#: ``bill_missed_appointments``
EXT_ATTENDANCE = "https://claimbridge.dev/fhir/StructureDefinition/attendance"
MISSED_APPOINTMENTS = ("late_cancel", "no_show")
#: Encounter.type coding ``PHONE`` in this system also marks an audio-only session
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"

PROCEDURE_SYSTEMS = (CPT, HCPCS)
