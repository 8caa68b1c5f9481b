"""The audit log: every change, chained by hashes so that edits, deletions and reordering show."""
