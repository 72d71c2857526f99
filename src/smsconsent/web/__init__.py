"""The HTTP service: REST API, provider webhooks, metrics; built by ``create_app(settings)``."""
