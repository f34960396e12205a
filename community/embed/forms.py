from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from community.embed.context import THEMES


class EmbedCodeForm(FlaskForm):
    """The admin's embed configurator: read from the query string, so it needs no token."""

    class Meta:
        csrf = False

    page_url = StringField(
        "Page URL",
        validators=[Optional(), Length(max=2000)],
        description="Leave empty to use each page's canonical URL (recommended).",
        render_kw={"placeholder": "https://docs.example.com/docs/getting-started"},
    )
    page_title = StringField(
        "Page title",
        validators=[Optional(), Length(max=300)],
        description="Leave empty to use the page's own title.",
    )
    topic = SelectField("Topic", validators=[Optional()], validate_choice=True)
    theme = SelectField(
        "Theme",
        choices=[SelectChoice(theme, theme.title()) for theme in THEMES],
        validators=[Optional()],
        validate_choice=True,
        description="Auto follows the reader's system setting.",
    )
