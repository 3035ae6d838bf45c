"""Feedback from clinicians to the deployment team: store, inbox, replies, e-mail notice. The package's front door.

    from app.feedback import submit, Context, reply, unread_answers, mail
    feedback_id = submit(engine, kind="question", text=..., user_ref=..., role=..., context=Context(...), ...)
"""

from app.feedback import mail
from app.feedback.store import (
    KINDS,
    MAIL_STATUSES,
    MAX_TEXT,
    STATUSES,
    Answer,
    Context,
    FeedbackError,
    Invalid,
    Item,
    NotFound,
    Reply,
    SaveFailed,
    counts,
    created_times,
    export,
    feedback,
    feedback_replies,
    get,
    listing,
    mark_read,
    reply,
    set_status,
    submit,
    unread_answers,
)

__all__ = [
    "KINDS",
    "MAIL_STATUSES",
    "MAX_TEXT",
    "STATUSES",
    "Answer",
    "Context",
    "FeedbackError",
    "Invalid",
    "Item",
    "NotFound",
    "Reply",
    "SaveFailed",
    "counts",
    "created_times",
    "export",
    "feedback",
    "feedback_replies",
    "get",
    "listing",
    "mail",
    "mark_read",
    "reply",
    "set_status",
    "submit",
    "unread_answers",
]
