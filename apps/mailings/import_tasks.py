"""django-q2 task of the client import: thin, takes the job's id."""

from __future__ import annotations

from apps.mailings import import_jobs


def run_client_import(job_id: int) -> str:
    """Queued by the import page: check, then import one uploaded file."""
    return import_jobs.client_import_run(job_id)
