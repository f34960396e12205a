"""Events that features publish, so that one feature can react to another without importing it.

Receivers run inside the request's transaction: they may add rows (an outbox entry, say) but never
commit and never talk to the network.
"""

from blinker import Namespace

_signals = Namespace()

#: A user has just signed in or signed up (``user=``). Receivers may return a URL to continue to.
user_signed_in = _signals.signal("user-signed-in")
#: A user proved they own their email address (``user=``): what they wrote meanwhile goes out.
email_verified = _signals.signal("email-verified")
#: A question became visible to the public (``question=``).
question_published = _signals.signal("question-published")
#: A reply became visible to the public (``reply=``).
reply_published = _signals.signal("reply-published")
#: The asker (or a moderator) accepted a reply (``question=``, ``reply=``, ``actor=``).
answer_accepted = _signals.signal("answer-accepted")
#: An accepted answer was withdrawn (``question=``, ``reply=``, ``actor=``).
answer_withdrawn = _signals.signal("answer-withdrawn")
#: A question was deleted (soft) by its author or a moderator (``question=``, ``actor=``).
question_deleted = _signals.signal("question-deleted")
#: A moderator hid a question (``question=``, ``actor=``, ``reason=``; "spam" for spam).
question_hidden = _signals.signal("question-hidden")
#: A question or reply was edited (``post=``, ``actor=``, ``revision=``: the version before).
post_edited = _signals.signal("post-edited")
#: A moderator made a hidden or deleted question public again (``question=``, ``actor=``).
question_restored = _signals.signal("question-restored")
#: The reply composer of a thread is shown afresh (``viewer=``, ``question=`` with its author
#: loaded, ``args=``: the request's query string). Receivers may return the text it starts with.
reply_composing = _signals.signal("reply-composing")
#: Staff tagged a question (``question=``, ``tag=``, ``actor=``, ``note=``: what to tell the
#: support team about it, e.g. the GitHub issue of a feature request).
question_tagged = _signals.signal("question-tagged")
#: A moderator marked a question resolved or unresolved (``question=``, ``actor=``,
#: ``resolved=``).
question_resolution_changed = _signals.signal("question-resolution-changed")
