"""The dashboard's message catalogue: French complete, LABELS merged, extraction working.

The browser check that every page reads French is in test_web_french.py.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from parcours.analytics.funnels.spec import POSTHOG_MODES
from parcours.analytics.voc.followups import STATUSES
from parcours.views import catalogue_sync
from parcours.views.assets import templates
from parcours.views.i18n import (
    LABELS,
    MARKS,
    VOCABULARY,
    catalogue,
    duration,
    gettext,
    localize,
    ngettext,
    plotly_locale,
    po_path,
    speaking,
    t,
    translator,
)

ROOT = Path(__file__).resolve().parents[1]


def _po():
    with po_path("fr").open("rb") as f:
        return read_po(f, locale="fr")


def test_every_message_has_a_french_translation():
    po = _po()
    missing = [m.id for m in po if m.id and (not m.string or m.fuzzy)]
    assert missing == [], f"no French for {missing}: fill msgstr in {po_path('fr')}"
    assert len(po) > 150 and not po.obsolete


def test_every_labels_entry_has_french_and_one_meaning():
    """An entry's French (the fallback) must exist, and one English text cannot mean two French ones."""
    assert all(fr.strip() for _, fr in LABELS.values()), [k for k, (_, fr) in LABELS.items() if not fr.strip()]
    french: dict[str, set[str]] = {}
    for en, fr in LABELS.values():
        french.setdefault(en, set()).add(fr)
    assert {en: fr for en, fr in french.items() if len(fr) > 1} == {}
    with speaking("fr"):
        assert all(t(key) != key or en == fr for key, (en, fr) in LABELS.items())


def test_the_words_the_analyses_hand_the_pages_are_in_the_vocabulary():
    """Modes, statuses and verdicts come from the library: a new one needs a French word here."""
    verdicts = ("higher", "lower", "no significant difference", "not enough answers")
    assert set(POSTHOG_MODES) | set(STATUSES) | set(verdicts) <= set(VOCABULARY)
    fr = catalogue("fr")
    assert [w for w in VOCABULARY if fr.find(w) is None] == []


def test_language_switch_keys_messages_and_labels_fallback(monkeypatch):
    with speaking("fr"):
        assert t("funnels") == "Entonnoirs" and gettext("Funnels") == "Entonnoirs"
        assert gettext("never heard of this") == "never heard of this"  # unknown: English, visible
        assert t("no_such_key") == "no_such_key"
        assert duration(3 * 86400) == "3.0 j" and duration(30) == "30 s"
    with speaking("en"):
        assert t("funnels") == "Funnels" and duration(3 * 86400) == "3.0 d"
    assert translator("fr")("funnels") == "Entonnoirs" and translator("en")("funnels") == "Funnels"
    # an entry added to LABELS in a branch, not yet in the .po: its French shows meanwhile
    monkeypatch.setitem(LABELS, "brand_new", ("Brand new words", "Des mots tout neufs"))
    monkeypatch.setitem(catalogue_sync.LABELS, "brand_new", ("Brand new words", "Des mots tout neufs"))
    from parcours.views import i18n

    monkeypatch.setitem(i18n.FALLBACK, "Brand new words", "Des mots tout neufs")
    with speaking("fr"):
        assert t("brand_new") == "Des mots tout neufs"


def test_plural_forms_follow_french_rules(monkeypatch):
    from parcours.views import i18n

    fr = catalogue("fr")
    assert fr.plural(0) == 0 and fr.plural(1) == 0 and fr.plural(2) == 1 and catalogue("en").plural(0) == 1
    with speaking("fr"):
        assert ngettext("one", "many", 0) == "many"  # not in the catalogue: English, English rules
    plural = i18n.Catalogue("fr", {"answer": ("réponse", "réponses")}, fr.plural)
    monkeypatch.setattr(i18n, "catalogue", lambda lang: plural)
    with speaking("fr"):
        assert [ngettext("answer", "answers", n) for n in (0, 1, 2)] == ["réponse", "réponse", "réponses"]


def test_marking_wraps_translations_only():
    with speaking("fr", mark=True):
        assert t("funnels") == f"{MARKS[0]}Entonnoirs{MARKS[1]}"
        assert gettext("never heard of this") == "never heard of this"
    with speaking("fr"):
        assert MARKS[0] not in t("funnels")


def test_templates_translate_with_the_i18n_extension():
    env = templates()
    page = env.from_string("{{ _('drop-off') }} | {% trans %}median{% endtrans %} | {{ 3600 | duration }}"
                           " | {{ _('Scores (95% interval)') }}")
    with speaking("fr"):
        assert page.render() == "abandons | médiane | 1.0 h | Scores (intervalle à 95 %)"
    with speaking("en"):
        assert page.render() == "drop-off | median | 1.0 h | Scores (95% interval)"


def test_plotly_locale_is_french_only_in_french():
    with speaking("en"):
        assert plotly_locale() is None
    with speaking("fr"):
        loc = plotly_locale()
    assert loc["format"]["shortMonths"][0] == "janv." and loc["format"]["days"][0] == "dimanche"
    assert loc["format"]["decimal"] == "," and loc["dictionary"]["Zoom in"] == "Zoom avant"


def test_localize_turns_labels_and_durations_into_words():
    from parcours.views.i18n import Duration, Label

    spec = {"x": [Duration(7200), Label("path_end")], "name": Label("emotion")}
    with speaking("fr"):
        assert localize(spec) == {"x": ["2.0 h", "(fin)"], "name": "émotion"}
    assert localize(spec, translator("en")) == {"x": ["2.0 h", "(end)"], "name": "emotion"}


