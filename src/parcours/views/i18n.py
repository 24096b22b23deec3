"""Page strings (the dashboard's and the report's) in English and French, through one gettext message catalogue.

Every interface string is an English message id; its French is in
``locale/fr/LC_MESSAGES/messages.po``, read with Babel once per process, so there is no
compile step to forget. Templates write ``{{ _('English text') }}`` (Jinja2's i18n extension:
``{% trans %}`` works too); Python code marks text with ``Label``, drawn in the reader's
language by ``localize`` (page data is cached for every language, so it holds no words).

``LABELS`` is the older way and stays open for new entries: ``t(key)`` looks its English up
in the catalogue, and the entry's French serves until ``python -m parcours.views.catalogue_sync``
copies it into the .po (``pybabel extract`` reads the English from here: see babel.cfg).

The dashboard reads the reader's language off the request (``parcours.web.request.language``);
the report takes it as an option. Nothing here knows HTTP.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import get_day_names, get_month_names
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol, get_group_symbol

LANGUAGES = ("en", "fr")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
#: around every translated string in marking mode (``?i18n=mark``): text outside them was not translated
MARKS = ("\u2045", "\u2046")

#: key -> (English, French)
LABELS: dict[str, tuple[str, str]] = {
    "journey_map": ("Journey map", "Carte du parcours"),
    "funnels": ("Funnels", "Entonnoirs"),
    "paths": ("Paths", "Chemins"),
    "retention": ("Retention", "Rétention"),
    "attribution": ("Attribution", "Attribution"),
    "voc": ("Voice of the customer", "Voix du client"),
    "segments": ("Segments & personas", "Segments et personas"),
    "leads": ("Leads", "Prospects"),
    "data": ("Data", "Données"),
    "live": ("Live", "En direct"),
    "customers_now": ("Customers in the stage now", "Clients dans l'étape maintenant"),
    "entries_last_hour": ("Entries in the last hour", "Entrées dans la dernière heure"),
    "latest_events": ("Latest events", "Derniers événements"),
    "as_of": ("As of", "Au"),
    "customer": ("Customer", "Client"),
    "customers": ("customers", "clients"),
    "customers_cap": ("Customers", "Clients"),
    "customers_with_touchpoint": ("customers with a touchpoint", "clients avec un point de contact"),
    "in_stage_now": ("in this stage now", "dans cette étape"),
    "reached": ("reached", "ont atteint"),
    "go_on": ("go on to", "passent à"),
    "median_time": ("median time in stage", "durée médiane dans l'étape"),
    "emotion_curve": ("Emotion across the journey", "Émotions au fil du parcours"),
    "emotion": ("emotion", "émotion"),
    "where_lost": ("Where customers are lost", "Où les clients sont perdus"),
    "where_lost_help": ("blue: customers who reached the stage; red: of them, lost before the next stage",
                        "bleu : clients ayant atteint l'étape ; rouge : parmi eux, perdus avant l'étape suivante"),
    "biggest_loss": ("Biggest loss after", "Plus forte perte après"),
    "unhappiest": ("Unhappiest stage", "Étape la plus mal vécue"),
    "top_friction": ("Top friction points", "Principaux points de friction"),
    "evidence": ("evidence", "preuves"),
    "moment_of_truth": ("moment of truth", "moment de vérité"),
    "online": ("online", "en ligne"),
    "offline": ("offline", "hors ligne"),
    "team": ("team", "équipe"),
    "followed_design": ("followed the design", "ont suivi le parcours conçu"),
    "designed_vs_actual": ("Designed path vs actual journeys", "Parcours conçu et parcours réels"),
    "happy_path": ("designed path", "parcours conçu"),
    "fitness": ("fitness", "conformité"),
    "opportunities": ("Opportunities, ranked", "Axes d'amélioration, classés"),
    "lost_value": ("lost value", "valeur perdue"),
    "leaving_stage": ("leaving the stage", "sortie de l'étape"),
    "required": ("required", "obligatoire"),
    "stage_col": ("Stage", "Étape"),
    "no_answers": ("no answers", "aucune réponse"),
    "go_on_later": ("go on to a later stage", "passent à une étape suivante"),
    "onward_help": ("of the customers here, those who reach a later stage afterwards",
                    "parmi les clients passés ici, ceux qui atteignent ensuite une étape suivante"),
    "stop_here": ("stop here", "s'arrêtent ici"),
    "dropoff_help": ("of the customers here, those whose journey ends here",
                     "parmi les clients passés ici, ceux dont le parcours s'arrête ici"),
    "tp_order": ("Touchpoint order", "Ordre des points de contact"),
    "order_file": ("as in the journey file", "comme dans le fichier du parcours"),
    "order_measured": ("as customers meet them", "dans l'ordre où les clients les rencontrent"),
    "compare_with": ("Compare", "Comparer"),
    "lane_goals": ("Customer goals", "Objectifs du client"),
    "lane_thoughts": ("Thoughts", "Pensées"),
    "lane_pain_points": ("Pain points", "Irritants"),
    "lane_opportunities": ("Opportunities", "Opportunités"),
    "lane_owner": ("Backstage owner", "Responsable back-office"),
    "compare_segment": ("Segments side by side", "Segments côte à côte"),
    "compare_period": ("Two periods side by side", "Deux périodes côte à côte"),
    "share_reached": ("Share reaching the stage", "Part ayant atteint l'étape"),
    "no_friction": ("no friction point stands out (a touchpoint needs 30 customers to be judged)",
                    "aucun point de friction ne ressort (il faut 30 clients par point de contact pour en juger)"),
    "from": ("From", "Du"),
    "to": ("To", "Au"),
    "segment": ("Segment", "Segment"),
    "where": ("Where", "Condition"),
    "subject": ("Whose journeys", "Parcours de"),
    "everyone": ("Everyone", "Tous"),
    "apply": ("Apply", "Appliquer"),
    "reset": ("Reset", "Réinitialiser"),
    "login": ("Sign in", "Connexion"),
    "error": ("Error", "Erreur"),
    "logout": ("Sign out", "Déconnexion"),
    "read_key": ("Read key", "Clé de lecture"),
    "login_help": ("Paste a read key (create one with: parcours keys create --role read --name dashboard).",
                   "Collez une clé de lecture (créez-en une avec : parcours keys create --role read --name dashboard)."),
    "bad_key": ("Unknown, revoked or non-read key.", "Clé inconnue, révoquée ou sans droit de lecture."),
    "no_data": ("No data for this filter.", "Aucune donnée pour ce filtre."),
    "signal_dropoff": ("journeys end here", "les parcours s'arrêtent ici"),
    "signal_support_after": ("support contact follows", "contact au support ensuite"),
    "signal_poor_survey": ("poor survey answers", "mauvaises réponses aux enquêtes"),
    "signal_loops": ("back and forth", "allers-retours"),
    "signal_long_wait": ("long waits", "longues attentes"),
    "signal_errors": ("errors", "erreurs"),
    "vs": ("vs", "contre"),
    "usual": ("usually", "d'habitude"),
    "steps": ("Steps", "Étapes"),
    "window": ("Window", "Fenêtre"),
    "mode": ("Mode", "Mode"),
    "breakdown": ("Breakdown", "Ventilation"),
    "split": ("Split by", "Comparer selon"),
    "split_chart": ("Conversion per group", "Conversion par groupe"),
    "none": ("none", "aucune"),
    "funnel_chart": ("Funnel", "Entonnoir"),
    "time_to_convert": ("Time to convert", "Délai de conversion"),
    "conversion_trend": ("Conversion trend", "Évolution de la conversion"),
    "incomplete_period": ("incomplete: conversions may still come", "incomplet : des conversions peuvent encore venir"),
    "dropped_at": ("Customers who dropped before step", "Clients perdus avant l'étape"),
    "touchpoint": ("Touchpoint", "Point de contact"),
    "direction": ("Direction", "Sens"),
    "flows_from": ("flows from", "flux depuis"),
    "flows_to": ("flows to", "flux vers"),
    "top_paths": ("Top paths", "Chemins les plus fréquents"),
    "path": ("Path", "Chemin"),
    "share": ("Share", "Part"),
    "period": ("Period", "Période"),
    "cohort_heatmap": ("Cohorts", "Cohortes"),
    "retention_curve": ("Retention curve", "Courbe de rétention"),
    "retention_start": ("Cohort starts with", "La cohorte commence par"),
    "retention_back": ("Comes back with", "Revient avec"),
    "any_event": ("any event", "n'importe quel événement"),
    "level": ("Level", "Niveau"),
    "channel": ("Channel", "Canal"),
    "campaign": ("Campaign", "Campagne"),
    "model": ("Model", "Modèle"),
    "conversions": ("Conversions", "Conversions"),
    "scores": ("Scores (95% interval)", "Scores (intervalle à 95 %)"),
    "answers": ("answers", "réponses"),
    "comparison": ("Touchpoint comparison", "Comparaison des points de contact"),
    "followups": ("Follow-ups", "Suivis"),
    "followups_need_write": ("Opening follow-ups needs a key that may write: sign in with an admin key.",
                             "Ouvrir des suivis demande une clé avec droit d'écriture : connectez-vous avec une clé admin."),
    "followups_confirm": ("Open {n} follow-ups, one per low answer that has none yet?",
                          "Ouvrir {n} suivis, un par mauvaise réponse qui n'en a pas encore ?"),
    "followups_none_pending": ("Every low answer has its follow-up.", "Chaque mauvaise réponse a son suivi."),
    "rows_range": ("{first}–{last} of {total}", "{first}–{last} sur {total}"),
    "previous": ("previous", "précédente"),
    "next": ("next", "suivante"),
    "page": ("page", "page"),
    "status": ("Status", "Statut"),
    "save": ("Save", "Enregistrer"),
    "comment": ("Comment", "Commentaire"),
    "score": ("Score", "Score"),
    "personas": ("Personas", "Personas"),
    "saved_segments": ("Saved segments", "Segments enregistrés"),
    "members": ("members", "membres"),
    "conversion": ("conversion", "conversion"),
    "satisfaction": ("satisfaction", "satisfaction"),
    "reasons": ("Reasons", "Raisons"),
    "stage": ("Stage", "Étape"),
    "events": ("Events", "Événements"),
    "event_volume": ("Event volume by source", "Volume d'événements par source"),
    "quarantine": ("Quarantined rows", "Lignes en quarantaine"),
    "reason": ("Reason", "Raison"),
    "unmapped": ("Events that match no touchpoint", "Événements sans point de contact"),
    "journey_file": ("The journey file", "Le fichier du parcours"),
    "imports": ("Imports", "Imports"),
    "search_customer": ("Any identifier (user id, anonymous id, email...)",
                        "N'importe quel identifiant (user id, id anonyme, e-mail...)"),
    "search": ("Search", "Rechercher"),
    "identities": ("Identities", "Identités"),
    "stages_over_time": ("Stages over time", "Étapes au fil du temps"),
    "event_log": ("Every event", "Tous les événements"),
    "customer_example": ("For example:", "Par exemple :"),
    "current_stage": ("Current stage", "Étape actuelle"),
    "furthest_stage": ("Furthest stage", "Étape la plus avancée"),
    "friction_at": ("Friction at", "Friction sur"),
    "examples": ("Example customers", "Exemples de clients"),
    "poor_answers": ("Poor answers about this touchpoint", "Mauvaises réponses sur ce point de contact"),
    "rate": ("Rate", "Taux"),
    "baseline": ("Other touchpoints", "Autres points de contact"),
    "signal": ("Signal", "Signal"),
    "when": ("When", "Quand"),
    "lead_quality": ("Model hold-out AUC", "AUC du modèle (échantillon de test)"),
    "no_segments": ("No saved segment yet: parcours personas --save creates one per persona.",
                    "Aucun segment enregistré : parcours personas --save en crée un par persona."),
    "key_figures": ("Key figures", "Chiffres clés"),
    "purchase": ("purchase", "achat"),
    # chart legends and axis titles (see ``Label``)
    "lost_next": ("lost before the next stage", "perdus avant l'étape suivante"),
    "day": ("day", "jour"),
    "week": ("week", "semaine"),
    "month": ("month", "mois"),
    "no_value": ("(none)", "(aucun)"),
    "path_end": ("(end)", "(fin)"),
    "no_touch": ("(no touch)", "(aucun contact)"),
    "no_touch_note": ("(no touch): conversions with no event naming a channel or campaign in the 30 days before "
                      "them (at the campaign level: no UTM-tagged visit, as after a direct visit); every model "
                      "credits them to this row rather than dropping them.",
                      "(aucun contact) : conversions sans événement portant un canal ou une campagne dans les 30 "
                      "jours précédents (au niveau campagne : aucune visite avec UTM, comme après une visite "
                      "directe) ; tous les modèles les créditent à cette ligne plutôt que de les ignorer."),
    "attribution_units": ("Conversions credited to each channel or campaign by each model.",
                          "Conversions attribuées à chaque canal ou campagne par chaque modèle."),
    "model_first_touch": ("first touch", "premier contact"),
    "model_last_touch": ("last touch", "dernier contact"),
    "model_last_non_direct": ("last non-direct touch", "dernier contact non direct"),
    "model_linear": ("linear", "linéaire"),
    "model_time_decay": ("time decay", "dégressif dans le temps"),
    "model_position_based": ("position based (U)", "en U (position)"),
    "model_markov": ("Markov chain", "chaîne de Markov"),
    "model_shapley": ("Shapley value", "valeur de Shapley"),
    # persona names: the channel's noun, then what else sets the persona apart ({} is a stage or touchpoint)
    "persona_ch_ads": ("Ad clickers", "Cliqueurs sur publicités"),
    "persona_ch_search": ("Searchers", "Visiteurs venus de la recherche"),
    "persona_ch_social": ("Social followers", "Abonnés des réseaux sociaux"),
    "persona_ch_email": ("Email readers", "Lecteurs d'e-mails"),
    "persona_ch_web": ("Web visitors", "Visiteurs du site"),
    "persona_ch_mobile": ("Mobile users", "Mobinautes"),
    "persona_ch_chat": ("Chat users", "Utilisateurs du chat"),
    "persona_ch_web_form": ("Form senders", "Expéditeurs de formulaires"),
    "persona_ch_store": ("Store shoppers", "Clients en magasin"),
    "persona_ch_call_centre": ("Callers", "Appelants"),
    "persona_ch_delivery": ("Delivery recipients", "Destinataires de livraisons"),
    "persona_ch_review": ("Reviewers", "Auteurs d'avis"),
    "persona_ch_other": ("{} users", "Utilisateurs du canal {}"),
    "persona_q_touchpoint+1": ("who go through {}", "qui passent par {}"),
    "persona_q_sessions+1": ("who come back often", "qui reviennent souvent"),
    "persona_q_sessions-1": ("on a single visit", "en une seule visite"),
    "persona_q_distinct_touchpoints+1": ("who try many touchpoints", "qui essaient de nombreux points de contact"),
    "persona_q_distinct_touchpoints-1": ("who use few touchpoints", "qui utilisent peu de points de contact"),
    "persona_q_furthest_stage+1": ("who reach {}", "qui atteignent {}"),
    "persona_q_furthest_stage-1": ("who stop at {}", "qui s'arrêtent à {}"),
    "persona_q_recency_days+1": ("not seen lately", "sans visite récente"),
    "persona_q_recency_days-1": ("seen recently", "vus récemment"),
    "persona_q_purchases+1": ("who buy", "qui achètent"),
    "persona_q_purchases-1": ("who do not buy", "qui n'achètent pas"),
    "persona_q_value+1": ("who spend the most", "qui dépensent le plus"),
    "persona_q_value-1": ("who spend little", "qui dépensent peu"),
    "persona_q_satisfaction+1": ("who are satisfied", "satisfaits"),
    "persona_q_satisfaction-1": ("who are unhappy", "mécontents"),
    "persona_q_time_to_purchase_days+1": ("who take long to buy", "qui mettent longtemps à acheter"),
    "persona_q_time_to_purchase_days-1": ("who buy quickly", "qui achètent vite"),
    # who is behind a count (/people) and the flow explorer (/flow)
    "people": ("Customers", "Clients"),
    "people_of_funnel": ("Customers of a funnel step", "Clients d'une étape d'entonnoir"),
    "people_of_link": ("Customers through a flow link", "Clients passés par un lien du flux"),
    "people_of_path": ("Customers on a path", "Clients ayant suivi un chemin"),
    "people_of_cohort": ("Customers of a cohort cell", "Clients d'une cellule de cohorte"),
    "people_of_persona": ("Customers of a persona", "Clients d'un persona"),
    "people_of_segment": ("Customers of a segment", "Clients d'un segment"),
    "people_of_friction": ("Customers behind a friction flag", "Clients concernés par un signal de friction"),
    "export_csv": ("Export CSV", "Exporter en CSV"),
    "save_as_segment": ("Save as segment", "Enregistrer comme segment"),
    "needs_write_key": ("needs a write key", "demande une clé avec droit d'écriture"),
    "flow": ("Flow explorer", "Explorateur de flux"),
    "flow_step": ("Step", "Étape"),
    "flow_until": ("until", "jusqu'à"),
    "flow_after": ("paths after", "chemins après"),
    "flow_before": ("paths before", "chemins avant"),
    "flow_between": ("paths between", "chemins entre"),
    "flow_dropoff": ("after drop-off", "après l'abandon"),
    "collapse_repeats": ("collapse repeats", "regrouper les répétitions"),
    "split_by": ("split by", "détailler par"),
    "dropped_after": ("Dropped after step", "Abandon après l'étape"),
    "click_link_people": ("click a link to list its customers", "cliquez sur un lien pour voir ses clients"),
    "add_to_funnel": ("Add a step to the funnel", "Ajouter une étape à l'entonnoir"),
    "explore_flow": ("paths", "chemins"),
    "segment_saved": ("Segment saved", "Segment enregistré"),
    "funnel_step": ("Funnel step", "Étape de l'entonnoir"),
    "funnel_step_help": ("the funnel's count; the paths below start at each customer's first such step",
                         "l'effectif compté par l'entonnoir ; les chemins ci-dessous partent du premier passage de chaque client à cette étape"),
}


def N_(message: str) -> str:
    """Marks an English message for ``pybabel extract`` where it is translated later, not here."""
    return message


#: words the analyses hand the pages (option values, verdicts, statuses, KPI names), shown with ``_(word)``
VOCABULARY = (
    N_("ordered"), N_("strict"), N_("unordered"),  # funnel modes
    N_("day"), N_("week"), N_("month"),  # periods
    N_("open"), N_("contacted"), N_("resolved"),  # follow-up statuses
    N_("higher"), N_("lower"), N_("no significant difference"), N_("not enough answers"),  # VoC verdicts
    N_("rule"), N_("list"),  # saved segment kinds
    N_("events"), N_("customers"), N_("customers_with_touchpoint"), N_("quarantined"), N_("unmapped_events"),
    N_("user"), N_("anonymous"),  # identity kinds (the others are the journey file's identity traits)
)

#: English -> French of ``LABELS``: the fallback for entries not yet copied into the .po
FALLBACK = {en: fr for en, fr in LABELS.values()}


@dataclass(frozen=True)
class Catalogue:
    """One language's messages: msgid -> msgstr (a tuple of forms for plural messages)."""

    lang: str
    messages: dict[str, str | tuple[str, ...]]
    plural: Callable[[int], int]

    def find(self, msgid: str) -> str | tuple[str, ...] | None:
        """The translation, from the .po, else from ``LABELS``; None when neither has it."""
        if self.lang == "en":
            return msgid
        return self.messages.get(msgid) or FALLBACK.get(msgid)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalogue(lang: str) -> Catalogue:
    """The language's catalogue, read from its .po once (English is the message ids themselves)."""
    if lang == "en":
        return Catalogue("en", {}, lambda n: int(n != 1))
    with po_path(lang).open("rb") as f:
        po = read_po(f, locale=lang)
    messages = {}
    for m in po:
        if not m.id or m.fuzzy:
            continue  # the header, and guesses a translator has not checked
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        if all(m.string) if isinstance(m.string, tuple) else m.string:
            messages[key] = m.string
    return Catalogue(lang, messages, stdlib_gettext.c2py(po.plural_expr))


