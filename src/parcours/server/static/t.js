/* parcours tracker: page views, custom events, UTM capture, a first-party anonymous id.
 *
 *   <script src="https://collector.example.com/t.js" data-key="WRITE_KEY" async></script>
 *   parcours.track("add_to_cart", {cart_value: 42}); parcours.identify("user-1", {email: "a@b.c"});
 *
 * data-auto="false" turns off the page view sent on load. Messages follow the Segment
 * spec (messageId, anonymousId, timestamp, sentAt, context.page, context.campaign) and
 * are POSTed as text/plain with the write key in the body, so no CORS preflight is needed.
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  var key = script && script.getAttribute("data-key");
  var base = script ? script.src.replace(/\/t\.js(\?.*)?$/, "") : "";
  var AID = "parcours_aid", UID = "parcours_uid", UTM = "parcours_utm";

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function get(k, session) {
    try { return (session ? w.sessionStorage : w.localStorage).getItem(k); } catch (e) { return null; }
  }
  function set(k, v, session) {
    try { (session ? w.sessionStorage : w.localStorage).setItem(k, v); } catch (e) { /* storage off */ }
  }
  var aid = get(AID) || uuid();
  set(AID, aid);

  function campaign() {
    var q = new URLSearchParams(w.location.search), c = {}, any = false;
    [["utm_source", "source"], ["utm_medium", "medium"], ["utm_campaign", "name"],
     ["utm_term", "term"], ["utm_content", "content"]].forEach(function (p) {
      var v = q.get(p[0]);
      if (v) { c[p[1]] = v; any = true; }
    });
    if (any) { set(UTM, JSON.stringify(c), true); return c; }
    var kept = get(UTM, true);  // the landing page's campaign lasts for the session
    return kept ? JSON.parse(kept) : undefined;
  }

  function send(type, msg) {
    var now = new Date().toISOString();
    msg.type = type;
    msg.messageId = uuid();
    msg.anonymousId = aid;
    var uid = get(UID);
    if (uid && !msg.userId) msg.userId = uid;
    msg.timestamp = now;
    msg.sentAt = now;
    msg.writeKey = key;
    msg.context = {
      library: { name: "parcours.js", version: "1" },
      page: { path: w.location.pathname, url: w.location.href, title: d.title, referrer: d.referrer,
              search: w.location.search },
      userAgent: w.navigator.userAgent,
      locale: w.navigator.language,
      campaign: campaign()
    };
    return w.fetch(base + "/v1/" + type, {
      method: "POST", body: JSON.stringify(msg), keepalive: true,
      headers: { "Content-Type": "text/plain" }
    });
  }

  w.parcours = {
    page: function (name, properties) {
      return send("page", { name: name || d.title, properties: properties || {} });
    },
    track: function (event, properties) {
      return send("track", { event: event, properties: properties || {} });
    },
    identify: function (userId, traits) {
      set(UID, userId);
      return send("identify", { userId: userId, traits: traits || {} });
    },
    anonymousId: function () { return aid; }
  };
  if (!script || script.getAttribute("data-auto") !== "false") w.parcours.page();
})(window, document);
