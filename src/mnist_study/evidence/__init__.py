"""Evidence layer: tables, effects, Holm and each claim's verdict, read from run records."""
