"""FHIR R4 EHR source plugin."""
