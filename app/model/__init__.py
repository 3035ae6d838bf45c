"""The sepsis risk model: Measurements in, Risk or Abstain out. The package's front door.

    from app.model import score, Risk, Abstain, Missing, load_model, Measurement, CONCEPTS
    result = score(measurements, at)            # Risk | Abstain
"""

from app.model.artifact import Model, ModelArtifactError, ModelError, load_model
from app.model.features import FEATURE_NAMES, build_feature_matrix, build_features
from app.model.measurement import CONCEPTS, MODEL_CONCEPTS, Concept, Measurement, is_plausible
from app.model.scoring import ABSTAIN_RULE, Abstain, Missing, Risk, score

__all__ = [
    "ABSTAIN_RULE",
    "CONCEPTS",
    "FEATURE_NAMES",
    "MODEL_CONCEPTS",
    "Abstain",
    "Concept",
    "Measurement",
    "Missing",
    "Model",
    "ModelArtifactError",
    "ModelError",
    "Risk",
    "build_feature_matrix",
    "build_features",
    "is_plausible",
    "load_model",
    "score",
]
