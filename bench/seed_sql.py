"""The bulk seed of ``bench.read_path``: plain SQL, run by PostgreSQL itself.

Every row comes from ``generate_series`` and a hash of its number, so a seed of the same size is
the same data every time, and nothing crosses the wire but the statements. The tables keep the
schema the migrations made: their secondary indexes and foreign keys are dropped for the load
and built again from PostgreSQL's own definitions afterwards, which is much faster than keeping
them up to date row by row, and checked to be identical at the end.

Numbers are parameters: ``%(questions)s`` and friends are bound by psycopg.
"""

from __future__ import annotations

# pg_temp.h(n, salt, m): a number in [0, m) from hashing n; the same n and salt give the same one.
HASH_FUNCTION = """
CREATE FUNCTION pg_temp.h(n bigint, salt int, m bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(n, salt) & 1073741823) % m $$
"""

# Tables that get millions of rows; the small ones (teams, topics) keep their indexes.
BULK_TABLES = ("users", "pages", "questions", "question_pages", "replies")

TEAMS = """
INSERT INTO teams (id, name, slug, created_at)
SELECT t, name, lower(replace(name, ' ', '-')), now() - interval '4 years'
FROM unnest(ARRAY['Platform', 'Billing', 'Identity', 'Data', 'Mobile', 'Developer Experience'])
     WITH ORDINALITY AS n(name, t)
"""

TOPIC_NAMES = (
    "Authentication",
    "Webhooks",
    "Rate limits",
    "Billing API",
    "Invoices",
    "Single sign-on",
    "SCIM provisioning",
    "Audit logs",
    "Data export",
    "SQL connector",
    "Streaming",
    "Backups",
    "iOS SDK",
    "Android SDK",
    "Push notifications",
    "Offline sync",
    "CLI",
    "Terraform provider",
    "Python SDK",
    "JavaScript SDK",
    "Errors",
    "Pagination",
    "Versioning",
    "Quotas",
)

TOPICS = """
INSERT INTO topics (id, team_id, name, slug, description, created_at)
SELECT t, 1 + (t - 1) / 4, name, lower(replace(name, ' ', '-')), 'Questions about ' || name || '.',
       now() - interval '4 years'
FROM unnest(%(topic_names)s::text[]) WITH ORDINALITY AS n(name, t)
"""

# The first 1 % of users answer for a team, the next 0.1 % moderate, the rest are members.
USERS = """
INSERT INTO users (id, email, name, password_hash, role, team_id, email_verified_at,
                   session_version, email_notifications, created_at)
SELECT u, 'user' || u || '@example.com',
       (ARRAY['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Guido', 'Frances',
              'Dennis', 'Radia', 'Edsger', 'Katherine', 'Alan', 'Sophie', 'Tim', 'Hedy',
              'Donald', 'Joan', 'John', 'Mary'])[1 + u %% 20]
         || ' ' ||
       (ARRAY['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'van Rossum',
              'Allen', 'Ritchie', 'Perlman', 'Dijkstra', 'Johnson', 'Turing', 'Wilson',
              'Berners-Lee', 'Lamarr', 'Knuth', 'Clarke', 'Backus', 'Keller'])[1 + (u / 20) %% 20],
       NULL,
       CASE WHEN u <= %(team_users)s THEN 'team'
            WHEN u <= %(team_users)s + %(moderators)s THEN 'moderator'
            ELSE 'member' END,
       CASE WHEN u <= %(team_users)s THEN 1 + u %% 6 END,
       now() - make_interval(days => 1 + pg_temp.h(u, 1, 1400)::int),
       1, false,
       now() - make_interval(days => 1 + pg_temp.h(u, 1, 1400)::int, hours => 1)
FROM generate_series(1, %(users)s) AS u
"""

# Every tenth page is outside the topics' path rules (no topic). The URLs are canonical: what
# ``questions.pages.normalise_page_url`` makes of them is themselves.
PAGES = """
INSERT INTO pages (id, url, title, topic_id, created_at, updated_at)
SELECT p,
       'https://docs.example.com/'
         || CASE WHEN p %% 10 = 0 THEN 'reference'
                 ELSE lower(replace(topic_names[1 + p %% cardinality(topic_names)], ' ', '-')) END
         || '/' || (ARRAY['getting-started', 'configuration', 'errors', 'limits', 'migrating',
                          'examples', 'troubleshooting', 'security'])[1 + pg_temp.h(p, 2, 8)]
         || '-' || p,
       (ARRAY['Getting started', 'Configuration', 'Errors', 'Limits', 'Migrating', 'Examples',
              'Troubleshooting', 'Security'])[1 + pg_temp.h(p, 2, 8)]
         || ' · ' || CASE WHEN p %% 10 = 0 THEN 'Reference'
                         ELSE topic_names[1 + p %% cardinality(topic_names)] END,
       CASE WHEN p %% 10 = 0 THEN NULL ELSE 1 + p %% cardinality(topic_names) END,
       now() - interval '3 years', now() - make_interval(days => pg_temp.h(p, 3, 1000)::int)
FROM generate_series(1, %(pages)s) AS p, (SELECT %(topic_names)s::text[] AS topic_names) AS t
"""

