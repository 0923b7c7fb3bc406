"""Search: one box over audit items, evidence, comments, signals and the library."""
