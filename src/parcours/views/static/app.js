// Draws every chart of the page from its JSON spec; no network access needed.
(function () {
  var report = document.body.classList.contains("report");  // a printed report has no tool bars
  var config = {displaylogo: false, responsive: true, displayModeBar: report ? false : "hover"};
  // the page's language for dates, numbers and the tool bar (null in English: Plotly's own)
  var locale = JSON.parse(document.getElementById("plotly-locale").textContent);
  if (locale) {
    Plotly.register({moduleType: "locale", name: locale.name, dictionary: locale.dictionary, format: locale.format});
    config.locale = locale.name;
  }
  document.querySelectorAll("script[data-chart]").forEach(function (node) {
    var target = document.getElementById(node.getAttribute("data-chart"));
    var spec = JSON.parse(node.textContent);
    Plotly.newPlot(target, spec.data, spec.layout, config);
    // a point or Sankey link whose customdata is a local address opens it (its customers' list)
    if (!report) target.on("plotly_click", function (ev) {
      var p = ev.points && ev.points[0], to = p && p.customdata;
      if (typeof to !== "string" || to.charAt(0) !== "/") return;
      var keep = new URLSearchParams();  // the page's filter goes along; its other options do not
      new URLSearchParams(window.location.search).forEach(function (v, k) {
        if (["from", "to", "segment", "where", "lang"].indexOf(k) >= 0) keep.append(k, v);
      });
      window.location.href = to + (to.indexOf("?") < 0 ? "?" : "&") + keep.toString();
    });
  });
  // a form marked data-confirm asks first, in the words (and with the count) the page wrote there
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // a select marked data-autosubmit sends its form as soon as it changes (follow-up status)
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
})();

// The live view (/live): poll /live.json and redraw its two tables, without reloading the page.
(function () {
  const spec = document.getElementById("live-poll");
  if (!spec) return;
  const { url, seconds } = JSON.parse(spec.textContent);
  const cell = (v) => { const td = document.createElement("td"); td.textContent = v == null ? "" : String(v); return td; };
  const fill = (id, rows, keys) => {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren(...rows.map((r) => { const tr = document.createElement("tr"); tr.append(...keys.map((k) => cell(r[k]))); return tr; }));
  };
  async function poll() {
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) {
        const data = await r.json();
        document.getElementById("live-as-of").textContent = data.as_of;
        fill("live-stages", data.stages, ["stage", "customers_now", "entries_last_hour"]);
        fill("live-latest", data.latest, ["received_at", "timestamp", "customer_id", "event", "touchpoint", "stage"]);
      }
    } finally {
      setTimeout(poll, seconds * 1000);
    }
  }
  setTimeout(poll, seconds * 1000);
})();