# A question lives on its origin page; ``hot_share`` of them were asked on the first
# ``hot_pages`` pages (a few pages with very many questions), the rest on a page drawn at random
# (about ten a page). Ids follow creation time over three years. 10 % have no reply, the others
# 1 to 3 replies, whose ids are (question id - 1) * 3 + 1, 2, 3; 40 % of the answered ones have
# their first reply accepted. 1 % are held for moderation (unpublished), 0.5 % hidden, 0.5 %
# deleted, 0.2 % pinned.
QUESTIONS = """
INSERT INTO questions (id, author_id, topic_id, origin_page_id, subject, status, accepted_reply_id,
                       reply_count, pinned, locked, last_activity_at, body_source, body_html,
                       edited_at, published_at, hidden_at, hidden_reason, deleted_at,
                       submission_key, created_at)
SELECT q, author,
       CASE WHEN page %% 10 = 0 THEN NULL ELSE 1 + page %% %(topics)s END,
       page, subject,
       CASE WHEN replies = 0 THEN 'unanswered' WHEN accepted THEN 'resolved' ELSE 'answered' END,
       CASE WHEN accepted THEN (q - 1) * 3 + 1 END,
       replies, pg_temp.h(q, 6, 500) = 0, false,
       created + CASE WHEN replies > 0 THEN make_interval(secs => 600 + pg_temp.h(q, 7, 259200))
                      ELSE interval '0' END,
       CASE variant
         WHEN 0 THEN format(E'I call `%%s` as the guide shows and get `HTTP %%s` after about %%s '
                         || E'seconds.\\n\\n```python\\nclient.%%s(timeout=%%s)\\n```\\n\\n'
                         || E'What is the recommended way to retry?', fn, code, secs, fn, secs)
         WHEN 1 THEN format(E'The page says the limit is **%%s requests per minute**, but we are '
                         || E'throttled at about %%s. Is the limit per key or per account?',
                            secs * 100, secs * 70)
         WHEN 2 THEN format(E'Following the steps here:\\n\\n1. create the key\\n2. set `%%s`\\n'
                         || E'3. restart\\n\\nthe last step fails with `HTTP %%s`. Any idea? See '
                         || E'[the changelog](https://docs.example.com/changelog).', fn, code)
         ELSE format(E'Does `%%s` also work with version %%s? The example only mentions %%s.',
                     fn, secs %% 7 + 2, secs %% 7 + 1)
       END,
       CASE variant
         WHEN 0 THEN format(E'<p>I call <code>%%s</code> as the guide shows and get '
                         || E'<code>HTTP %%s</code> after about %%s seconds.</p>\\n<pre><code '
                         || E'class="language-python">client.%%s(timeout=%%s)\\n</code></pre>\\n'
                         || E'<p>What is the recommended way to retry?</p>',
                            fn, code, secs, fn, secs)
         WHEN 1 THEN format(E'<p>The page says the limit is <strong>%%s requests per minute'
                         || E'</strong>, but we are throttled at about %%s. Is the limit per key '
                         || E'or per account?</p>', secs * 100, secs * 70)
         WHEN 2 THEN format(E'<p>Following the steps here:</p>\\n<ol>\\n<li>create the key</li>'
                         || E'\\n<li>set <code>%%s</code></li>\\n<li>restart</li>\\n</ol>\\n<p>the '
                         || E'last step fails with <code>HTTP %%s</code>. Any idea? See <a href='
                         || E'"https://docs.example.com/changelog" rel="nofollow ugc noopener">the '
                         || E'changelog</a>.</p>', fn, code)
         ELSE format(E'<p>Does <code>%%s</code> also work with version %%s? The example only '
                  || E'mentions %%s.</p>', fn, secs %% 7 + 2, secs %% 7 + 1)
       END,
       NULL,
       CASE WHEN visibility >= 2 THEN created END,
       CASE WHEN visibility = 2 THEN created + interval '1 day' END,
       CASE WHEN visibility = 2 THEN 'Off topic' END,
       CASE WHEN visibility = 3 THEN created + interval '2 days' END,
       NULL, created
FROM (
  SELECT q,
         CASE WHEN pg_temp.h(q, 1, 10000) < %(hot_share_per_10000)s
              THEN 1 + pg_temp.h(q, 2, %(hot_pages)s)
              ELSE %(hot_pages)s + 1 + pg_temp.h(q, 3, %(pages)s - %(hot_pages)s) END AS page,
         %(team_users)s + %(moderators)s + 1
           + pg_temp.h(q, 4, %(users)s - %(team_users)s - %(moderators)s) AS author,
         CASE WHEN pg_temp.h(q, 5, 10) = 0 THEN 0 ELSE 1 + pg_temp.h(q, 8, 3) END AS replies,
         pg_temp.h(q, 9, 10) < 4 AS accepted_if_answered,
         CASE pg_temp.h(q, 10, 200) WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3
                                    ELSE 4 END AS visibility,
         pg_temp.h(q, 11, 4) AS variant,
         (ARRAY['create_webhook', 'list_invoices', 'refresh_token', 'export_table',
                'upload_file', 'sync_users', 'rotate_key', 'stream_events'])
           [1 + pg_temp.h(q, 12, 8)] AS fn,
         (ARRAY[400, 401, 403, 404, 409, 422, 429, 500, 502, 503])[1 + pg_temp.h(q, 13, 10)]
           AS code,
         1 + pg_temp.h(q, 14, 60) AS secs,
         (ARRAY['How do I', 'Why can''t I', 'Is it possible to', 'What is the right way to',
                'Error when I try to', 'Best practice to'])[1 + pg_temp.h(q, 15, 6)]
           || ' ' ||
         (ARRAY['retry a failed webhook', 'raise the rate limit', 'rotate an API key',
                'export more than 10,000 rows', 'paginate past the first page',
                'sign in with SAML', 'resume an interrupted upload', 'filter invoices by date',
                'use the SDK behind a proxy', 'run the CLI in CI', 'pin an API version',
                'read the audit log'])[1 + pg_temp.h(q, 16, 12)]
           || CASE WHEN pg_temp.h(q, 17, 3) = 0 THEN ' in version ' || (2 + q %% 5) ELSE '' END
           || '?' AS subject,
         now() - make_interval(secs => (%(questions)s - q + 1) * (94608000.0 / %(questions)s))
           AS created
  FROM generate_series(1, %(questions)s) AS q
) AS s, LATERAL (SELECT replies > 0 AND accepted_if_answered AS accepted) AS a
"""

