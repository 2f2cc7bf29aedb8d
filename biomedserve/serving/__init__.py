"""HTTP serving: request/response schemas, the model store, a token-budget batcher, the routes.

The BentoML service in ``service/service.py`` mounts :func:`biomedserve.serving.app.create_app`;
everything model-related goes through the runtime ``Predictor``.
"""
