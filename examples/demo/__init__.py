"""The demo site's entry point: ``uvicorn examples.demo.app:app``."""
