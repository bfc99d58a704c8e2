"""Ingestion: load article files, clean them, split them into sentences and passages,
embed them and write them to Chroma (plus the lexical index beside it)."""
