"""The HTTP routes: validate, pick the model, hand the inputs to its batcher, shape the answer.

No model logic lives here — the runtime ``Predictor`` does the work. Every bad request gets a 4xx with a
JSON body ``{"error": ...}`` naming the field (422), the limit (413/422), the content type (415),
the undecodable byte (400), the available models or the path (404), or the allowed methods (405).
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from biomedserve.errors import BiomedserveError
from biomedserve.modeldir.task_types import InputKind, OutputKind
from biomedserve.runtime import select_types
from biomedserve.serving import schemas as s
from biomedserve.serving.display import render_entities
from biomedserve.serving.http_errors import BodyLimit, JsonBodyRoute, http_error
from biomedserve.serving.settings import SETTINGS
from biomedserve.serving.store import ModelStore, UnknownModel
from biomedserve.text.encoding import mask_entities

# an endpoint per kind of input and output: a model of any task type with these kinds is served there
NER = (None, OutputKind.ENTITIES)
RELATIONS = (InputKind.ENTITY_PAIR, None)
QA = (InputKind.TEXT_PAIR, OutputKind.LABEL)
SIMILARITY = (InputKind.TEXT_PAIR, OutputKind.SCORE)
CLASSIFY = (InputKind.DOCUMENT, None)
UNMASKED = "ENTITY"  # the mask of an entity whose type neither the request nor the card gives


def _field(error: dict) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query")) or "body"


def _detail(error: dict, body: object) -> dict:
    """One pydantic / FastAPI validation error as ``{field, message, type}``.

    Invalid JSON is located by its character position in the body (with line and column, from
    ``json.JSONDecodeError``), not reported as a field named after that position.
    """
    if error.get("type") == "json_invalid":
        position = error["loc"][-1]
        reason = error.get("ctx", {}).get("error", "not JSON")
        where = f"position {position}"
        if isinstance(body, str):  # the decoded body FastAPI hands over
            located = json.JSONDecodeError(reason, body, position)
            where += f" (line {located.lineno}, column {located.colno})"
        return {"field": "body", "position": position, "message": f"invalid JSON at {where}: {reason}",
                "type": "json_invalid"}
    return {"field": _field(error), "message": error.get("msg"), "type": error.get("type")}


class ErrorBody(s.BaseModel):
    error: str


ERRORS = {404: {"model": ErrorBody, "description": "unknown model (the message lists the loaded ones)"},
          413: {"model": ErrorBody, "description": "request body over the byte limit, however it is sent"},
          422: {"model": ErrorBody, "description": "invalid input or over a limit (the message names the field)"}}
BODY_ERRORS = {**ERRORS,
               400: {"model": ErrorBody, "description": "request body not UTF-8 (the message names the byte)"},
               415: {"model": ErrorBody, "description": "request body not sent as application/json"}}


def _guideline_info(predictor) -> dict:
    """The annotation guidelines an NER model has heads for, and its defaults (empty for other models)."""
    known = getattr(predictor, "guidelines", {})
    return {"guidelines": known, "default_guidelines": getattr(predictor, "default_guidelines", {})} if known else {}


def create_app() -> FastAPI:
    app = FastAPI(title="biomedserve", version="0.1.0",
                  description="Biomedical NLP models fine-tuned on BLURB: entities, relations, QA, similarity, "
                              "hallmarks of cancer. Limits: "
                              f"{SETTINGS.max_chars_per_text} characters per text, {SETTINGS.max_texts} texts "
                              f"per request, {SETTINGS.max_total_chars} characters in total.")
    app.router.route_class = JsonBodyRoute
    app.state.store = None

    def store() -> ModelStore:
        if app.state.store is None:  # only if used outside the BentoML service (tests set it)
            app.state.store = ModelStore.load()
        return app.state.store

    app.add_middleware(BodyLimit, max_bytes=SETTINGS.max_body_bytes)

    app.add_exception_handler(HTTPException, http_error)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        detail = [_detail(e, exc.body) for e in exc.errors()]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in detail[:10])
        return JSONResponse(status_code=422, content={"error": message, "detail": detail})

    @app.exception_handler(UnknownModel)
    async def unknown(_: Request, exc: UnknownModel):
        return JSONResponse(status_code=404, content={"error": str(exc),
                                                      "available": sorted(store().by_name)})

    @app.exception_handler(BiomedserveError)
    async def bad_input(_: Request, exc: BiomedserveError):
        return JSONResponse(status_code=422, content={"error": str(exc)})

    @app.post("/ner", responses=BODY_ERRORS, response_model=s.NerResponse, response_model_exclude_none=True,
              summary="Named entities in one or many texts")
    async def ner(body: s.NerRequest) -> s.NerResponse:
        served = store().get(body.model, *NER)
        # checked before the texts queue; the model finds every type in one pass, so requests for
        # different types still share batches and each keeps its own types afterwards
        wanted = select_types(body.types, served.predictor.entity_types, served.name)
        options = {}
        if body.guideline is not None:
            served.predictor.guideline_view(body.guideline)  # an unknown guideline is a 422 before anything runs
            options["guideline"] = body.guideline
        results = await served.batcher.submit(body.texts, **options)
        if wanted is not None:
            results = [r.of_types(wanted) for r in results]
        return s.NerResponse(model=served.name, entities=[r.to_dict()["entities"] for r in results])

    @app.post("/relations", responses=BODY_ERRORS, response_model=s.LabelResponse, summary="Relation between two entities of a sentence")
    async def relations(body: s.RelationRequest) -> s.LabelResponse:
        served = store().get(body.model, *RELATIONS)
        text = body.text
        if body.entity1 is not None:
            default1, default2 = served.predictor.meta.entity_masks or (UNMASKED, UNMASKED)
            text = mask_entities(text, (body.entity1.start, body.entity1.end, body.entity1.type or default1),
                                 (body.entity2.start, body.entity2.end, body.entity2.type or default2))
        [result] = await served.batcher.submit([text])
        return s.LabelResponse(model=served.name, masked_text=text, **result.to_dict())

    @app.post("/qa", responses=BODY_ERRORS, response_model=s.LabelResponse, summary="Yes / no (/ maybe) answer from a context")
    async def qa(body: s.QaRequest) -> s.LabelResponse:
        served = store().get(body.model, *QA)
        [result] = await served.batcher.submit([(body.question, body.context)])
        return s.LabelResponse(model=served.name, **result.to_dict())

    @app.post("/similarity", responses=BODY_ERRORS, response_model=s.SimilarityResponse, summary="Semantic similarity, 0–4")
    async def similarity(body: s.SimilarityRequest) -> s.SimilarityResponse:
        served = store().get(body.model, *SIMILARITY)
        [result] = await served.batcher.submit([(body.sentence1, body.sentence2)])
        return s.SimilarityResponse(model=served.name, **result.to_dict())

    @app.post("/classify", responses=BODY_ERRORS, response_model=s.ClassifyResponse, summary="Hallmarks of cancer of an abstract")
    async def classify(body: s.ClassifyRequest) -> s.ClassifyResponse:
        served = store().get(body.model, *CLASSIFY)
        [result] = await served.batcher.submit([body.text])
        return s.ClassifyResponse(model=served.name, **result.to_dict())

    @app.get("/models", response_model=list[s.ModelInfo], summary="Loaded models, from their cards")
    async def models() -> list[s.ModelInfo]:
        return [s.ModelInfo(name=m.name, task=m.task, dataset=m.predictor.meta.dataset, labels=m.predictor.meta.labels,
                            base_model=m.predictor.meta.base_model, variant=m.predictor.variant,
                            metrics=m.predictor.meta.metrics, collapsed=m.predictor.meta.collapsed,
                            floor=m.predictor.meta.floor, **_guideline_info(m.predictor))
                for m in store().by_name.values()]

    async def render(text: str, model: str | None) -> HTMLResponse:
        served = store().get(model, *NER)
        [entities] = await served.batcher.submit([text])
        shown = entities.non_overlapping()  # displaCy's entity view cannot draw overlapping marks
        hidden = f", {len(entities) - len(shown)} overlapping not drawn" if len(shown) < len(entities) else ""
        return HTMLResponse(render_entities(text, [(e.start, e.end, e.label) for e in shown],
                                            f"{served.name} — {len(entities)} entities{hidden}",
                                            served.predictor.entity_types))

    @app.get("/visualize", responses=ERRORS, response_class=HTMLResponse, summary="displaCy page of the entities in a text")
    async def visualize_get(text: str = Query(..., max_length=SETTINGS.max_chars_per_text),
                            model: str | None = Query(None)) -> HTMLResponse:
        return await render(text, model)

    @app.post("/visualize", responses=BODY_ERRORS, response_class=HTMLResponse, summary="displaCy page of the entities in a text")
    async def visualize_post(body: s.VisualizeRequest) -> HTMLResponse:
        return await render(body.text, body.model)

    return app
