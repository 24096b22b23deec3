"""What the dashboard and the report both draw, and nothing about HTTP.

Page data (``pages``, ``people``, the journey map), its charts and sentences, the filter a page
is drawn for, the words in English and French (``i18n`` and its catalogue under ``locale/``), the
Jinja2 templates and static files (``assets``). ``parcours.web`` serves these pages over HTTP
(routes, sessions, the query cache, the live view); ``parcours.report`` renders them to a file.
Neither imports the other, and this package imports neither (``tests/test_layers.py``).
"""