_lang: ContextVar[str] = ContextVar("parcours_lang", default="en")
_marking: ContextVar[bool] = ContextVar("parcours_i18n_marking", default=False)


@contextmanager
def speaking(lang: str, mark: bool = False) -> Iterator[None]:
    """Translate into ``lang`` inside the block (``mark``: wrap each translation in ``MARKS``)."""
    tokens = _lang.set(lang), _marking.set(mark)
    try:
        yield
    finally:
        _lang.reset(tokens[0])
        _marking.reset(tokens[1])


def current_language() -> str:
    return _lang.get()


def _marked(text: str) -> str:
    return f"{MARKS[0]}{text}{MARKS[1]}" if _marking.get() else text


def gettext(message: str) -> str:
    """``message`` in the current language; a message the catalogue lacks shows in English (unmarked)."""
    found = catalogue(_lang.get()).find(message)
    if found is None:
        return message
    return _marked(found[0] if isinstance(found, tuple) else found)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the current language."""
    cat = catalogue(_lang.get())
    found = cat.find(singular) if cat.lang != "en" else (singular, plural)
    if not isinstance(found, tuple):
        return singular if n == 1 else plural
    return _marked(found[min(cat.plural(n), len(found) - 1)])


def t(key: str) -> str:
    """A ``LABELS`` key (or an English message) in the current language."""
    pair = LABELS.get(key)
    return gettext(pair[0] if pair else key)


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)`` in ``lang`` whatever language is current (for code outside ``speaking``)."""

    def translate(key: str) -> str:
        with speaking(lang, _marking.get()):
            return t(key)

    return translate


