"""The demo simulation: customers walk through the five stages, as numpy arrays.

Vectorised by step, never by event: each step (awareness touch, site visit, cart,
delivery...) draws, for every customer concerned at once, whether it happens, when,
and its properties, and appends one block of events. ``simulate`` returns the blocks
concatenated, filtered to the reference period and sorted by customer and time; the
identities (which device, logged in or not) are resolved at the end from each
customer's login time, the way a real tracker would record them.
"""

from __future__ import annotations

import numpy as np

from parcours.demo import business as biz
from parcours.demo.comments import LANGUAGES, TONES, flat

DAY, HOUR, MINUTE = 86_400.0, 3_600.0, 60.0

#: How an event names its customer.
DEVICE, USER, OFFLINE, IDENTIFY = 0, 1, 2, 3
#: channel code meaning "web or mobile, from the device"
BY_DEVICE = -2
#: trait bits carried in properties: which identifiers an event reveals
CRM_ID, EMAIL, PHONE = 1, 2, 4
ALL_TRAITS = CRM_ID | EMAIL | PHONE

#: visits by hour of day (Paris-ish evening peak), normalised below
_HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3.5, 4, 4, 4.5, 4.5, 4, 4, 4.2, 4.8, 5.5, 6.5, 7, 6, 4, 2])
HOUR_PROFILE = _HOURS / _HOURS.sum()

SURVEY_TOUCHPOINTS = tuple(sorted({s.touchpoint for s in biz.SURVEYS.values()}))
METRICS = ("nps", "csat", "ces")
COMMENT_TEXTS, _COMMENT_INDEX = flat()

#: property columns and their "absent" value
_COLUMNS: dict[str, tuple[type, object]] = {
    "channel": (np.int8, -1), "campaign": (np.int8, -1), "device_arg": (np.int8, -1),
    "product": (np.int8, -1), "cart_value": (np.float64, np.nan), "revenue": (np.float64, np.nan),
    "repeat": (np.int8, -1), "error": (np.int8, -1), "topic": (np.int8, -1), "store": (np.int8, -1),
    "traits": (np.int8, 0), "reason": (np.int8, -1), "rating": (np.int8, -1), "delay_days": (np.int16, -1),
    "metric": (np.int8, -1), "score": (np.int8, -1), "survey_tp": (np.int8, -1), "comment": (np.int16, -1),
    "language": (np.int8, -1),
}


def _expand(customers: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer repeated ``counts`` times, with the position (0..count-1) of each copy."""
    counts = np.asarray(counts, dtype=np.int64)
    rep = np.repeat(customers, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return rep, np.arange(len(rep)) - starts


class _Events:
    """Blocks of events, appended step by step, concatenated once at the end."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.blocks: list[dict[str, np.ndarray]] = []

    def add(self, event: str | np.ndarray, cust: np.ndarray, t: np.ndarray, mode: int, **cols) -> None:
        n = len(cust)
        if n == 0:
            return
        code = np.full(n, biz.E[event], np.int8) if isinstance(event, str) else event.astype(np.int8)
        block = {"cust": cust.astype(np.int64), "t": np.asarray(t, np.float64), "event": code,
                 "mode": np.full(n, mode, np.int8)}
        for name, (dtype, absent) in _COLUMNS.items():
            value = cols.pop(name, absent)
            block[name] = np.broadcast_to(np.asarray(value, dtype), (n,)).copy()
        if cols:
            raise TypeError(f"unknown event columns: {sorted(cols)}")
        self.blocks.append(block)

    def survey(self, key: str, cust: np.ndarray, t: np.ndarray, mode: int, channel: str, traits: int = 0) -> None:
        """Answers to the survey ``key`` (see business.SURVEYS) sent after the given touchpoint events."""
        s = biz.SURVEYS[key]
        rng = self.rng
        answer = rng.random(len(cust)) < s.rate
        cust, t = cust[answer], t[answer]
        n = len(cust)
        lo, hi = biz.SCALES[s.metric]
        score = np.clip(np.rint(rng.normal(s.mean, s.sd, n)), lo, hi).astype(np.int8)
        neg, pos = biz.TONE_CUTS[s.metric]
        tone = np.where(score <= neg, 0, np.where(score >= pos, 2, 1))
        language = (rng.random(n) >= biz.P_FRENCH).astype(np.int8)
        with_comment = rng.random(n) < np.where(tone == 0, biz.P_COMMENT_UNHAPPY, biz.P_COMMENT)
        comment = np.full(n, -1, np.int16)
        for ti, tone_name in enumerate(TONES):
            for li, lang in enumerate(LANGUAGES):
                pool = np.array(_COMMENT_INDEX[(s.touchpoint, tone_name, lang)])
                rows = with_comment & (tone == ti) & (language == li)
                comment[rows] = rng.choice(pool, rows.sum())
        self.add(
            "survey_response", cust, t + rng.uniform(HOUR, 2 * DAY, n), mode,
            channel=biz.CH[channel], metric=METRICS.index(s.metric), score=score,
            survey_tp=SURVEY_TOUCHPOINTS.index(s.touchpoint), comment=comment,
            language=np.where(comment >= 0, language, -1), traits=traits,
        )

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.blocks]) for k in self.blocks[0]}


