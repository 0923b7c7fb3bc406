"""Moving data in and out: audit results (CSV, JSON, OSCAL assessment results) and the
readiness library (YAML as in seeds/, CSV, OSCAL catalog). Every import validates the whole
file before it writes anything."""
