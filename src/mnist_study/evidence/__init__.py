"""The evidence: the runs' tables, statistics and effects, and the verdict on every claim with
the power and pilots that plan its seeds."""
