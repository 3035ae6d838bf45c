"""What can go wrong submitting the nurse screening form. Field problems are not errors: `form.validate` returns
them, so the form is shown again with its input kept."""

from __future__ import annotations


class NursingError(Exception):
    """Base class of the nursing package's errors."""


class SubmissionTaken(NursingError):
    """The form's one-time submission id was already used for another patient's screening (a reused or forged
    form): never answered with someone else's record."""
