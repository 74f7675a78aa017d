"""Report layer: every figure and the self-contained HTML page that presents the study."""