def simulate(customers: int, seed: int) -> dict[str, np.ndarray]:
    """Every event of ``customers`` simulated customers, sorted by customer then time.

    Columns: ``cust`` (0-based customer number), ``t`` (Unix seconds, UTC), ``event`` (code
    into ``business.EVENTS``), ``user`` / ``anon_device`` (the user id is set, and which
    device's anonymous id is set: 0 desktop, 1 mobile, -1 none), ``offline`` (the event comes
    from an offline system with its own id), and the property columns of ``_COLUMNS``.
    """
    rng = np.random.default_rng(seed)
    ev = _Events(rng)
    n = customers
    idx = np.arange(n)
    end = biz.END.timestamp()
    start = end - biz.HISTORY_DAYS * DAY

    def pick(p: float | np.ndarray, among: np.ndarray) -> np.ndarray:
        return among[rng.random(len(among)) < p]

    def u(a: float, b: float, size: int) -> np.ndarray:
        return rng.uniform(a, b, size)

    # --- who they are ------------------------------------------------------------------------
    shares = np.array([c.share for c in biz.CAMPAIGNS])
    camp = rng.choice(len(biz.CAMPAIGNS), n, p=shares / shares.sum())
    quality = np.array([c.quality for c in biz.CAMPAIGNS])[camp]
    t0 = (start + rng.integers(0, biz.FIRST_CONTACT_DAYS, n) * DAY + rng.choice(24, n, p=HOUR_PROFILE) * HOUR
          + u(0, HOUR, n))
    dev0 = (rng.random(n) < biz.P_MOBILE_FIRST).astype(np.int8)
    multi = rng.random(n) < biz.P_MULTI_DEVICE
    product = rng.choice(len(biz.PRODUCTS), n, p=biz.PRODUCT_SHARES)
    camp_event = np.array([biz.E[c.event] for c in biz.CAMPAIGNS])
    camp_channel = np.array([biz.CH[biz.CHANNELS[biz.E[c.event]]] for c in biz.CAMPAIGNS])

    # --- awareness: the first contact, then a few more ads, posts and emails -------------------
    ev.add(camp_event[camp], idx, t0, DEVICE, channel=camp_channel[camp], campaign=camp)
    c, _ = _expand(idx, rng.poisson(biz.EXTRA_AWARENESS_MEAN, n))
    extra = rng.choice(len(biz.CAMPAIGNS), len(c), p=shares / shares.sum())
    ev.add(camp_event[extra], c, t0[c] + u(HOUR, 7 * DAY, len(c)), DEVICE, channel=camp_channel[extra],
           campaign=extra)

    # --- consideration: site, product pages, chat, forms, stores ----------------------------------
    C = pick(np.clip(biz.P_CONSIDER * quality, 0, 0.95), idx)
    t1 = np.full(n, np.nan)
    same_session = rng.random(len(C)) < 0.4
    t1[C] = t0[C] + np.where(same_session, u(10, 600, len(C)), rng.exponential(1.5 * DAY, len(C)))
    span = np.full(n, np.nan)
    span[C] = rng.exponential(4 * DAY, len(C)) + 10 * MINUTE

    def during(c: np.ndarray) -> np.ndarray:
        return t1[c] + rng.random(len(c)) * span[c]

    def product_of(c: np.ndarray) -> np.ndarray:
        other = rng.choice(len(biz.PRODUCTS), len(c), p=biz.PRODUCT_SHARES)
        return np.where(rng.random(len(c)) < 0.8, product[c], other)

    # a visit in the same session as the first click lands from it: its URL carries the campaign's UTM tags
    ev.add("site_visit", C, t1[C], DEVICE, channel=BY_DEVICE, campaign=np.where(same_session, camp[C], -1))
    c, _ = _expand(C, rng.poisson(biz.SITE_VISITS_MEAN, len(C)))
    ev.add("site_visit", c, during(c), DEVICE, channel=BY_DEVICE)
    ev.add("product_view", C, t1[C] + u(30, 300, len(C)), DEVICE, channel=BY_DEVICE, product=product[C])
    c, _ = _expand(C, rng.poisson(biz.PRODUCT_VIEWS_MEAN, len(C)))
    ev.add("product_view", c, during(c), DEVICE, channel=BY_DEVICE, product=product_of(c))
    ev.survey("product_page", C, during(C), DEVICE, "web")
    comparers = pick(biz.P_COMPARE, C)
    c, _ = _expand(comparers, 1 + rng.poisson(0.5, len(comparers)))
    ev.add("product_compare", c, during(c), DEVICE, channel=BY_DEVICE, product=product_of(c))

    chatters = pick(biz.P_CHAT, C)
    t_chat = during(chatters)
    c, j = _expand(chatters, 1 + rng.poisson(1.0, len(chatters)))
    t_chat_full = np.full(n, np.nan)
    t_chat_full[chatters] = t_chat
    ev.add("chat_message", c, t_chat_full[c] + j * u(MINUTE, 4 * MINUTE, len(c)), DEVICE, channel=biz.CH["chat"])
    ev.survey("live_chat", chatters, t_chat + 15 * MINUTE, DEVICE, "chat")

    # planted friction: the contact form loops (several submits, live chat in between)
    formers = pick(biz.P_FORM, C)
    looping = np.zeros(n, bool)
    looping[pick(biz.P_FORM_LOOP, formers)] = True
    submits = np.where(looping[formers], rng.integers(2, 5, len(formers)), 1)
    t_form, gap = np.full(n, np.nan), np.full(n, np.nan)
    t_form[formers] = during(formers)
    gap[formers] = u(DAY, 3 * DAY, len(formers))
    topic = np.full(n, -1)
    topic[formers] = rng.integers(0, len(biz.FORM_TOPICS), len(formers))
    c, j = _expand(formers, submits)
    ev.add("form_submit", c, t_form[c] + j * gap[c], DEVICE, channel=biz.CH["web_form"], topic=topic[c],
           traits=EMAIL)
    c, j = _expand(formers, submits - 1)
    ev.add("chat_message", c, t_form[c] + (j + 0.5) * gap[c], DEVICE, channel=biz.CH["chat"])
    loops = formers[looping[formers]]
    ev.survey("live_chat_loop", loops, t_form[loops] + 0.5 * gap[loops] + 15 * MINUTE, DEVICE, "chat")
    last_submit = np.full(n, np.nan)
    last_submit[formers] = t_form[formers] + (submits - 1) * gap[formers]
    once = formers[~looping[formers]]
    ev.survey("web_form", once, last_submit[once], DEVICE, "email")
    ev.survey("web_form_loop", loops, last_submit[loops], DEVICE, "email")

    visited_store = np.zeros(n, bool)
    visitors = pick(biz.P_STORE_VISIT, C)
    visited_store[visitors] = True
    store_traits = np.array([CRM_ID, EMAIL, PHONE])[
        rng.choice(3, len(visitors), p=biz.STORE_TRAIT_SHARES)]
    t_store = during(visitors)
    ev.add("store_visit", visitors, t_store, OFFLINE, channel=biz.CH["store"], traits=store_traits,
           store=rng.integers(0, len(biz.STORES), len(visitors)), product=product[visitors])
    ev.survey("store_visit_csat", visitors, t_store, OFFLINE, "email", traits=EMAIL)
    ev.survey("store_visit_nps", visitors, t_store, OFFLINE, "email", traits=EMAIL)

    # --- decision: cart, checkout, payment, purchase ------------------------------------------------
    considered_until = t1 + span
    considered_until = np.where(looping, np.fmax(considered_until, last_submit + HOUR), considered_until)
    p_cart = (biz.P_CART * quality * np.where(looping, biz.CART_FACTOR_FORM_LOOP, 1.0)
              * np.where(visited_store, biz.CART_FACTOR_STORE, 1.0))
    K = C[rng.random(len(C)) < p_cart[C]]
    t_cart, cart_value = np.full(n, np.nan), np.full(n, np.nan)
    t_cart[K] = considered_until[K] + rng.exponential(30 * MINUTE, len(K))
    cart_value[K] = np.round(rng.lognormal(np.log(95), 0.5, len(K)), 2)
    ev.add("add_to_cart", K, t_cart[K], DEVICE, channel=BY_DEVICE, product=product[K], cart_value=cart_value[K])
    removers = pick(biz.P_REMOVE_FROM_CART, K)
    removed = np.round(cart_value[removers] * u(0.2, 0.5, len(removers)), 2)
    ev.add("remove_from_cart", removers, t_cart[removers] + u(MINUTE, 20 * MINUTE, len(removers)), DEVICE,
           channel=BY_DEVICE, product=product_of(removers), cart_value=removed)
    cart_value[removers] -= removed

    # planted long wait: mobile-first shoppers with a second device finish on desktop days later
    long_wait = (dev0 == 1) & multi
    CO = pick(biz.P_CHECKOUT, K)
    t_co = np.full(n, np.nan)
    wait = np.where(long_wait[CO], rng.lognormal(np.log(biz.LONG_WAIT_HOURS * HOUR), 0.5, len(CO)),
                    rng.lognormal(np.log(biz.CART_WAIT_MINUTES * MINUTE), 0.6, len(CO)))
    t_co[CO] = t_cart[CO] + wait
    callers = pick(biz.P_SALES_CALL, K)
    t_call = t_cart[callers] + np.where(np.isnan(t_co[callers]), u(HOUR, DAY, len(callers)),
                                        u(0.1, 0.9, len(callers)) * (t_co[callers] - t_cart[callers]))
    ev.add("sales_call", callers, t_call, OFFLINE, channel=biz.CH["call_centre"], traits=PHONE)

    # who logs in, and when: every checkout, some carts and some browsers
    t_id = np.full(n, np.inf)
    at_checkout = long_wait[CO] | (rng.random(len(CO)) < 0.6)
    t_id[CO] = np.where(at_checkout, t_co[CO] - u(MINUTE, 5 * MINUTE, len(CO)), during(CO))
    cart_only = pick(biz.P_IDENTIFY_CART_ONLY, K[np.isnan(t_co[K])])
    t_id[cart_only] = t1[cart_only] + rng.random(len(cart_only)) * (t_cart[cart_only] - t1[cart_only])
    browsers = pick(biz.P_IDENTIFY_BROWSER, C[np.isnan(t_cart[C])])
    t_id[browsers] = during(browsers)
    ID = idx[np.isfinite(t_id)]
    ev.add("identify", ID, t_id[ID], IDENTIFY, channel=BY_DEVICE, traits=ALL_TRAITS)
    again = pick(biz.P_SECOND_IDENTIFY, ID[multi[ID]])
    ev.add("identify", again, t_id[again] + rng.exponential(10 * DAY, len(again)), IDENTIFY, channel=BY_DEVICE,
           traits=ALL_TRAITS, device_arg=dev0[again])

    # planted friction: payment errors at checkout
    ev.add("checkout_start", CO, t_co[CO], DEVICE, channel=BY_DEVICE, cart_value=cart_value[CO])
    erred = np.zeros(n, bool)
    erred[pick(biz.P_PAYMENT_ERROR, CO)] = True
    n_err = np.where(erred, 1 + (rng.random(n) < 0.35), 0)
    c, j = _expand(CO, n_err[CO])
    ev.add("payment_error", c, t_co[c] + MINUTE + j * u(MINUTE, 3 * MINUTE, len(c)), DEVICE, channel=BY_DEVICE,
           error=rng.choice(len(biz.PAYMENT_ERRORS), len(c), p=(0.5, 0.3, 0.2)))
    p_buy = np.where(erred[CO], biz.P_PURCHASE_AFTER_ERROR, biz.P_PURCHASE_NO_ERROR)
    B = CO[rng.random(len(CO)) < p_buy]
    t_buy = np.full(n, np.nan)
    t_buy[B] = t_co[B] + u(3 * MINUTE, 12 * MINUTE, len(B)) + n_err[B] * 3 * MINUTE
    ev.add("purchase", B, t_buy[B], DEVICE, channel=BY_DEVICE, product=product[B], revenue=cart_value[B], repeat=0)
    checkout_end = np.where(np.isnan(t_buy), t_co + 5 * MINUTE, t_buy)
    ok = CO[~erred[CO]]
    ev.survey("checkout", ok, checkout_end[ok], DEVICE, "web")
    bad = CO[erred[CO]]
    ev.survey("checkout_error", bad, checkout_end[bad], DEVICE, "web")

    # --- retention: repeat orders, deliveries, support, newsletter, loyalty, returns ----------------
    repeaters = pick(biz.P_REPEAT, B)
    r, j = _expand(repeaters, 1 + rng.poisson(biz.EXTRA_REPEATS_MEAN, len(repeaters)))
    t_rep = t_buy[r] + (j + u(0.5, 1.5, len(r))) * biz.REPEAT_GAP_DAYS * DAY
    ev.add("purchase", r, t_rep, DEVICE, channel=BY_DEVICE, product=product_of(r),
           revenue=np.round(rng.lognormal(np.log(70), 0.5, len(r)), 2), repeat=1)
    lo = rng.random(len(r)) < biz.P_LOYALTY_BEFORE_REPEAT
    loyalty = biz.RETENTION_CAMPAIGN["loyalty_offer_click"]
    ev.add("loyalty_offer_click", r[lo], t_rep[lo] - u(HOUR, 3 * DAY, lo.sum()), USER, channel=biz.CH["email"],
           campaign=loyalty)
    lo = pick(biz.P_LOYALTY_OTHERS, B)
    ev.add("loyalty_offer_click", lo, t_buy[lo] + u(7 * DAY, 90 * DAY, len(lo)), USER, channel=biz.CH["email"],
           campaign=loyalty)

    o_cust = np.concatenate([B, r])
    o_time = np.concatenate([t_buy[B], t_rep])
    first = np.concatenate([np.ones(len(B), bool), np.zeros(len(r), bool)])
    m = len(o_cust)
    late = rng.random(m) < biz.P_DELAYED
    t_late = o_time + u(2 * DAY, 3.5 * DAY, m)
    delay = u(4 * DAY, 9 * DAY, m)
    t_deliv = np.where(late, t_late + delay, o_time + u(1.5 * DAY, 4 * DAY, m))
    ev.add("delivery_delayed", o_cust[late], t_late[late], USER, channel=biz.CH["delivery"],
           delay_days=np.ceil(delay[late] / DAY))
    ev.add("delivery", o_cust, t_deliv, USER, channel=biz.CH["delivery"])
    calls_late = late & (rng.random(m) < biz.P_SUPPORT_AFTER_DELAY)
    t_sup_late = t_late + u(0.2 * DAY, 3 * DAY, m)
    calls_other = ~late & (rng.random(m) < biz.P_SUPPORT_OTHERS)
    t_sup_other = t_deliv + u(0, 10 * DAY, m)
    sup = calls_late | calls_other
    t_sup = np.where(calls_late, t_sup_late, t_sup_other)[sup]
    ev.add("support_call", o_cust[sup], t_sup, OFFLINE, channel=biz.CH["call_centre"], traits=PHONE,
           topic=np.where(calls_late[sup], biz.FORM_TOPICS.index("suivi_commande"), biz.FORM_TOPICS.index("retour")))
    ev.survey("call_centre", o_cust[sup], t_sup, USER, "email")
    ev.survey("delivery_csat", o_cust[~late], t_deliv[~late], USER, "email")
    ev.survey("delivery_csat_delayed", o_cust[late], t_deliv[late], USER, "email")
    ev.survey("delivery_nps", o_cust[~late], t_deliv[~late] + 2 * DAY, USER, "email")
    ev.survey("delivery_nps_delayed", o_cust[late], t_deliv[late] + 2 * DAY, USER, "email")
    ret = rng.random(m) < biz.P_RETURN
    t_ret = t_deliv[ret] + u(2 * DAY, 14 * DAY, ret.sum())
    ev.add("return_request", o_cust[ret], t_ret, USER, channel=biz.CH["web_form"],
           reason=rng.integers(0, len(biz.RETURN_REASONS), ret.sum()))
    ev.survey("returns", o_cust[ret], t_ret, USER, "email")

    subscribers = pick(biz.P_NEWSLETTER, B)
    months = np.clip((end - t_buy[subscribers]) / (30 * DAY), 0, None)
    c, _ = _expand(subscribers, np.minimum(rng.poisson(biz.NEWSLETTER_OPENS_PER_MONTH * months), 15))
    ev.add("newsletter_open", c, t_buy[c] + 3 * DAY + rng.random(len(c)) * np.clip(end - t_buy[c] - 3 * DAY, 0, None),
           USER, channel=biz.CH["email"], campaign=biz.RETENTION_CAMPAIGN["newsletter_open"])

    # --- advocacy: reviews and referrals after the first order -----------------------------------------
    f_cust, f_late, f_deliv = o_cust[first], late[first], t_deliv[first]
    rev = rng.random(len(f_cust)) < np.where(f_late, biz.P_REVIEW_DELAYED, biz.P_REVIEW_ON_TIME)
    rating = np.where(f_late, rng.choice([1, 2, 3, 4], len(f_cust), p=[0.45, 0.3, 0.15, 0.1]),
                      rng.choice([3, 4, 5], len(f_cust), p=[0.1, 0.3, 0.6]))
    ev.add("review_posted", f_cust[rev], f_deliv[rev] + u(3 * DAY, 20 * DAY, rev.sum()), USER,
           channel=biz.CH["review"], rating=rating[rev], product=product[f_cust[rev]])
    refer = rng.random(len(f_cust)) < np.where(f_late, biz.P_REFERRAL_DELAYED, biz.P_REFERRAL_ON_TIME)
    ev.add("referral_sent", f_cust[refer], f_deliv[refer] + u(7 * DAY, 60 * DAY, refer.sum()), USER,
           channel=biz.CH["social"])

    return _resolve(ev.concat(), end, t_id, multi, dev0)


