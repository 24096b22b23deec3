"""Dashboard labels in English and French.

The language comes from ``?lang=fr|en``, then the ``lang`` cookie that choice sets, then the
browser's ``Accept-Language``; English when none of them names a language we have.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

LANGUAGES = ("en", "fr")

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
    "from": ("From", "Du"),
    "to": ("To", "Au"),
    "segment": ("Segment", "Segment"),
    "where": ("Where", "Condition"),
    "everyone": ("Everyone", "Tous"),
    "apply": ("Apply", "Appliquer"),
    "reset": ("Reset", "Réinitialiser"),
    "login": ("Sign in", "Connexion"),
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
    "none": ("none", "aucune"),
    "funnel_chart": ("Funnel", "Entonnoir"),
    "time_to_convert": ("Time to convert", "Délai de conversion"),
    "conversion_trend": ("Conversion trend", "Évolution de la conversion"),
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
    "level": ("Level", "Niveau"),
    "channel": ("Channel", "Canal"),
    "campaign": ("Campaign", "Campagne"),
    "model": ("Model", "Modèle"),
    "conversions": ("Conversions", "Conversions"),
    "scores": ("Scores (95% interval)", "Scores (intervalle à 95 %)"),
    "answers": ("answers", "réponses"),
    "comparison": ("Touchpoint comparison", "Comparaison des points de contact"),
    "followups": ("Follow-ups", "Suivis"),
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
    "timeline": ("Timeline", "Chronologie"),
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
    "model_first_touch": ("first touch", "premier contact"),
    "model_last_touch": ("last touch", "dernier contact"),
    "model_last_non_direct": ("last non-direct touch", "dernier contact non direct"),
    "model_linear": ("linear", "linéaire"),
    "model_time_decay": ("time decay", "dégressif dans le temps"),
    "model_position_based": ("position based (U)", "en U (position)"),
    "model_markov": ("Markov chain", "chaîne de Markov"),
    "model_shapley": ("Shapley value", "valeur de Shapley"),
    # who is behind a count (/people) and the flow explorer (/flow)
    "people": ("Customers", "Clients"),
    "people_of_funnel": ("Customers of a funnel step", "Clients d'une étape d'entonnoir"),
    "people_of_link": ("Customers through a flow link", "Clients passés par ce lien"),
    "people_of_path": ("Customers on a path", "Clients de ce chemin"),
    "people_of_cohort": ("Customers of a cohort cell", "Clients d'une cellule de cohorte"),
    "people_of_persona": ("Customers of a persona", "Clients d'un persona"),
    "people_of_segment": ("Customers of a segment", "Clients d'un segment"),
    "people_of_friction": ("Customers behind a friction flag", "Clients derrière un point de friction"),
    "page": ("page", "page"),
    "previous": ("previous", "précédente"),
    "next": ("next", "suivante"),
    "export_csv": ("Export CSV", "Exporter en CSV"),
    "save_as_segment": ("Save as segment", "Enregistrer comme segment"),
    "needs_write_key": ("needs a write key", "nécessite une clé d'écriture"),
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
    "click_link_people": ("click a link to list its customers", "cliquez un lien pour voir ses clients"),
    "add_to_funnel": ("Add a step to the funnel", "Ajouter une étape à l'entonnoir"),
    "explore_flow": ("paths", "chemins"),
    "segment_saved": ("Segment saved", "Segment enregistré"),
    "funnel_step": ("Funnel step", "Étape de l'entonnoir"),
    "funnel_step_help": ("the funnel's count; the paths below start at each customer's first such step",
                         "le compte de l'entonnoir ; les chemins ci-dessous partent de la première étape de chaque client"),
}


def language(request: Request) -> str:
    """The page's language: ``?lang``, the ``lang`` cookie, then the browser's preference."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def translator(lang: str):
    """``t(key)``: the label in ``lang``; an unknown key shows as itself, so a gap is visible, not fatal."""
    i = LANGUAGES.index(lang)

    def t(key: str) -> str:
        pair = LABELS.get(key)
        return pair[i] if pair else key

    return t


class Label(str):
    """A label key inside a chart spec, put in the reader's language by ``localize`` when the page is drawn.

    Page data is computed once and cached for every language, so its charts hold keys, not
    words; a spec drawn without ``localize`` shows the key itself.
    """

    __slots__ = ()


def localize(spec: Any, t) -> Any:
    """A copy of a chart spec (nested dicts and lists) with every ``Label`` replaced by ``t(label)``."""
    if isinstance(spec, Label):
        return t(spec)
    if isinstance(spec, dict):
        return {k: localize(v, t) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return [localize(v, t) for v in spec]
    return spec
