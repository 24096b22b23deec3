// Draws every chart of the page from its JSON spec; no network access needed.
(function () {
  var report = document.body.classList.contains("report");  // a printed report has no tool bars
  var config = {displaylogo: false, responsive: true, displayModeBar: report ? false : "hover"};
  document.querySelectorAll("script[data-chart]").forEach(function (node) {
    var target = document.getElementById(node.getAttribute("data-chart"));
    var spec = JSON.parse(node.textContent);
    Plotly.newPlot(target, spec.data, spec.layout, config);
  });
  // a select marked data-autosubmit sends its form as soon as it changes (follow-up status)
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
})();
