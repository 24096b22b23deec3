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
    "no_answers": ("no answers", "aucune réponse"),
    "go_on_later": ("go on to a later stage", "passent à une étape suivante"),
    "onward_help": ("of the customers here, those who reach a later stage afterwards",
                    "parmi les clients passés ici, ceux qui atteignent ensuite une étape suivante"),
    "stop_here": ("stop here", "s'arrêtent ici"),
    "dropoff_help": ("of the customers here, those whose journey ends here",
                     "parmi les clients passés ici, ceux dont le parcours s'arrête ici"),
    "tp_order": ("Touchpoint order", "Ordre des points de contact"),
    "order_file": ("as in the journey file", "celui du fichier du parcours"),
    "order_measured": ("as customers meet them", "celui des clients"),
    "compare_with": ("Compare", "Comparer"),
    "lane_goals": ("Customer goals", "Objectifs du client"),
    "lane_thoughts": ("Thoughts", "Pensées"),
    "lane_pain_points": ("Pain points", "Points de douleur"),
    "lane_opportunities": ("Opportunities", "Opportunités"),
    "lane_owner": ("Backstage owner", "Responsable en coulisses"),
    "compare_segment": ("Segments side by side", "Segments côte à côte"),
    "compare_period": ("Two periods side by side", "Deux périodes côte à côte"),
    "share_reached": ("Share reaching the stage", "Part atteignant l'étape"),
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
    "any_event": ("any event", "tout événement"),
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
                             "Ouvrir des suivis demande une clé qui peut écrire : connectez-vous avec une clé admin."),
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
    "persona_ch_ads": ("Ad clickers", "Cliqueurs de publicités"),
    "persona_ch_search": ("Searchers", "Chercheurs"),
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
    "persona_ch_other": ("{} users", "Utilisateurs {}"),
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
    "people_of_link": ("Customers through a flow link", "Clients passés par ce lien"),
    "people_of_path": ("Customers on a path", "Clients de ce chemin"),
    "people_of_cohort": ("Customers of a cohort cell", "Clients d'une cellule de cohorte"),
    "people_of_persona": ("Customers of a persona", "Clients d'un persona"),
    "people_of_segment": ("Customers of a segment", "Clients d'un segment"),
    "people_of_friction": ("Customers behind a friction flag", "Clients derrière un point de friction"),
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


def persona_name(parts: list[str], t) -> str:
    """A persona's name (``find_personas``' ``name_parts``: channel, qualifier key, argument) in t's language."""
    channel, qualifier, arg = parts
    noun = t(f"persona_ch_{channel}")
    if noun == f"persona_ch_{channel}":
        noun = t("persona_ch_other").format(channel)
    return f"{noun} {t(f'persona_q_{qualifier}').format(arg)}" if qualifier else noun


#: Plotly's ``separators`` (decimal point, then thousands) per language: 20,103.5 and 20 103,5
SEPARATORS = {"en": ".,", "fr": ",\u202f"}


def number(value: float | None, lang: str, digits: int = 0) -> str:
    """``value`` written out in ``lang``: "20,103" in English, "20 103" (narrow spaces) in French."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",") if lang == "fr" else text


def percent(value: float | None, lang: str, digits: int = 0) -> str:
    """A share (0.125) as a percentage in ``lang``: "12.5%", "12,5 %"."""
    if value is None:
        return "–"
    return number(100 * value, lang, digits) + ("\u202f%" if lang == "fr" else "%")


def with_locale(charts: dict, lang: str) -> dict:
    """Each chart with the number separators of ``lang`` (the specs are cached for every language)."""
    return {name: {**spec, "layout": {**spec.get("layout", {}), "separators": SEPARATORS[lang]}}
            for name, spec in charts.items()}


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