def _resolve(cols: dict[str, np.ndarray], end: float, t_id: np.ndarray, multi: np.ndarray,
             dev0: np.ndarray) -> dict[str, np.ndarray]:
    """Keep the reference period, sort, and decide each event's ids and web/mobile channel."""
    keep = cols["t"] <= end
    cols = {k: v[keep] for k, v in cols.items()}
    t = np.floor(cols["t"]).astype(np.int64)
    order = np.lexsort((np.arange(len(t)), t, cols["cust"]))
    cols = {k: v[order] for k, v in cols.items()}
    c, mode = cols["cust"], cols["mode"]
    logged = cols["t"] >= t_id[c]
    cols["t"] = t[order]
    device = np.where(logged & multi[c], 1 - dev0[c], dev0[c]).astype(np.int8)
    device = np.where(cols["device_arg"] >= 0, cols["device_arg"], device)
    on_device = (mode == DEVICE) | (mode == IDENTIFY)
    cols["user"] = (mode == USER) | (mode == IDENTIFY) | ((mode == DEVICE) & logged)
    cols["anon_device"] = np.where(on_device, device, -1).astype(np.int8)
    cols["offline"] = mode == OFFLINE
    web = np.where(device == 1, biz.CH["mobile"], biz.CH["web"])
    cols["channel"] = np.where(cols["channel"] == BY_DEVICE, web, cols["channel"]).astype(np.int8)
    del cols["mode"], cols["device_arg"]
    return cols
