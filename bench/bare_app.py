"""The baseline for ``bench.read_path``: Flask with nothing in it but one JSON route.

gunicorn serves it with exactly the settings it gives the real app, so the ratio of the two
request rates says what the app itself costs on top of Flask, the server and the load tool.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, object]:
    return {"message": "hello", "questions": [], "next_cursor": None}
