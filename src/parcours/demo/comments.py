"""Short survey comments, in French and English, by touchpoint and tone.

The generator picks a comment whose tone matches the score (negative, neutral,
positive), so that text analyses of the demo find the same story as the scores.
"""

from __future__ import annotations

TONES = ("negative", "neutral", "positive")
LANGUAGES = ("fr", "en")

#: touchpoint -> tone -> language -> comments
COMMENTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "product_page": {
        "negative": {
            "fr": ("Impossible de trouver le guide des tailles.", "Les photos ne montrent pas la semelle."),
            "en": ("Could not find the size guide.", "Photos do not show the sole."),
        },
        "neutral": {
            "fr": ("Fiche correcte, il manque le drop de la chaussure.",),
            "en": ("Decent page, the shoe drop is missing.",),
        },
        "positive": {
            "fr": ("Comparateur très clair, j'ai trouvé ma paire vite.", "Avis des coureurs très utiles."),
            "en": ("Clear comparison, found my pair quickly.", "Runner reviews were very helpful."),
        },
    },
    "live_chat": {
        "negative": {
            "fr": ("Le chat m'a renvoyé vers le formulaire, encore.", "Attente de 20 minutes pour une réponse."),
            "en": ("The chat sent me back to the form, again.", "Waited 20 minutes for an answer."),
        },
        "neutral": {
            "fr": ("Réponse correcte mais un peu lente.",),
            "en": ("Fine answer but a bit slow.",),
        },
        "positive": {
            "fr": ("Conseillère au top, elle connaît le trail !", "Réponse rapide sur ma pointure."),
            "en": ("Great advisor, knows trail running!", "Quick answer about my size."),
        },
    },
    "web_form": {
        "negative": {
            "fr": ("Troisième formulaire envoyé, toujours pas de réponse.", "On me redemande les mêmes infos."),
            "en": ("Third form sent, still no answer.", "They keep asking for the same details."),
        },
        "neutral": {
            "fr": ("Réponse reçue après deux jours.",),
            "en": ("Got an answer after two days.",),
        },
        "positive": {
            "fr": ("Formulaire simple, réponse le jour même.",),
            "en": ("Simple form, same-day answer.",),
        },
    },
    "store_visit": {
        "negative": {
            "fr": ("Pas ma pointure en magasin.", "Vendeur peu disponible un samedi."),
            "en": ("My size was not in stock.", "Hardly any staff on a Saturday."),
        },
        "neutral": {
            "fr": ("Magasin agréable, un peu d'attente en caisse.",),
            "en": ("Nice store, a bit of a queue at the till.",),
        },
        "positive": {
            "fr": ("Analyse de foulée au top, merci !", "Super conseils pour mon premier marathon."),
            "en": ("Great gait analysis, thanks!", "Great advice for my first marathon."),
        },
    },
    "checkout": {
        "negative": {
            "fr": ("Paiement refusé deux fois sans explication.", "La page de paiement a planté."),
            "en": ("Payment declined twice with no explanation.", "The payment page crashed."),
        },
        "neutral": {
            "fr": ("Paiement ok, mais trop d'étapes.",),
            "en": ("Payment worked, but too many steps.",),
        },
        "positive": {
            "fr": ("Commande passée en deux minutes.",),
            "en": ("Ordered in two minutes.",),
        },
    },
    "delivery": {
        "negative": {
            "fr": ("Colis livré avec une semaine de retard.", "Aucune nouvelle du transporteur."),
            "en": ("Parcel arrived a week late.", "No news from the carrier."),
        },
        "neutral": {
            "fr": ("Livré à la date prévue, emballage abîmé.",),
            "en": ("Delivered on time, damaged box.",),
        },
        "positive": {
            "fr": ("Livraison rapide, chaussures parfaites.", "Reçu en 48 h, merci !"),
            "en": ("Fast delivery, perfect shoes.", "Arrived in 48 hours, thanks!"),
        },
    },
    "call_centre": {
        "negative": {
            "fr": ("Personne ne sait où est mon colis.", "Trois appels pour la même question."),
            "en": ("Nobody knows where my parcel is.", "Three calls for the same question."),
        },
        "neutral": {
            "fr": ("Conseiller aimable, problème pas encore réglé.",),
            "en": ("Friendly agent, problem not solved yet.",),
        },
        "positive": {
            "fr": ("Problème réglé en un appel.",),
            "en": ("Sorted in one call.",),
        },
    },
    "returns": {
        "negative": {
            "fr": ("Remboursement toujours en attente.",),
            "en": ("Still waiting for my refund.",),
        },
        "neutral": {
            "fr": ("Retour facile mais étiquette à imprimer.",),
            "en": ("Easy return but I had to print a label.",),
        },
        "positive": {
            "fr": ("Échange de pointure sans souci.",),
            "en": ("Size exchange, no hassle.",),
        },
    },
}


def flat() -> tuple[list[str], dict[tuple[str, str, str], list[int]]]:
    """All comments in one list, and (touchpoint, tone, language) -> their positions in it."""
    texts: list[str] = []
    index: dict[tuple[str, str, str], list[int]] = {}
    for touchpoint, tones in COMMENTS.items():
        for tone, languages in tones.items():
            for language, comments in languages.items():
                index[(touchpoint, tone, language)] = list(range(len(texts), len(texts) + len(comments)))
                texts.extend(comments)
    return texts, index
