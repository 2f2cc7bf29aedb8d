"""Request and response models: the HTTP contract, validated by pydantic, published as OpenAPI.

Limits are part of the schema (string and list lengths), so a request over them is refused with
422 naming the field and the limit before any model runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from biomedserve.serving.settings import SETTINGS

Text = Annotated[str, StringConstraints(max_length=SETTINGS.max_chars_per_text)]
ModelName = Annotated[str | None, Field(None, description="model name (GET /models); default: the first of this task")]
EntityType = Annotated[str, StringConstraints(min_length=1, max_length=64)]
GuidelineName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NerRequest(_Strict):
    texts: list[Text] = Field(..., min_length=1, max_length=SETTINGS.max_texts,
                              description=f"texts to annotate (at most {SETTINGS.max_texts})")
    model: ModelName = None
    types: list[EntityType] | None = Field(None, min_length=1, max_length=64,
                                           description="keep only entities of these types, e.g. [\"GENE\"] "
                                                       "(the model's labels, GET /models); default: every type")
    guideline: GuidelineName | dict[EntityType, GuidelineName] | None = Field(
        None, description="a model with a head per annotation guideline (GET /models, `guidelines`): follow this "
                          "one, e.g. \"BioNLP\" for every type that has it or {\"GENE\": \"BC2GM\"}; default: the "
                          "model card's choice")

    @model_validator(mode="after")
    def _total(self):
        total = sum(len(t) for t in self.texts)
        if total > SETTINGS.max_total_chars:
            raise ValueError(f"texts: {total} characters in total, the limit is {SETTINGS.max_total_chars}")
        return self


class EntityOut(BaseModel):
    start: int
    end: int
    text: str
    label: str
    score: float
    guideline: str | None = Field(None, description="the guideline its head follows (multi-guideline models)")
    abbreviation_of: str | None = Field(None, description="the long form, when the entity is an abbreviation "
                                                          "defined in the same text")


class NerResponse(BaseModel):
    model: str
    entities: list[list[EntityOut]]


class Span(_Strict):
    start: int = Field(..., ge=0)
    end: int = Field(..., gt=0)
    type: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z_-]{0,30}$",
                             description="entity type for the mask, e.g. CHEMICAL; default: the model's")

    @model_validator(mode="after")
    def _order(self):
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class RelationRequest(_Strict):
    text: Text = Field(..., description="the sentence, or the sentence with both entities already masked")
    entity1: Span | None = None
    entity2: Span | None = None
    model: ModelName = None

    @model_validator(mode="after")
    def _spans(self):
        if (self.entity1 is None) != (self.entity2 is None):
            raise ValueError("give both entity1 and entity2, or neither (text already masked)")
        for name, span in (("entity1", self.entity1), ("entity2", self.entity2)):
            if span is not None and span.end > len(self.text):
                raise ValueError(f"{name}: end {span.end} is beyond the text ({len(self.text)} characters)")
        if self.entity1 and self.entity2 and self.entity1.start < self.entity2.end and self.entity2.start < self.entity1.end:
            raise ValueError("entity1 and entity2 overlap")
        return self


class LabelResponse(BaseModel):
    model: str
    label: str
    probabilities: dict[str, float]
    masked_text: str | None = None


class QaRequest(_Strict):
    question: Text
    context: Text
    model: ModelName = None


class SimilarityRequest(_Strict):
    sentence1: Text
    sentence2: Text
    model: ModelName = None


class SimilarityResponse(BaseModel):
    model: str
    score: float = Field(..., description="0 (unrelated) to 4 (equivalent), the BIOSSES scale")


class ClassifyRequest(_Strict):
    text: Text = Field(..., description="an abstract")
    model: ModelName = None


class ClassifyResponse(BaseModel):
    model: str
    labels: list[str]
    probabilities: dict[str, float]


class ModelInfo(BaseModel):
    name: str
    task: str
    dataset: str
    labels: list[str]
    base_model: str
    variant: str
    metrics: dict[str, dict[str, float]]
    guidelines: dict[str, list[str]] = Field({}, description="per entity type, the annotation guidelines the "
                                                                  "model has a head for (empty: one per type)")
    default_guidelines: dict[str, str] = Field({}, description="the guideline each such type follows by default")
    collapsed: bool = Field(False, description="the card says the model sits on its task's trivial floor (served "
                                               "only with --allow-collapsed)")
    floor: dict | None = Field(None, description="the trivial answer's scores on the model's splits")


class VisualizeRequest(_Strict):
    text: Text
    model: ModelName = None
