"""The dashboard's HTTP face: login, static files and one GET route per page.

Routes stay thin: they read the filter and page options from the query string, run the
page's data function (``parcours.views.pages``) on the store's thread through the cache, and
render its template.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from parcours.errors import ParcoursError
from parcours.views import pages, people
from parcours.views.assets import PLOTLY_JS, STATIC
from parcours.views.filters import PageFilter
from parcours.views.i18n import LANGUAGES, localize, speaking, t, with_locale
from parcours.web.live import live_state
from parcours.web.request import language, page_filter
from parcours.web.session import COOKIE, LIFETIME_SECONDS, csrf_token, editor, make_cookie, viewer

log = logging.getLogger("parcours.web")


class DashboardRoute(APIRoute):
    """The one place a bad parameter becomes a 400: a ``ParcoursError`` or a failed parameter
    validation in any dashboard route answers with the error page (or JSON) and the message."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ParcoursError as e:
                return bad_request(request, str(e))
            except RequestValidationError as e:
                return bad_request(request, "; ".join(
                    f"{'.'.join(str(p) for p in err['loc'][1:]) or 'request'}: {err['msg']}" for err in e.errors()))

        return guarded


public = APIRouter(include_in_schema=False, route_class=DashboardRoute)
router = APIRouter(include_in_schema=False, dependencies=[Depends(viewer)], route_class=DashboardRoute)

NAV = [("journey_map", "/"), ("funnels", "/funnels"), ("paths", "/paths"), ("retention", "/retention"),
       ("attribution", "/attribution"), ("voc", "/voc"), ("segments", "/segments"), ("leads", "/leads"),
       ("data", "/data"), ("customer", "/customers"), ("live", "/live")]


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """The page in the reader's language (``?i18n=mark``: translations marked, to spot text that is not)."""
    lang = language(request)
    env = request.app.state.dashboard.env
    filter = context.pop("filter", None)
    with speaking(lang, mark=request.query_params.get("i18n") == "mark"):
        if "charts" in context:
            context["charts"] = with_locale(localize(context["charts"]))
        html = env.get_template(template).render(
            request=request, t=t, lang=lang, languages=LANGUAGES, nav=NAV, filter=filter or PageFilter(),
            path=request.url.path, lang_link=_lang_link,
            csrf=csrf_token(request.app.state.dashboard.secret, request.cookies.get(COOKIE)), **context,
        )
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


def bad_request(request: Request, message: str) -> Response:
    """400 with the message: the error page for a browser, JSON for an API client."""
    if "text/html" in request.headers.get("accept", ""):
        return render(request, "error.html", status=400, error=message, segments=[], filter=PageFilter(), page="error")
    return JSONResponse({"success": False, "errors": [{"path": "query", "message": message}]}, status_code=400)


def _lang_link(request: Request, lang: str) -> str:
    params = dict(request.query_params)
    params["lang"] = lang
    return f"{request.url.path}?{urlencode(params)}"


def _cache(request: Request):
    """The dashboard's query cache (its ``get`` shares a page's filter-independent parts across filters)."""
    return request.app.state.dashboard.cache


def _key(name: str, filter: PageFilter, options: dict) -> tuple:
    return (name, filter.key(), tuple(sorted(options.items())))


async def warm(app) -> None:
    """Compute every page for the unfiltered view, so the first visitor finds them ready.

    Runs once, in the background, from the first dashboard request (the login form, usually):
    the heavy analyses run while the reader is still signing in.
    """
    dash, collector = app.state.dashboard, app.state.collector
    steps = tuple(await collector.run_db(pages.default_steps))
    defaults = [("journey_map", pages.journey_page, {}),
                ("funnels", pages.funnel_page, {"steps": steps, "window": "14d", "mode": "ordered", "breakdown": "",
                                                "drop_step": 2, "split_by": ""}),
                ("paths", pages.paths_page, {"touchpoint": "", "direction": "from"}),
                ("retention", pages.retention_page, {"period": "week", "start": "", "back": ""}),
                ("attribution", pages.attribution_page, {"level": "channel"}),
                ("voc", pages.voc_page, {"metric": "nps"}),
                ("data", partial(pages.data_page, shared=dash.cache.get), {}),
                ("segments", partial(pages.segments_page, shared=dash.cache.get), {}),
                ("leads", partial(pages.leads_page, shared=dash.cache.get), {"page": 1})]
    for name, fn, options in defaults:
        try:
            await dash.run(collector, _key(name, PageFilter(), options),
                           lambda store, fn=fn, options=options: fn(store, PageFilter().to_filter(), **options))
        except ParcoursError:
            continue  # e.g. too little history for lead scoring: the page says so when opened
        except RuntimeError:
            return  # the server is stopping: its store thread takes no more work
        except Exception:  # noqa: BLE001 - a background nicety: the page shows its own error when opened
            log.warning("dashboard warm-up: page %s failed", name, exc_info=True)


def start_warming(request: Request) -> None:
    """Start the warm-up unless one runs already or the data has not changed since the last one."""
    dash = request.app.state.dashboard
    running = dash.warming is not None and not dash.warming.done()
    if not running and dash.warmed_generation != dash.cache.generation:
        dash.warmed_generation = dash.cache.generation
        dash.warming = asyncio.get_running_loop().create_task(warm(request.app))


