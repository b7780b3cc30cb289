"""cpindex: the central children's index API (FHIR R4), synthetic data only."""
