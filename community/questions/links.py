"""Where a thread's buttons lead. Templates ask ``links`` rather than naming routes, so the same
templates serve the site and the embed (which answers the same actions on its own routes)."""

from __future__ import annotations

from flask import url_for

from community.questions.models import Question, Reply


class ThreadLinks:
    # True where the thread page is another window (the embed opens it in a new tab).
    external = False

    def thread(self, question: Question) -> str:
        return url_for("questions.show", question_id=question.id, slug=question.slug)

    def reply(self, question: Question) -> str:
        return url_for("questions.reply", question_id=question.id)

    def accept(self, reply: Reply) -> str:
        return url_for("questions.accept", reply_id=reply.id)

    def withdraw(self, question: Question) -> str:
        return url_for("questions.withdraw", question_id=question.id)

    def follow(self, question: Question) -> str:
        return url_for("notifications.follow", question_id=question.id)

    def unfollow(self, question: Question) -> str:
        return url_for("notifications.unfollow", question_id=question.id)

    def publish_reply(self, reply: Reply) -> str | None:
        return url_for("questions.publish_reply", reply_id=reply.id)

    def edit_reply(self, reply: Reply) -> str | None:
        return url_for("questions.edit_reply", reply_id=reply.id)

    def delete_reply(self, reply: Reply) -> str | None:
        return url_for("questions.delete_reply", reply_id=reply.id)

    def flag(self, post: Question | Reply) -> str | None:
        if isinstance(post, Question):
            return url_for("flags.flag_question", question_id=post.id)
        return url_for("flags.flag_reply", reply_id=post.id)

    def moderate_reply(self, reply: Reply) -> dict[str, str] | None:
        """Moderators' hide and restore buttons for a reply (on the site only)."""
        return {
            "hide": url_for("moderation.hide_reply", reply_id=reply.id),
            "unhide": url_for("moderation.unhide_reply", reply_id=reply.id),
        }
