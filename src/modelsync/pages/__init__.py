"""The HTML pages (issue 10): server-rendered catalog, model, gateway, change, rankings and status
pages, served by ``modelsync serve`` itself and cached with the JSON API's tags.

* :mod:`.format` and :mod:`.views` (PURE): prices, times and rows as people read them.
* :mod:`.charts` (PURE): the status page's SVG sparklines.
* :mod:`.reads`: the pages' queries (``store/page_queries.py``), one statement per table.
* :mod:`.routes`: the routes, each page rendered into the shared tagged response cache
  (:mod:`modelsync.cache.responses`, the JSON API's backend: in-process or Redis), stale by
  tag, path, lifetime or catalog version; Jinja2 templates (``templates/``), the stylesheet
  and the script (``static/``): no build step, nothing loaded from elsewhere.
"""