def duration(seconds: float | None, translate: Callable[[str], str] = gettext) -> str:
    """A short human duration, units in the current language: 45 s, 12 min, 5.2 h, 3.1 d (3.1 j in French)."""
    if seconds is None:
        return "–"
    for unit, size in ((N_("{value} d"), 86400), (N_("{value} h"), 3600), (N_("{value} min"), 60)):
        if seconds >= size:
            return translate(unit).format(value=f"{seconds / size:.1f}")
    return translate(N_("{value} s")).format(value=f"{seconds:.0f}")


def persona_name(parts: list[str], translate: Callable[[str], str] | None = None) -> str:
    """A persona's name (``find_personas``' ``name_parts``: channel, qualifier key, argument) in words.

    ``translate`` is ``t`` (the current language) unless given, e.g. ``translator("fr")``.
    """
    translate = translate or t
    channel, qualifier, arg = parts
    known = f"persona_ch_{channel}" in LABELS
    noun = translate(f"persona_ch_{channel}") if known else translate("persona_ch_other").format(channel)
    return f"{noun} {translate(f'persona_q_{qualifier}').format(arg)}" if qualifier else noun


def separators(lang: str | None = None) -> str:
    """The decimal sign, then the thousands sign, of ``lang`` (default: the current language), from CLDR:
    ".," in English, ",\u202f" (a narrow no-break space) in French; Plotly's ``separators``."""
    lang = lang or _lang.get()
    return get_decimal_symbol(lang) + get_group_symbol(lang)


