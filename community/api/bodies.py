"""The JSON bodies the API's writes take (their checks and their OpenAPI schemas)."""

from __future__ import annotations

from community.api.validation import Body, RowId, Text
from community.questions import services
from community.questions.pages import MAX_URL_LENGTH

# The site's ask form takes page titles this long; the service keeps the first 300 characters.
MAX_PAGE_TITLE_LENGTH = 1000

EXAMPLE_PAGE = "https://docs.example.com/docs/session-replay/setup"
NEW_QUESTION = Body(
    "NewQuestion",
    "A question about a documentation page.",
    page_url=Text(
        "The page's address; any spelling of it means the same page.",
        MAX_URL_LENGTH,
        example=EXAMPLE_PAGE,
    ),
    page_title=Text(
        "The page's title, shown with its questions.",
        MAX_PAGE_TITLE_LENGTH,
        required=False,
        nullable=True,
        allow_blank=True,
        example="Set up session replay",
    ),
    subject=Text(
        "One line: what do you want to know?",
        services.MAX_SUBJECT_LENGTH,
        example="Recordings stop after a page navigation",
    ),
    body=Text(
        "The details, in Markdown.",
        services.MAX_BODY_LENGTH,
        example="I call `init()` on every page. What did I miss?",
    ),
)
NEW_REPLY = Body(
    "NewReply",
    "A reply to a question.",
    body=Text("In Markdown.", services.MAX_BODY_LENGTH, example="Call `init()` only **once**."),
)
ACCEPT = Body(
    "AcceptAnswer",
    "Which reply answers the question; null withdraws the accepted answer.",
    reply_id=RowId("A reply to this question, or null.", nullable=True),
)
