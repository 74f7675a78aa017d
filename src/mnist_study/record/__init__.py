"""Record layer: provenance, compute efficiency, kept studies, and what changed between them."""