def number(value: float | None, lang: str | None = None, digits: int = 0) -> str:
    """``value`` written out in ``lang`` (default: the current language): "20,103", "20\u202f103"."""
    if value is None:
        return "–"
    decimal, group = separators(lang)
    return f"{value:,.{digits}f}".translate(str.maketrans({",": group, ".": decimal}))


def percent(value: float | None, lang: str | None = None, digits: int = 0) -> str:
    """A share (0.125) as a percentage in ``lang`` (default: the current language): "12.5%", "12,5\u202f%"."""
    if value is None:
        return "–"
    return number(100 * value, lang, digits) + ("\u202f%" if (lang or _lang.get()) == "fr" else "%")


def with_locale(charts: dict, lang: str | None = None) -> dict:
    """Each chart with the number separators of ``lang`` (default: the current language), the same signs
    ``plotly_locale`` gives Plotly: the specs are cached for every language, so they are set per page."""
    signs = separators(lang)
    return {name: {**spec, "layout": {**spec.get("layout", {}), "separators": signs}}
            for name, spec in charts.items()}


class Label(str):
    """A label key or English message inside a chart spec, put in the reader's language by ``localize``.

    Page data is computed once and cached for every language, so its charts hold keys, not
    words; a spec drawn without ``localize`` shows the key itself.
    """

    __slots__ = ()


