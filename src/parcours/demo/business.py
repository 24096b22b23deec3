"""The demo business, "Foulée": a French running-gear retailer, online and in five stores.

Its customers are Ludovic-like runners looking for shoes (the example of the seed
articles): they see an ad or a post, compare shoes on the site or in a store, add a
pair to the cart, pay, wait for the parcel, and some come back, review and recommend.

Everything the generator draws from is here, as plain data, so that docs/demo.md and
the tests can name the rates and the frictions planted on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

#: The data always ends here (never ``now()``), so that a seed gives the same data any day.
END = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
#: First contacts are spread over the year before ``END`` (minus the last weeks).
HISTORY_DAYS = 365
FIRST_CONTACT_DAYS = 335

#: Event names, in the order used for codes; the five-stages template maps them all.
EVENTS = (
    "ad_click", "search_click", "social_click", "email_open",
    "site_visit", "product_view", "product_compare", "chat_message", "form_submit", "store_visit",
    "add_to_cart", "remove_from_cart", "checkout_start", "payment_error", "sales_call", "purchase",
    "delivery", "delivery_delayed", "support_call", "newsletter_open", "loyalty_offer_click", "return_request",
    "review_posted", "referral_sent",
    "identify", "survey_response",
)
E = {name: i for i, name in enumerate(EVENTS)}

#: Channels an event can carry; "web"/"mobile" for site events depends on the device.
CHANNELS = ("ads", "search", "social", "email", "web", "mobile", "chat", "web_form", "store",
            "call_centre", "delivery", "review")
CH = {name: i for i, name in enumerate(CHANNELS)}
DEVICES = ("desktop", "mobile")


@dataclass(frozen=True)
class Campaign:
    """An acquisition campaign: its awareness event, UTM tags, share of first contacts, quality.

    ``quality`` multiplies the chance to go on to consideration and to the cart: campaigns
    of different quality give attribution something to find.
    """

    event: str
    source: str
    medium: str
    name: str
    share: float
    quality: float


CAMPAIGNS = (
    Campaign("ad_click", "google", "cpc", "chaussures_running_printemps", 0.16, 1.25),
    Campaign("ad_click", "google", "cpc", "black_friday_2024", 0.10, 1.10),
    Campaign("ad_click", "meta", "display", "video_notoriete_marque", 0.12, 0.45),
    Campaign("search_click", "google", "organic", "guide_choisir_chaussures", 0.18, 1.15),
    Campaign("search_click", "bing", "organic", "guide_choisir_chaussures", 0.04, 1.0),
    Campaign("social_click", "instagram", "social", "defi_marathon_paris", 0.12, 1.0),
    Campaign("social_click", "tiktok", "social", "influenceurs_trail", 0.12, 0.5),
    Campaign("email_open", "newsletter", "email", "bienvenue_serie", 0.08, 1.35),
    Campaign("email_open", "newsletter", "email", "soldes_hiver", 0.08, 0.85),
)

#: Campaigns of the emails sent to customers who bought (no share: nobody is acquired by them);
#: their codes follow ``CAMPAIGNS`` in the events' ``campaign`` column.
RETENTION_CAMPAIGNS = (
    Campaign("newsletter_open", "newsletter", "email", "newsletter_mensuelle", 0.0, 1.0),
    Campaign("loyalty_offer_click", "newsletter", "email", "programme_fidelite", 0.0, 1.0),
)
#: Every campaign an event can carry, by code
ALL_CAMPAIGNS = CAMPAIGNS + RETENTION_CAMPAIGNS
#: the campaign code of each retention email event
RETENTION_CAMPAIGN = {c.event: len(CAMPAIGNS) + i for i, c in enumerate(RETENTION_CAMPAIGNS)}

PRODUCTS = ("chaussures_route", "chaussures_trail", "chaussures_competition", "montre_gps", "textile_running",
            "sac_hydratation")
PRODUCT_SHARES = (0.34, 0.22, 0.10, 0.12, 0.16, 0.06)
STORES = ("Paris Bastille", "Lyon Part-Dieu", "Bordeaux", "Lille", "Nantes")
PAYMENT_ERRORS = ("card_declined", "3ds_timeout", "payment_page_error")
FORM_TOPICS = ("taille", "disponibilite", "suivi_commande", "retour")
RETURN_REASONS = ("taille", "defaut", "ne_convient_pas")

# --- rates (probabilities unless said otherwise) --------------------------------------------------
P_MOBILE_FIRST = 0.6          # first device is a phone
P_MULTI_DEVICE = 0.45         # a second device (the other kind) is used after logging in
EXTRA_AWARENESS_MEAN = 0.6    # further ads/posts/emails seen, Poisson mean
P_CONSIDER = 0.5              # x campaign quality: visits the site after the first contact
SITE_VISITS_MEAN = 1.5        # extra site visits, Poisson mean
PRODUCT_VIEWS_MEAN = 2.5      # extra product views, Poisson mean
P_COMPARE = 0.35
P_CHAT = 0.15
P_FORM = 0.10
P_FORM_LOOP = 0.5             # planted: form users who loop (2-4 submits, chat in between)
P_STORE_VISIT = 0.12
STORE_TRAITS = ("crm_id", "email", "phone")  # how the store knows the visitor (loyalty card, e-receipt, phone)
STORE_TRAIT_SHARES = (0.4, 0.35, 0.25)
P_CART = 0.42                 # x campaign quality, of considerers
CART_FACTOR_FORM_LOOP = 0.55  # looping on the form puts people off
CART_FACTOR_STORE = 1.25
P_REMOVE_FROM_CART = 0.2
P_SALES_CALL = 0.06           # of carts, before checkout (offline, known by phone)
P_CHECKOUT = 0.5              # of carts
P_PAYMENT_ERROR = 0.32        # planted: of checkouts (a healthy checkout fails ~3%)
P_PURCHASE_AFTER_ERROR = 0.38
P_PURCHASE_NO_ERROR = 0.8
P_IDENTIFY_CART_ONLY = 0.4    # carts that never reach checkout
P_IDENTIFY_BROWSER = 0.12     # considerers without a cart (account, newsletter sign-up)
P_SECOND_IDENTIFY = 0.7       # multi-device customers who later log in on the first device too
CART_WAIT_MINUTES = 12        # median wait add_to_cart -> checkout_start
LONG_WAIT_HOURS = 36          # planted: mobile-first multi-device shoppers finish on desktop later
P_REPEAT = 0.3                # buyers who buy again
EXTRA_REPEATS_MEAN = 0.5
REPEAT_GAP_DAYS = 60
P_LOYALTY_BEFORE_REPEAT = 0.5
P_LOYALTY_OTHERS = 0.15
P_DELAYED = 0.22              # planted: of orders (a healthy carrier is late ~5%)
P_SUPPORT_AFTER_DELAY = 0.7   # planted: a support call within 3 days of a delay
P_SUPPORT_OTHERS = 0.05
P_RETURN = 0.09
P_NEWSLETTER = 0.65           # buyers subscribed; they open ~0.7 issues a month
NEWSLETTER_OPENS_PER_MONTH = 0.7
P_REVIEW_ON_TIME, P_REVIEW_DELAYED = 0.25, 0.35
P_REFERRAL_ON_TIME, P_REFERRAL_DELAYED = 0.12, 0.02
P_COMMENT = 0.45              # survey answers with a comment (0.65 when unhappy)
P_COMMENT_UNHAPPY = 0.65
P_FRENCH = 0.7                # language of survey comments


@dataclass(frozen=True)
class Survey:
    """A survey sent after a touchpoint: metric, how often it is answered, score mean and spread."""

    metric: str
    touchpoint: str
    rate: float
    mean: float
    sd: float


#: Score scales: CES is "the company made it easy" (1 = very hard, 7 = very easy).
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
#: (negative if <= , positive if >=) per metric, so that comment tone matches the score.
TONE_CUTS = {"nps": (6, 9), "csat": (2, 4), "ces": (3, 5)}

SURVEYS = {
    "product_page": Survey("ces", "product_page", 0.04, 5.7, 1.0),
    "live_chat": Survey("csat", "live_chat", 0.3, 4.2, 0.8),
    "live_chat_loop": Survey("csat", "live_chat", 0.3, 2.8, 1.0),
    "web_form": Survey("ces", "web_form", 0.4, 3.6, 1.2),
    "web_form_loop": Survey("ces", "web_form", 0.4, 1.9, 0.9),
    "store_visit_csat": Survey("csat", "store_visit", 0.3, 4.5, 0.7),
    "store_visit_nps": Survey("nps", "store_visit", 0.15, 8.6, 1.3),
    "checkout": Survey("ces", "checkout", 0.3, 4.6, 1.1),
    "checkout_error": Survey("ces", "checkout", 0.3, 1.9, 0.9),
    "delivery_csat": Survey("csat", "delivery", 0.35, 4.5, 0.6),
    "delivery_csat_delayed": Survey("csat", "delivery", 0.35, 1.8, 0.8),
    "delivery_nps": Survey("nps", "delivery", 0.25, 8.4, 1.4),
    "delivery_nps_delayed": Survey("nps", "delivery", 0.25, 4.2, 2.2),
    "call_centre": Survey("csat", "call_centre", 0.4, 3.4, 1.1),
    "returns": Survey("ces", "returns", 0.4, 4.9, 1.2),
}

#: What the generator plants on purpose, for analyses (and their tests) to find.
PLANTED_FRICTION: dict[str, str] = {
    "checkout": (
        f"payment_error on {P_PAYMENT_ERROR:.0%} of checkouts; purchase follows checkout_start for only "
        f"{P_PURCHASE_AFTER_ERROR:.0%} after an error vs {P_PURCHASE_NO_ERROR:.0%} without; "
        "CES after an error averages 1.9 of 7"
    ),
    "delivery": (
        f"{P_DELAYED:.0%} of orders get delivery_delayed (delivered 4-9 days later); "
        f"{P_SUPPORT_AFTER_DELAY:.0%} of them call support within 3 days; "
        "CSAT 1.8 of 5 and NPS 4.2 (detractors) when late"
    ),
    "web_form": (
        f"{P_FORM_LOOP:.0%} of form users loop: 2-4 form_submit a few days apart with live_chat "
        "in between; CES 1.9 of 7 for them; looping cuts the chance of a cart by 45%"
    ),
    "cart": (
        f"long wait: mobile-first shoppers who switch device wait ~{LONG_WAIT_HOURS} h (median) between "
        f"add_to_cart and checkout_start, against ~{CART_WAIT_MINUTES} min for everyone else"
    ),
}
