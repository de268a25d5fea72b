// The console's charts (Chart.js 4 with chartjs-plugin-zoom, vendored). Each <figure data-chart>
// names the JSON its page embeds (json_script) and what a click or a brush writes into the URL;
// the table view beside each chart holds the same numbers, so the page works without this file.
(function () {
  "use strict";
  var COLORS = { HIGH: "#c22b2b", MEDIUM: "#d97a00", LOW: "#2456a6", count: "#1662dd" };
  var DRAG_PIXELS = 5;

  function isoMinute(ms) {
    // datetime-local's value, in UTC (the console's time zone).
    return new Date(ms).toISOString().slice(0, 16);
  }

  var leaving = false;

  // Navigate once: a brush ends in a mouseup and a click, and the zoom may report twice.
  function go(params) {
    if (leaving) return;
    leaving = true;
    var url = new URL(window.location.href);
    ["page", "after"].forEach(function (name) { url.searchParams.delete(name); });
    Object.keys(params).forEach(function (name) { url.searchParams.set(name, params[name]); });
    window.location.assign(url.toString());
  }

  function range(data, first, last) {
    var step = data.step_seconds * 1000;
    return {
      since: isoMinute(Date.parse(data.starts[first])),
      until: isoMinute(Date.parse(data.starts[last]) + step),
    };
  }

  // A click is a press and release in about the same place; a brush moves further.
  function clickGuard(canvas) {
    var down = null;
    canvas.addEventListener("pointerdown", function (e) { down = [e.clientX, e.clientY]; });
    return function (event) {
      var e = event.native;
      return !down || !e || Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) <= DRAG_PIXELS;
    };
  }

  function timeChart(figure, canvas, data) {
    var isClick = clickGuard(canvas);
    var names = Object.keys(data.series);
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: names.map(function (name) {
          return { label: name === "count" ? "Records" : name, data: data.series[name],
                   backgroundColor: COLORS[name], series: name };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          legend: { display: names.length > 1 },
          zoom: {
            zoom: {
              drag: { enabled: true, threshold: DRAG_PIXELS },
              mode: "x",
              onZoomComplete: function (context) {
                var x = context.chart.scales.x;
                go(range(data, Math.max(0, Math.round(x.min)), Math.min(data.starts.length - 1, Math.round(x.max))));
              },
            },
          },
        },
        onClick: function (event, elements, chart) {
          if (!elements.length || !isClick(event)) return;
          var params = range(data, elements[0].index, elements[0].index);
          if (figure.dataset.clickSeries) {
            var hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, false)[0];
            if (hit) params[figure.dataset.clickSeries] = chart.data.datasets[hit.datasetIndex].series;
          }
          if (figure.dataset.clickView) params.view = figure.dataset.clickView;
          go(params);
        },
      },
    });
  }

  function barsChart(figure, canvas, rows) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (row) { return row.label; }),
        datasets: [{ label: "Detections", data: rows.map(function (row) { return row.count; }),
                     backgroundColor: COLORS.count }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { display: false } },
        onClick: function (event, elements) {
          if (!elements.length) return;
          var params = {};
          params[figure.dataset.clickParam] = rows[elements[0].index].value;
          if (figure.dataset.clickView) params.view = figure.dataset.clickView;
          go(params);
        },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Chart) return;
    document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var source = document.getElementById(figure.dataset.chartData);
      var canvas = figure.querySelector("canvas");
      if (!source || !canvas) return;
      var data = JSON.parse(source.textContent);
      figure.chart = figure.dataset.chart === "time"
        ? timeChart(figure, canvas, data) : barsChart(figure, canvas, data);
      figure.classList.add("drawn");
    });
  });
})();
