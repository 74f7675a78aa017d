"""The report: every figure and the self-contained HTML page that presents the study's
results, claims and provenance to a reader."""