# Some questions show on a second page too.
QUESTION_PAGES = """
INSERT INTO question_pages (page_id, question_id)
SELECT origin_page_id, id FROM questions
UNION ALL
SELECT other_page, id
FROM (SELECT id, origin_page_id,
             %(hot_pages)s + 1 + pg_temp.h(id, 30, %(pages)s - %(hot_pages)s) AS other_page
      FROM questions WHERE pg_temp.h(id, 31, 20) = 0) AS s
WHERE other_page <> origin_page_id
"""

# A fifth of replies come from team members; 2 % of the replies that are not accepted are hidden.
REPLIES = """
INSERT INTO replies (id, question_id, author_id, body_source, body_html, edited_at, published_at,
                     hidden_at, hidden_reason, deleted_at, submission_key, created_at)
SELECT r.id, q.id,
       CASE WHEN pg_temp.h(r.id, 20, 5) = 0 THEN 1 + pg_temp.h(r.id, 21, %(team_users)s)
            ELSE %(team_users)s + %(moderators)s + 1
                   + pg_temp.h(r.id, 22, %(users)s - %(team_users)s - %(moderators)s) END,
       CASE pg_temp.h(r.id, 23, 3)
         WHEN 0 THEN format(E'Set `max_retries` to %%s and use exponential backoff; the '
                         || E'[retry section](https://docs.example.com/errors#retries) has an '
                         || E'example.', 3 + k)
         WHEN 1 THEN format(E'This was fixed in version %%s.%%s. After upgrading, run:\\n\\n'
                         || E'```\\nexample migrate --check\\n```', 2 + k, q.id %% 10)
         ELSE 'Same here. It only happens with keys created before March.'
       END,
       CASE pg_temp.h(r.id, 23, 3)
         WHEN 0 THEN format(E'<p>Set <code>max_retries</code> to %%s and use exponential '
                         || E'backoff; the <a href="https://docs.example.com/errors#retries" '
                         || E'rel="nofollow ugc noopener">retry section</a> has an example.</p>',
                            3 + k)
         WHEN 1 THEN format(E'<p>This was fixed in version %%s.%%s. After upgrading, run:</p>\\n'
                         || E'<pre><code>example migrate --check\\n</code></pre>', 2 + k,
                            q.id %% 10)
         ELSE '<p>Same here. It only happens with keys created before March.</p>'
       END,
       NULL,
       CASE WHEN NOT r.hidden THEN r.created END,
       CASE WHEN r.hidden THEN r.created + interval '1 hour' END,
       CASE WHEN r.hidden THEN 'Spam' END,
       NULL, NULL, r.created
FROM questions AS q
CROSS JOIN LATERAL generate_series(1, q.reply_count) AS k
CROSS JOIN LATERAL (
  SELECT (q.id - 1) * 3 + k AS id,
         q.created_at + (q.last_activity_at - q.created_at) * k / q.reply_count AS created,
         k > 1 AND pg_temp.h((q.id - 1) * 3 + k, 24, 50) = 0 AS hidden
) AS r
"""

SEQUENCES = (
    "teams",
    "topics",
    "users",
    "pages",
    "questions",
    "replies",
)
