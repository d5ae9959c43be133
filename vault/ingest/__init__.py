"""Ingest: from a mounted camera volume to sealed, verified, recorded evidence."""
