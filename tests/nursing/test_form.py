"""The nurse screening form in the database, on SQLite and PostgreSQL: validated per field, stored once."""

from datetime import timedelta

import pytest

from app.alerts.workflow import Actor, Scope
from app.nursing import form as screening
from app.nursing.errors import SubmissionTaken
from tests.support.builders import NOW, SCOPE


def test_screening_is_saved_once_per_submission(engine):
    data, errors = screening.validate({"infection_source": "lung", "new_confusion": "yes"}, NOW)
    assert errors == {}
    actor = Actor("Practitioner/n", "Nurse N", "nurse")
    saved, replay = screening.save(engine, SCOPE, data, actor, "sc-1", NOW, None)
    again, replay2 = screening.save(engine, SCOPE, data, actor, "sc-1", NOW, None)
    assert (replay, replay2, again.id) == (False, True, saved.id)
    assert screening.latest(engine, SCOPE).source_text == "Lungs (pneumonia)"

def test_screening_validation_names_each_field():
    _, errors = screening.validate({"infection_source": "other", "provider_notified_at": "soon"}, NOW)
    assert set(errors) == {"infection_other", "new_confusion", "provider_notified_at"}
    future = (NOW + timedelta(hours=1)).astimezone(NOW.tzinfo).strftime("%Y-%m-%dT%H:%M")
    _, errors = screening.validate({"infection_source": "none", "new_confusion": "no",
                                    "provider_notified_at": future}, NOW)
    assert "future" in errors["provider_notified_at"]


def test_a_reused_submission_id_never_answers_with_another_patients_screening(engine):
    data, _ = screening.validate({"infection_source": "lung", "new_confusion": "yes"}, NOW)
    actor = Actor("Practitioner/n", "Nurse N", "nurse")
    screening.save(engine, SCOPE, data, actor, "sc-1", NOW, None)
    other = Scope(iss=SCOPE.iss, patient_id="someone-else", encounter_id=None)
    with pytest.raises(SubmissionTaken):
        screening.save(engine, other, data, actor, "sc-1", NOW, None)
    assert screening.latest(engine, other) is None
