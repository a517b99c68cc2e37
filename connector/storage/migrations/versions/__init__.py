"""One module per schema revision, applied in order by Alembic (named `NNNN_slug.py`)."""
