"""Backup and restore: the database and every stored file in one verifiable archive."""
