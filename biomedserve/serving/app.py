"""The HTTP routes: validate, pick the model, hand the inputs to its batcher, shape the answer.

No model logic lives here — the runtime ``Predictor`` does the work. Errors are always 4xx with a
message naming the field (422), the limit (413/422) or the available models (404).
"""

from __future__ import annotations

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from biomedserve.data.registry import get_dataset
from biomedserve.errors import BiomedserveError
from biomedserve.serving import schemas as s
from biomedserve.serving.display import entity_types, render_entities
from biomedserve.serving.settings import SETTINGS
from biomedserve.serving.store import ModelStore, UnknownModel
from biomedserve.tasks.relation import mask_entities


def _field(error: dict) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query")) or "body"


class ErrorBody(s.BaseModel):
    error: str


ERRORS = {404: {"model": ErrorBody, "description": "unknown model (the message lists the loaded ones)"},
          413: {"model": ErrorBody, "description": "request body over the byte limit"},
          422: {"model": ErrorBody, "description": "invalid input or over a limit (the message names the field)"}}


class BodyLimit:
    """413 for a declared body over the limit, before anything reads it.

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    wraps every request and response in extra tasks and streams, a cost paid on every call.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_bytes:
                response = JSONResponse(status_code=413, content={
                    "error": f"request body: {length.decode()} bytes, the limit is {self.max_bytes}"})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def create_app() -> FastAPI:
    app = FastAPI(title="biomedserve", version="0.1.0",
                  description="Biomedical NLP models fine-tuned on BLURB: entities, relations, QA, similarity, "
                              "hallmarks of cancer. Limits: "
                              f"{SETTINGS.max_chars_per_text} characters per text, {SETTINGS.max_texts} texts "
                              f"per request, {SETTINGS.max_total_chars} characters in total.")
    app.state.store = None

    def store() -> ModelStore:
        if app.state.store is None:  # only if used outside the BentoML service (tests set it)
            app.state.store = ModelStore.load()
        return app.state.store

    app.add_middleware(BodyLimit, max_bytes=SETTINGS.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        errors = exc.errors()
        message = "; ".join(f"{_field(e)}: {e.get('msg')}" for e in errors[:10])
        detail = [{"field": _field(e), "message": e.get("msg"), "type": e.get("type")} for e in errors]
        return JSONResponse(status_code=422, content={"error": message, "detail": detail})

    @app.exception_handler(UnknownModel)
    async def unknown(_: Request, exc: UnknownModel):
        return JSONResponse(status_code=404, content={"error": str(exc),
                                                      "available": sorted(store().by_name)})

    @app.exception_handler(BiomedserveError)
    async def bad_input(_: Request, exc: BiomedserveError):
        return JSONResponse(status_code=422, content={"error": str(exc)})

    @app.post("/ner", responses=ERRORS, response_model=s.NerResponse, summary="Named entities in one or many texts")
    async def ner(body: s.NerRequest) -> s.NerResponse:
        served = store().get(body.model, ("ner", "pico"))
        results = await served.batcher.submit(body.texts)
        return s.NerResponse(model=served.name, entities=[[e.to_dict() for e in ents] for ents in results])

    @app.post("/relations", responses=ERRORS, response_model=s.LabelResponse, summary="Relation between two entities of a sentence")
    async def relations(body: s.RelationRequest) -> s.LabelResponse:
        served = store().get(body.model, ("relation",))
        text = body.text
        if body.entity1 is not None:
            default1, default2 = get_dataset(served.predictor.meta.dataset).entity_masks or ("ENTITY", "ENTITY")
            text = mask_entities(text, (body.entity1.start, body.entity1.end, body.entity1.type or default1),
                                 (body.entity2.start, body.entity2.end, body.entity2.type or default2))
        [result] = await served.batcher.submit([text])
        return s.LabelResponse(model=served.name, masked_text=text, **result)

    @app.post("/qa", responses=ERRORS, response_model=s.LabelResponse, summary="Yes / no (/ maybe) answer from a context")
    async def qa(body: s.QaRequest) -> s.LabelResponse:
        served = store().get(body.model, ("qa",))
        [result] = await served.batcher.submit([(body.question, body.context)])
        return s.LabelResponse(model=served.name, **result)

    @app.post("/similarity", responses=ERRORS, response_model=s.SimilarityResponse, summary="Semantic similarity, 0–4")
    async def similarity(body: s.SimilarityRequest) -> s.SimilarityResponse:
        served = store().get(body.model, ("similarity",))
        [score] = await served.batcher.submit([(body.sentence1, body.sentence2)])
        return s.SimilarityResponse(model=served.name, score=score)

    @app.post("/classify", responses=ERRORS, response_model=s.ClassifyResponse, summary="Hallmarks of cancer of an abstract")
    async def classify(body: s.ClassifyRequest) -> s.ClassifyResponse:
        served = store().get(body.model, ("doc_classification",))
        [result] = await served.batcher.submit([body.text])
        return s.ClassifyResponse(model=served.name, **result)

    @app.get("/models", response_model=list[s.ModelInfo], summary="Loaded models, from their cards")
    async def models() -> list[s.ModelInfo]:
        return [s.ModelInfo(name=m.name, task=m.task, dataset=m.predictor.meta.dataset, labels=m.predictor.meta.labels,
                            base_model=m.predictor.meta.base_model, variant=m.predictor.variant,
                            metrics=m.predictor.meta.metrics) for m in store().by_name.values()]

    async def render(text: str, model: str | None) -> HTMLResponse:
        served = store().get(model, ("ner", "pico"))
        [entities] = await served.batcher.submit([text])
        return HTMLResponse(render_entities(text, [(e.start, e.end, e.label) for e in entities],
                                            f"{served.name} — {len(entities)} entities",
                                            entity_types(served.predictor.meta.labels)))

    @app.get("/visualize", responses=ERRORS, response_class=HTMLResponse, summary="displaCy page of the entities in a text")
    async def visualize_get(text: str = Query(..., max_length=SETTINGS.max_chars_per_text),
                            model: str | None = Query(None)) -> HTMLResponse:
        return await render(text, model)

    @app.post("/visualize", responses=ERRORS, response_class=HTMLResponse, summary="displaCy page of the entities in a text")
    async def visualize_post(body: s.VisualizeRequest) -> HTMLResponse:
        return await render(body.text, body.model)

    return app