def test_sync_copies_labels_entries_the_po_lacks(tmp_path, monkeypatch):
    copy = tmp_path / "messages.po"
    shutil.copy(po_path("fr"), copy)
    assert catalogue_sync.sync(copy, write=False) == []  # the shipped .po holds every entry
    monkeypatch.setitem(catalogue_sync.LABELS, "brand_new", ("Brand new words", "Des mots tout neufs"))
    assert catalogue_sync.sync(copy) == ["brand_new: 'Brand new words' -> 'Des mots tout neufs'"]
    with copy.open("rb") as f:
        assert read_po(f).get("Brand new words").string == "Des mots tout neufs"
    assert catalogue_sync.sync(copy) == []


def test_sync_check_exits_1_listing_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(catalogue_sync, "po_path", lambda lang: po_path(lang))
    assert catalogue_sync.main(["--check"]) == 0
    monkeypatch.setitem(catalogue_sync.LABELS, "brand_new", ("Brand new words", "Des mots tout neufs"))
    assert catalogue_sync.main(["--check"]) == 1
    assert "missing from the .po: brand_new" in capsys.readouterr().out


def test_pybabel_extract_finds_templates_python_and_labels(tmp_path):
    """babel.cfg works: the template strings, N_() marks and every LABELS English are extracted."""
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-o", str(out),
                    "."], cwd=ROOT, check=True, capture_output=True)
    pot = read_po(io.BytesIO(out.read_bytes()))
    ids = {m.id for m in pot if m.id}
    assert {"drop-off", "Message from the analyses, in English:", "{value} d", "unordered"} <= ids
    assert {en for en, _ in LABELS.values()} <= ids
    po_ids = {m.id for m in _po() if m.id}
    assert ids == po_ids, (f"the .po is behind the code: run `make messages` (docs/contributing.md) and translate; "
                          f"new {ids - po_ids}, gone {po_ids - ids}")


def test_from_analysiss_read_french_by_pattern():
    from parcours.views.sentences import from_analysis

    text = ("1,070 customers (33%): more satisfaction (6.03 vs 4.57 on average); less far in the journey "
            "(typically awareness); fewer touchpoints used (1.78 vs 2.98 on average). Mostly via ads, email; "
            "top touchpoints none. Conversion 0%, no survey answers.")
    with speaking("fr"):
        said = from_analysis(text)
        assert said.lang == "fr"
        assert said == ("1\u202f070 clients (33\u202f%) : satisfaction : au-dessus de la moyenne (6,03 contre 4,57); "
                        "moins loin dans le parcours (en général awareness); points de contact utilisés : en dessous "
                        "de la moyenne (1,78 contre 2,98). Surtout via ads, email ; principaux points de contact "
                        "aucune. Conversion 0\u202f%, aucune réponse aux enquêtes.")
        # one part the patterns do not know: the whole sentence stays English, and says so
        odd = text.replace("more satisfaction", "odder satisfaction")
        assert from_analysis(odd) == odd and from_analysis(odd).lang == "en"
    with speaking("en"):
        assert from_analysis(text) == text and from_analysis(text).lang == "en"


def test_what_the_analyses_write_translates_whole(store):
    """The patterns are worded like the analyses: real persona descriptions, opportunity evidence and
    top-path rows must translate whole (rewording an analysis without its pattern fails here)."""
    import parcours
    from parcours.analytics.conformance import opportunities
    from parcours.views.sentences import from_analysis

    parcours.load_demo(store, 300, 5)
    texts = list(parcours.find_personas(store, k=3).cards["description"])
    evidence = [e for lines in opportunities(store)["evidence"] for e in lines]
    assert any("conversions lost" in e for e in evidence) and any("did not follow" in e for e in evidence)
    paths = parcours.top_paths(store, end="stage:retention", max_length=2, top=2)["path"]
    texts += evidence + [p for p in paths if p.startswith("(")]
    with speaking("fr"):
        english = [text for text in texts if from_analysis(text).lang != "fr"]
    assert english == []
    with speaking("fr"):
        line = from_analysis("friction 2.5: errors at 12% vs 3.5% elsewhere")
        assert line == "friction 2,5 : erreurs à 12\u202f% contre 3,5\u202f% ailleurs"
        assert from_analysis("(did not reach stage:purchase)") == "(n'ont pas atteint stage:purchase)"
        assert from_analysis("product_page > cart").lang == "en" and from_analysis(None) is None
        reasons = from_analysis("web x2 (+0.14 log-odds) · recency 10.1 days (-0.2 log-odds)")
        assert reasons == "web ×2 (+0,14 en log-cote) · dernière activité il y a 10,1 jours (-0,2 en log-cote)"
        half = "web x2 (+0.14 log-odds) · something else"
        assert from_analysis(half) == half and from_analysis(half).lang == "en"  # whole, or not at all


def test_lead_reasons_translate_whole(tmp_path_factory):
    """Lead reasons need a store with enough buyers to learn from: the dashboard tests' demo store."""
    from dashboard_demo import copy_of_demo

    import parcours
    from parcours.views.sentences import from_analysis

    path = copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("leads") / "store.duckdb")
    with parcours.open(path) as store:
        reasons = [" · ".join(r) for r in parcours.score_leads(store)["reasons"]]
    with speaking("fr"):
        assert [r for r in reasons if from_analysis(r).lang != "fr"] == []
