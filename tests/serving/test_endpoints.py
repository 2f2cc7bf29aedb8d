"""Every endpoint of the real service over HTTP, and every error path."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from biomedserve.data.registry import get_dataset


def test_probes_and_metrics(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "bentoml" in metrics.text


def test_openapi_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/ner", "/relations", "/qa", "/similarity", "/classify", "/models", "/visualize"):
        assert path in paths


def test_models_lists_cards(client, served_models):
    models = {m["name"]: m for m in client.get("/models").json()}
    assert set(models) == {p.name for p in served_models.values()}
    ner = models[served_models["ner"].name]
    assert ner["task"] == "ner" and ner["labels"] == ["O", "B-CHEMICAL", "I-CHEMICAL"]
    assert ner["variant"] == "model.onnx" and ner["metrics"]


def test_ner_many_texts_with_valid_offsets(client):
    texts = ["Naloxone reversed the effect of clonidine.", "", "Cisplatin (CDDP) and 5-fluorouracil…"]
    body = client.post("/ner", json={"texts": texts}).json()
    assert len(body["entities"]) == 3 and body["entities"][1] == []
    for text, entities in zip(texts, body["entities"]):
        for e in entities:
            assert text[e["start"]:e["end"]] == e["text"]
            assert e["label"] == "CHEMICAL" and 0 < e["score"] <= 1


TYPED_TEXTS = ["Cisplatin-induced nephrotoxicity was reduced by naloxone in rats with hypertension.",
               "Patients receiving doxorubicin or 5-fluorouracil developed hypotension and cardiomyopathy.",
               "Lithium levels rose with ibuprofen; seizures followed haloperidol overdose."]


def test_ner_types_keep_only_those_types_of_a_two_type_model(client, served_models):
    model = served_models["ner_two_types"].name
    every = client.post("/ner", json={"texts": TYPED_TEXTS, "model": model}).json()["entities"]
    assert {e["label"] for es in every for e in es} == {"CHEMICAL", "DISEASE"}  # both found: filtering shows
    for types in (["DISEASE"], ["CHEMICAL"], ["DISEASE", "CHEMICAL"]):
        response = client.post("/ner", json={"texts": TYPED_TEXTS, "model": model, "types": types})
        assert response.status_code == 200, response.text
        assert response.json()["entities"] == [[e for e in es if e["label"] in types] for es in every]


@pytest.mark.parametrize("types, needle", [
    (["GENE"], "finds no entity type 'GENE'; its types are: CHEMICAL, DISEASE"),
    (["DISEASE", "disease"], "finds no entity type 'disease'; its types are: CHEMICAL, DISEASE"),
])
def test_ner_unknown_type_is_422_naming_it_and_the_models_types(client, served_models, types, needle):
    model = served_models["ner_two_types"].name
    response = client.post("/ner", json={"texts": TYPED_TEXTS, "model": model, "types": types})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"] == f"types: {model} {needle}"
    single = client.post("/ner", json={"texts": ["a"], "types": ["DISEASE"]})  # the default model: CHEMICAL only
    assert single.status_code == 422 and single.json()["error"].endswith("its types are: CHEMICAL")


def test_relations_with_spans_masks_the_entities(client):
    text = "Aspirin inhibits COX-1 in platelets."
    body = client.post("/relations", json={"text": text, "entity1": {"start": 0, "end": 7},
                                           "entity2": {"start": 17, "end": 22}})
    assert body.status_code == 200, body.text
    result = body.json()
    assert result["masked_text"] == "@CHEMICAL$ inhibits @GENE$ in platelets."
    assert result["label"] in result["probabilities"] and len(result["probabilities"]) == 6
    masked = client.post("/relations", json={"text": "@CHEMICAL$ inhibits @GENE$."}).json()
    assert masked["masked_text"] == "@CHEMICAL$ inhibits @GENE$."


def test_qa_similarity_classify(client):
    qa = client.post("/qa", json={"question": "Does aspirin reduce pain?", "context": "It did in 80% of cases."}).json()
    assert qa["label"] in {"yes", "no", "maybe"} and abs(sum(qa["probabilities"].values()) - 1) < 1e-3
    sim = client.post("/similarity", json={"sentence1": "Cells grow.", "sentence2": "Cells divide."}).json()
    assert 0 <= sim["score"] <= 4
    doc = client.post("/classify", json={"text": "Tumour cells evade apoptosis. VEGF induced angiogenesis."}).json()
    assert len(doc["probabilities"]) == 10 and all(doc["probabilities"][k] >= 0.5 for k in doc["labels"])


@pytest.mark.parametrize("path, body, field", [
    ("/ner", {"texts": "not a list"}, "texts"),
    ("/ner", {"texts": [1, 2]}, "texts.0"),
    ("/ner", {}, "texts"),
    ("/ner", {"texts": ["a"], "colour": "red"}, "colour"),
    ("/ner", {"texts": []}, "texts"),
    ("/ner", {"texts": ["a"], "types": []}, "types"),
    ("/ner", {"texts": ["a"], "types": "CHEMICAL"}, "types"),
    ("/ner", {"texts": ["a"], "types": [""]}, "types.0"),
    ("/qa", {"question": "q"}, "context"),
    ("/similarity", {"sentence1": "a", "sentence2": None}, "sentence2"),
    ("/relations", {"text": "abc", "entity1": {"start": 0, "end": 1}}, "body"),
    ("/relations", {"text": "abcdef", "entity1": {"start": 0, "end": 3}, "entity2": {"start": 2, "end": 5}}, "overlap"),
    ("/relations", {"text": "abc", "entity1": {"start": 0, "end": 1}, "entity2": {"start": 2, "end": 9}}, "beyond"),
    ("/relations", {"text": "abc", "entity1": {"start": 2, "end": 1}, "entity2": {"start": 0, "end": 1}}, "entity1"),
])
def test_bad_input_is_422_naming_the_field(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]


def test_malformed_json_is_422(client):
    response = client.post("/ner", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


JSON = {"content-type": "application/json"}


def test_invalid_json_names_the_character_position(client):
    response = client.post("/ner", content=b'{"texts": ["a"] x}', headers=JSON)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"].startswith("body: invalid JSON at position 16 (line 1, column 17)"), body
    assert body["detail"][0]["field"] == "body" and body["detail"][0]["position"] == 16


def test_body_not_utf8_is_400_naming_the_byte(client):
    response = client.post("/ner", content='{"texts": ["café"]}'.encode("latin-1"), headers=JSON)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "not UTF-8" in error and "0xe9" in error and "position 15" in error


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_not_sent_as_json_is_415_naming_the_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/ner", content=b'{"texts": ["a"]}', headers=headers)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert (content_type or "none given") in error and "application/json" in error


@pytest.mark.parametrize("method, path, status, needles", [
    ("GET", "/nope", 404, ["/nope", "/openapi.json"]),
    ("POST", "/ner/extra", 404, ["/ner/extra"]),
    ("GET", "/ner", 405, ["GET", "/ner", "POST"]),
    ("DELETE", "/models", 405, ["DELETE", "GET"]),
    ("POST", "/healthz", 405, ["POST", "/healthz", "GET"]),  # a BentoML route, not biomedserve's
])
def test_unknown_path_and_wrong_method_answer_json_errors(client, method, path, status, needles):
    response = client.request(method, path, json={"texts": ["a"]} if method == "POST" else None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert all(needle in error for needle in needles), error
    if status == 405:
        assert response.headers["allow"]


@pytest.mark.parametrize("body, needle", [
    ({"texts": ["x" * 3001]}, "3000"),
    ({"texts": ["a"] * 9}, "8"),
    ({"texts": ["x" * 2500] * 3}, "6000"),
])
def test_limits_name_the_field_and_the_limit(client, body, needle):
    response = client.post("/ner", json=body)
    assert response.status_code == 422
    assert "texts" in response.json()["error"] and needle in response.json()["error"]


def test_huge_body_is_413(client):
    response = client.post("/ner", content=b'{"texts": ["' + b"x" * 300_000 + b'"]}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 413 and "200000" in response.json()["error"]


def _padded_ner_body(size: int) -> Iterator[bytes]:
    """A valid /ner body of about ``size`` bytes in 64 KiB chunks: one short text, then whitespace."""
    yield b'{"texts": ["Aspirin relieved the pain."]'
    for _ in range(size // 65536):
        yield b" " * 65536
    yield b"}"


def test_chunked_body_over_the_limit_is_413(client):
    response = client.post("/ner", content=_padded_ner_body(1_000_000), headers=JSON)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert "200000" in response.json()["error"]
    under = client.post("/ner", content=_padded_ner_body(150_000), headers=JSON)  # same connection, kept
    assert under.request.headers["transfer-encoding"] == "chunked"
    assert under.status_code == 200 and len(under.json()["entities"]) == 1


def test_chunked_body_is_refused_before_its_end(service):
    """The 413 comes once the limit is crossed, while the rest of the body is still unsent."""
    url = urlsplit(service)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        connection.putrequest("POST", "/ner")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        chunk = b'{"texts": ["a"]' + b" " * 250_000  # no closing brace, no last chunk: the body never ends
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        response = connection.getresponse()
        assert response.status == 413
        assert "200000" in json.loads(response.read())["error"]
    finally:
        connection.close()


def test_unknown_model_is_404_listing_the_available(client, served_models):
    response = client.post("/ner", json={"texts": ["a"], "model": "nope"})
    assert response.status_code == 404
    assert served_models["ner"].name in response.json()["error"]
    wrong_task = client.post("/qa", json={"question": "q", "context": "c", "model": served_models["ner"].name})
    assert wrong_task.status_code == 404 and "ner model" in wrong_task.json()["error"]


def test_concurrent_requests_get_their_own_results(service, client):
    sentences = [" ".join(s.tokens) for s in get_dataset("BC5-chem").load("dev")[:40]]
    expected = [client.post("/ner", json={"texts": [t]}).json()["entities"][0] for t in sentences]

    async def fire():
        async with httpx.AsyncClient(base_url=service, timeout=60) as c:
            responses = await asyncio.gather(*(c.post("/ner", json={"texts": [t]}) for t in sentences))
        return [r.json()["entities"][0] for r in responses]

    assert asyncio.run(fire()) == expected


GENE_TEXTS = ["The androgen receptor (AR) binds IL-2 and TNF in Escherichia coli and human cells.",
              "p53 and BRCA1 mutations were found in mice."]


def test_a_multi_guideline_model_lists_its_guidelines_and_follows_the_one_asked_for(client, served_models):
    model = served_models["ner_guidelines"].name
    info = {m["name"]: m for m in client.get("/models").json()}[model]
    assert info["guidelines"] == {"GENE": ["BC2GM", "BioNLP"]} and info["default_guidelines"] == {"GENE": "BC2GM"}
    assert {m["name"]: m for m in client.get("/models").json()}[served_models["ner"].name]["guidelines"] == {}
    for guideline in ("BioNLP", {"GENE": "BioNLP"}, "BC2GM", None):
        body = {"texts": GENE_TEXTS, "model": model, **({"guideline": guideline} if guideline else {})}
        response = client.post("/ner", json=body)
        assert response.status_code == 200, response.text
        followed = "BioNLP" if guideline in ("BioNLP", {"GENE": "BioNLP"}) else "BC2GM"
        for text, entities in zip(GENE_TEXTS, response.json()["entities"]):
            assert all(text[e["start"]:e["end"]] == e["text"] for e in entities)
            assert all(e["guideline"] == followed for e in entities if e["label"] == "GENE")
            assert all("guideline" not in e for e in entities if e["label"] != "GENE")


@pytest.mark.parametrize("model_key, guideline, needle", [
    ("ner_guidelines", "GENIA", "knows no guideline 'GENIA'; it knows GENE: BC2GM, BioNLP"),
    ("ner_guidelines", {"SPECIES": "BioNLP"}, "has no 'SPECIES' head to guideline 'BioNLP'"),
    ("ner_two_types", "BioNLP", "follows one annotation guideline per entity type"),
])
def test_an_unknown_guideline_is_422_naming_what_the_model_knows(client, served_models, model_key, guideline, needle):
    response = client.post("/ner", json={"texts": GENE_TEXTS, "model": served_models[model_key].name,
                                         "guideline": guideline})
    assert response.status_code == 422, response.text
    assert needle in response.json()["error"]
