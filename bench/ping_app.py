"""The ceiling: a bare Flask route under the gateway's own gunicorn settings."""
from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping() -> tuple[str, int]:
    return "pong", 200