class Duration(float):
    """Seconds inside a chart spec, written as a duration in the reader's language by ``localize``."""

    __slots__ = ()


def localize(spec: Any, translate: Callable[[str], str] = t) -> Any:
    """A copy of a chart spec (nested dicts and lists) with every ``Label`` and ``Duration`` in words."""
    if isinstance(spec, Label):
        return translate(spec)
    if isinstance(spec, Duration):
        return duration(float(spec), translate)
    if isinstance(spec, dict):
        return {k: localize(v, translate) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return [localize(v, translate) for v in spec]
    return spec


#: Plotly's own words the dashboard shows (its tool bar's tooltips), translated through the catalogue
PLOTLY_WORDS = (N_("Download plot as a png"), N_("Zoom"), N_("Pan"), N_("Zoom in"), N_("Zoom out"),
                N_("Autoscale"), N_("Reset axes"), N_("Reset view"), N_("Box Select"), N_("Lasso Select"),
                N_("Toggle Spike Lines"), N_("Show closest data on hover"), N_("Compare data on hover"),
                N_("Double-click to zoom back out"))


def plotly_locale() -> dict | None:
    """Plotly.js's locale for the current language (None: its built-in English).

    Month and day names, decimal and thousands signs come from Babel's CLDR data; the tool
    bar's words from the catalogue. ``app.js`` registers it before drawing the charts.
    """
    lang = _lang.get()
    if lang == "en":
        return None
    months = get_month_names("wide", locale=lang)
    short_months = get_month_names("abbreviated", locale=lang)
    days = get_day_names("wide", locale=lang)
    short_days = get_day_names("abbreviated", locale=lang)
    week = (6, 0, 1, 2, 3, 4, 5)  # Plotly's weeks start on Sunday, CLDR's index 0 is Monday
    return {"name": lang, "dictionary": {w: gettext(w) for w in PLOTLY_WORDS},
            "format": {"months": [months[m] for m in range(1, 13)],
                       "shortMonths": [short_months[m] for m in range(1, 13)],
                       "days": [days[d] for d in week], "shortDays": [short_days[d] for d in week],
                       "decimal": separators(lang)[0], "thousands": separators(lang)[1]}}