async def _page(request: Request, template: str, name: str, fn, options: dict | None = None,
                extra: dict | None = None) -> HTMLResponse:
    """Render a page whose data is ``fn(store, filter, **options)``, cached per filter and options."""
    dash, collector = request.app.state.dashboard, request.app.state.collector
    start_warming(request)
    segments = await dash.run(collector, ("segments",), pages.segment_names)
    subjects = await dash.run(collector, ("subjects",), pages.subject_names)
    filter = page_filter(request)
    options = options or {}
    data = await dash.run(collector, _key(name, filter, options), lambda store: fn(store, filter.to_filter(), **options))
    return render(request, template, filter=filter, segments=segments, subjects=subjects, page=name, options=options,
                  **data, **(extra or {}))


# -- public: login, assets -----------------------------------------------------------------

@public.get("/static/plotly.min.js")
async def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@public.get("/static/{name}")
async def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})


@public.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    start_warming(request)
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")), error=None,
                  segments=[], page="login")


@public.post("/login")
async def login(request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    key = request.app.state.collector.keys.check(form.get("key", "").strip())
    nxt = _safe_next(form.get("next"))
    if key is None or not key.allows("read"):
        return render(request, "login.html", status=401, next=nxt, error="bad_key", segments=[], page="login")
    secret = await request.app.state.dashboard.get_secret(request.app.state.collector)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(COOKIE, make_cookie(secret, key.key_id), max_age=LIFETIME_SECONDS, httponly=True,
                        samesite="strict")
    return response


@public.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _safe_next(value: str | None) -> str:
    """Only a local path: the login form must not redirect to another site."""
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


# -- pages ----------------------------------------------------------------------------------

@router.get("/live")
async def live_page(request: Request) -> HTMLResponse:
    """Customers per stage now, entries in the last hour, latest events; the page polls /live.json."""
    dash, collector = request.app.state.dashboard, request.app.state.collector
    data = await dash.run(collector, ("live",), live_state)
    segments = await dash.run(collector, ("segments",), pages.segment_names)
    return render(request, "live.html", segments=segments, page="live", live=data)


@router.get("/live.json")
async def live_json(request: Request) -> JSONResponse:
    """The live view's figures, cached until the data changes (polled by the page every 5 s)."""
    dash, collector = request.app.state.dashboard, request.app.state.collector
    return JSONResponse(await dash.run(collector, ("live",), live_state))


@router.get("/version.json")
async def version_json(request: Request) -> JSONResponse:
    """The version of what the pages read (data, segments, lead scores): the journey map polls it
    and reloads its data when it changes. A version check, answered off the store's thread."""
    version = await request.app.state.dashboard.data_version(request.app.state.collector)
    return JSONResponse({"version": ":".join(map(str, version))})


@router.get("/")
async def journey(request: Request, order: str = "file") -> HTMLResponse:
    # only the options given: the plain map keeps the key the warm-up and the evidence pages use
    given = {"order": order if order != "file" else "",
             "lanes": tuple(v.strip() for v in request.query_params.getlist("lane") if v.strip()),
             "periods": tuple(v.strip() for v in request.query_params.getlist("period") if v.strip())}
    return await _page(request, "map.html", "journey_map", pages.journey_page, {k: v for k, v in given.items() if v})


@router.get("/evidence")
async def evidence(request: Request, touchpoint: str = "", page: int = 1) -> HTMLResponse:
    cache = request.app.state.dashboard.cache

    def data(store, filter, touchpoint, page):
        # the friction points come from the journey map of the same filter (cached): computed once
        page_flt = page_filter(request)
        jm = cache.get(store, _key("journey_map", page_flt, {}), lambda: pages.journey_page(store, filter))
        return pages.evidence_page(store, filter, touchpoint, jm["map"]["friction"], page)

    return await _page(request, "evidence.html", "evidence", data, {"touchpoint": touchpoint, "page": page})


@router.get("/funnels")
async def funnels(request: Request, window: str = "14d", mode: str = "ordered", breakdown: str = "",
                  drop_step: int = 2, split: str = "") -> HTMLResponse:
    steps = [s.strip() for s in request.query_params.getlist("step") if s.strip()]
    if not steps:
        steps = await request.app.state.dashboard.run(request.app.state.collector, ("default_steps",),
                                                      pages.default_steps)
    options = {"steps": tuple(steps), "window": window, "mode": mode, "breakdown": breakdown.strip(),
               "drop_step": drop_step, "split_by": split.strip()}
    return await _page(request, "funnels.html", "funnels", pages.funnel_page, options)


@router.get("/paths")
async def paths(request: Request, touchpoint: str = "", direction: str = "from") -> HTMLResponse:
    return await _page(request, "paths.html", "paths", pages.paths_page,
                       {"touchpoint": touchpoint, "direction": direction})


@router.get("/retention")
async def retention(request: Request, period: str = "week", start: str = "", back: str = "") -> HTMLResponse:
    return await _page(request, "retention.html", "retention", pages.retention_page,
                       {"period": period, "start": start.strip(), "back": back.strip()})


@router.get("/attribution")
async def attribution(request: Request, level: str = "channel") -> HTMLResponse:
    return await _page(request, "attribution.html", "attribution", pages.attribution_page, {"level": level})


@router.get("/voc")
async def voc(request: Request, metric: str = "nps", followup_status: str = "", page: int = 1,
              key=Depends(viewer)) -> HTMLResponse:
    # follow-ups change by hand: cached under their own version, so a status change shows at once
    dash = request.app.state.dashboard
    version = await dash.followups_version(request.app.state.collector)
    followups = await dash.run(request.app.state.collector, ("followups", followup_status, page, version),
                               lambda store: pages.followup_rows(store, followup_status, page))
    return await _page(request, "voc.html", "voc", pages.voc_page, {"metric": metric},
                       extra={**followups, "followup_status": followup_status, "can_write": key.allows("write")})


@router.post("/voc/followups/{followup_id}")
async def change_followup(request: Request, followup_id: int, key=Depends(editor)) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    back = _safe_next(form.get("back"))

    def update(store):
        from parcours.analytics.voc import update_followup

        return update_followup(store, followup_id, status=form.get("status") or None,
                               note=form.get("note") or None, author=f"dashboard:{key.name}")

    await request.app.state.collector.run_db(update)
    return RedirectResponse(back or "/voc", status_code=303)


@router.post("/voc/followups", dependencies=[Depends(editor)])
async def open_followups(request: Request) -> Response:
    from parcours.analytics.voc import create_followups

    await request.app.state.collector.run_db(create_followups)
    return RedirectResponse("/voc", status_code=303)


@router.get("/segments")
async def segments(request: Request) -> HTMLResponse:
    return await _page(request, "segments.html", "segments", partial(pages.segments_page, shared=_cache(request).get))


@router.get("/leads")
async def leads(request: Request, page: int = 1) -> HTMLResponse:
    return await _page(request, "leads.html", "leads", partial(pages.leads_page, shared=_cache(request).get),
                       {"page": page})


@router.get("/data")
async def data(request: Request) -> HTMLResponse:
    return await _page(request, "data.html", "data", partial(pages.data_page, shared=_cache(request).get))


@router.get("/customers")
async def customers(request: Request, q: str = "") -> HTMLResponse:
    q = q.strip()
    if not q:
        example = await request.app.state.collector.run_db(pages.example_customer)
        return render(request, "customer.html", page="customer", segments=[], q="", profile=None, error=None,
                      example=example)
    try:
        data = await request.app.state.collector.run_db(lambda store: pages.customer_page(store, q))
    except ParcoursError as e:
        return render(request, "customer.html", status=404, page="customer", segments=[], q=q, profile=None,
                      error=str(e))
    return render(request, "customer.html", page="customer", segments=[], q=q, error=None, **data)


# -- who is behind a count, and the flow explorer ---------------------------------------------

@router.get("/people")
async def people_list(request: Request, page: int = 1) -> HTMLResponse:
    """The customers behind a count, a page at a time, with CSV export and "save as segment"."""
    kind, params = people.set_from_query(request.query_params)
    return await _page(request, "people.html", "people", people.people_page,
                       {"kind": kind, "params": people.freeze(params), "page": page},
                       extra={"set_query": people.set_query(kind, params), "set_params": params})


@router.get("/people.csv")
async def people_csv(request: Request) -> Response:
    kind, params = people.set_from_query(request.query_params)
    filter = page_filter(request).to_filter()
    ids = await request.app.state.collector.run_db(
        lambda store: people.customer_set(store, kind, params, filter))
    return Response(ids.to_csv(index=False), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="customers-{kind}.csv"'})


@router.post("/people/segment")
async def people_segment(request: Request, key=Depends(editor)) -> Response:
    """Save the set (described by the query string) as a list segment; the form names it."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    kind, params = people.set_from_query(request.query_params)
    filter = page_filter(request).to_filter()
    name = (form.get("name") or "").strip()
    await request.app.state.collector.run_db(lambda store: people.save_customer_set(
        store, name, kind, params, filter, f"{kind} customers saved from the dashboard by {key.name}"))
    return RedirectResponse(f"/segments?lang={language(request)}&saved={name}", status_code=303)


@router.get("/flow")
async def flow(request: Request, at: str = "", until: str = "", direction: str = "after", dropped: int = 2,
               window: str = "", mode: str = "", collapse: bool = False, split_by: str = "",
               open_other: bool = False) -> HTMLResponse:
    """Paths after, before or between steps, or after a funnel's drop-off, with links to the people."""
    fsteps = tuple(s.strip() for s in request.query_params.getlist("fstep") if s.strip())
    options = {"at": at.strip(), "until": until.strip(), "direction": direction, "fsteps": fsteps,
               "dropped": dropped, "window": window.strip(), "mode": mode.strip(), "collapse": collapse, "split_by": split_by.strip(), "open_other": open_other}
    return await _page(request, "flow.html", "flow", people.flow_page, options)
