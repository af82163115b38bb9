/* 智电 · 负荷预测 — the last 7 days measured and the next 48 hours forecast (P10–P90 band) for the
 * system, a feeder or a transformer area, and the overload warnings with a 派单 button.
 * GET /api/forecasting/targets, /load/{level}?key=, /overloads; POST /overloads/{code}/ticket. */
(function () {
  "use strict";

  var api = ZhidianStaff.api, message = ZhidianStaff.message, show = ZhidianStaff.show;
  var $ = function (id) { return document.getElementById(id); };
  var els = { view: $("fc-view"), login: $("login-view"), level: $("fc-level"), key: $("fc-key"),
              error: $("fc-error"), title: $("fc-title"), meta: $("fc-meta"), figures: $("fc-figures"),
              rows: $("ov-rows"), empty: $("ov-empty"), count: $("ov-count") };
  var targets = { area: [], feeder: [] };
  var chart = null;
  var MODEL_NAMES = { seasonal_naive: "季节朴素", statistical: "统计模型", global_gbm: "全局梯度提升" };
  var timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                    hour: "2-digit", minute: "2-digit", hour12: false });

  function fmt(ts) { return timeFmt.format(new Date(ts)); }

  // 1,960,944 千瓦时: grouped digits, a fixed number of decimals
  function num(value, digits) {
    return new Intl.NumberFormat("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(value);
  }

  function failed(result) {
    if (result.status === 401) { session.signOut("登录已过期，请重新登录"); return true; }
    if (!result.ok) { show(els.error, message(result, "数据加载失败，请稍后重试")); return true; }
    return false;
  }

  function fillKeys() {
    var level = els.level.value;
    els.key.textContent = "";
    els.key.hidden = level === "system";
    (targets[level] || []).forEach(function (t) {
      var option = document.createElement("option");
      option.value = t.key;
      option.textContent = t.name + "（" + t.key + "）";
      els.key.appendChild(option);
    });
  }

  function loadForecast() {
    var level = els.level.value;
    var key = level === "system" ? "all" : els.key.value;
    els.title.textContent = "负荷预测（加载中…）";
    api("GET", "/api/forecasting/load/" + level + "?key=" + encodeURIComponent(key)).then(function (result) {
      if (failed(result)) return;
      show(els.error, "");
      draw(result.data);
    });
  }

  function draw(fc) {
    els.title.textContent = fc.name + " · 负荷预测";
    els.meta.textContent = "模型：" + (MODEL_NAMES[fc.model] || fc.model) + " · 预测时间 " + fmt(fc.made_at) +
      (fc.metrics && fc.metrics.MAPE != null ? " · 回测MAPE " + fc.metrics.MAPE.toFixed(1) + "%" : "");
    var actual = fc.history.map(function (p) { return [p.ts, p.kw]; });
    var p50 = fc.points.map(function (p) { return [p.ts, p.p50]; });
    var low = fc.points.map(function (p) { return [p.ts, p.p10]; });
    var band = fc.points.map(function (p) { return [p.ts, p.p90 - p.p10]; });
    var series = [
      { name: "实际负荷", type: "line", data: actual, showSymbol: false, lineStyle: { width: 1.5 }, color: "#00736a" },
      { name: "P10", type: "line", data: low, stack: "band", lineStyle: { opacity: 0 }, showSymbol: false,
        tooltip: { show: false } },
      { name: "P10–P90区间", type: "line", data: band, stack: "band", lineStyle: { opacity: 0 }, showSymbol: false,
        areaStyle: { color: "rgba(240,140,58,.25)" }, color: "#f08c3a" },
      { name: "预测P50", type: "line", data: p50, showSymbol: false, lineStyle: { type: "dashed", width: 2 },
        color: "#d9534f" }
    ];
    if (fc.capacity_kva) {
      series.push({ name: "容量（kW）", type: "line", showSymbol: false, color: "#888", lineStyle: { type: "dotted" },
                    data: [[actual.length ? actual[0][0] : p50[0][0], fc.capacity_kva * 0.9],
                           [p50[p50.length - 1][0], fc.capacity_kva * 0.9]] });
    }
    chart = chart || echarts.init($("fc-chart"), null, { renderer: "canvas" });
    chart.setOption({
      animation: false, tooltip: { trigger: "axis" },
      legend: { data: ["实际负荷", "预测P50", "P10–P90区间"].concat(fc.capacity_kva ? ["容量（kW）"] : []) },
      grid: { left: 56, right: 20, top: 40, bottom: 40 },
      xAxis: { type: "time" }, yAxis: { type: "value", name: "千瓦" }, series: series
    }, true);
    var peak = fc.points.reduce(function (a, p) { return p.p50 > a.p50 ? p : a; }, fc.points[0]);
    els.figures.textContent = "未来48小时预测峰值 " + num(peak.p50, 1) + " 千瓦（" + fmt(peak.ts) + "）；未来7天预计用电 " +
      num(fc.daily.reduce(function (s, d) { return s + d.p50; }, 0), 0) + " 千瓦时；下月预计 " +
      num(fc.month.p50, 0) + " 千瓦时（" + num(fc.month.p10, 0) + "—" + num(fc.month.p90, 0) + "）。";
  }

  function loadOverloads() {
    api("GET", "/api/forecasting/overloads").then(function (result) {
      if (failed(result)) return;
      var items = result.data || [];
      els.rows.textContent = "";
      els.count.textContent = items.length ? "（" + items.length + "）" : "";
      els.empty.hidden = items.length > 0;
      items.forEach(function (w) {
        var tr = document.createElement("tr");
        tr.dataset.area = w.area_code;
        // the peak the ratio is of: forecast, or the measured hour when that is already higher (said so)
        [w.area_name + "（" + w.area_code + "）", w.district, num(w.capacity_kva, 0) + " kVA",
         num(w.forecast_peak_kw, 1) + " kW（" + (w.basis === "measured" ? "实测" : "预测") + "）",
         fmt(w.peak_at), Math.round(w.load_ratio * 100) + "%"].forEach(function (text, i) {
          var td = document.createElement("td");
          td.textContent = text;
          if (i >= 2) td.className = "num";
          tr.appendChild(td);
        });
        var sev = document.createElement("td");
        var tag = document.createElement("span");
        tag.className = "sev sev--" + w.severity;
        tag.textContent = w.severity;
        sev.appendChild(tag);
        tr.appendChild(sev);
        var act = document.createElement("td");
        var button = document.createElement("button");
        button.className = "ghost";
        button.type = "button";
        button.textContent = "派单";
        button.addEventListener("click", function () { openTicket(w, button, act); });
        act.appendChild(button);
        tr.appendChild(act);
        els.rows.appendChild(tr);
      });
    });
  }

  function openTicket(w, button, cell) {
    button.disabled = true;
    api("POST", "/api/forecasting/overloads/" + encodeURIComponent(w.area_code) + "/ticket").then(function (result) {
      if (failed(result)) { button.disabled = false; return; }
      cell.textContent = "";
      var done = document.createElement("span");
      done.className = "done";
      done.textContent = "已派单 " + result.data.number + (result.data.crew ? " · " + result.data.crew.name : "");
      cell.appendChild(done);
    });
  }

  function start() {
    els.login.hidden = true;
    els.view.hidden = false;
    api("GET", "/api/forecasting/targets").then(function (result) {
      if (failed(result)) return;
      targets = result.data;
      fillKeys();
      loadForecast();
      loadOverloads();
    });
  }

  function stop() {
    els.view.hidden = true;
    els.login.hidden = false;
  }

  els.level.addEventListener("change", function () { fillKeys(); loadForecast(); });
  els.key.addEventListener("change", loadForecast);
  window.addEventListener("resize", function () { if (chart) chart.resize(); });

  var session = ZhidianStaff.signIn({
    form: $("login-form"), username: $("username"), password: $("password"), error: $("login-error"),
    submit: $("login-submit"), logout: $("logout"), who: $("who"), onSignedIn: start, onSignedOut: stop
  });
  session.start();
})();
