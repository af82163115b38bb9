/* 智电 · 运营监控看板 — the supervisor dashboard. Plain JS, no build step; charts with the vendored
 * Apache ECharts (/static/vendor/echarts.min.js), nothing from a CDN.
 *
 * Sign-in is staff.js (HttpOnly session cookie). GET /api/analytics/filters fills the filter bar;
 * GET /api/analytics/dashboard?date_from&date_to&district&type gives {kpis, tables}; every table has
 * a CSV at /api/analytics/export/<name>.csv with the same query. The API decides who may see it
 * (supervisor, admin): a 403 shows the API's message.
 */
(function () {
  "use strict";

  var api = ZhidianStaff.api;
  var message = ZhidianStaff.message;
  var show = ZhidianStaff.show;

  var MSG_EXPIRED = "登录已过期，请重新登录";
  var MSG_FAILED = "数据加载失败，请稍后重试";
  var C = {
    brand: "#00736a", brand2: "#4fb3a6", brand3: "#a8dcd3", accent: "#f2b705", danger: "#c7392f",
    warn: "#e08a00", grey: "#b8c4c2", blue: "#3a7bd5", text: "#1f2a2e", muted: "#86939a", line: "#e1e7e6"
  };
  var FONT = getComputedStyle(document.body).fontFamily;

  var els = {
    who: document.getElementById("who"),
    logout: document.getElementById("logout"),
    loginView: document.getElementById("login-view"),
    loginForm: document.getElementById("login-form"),
    username: document.getElementById("username"),
    password: document.getElementById("password"),
    loginError: document.getElementById("login-error"),
    loginSubmit: document.getElementById("login-submit"),
    dashView: document.getElementById("dash-view"),
    dashError: document.getElementById("dash-error"),
    refused: document.getElementById("refused"),
    board: document.getElementById("board"),
    filters: document.getElementById("filters"),
    dateFrom: document.getElementById("date-from"),
    dateTo: document.getElementById("date-to"),
    district: document.getElementById("district"),
    type: document.getElementById("type"),
    apply: document.getElementById("apply"),
    updated: document.getElementById("updated"),
    kpis: document.getElementById("kpis")
  };

  var charts = {};      // table name → ECharts instance
  var options = null;   // GET /api/analytics/filters
  var loading = 0;      // the latest request's number; older answers are dropped

  var clockFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false
  });

  // ---------- formatting ----------

  function int(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN"); }
  function pct(n) { return n === null || n === undefined ? "—" : Number(n).toFixed(1) + "%"; }
  function minutes(n) {
    if (n === null || n === undefined) return "—";
    return n < 120 ? Number(n).toFixed(1) + " 分钟" : (n / 60).toFixed(1) + " 小时";
  }
  function score(n) { return n === null || n === undefined ? "—" : Number(n).toFixed(2) + " 分"; }
  function cell(v) {
    if (v === null || v === undefined || v === "") return "—";
    return typeof v === "number" ? v.toLocaleString("zh-CN", { maximumFractionDigits: 3 }) : String(v);
  }
  function shortDay(iso) { return iso.slice(5).replace("-", "/"); }

  var KPIS = [
    { key: "tickets", label: "工单总量", fmt: int,
      note: function (k) { return "独立工单 " + int(k.work_tickets) + " 件"; } },
    { key: "sla_compliance", label: "时限达标率", fmt: pct,
      note: function (k) { return "按时 " + int(k.sla_met) + " · 未到期 " + int(k.sla_pending); } },
    { key: "sla_breaches", label: "超时工单", fmt: int, tone: "danger",
      note: function () { return "含系统记录的超时和迟到"; } },
    { key: "mean_dispatch_minutes", label: "平均派单用时", fmt: minutes,
      note: function () { return "创建 → 派单"; } },
    { key: "mean_arrive_minutes", label: "平均到达用时", fmt: minutes,
      note: function () { return "创建 → 到达现场"; } },
    { key: "mean_resolve_minutes", label: "平均办结用时", fmt: minutes,
      note: function () { return "创建 → 处理完成"; } },
    { key: "backlog", label: "当前积压", fmt: int, tone: "warn",
      note: function (k) { return "其中 3 天以上 " + int(k.backlog_over_3d) + " 件"; } },
    { key: "crew_utilisation", label: "班组占用率", fmt: pct,
      note: function () { return "作业时长 ÷ 在班时长"; } },
    { key: "containment_rate", label: "机器人独立解决率", fmt: pct,
      note: function (k) { return int(k.conversations) + " 个会话，独立解决 " + int(k.contained) + " 个"; } },
    { key: "transfers", label: "转人工会话", fmt: int,
      note: function (k) { return "占全部会话 " + pct(k.transfer_rate); } },
    { key: "fallback_rate", label: "未识别率", fmt: pct,
      note: function (k) { return "未识别 " + int(k.fallbacks) + " 次 / 客户消息 " + int(k.customer_turns) + " 条"; } },
    { key: "satisfaction_mean", label: "客户满意度", fmt: score,
      note: function (k) {
        return int(k.satisfaction_responses) + " 份评价 · 知识库有帮助 " + pct(k.kb_helpful_rate);
      } }
  ];

  // ---------- views ----------

  function showLogin() {
    els.dashView.hidden = true;
    els.loginView.hidden = false;
  }

  function showDashboard() {
    els.loginView.hidden = true;
    els.dashView.hidden = false;
    els.board.hidden = true;
    show(els.dashError, "");
    els.refused.hidden = true;
    loadOptions();
  }

  var session = ZhidianStaff.signIn({
    form: els.loginForm, username: els.username, password: els.password, error: els.loginError,
    submit: els.loginSubmit, logout: els.logout, who: els.who,
    onSignedIn: showDashboard, onSignedOut: showLogin
  });

  /* 401 → sign in again; 403 → the API's message and nothing else; other errors → a banner. */
  function failed(result) {
    if (result.status === 401) {
      session.signOut(MSG_EXPIRED);
      return;
    }
    show(els.dashError, message(result, MSG_FAILED));
    if (result.status === 403) {
      els.board.hidden = true;
      els.refused.hidden = false;
    }
  }

  // ---------- filters ----------

  function option(select, value, label) {
    var el = document.createElement("option");
    el.value = value;
    el.textContent = label;
    select.appendChild(el);
  }

  function loadOptions() {
    api("GET", "/api/analytics/filters").then(function (result) {
      if (!result.ok) { failed(result); return; }
      options = result.data;
      els.district.length = 1;
      els.type.length = 1;
      options.districts.forEach(function (d) { option(els.district, d, d); });
      options.types.forEach(function (t) { option(els.type, t, t); });
      els.dateFrom.value = options.default_from;
      els.dateTo.value = options.default_to;
      els.dateFrom.max = els.dateTo.max = options.default_to;
      els.board.hidden = false;
      load();
    });
  }

  function query() {
    var params = new URLSearchParams();
    params.set("date_from", els.dateFrom.value);
    params.set("date_to", els.dateTo.value);
    if (els.district.value) params.set("district", els.district.value);
    if (els.type.value) params.set("type", els.type.value);
    return params.toString();
  }

  function addDays(iso, days) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  els.filters.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!els.dateFrom.value || !els.dateTo.value) {
      show(els.dashError, "请选择开始日期和结束日期");
      return;
    }
    if (els.dateFrom.value > els.dateTo.value) {
      show(els.dashError, "开始日期不能晚于结束日期");
      return;
    }
    load();
  });

  Array.prototype.forEach.call(els.filters.querySelectorAll("[data-days]"), function (button) {
    button.addEventListener("click", function () {
      var to = (options && options.default_to) || els.dateTo.value;
      els.dateTo.value = to;
      els.dateFrom.value = addDays(to, 1 - Number(button.getAttribute("data-days")));
      load();
    });
  });

  // ---------- the dashboard ----------

  function load() {
    var mine = ++loading;
    var q = query();
    els.apply.disabled = true;
    els.board.setAttribute("aria-busy", "true");
    api("GET", "/api/analytics/dashboard?" + q).then(function (result) {
      if (mine !== loading) return;
      els.apply.disabled = false;
      els.board.removeAttribute("aria-busy");
      if (!result.ok) { failed(result); return; }
      show(els.dashError, "");
      render(result.data, q);
    });
  }

  function render(data, q) {
    var f = data.filters;
    els.updated.textContent = "统计 " + f.date_from + " 至 " + f.date_to + "（" + f.days + " 天）" +
      (f.district ? " · " + f.district : "") + (f.type ? " · " + f.type : "") +
      " · 更新于 " + clockFmt.format(new Date(data.generated_at));
    renderKpis(data.kpis);
    Array.prototype.forEach.call(document.querySelectorAll(".panel[data-table]"), function (panel) {
      var name = panel.getAttribute("data-table");
      if (data.tables[name]) renderPanel(panel, name, data.tables[name], q);
    });
    els.board.setAttribute("data-loaded", q);
  }

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function renderKpis(k) {
    els.kpis.textContent = "";
    KPIS.forEach(function (spec) {
      var tile = node("div", "kpi" + (spec.tone && k[spec.key] ? " kpi--" + spec.tone : ""));
      tile.setAttribute("data-kpi", spec.key);
      var value = node("strong", "kpi-value", spec.fmt(k[spec.key]));
      value.setAttribute("data-value", k[spec.key] === null ? "" : String(k[spec.key]));
      tile.appendChild(node("span", "kpi-label", spec.label));
      tile.appendChild(value);
      tile.appendChild(node("span", "kpi-note", spec.note(k)));
      els.kpis.appendChild(tile);
    });
  }

  function renderPanel(panel, name, table, q) {
    if (!panel.firstChild) buildPanel(panel, name);
    panel.querySelector(".panel-title").textContent = table.title;
    panel.querySelector("a.csv").href = "/api/analytics/export/" + name + ".csv?" + q;
    var holder = panel.querySelector(".table-holder");
    holder.textContent = "";
    holder.appendChild(dataTable(table));
    var kind = panel.getAttribute("data-chart");
    if (kind === "none") return;
    var box = panel.querySelector(".chart");
    var empty = panel.querySelector(".chart-empty");
    var option = chartOption(name, table);
    empty.hidden = !!option;
    if (!charts[name]) charts[name] = echarts.init(box, null, { renderer: "canvas" });
    charts[name].setOption(option || { series: [] }, true);
  }

  function buildPanel(panel, name) {
    var head = node("header", "panel-head");
    head.appendChild(node("h3", "panel-title"));
    var csv = node("a", "csv ghost", "导出 CSV");
    csv.setAttribute("download", "");
    csv.setAttribute("data-export", name);
    head.appendChild(csv);
    panel.appendChild(head);
    var holder = node("div", "table-holder");
    if (panel.getAttribute("data-chart") === "none") {
      holder.className += " table-only";
      panel.appendChild(holder);
      return;
    }
    var wrap = node("div", "chart-wrap");
    wrap.appendChild(node("div", "chart"));
    var empty = node("p", "chart-empty", "所选时段暂无数据");
    empty.hidden = true;
    wrap.appendChild(empty);
    panel.appendChild(wrap);
    var details = node("details", "data");
    details.appendChild(node("summary", null, "查看数据表"));
    details.appendChild(holder);
    panel.appendChild(details);
  }

  function dataTable(table) {
    if (!table.rows.length) return node("p", "empty small", "所选时段暂无数据");
    var el = node("table", "data-table");
    var thead = node("thead");
    var tr = node("tr");
    table.columns.forEach(function (c) { tr.appendChild(node("th", null, c.label)); });
    thead.appendChild(tr);
    el.appendChild(thead);
    var tbody = node("tbody");
    table.rows.forEach(function (row) {
      var r = node("tr");
      table.columns.forEach(function (c) {
        var td = node("td", typeof row[c.key] === "number" ? "num" : null, cell(row[c.key]));
        td.setAttribute("data-key", c.key);
        r.appendChild(td);
      });
      tbody.appendChild(r);
    });
    el.appendChild(tbody);
    return el;
  }

  // ---------- charts ----------

  function col(table, key) { return table.rows.map(function (r) { return r[key]; }); }
  function total(table, key) { return col(table, key).reduce(function (a, b) { return a + (b || 0); }, 0); }

  function base(extra) {
    var option = {
      animation: false,
      textStyle: { fontFamily: FONT, color: C.text },
      color: [C.brand, C.accent, C.blue, C.danger, C.brand2, C.warn, C.grey],
      grid: { left: 12, right: 16, top: 52, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, left: "center", itemWidth: 12, itemHeight: 8, textStyle: { color: C.muted } }
    };
    Object.keys(extra).forEach(function (key) { option[key] = extra[key]; });
    return option;
  }

  function category(data, extra) {
    var axis = { type: "category", data: data, axisTick: { show: false }, axisLine: { lineStyle: { color: C.line } },
      axisLabel: { color: C.muted } };
    Object.keys(extra || {}).forEach(function (key) { axis[key] = extra[key]; });
    return axis;
  }

  function value(name, extra) {
    var axis = { type: "value", name: name || "", nameTextStyle: { color: C.muted }, minInterval: 1,
      splitLine: { lineStyle: { color: C.line } }, axisLabel: { color: C.muted } };
    Object.keys(extra || {}).forEach(function (key) { axis[key] = extra[key]; });
    return axis;
  }

  function bar(name, data, extra) {
    var s = { type: "bar", name: name, data: data, barMaxWidth: 28 };
    Object.keys(extra || {}).forEach(function (key) { s[key] = extra[key]; });
    return s;
  }

  function pie(table, nameKey, valueKey) {
    if (!total(table, valueKey)) return null;
    return base({
      tooltip: { trigger: "item", formatter: function (p) {
        return p.name + "：" + int(p.value) + "（" + p.percent.toFixed(1) + "%）";
      } },
      legend: { type: "scroll", orient: "vertical", right: 0, top: "middle", textStyle: { color: C.muted } },
      series: [{
        type: "pie", radius: ["42%", "70%"], center: ["36%", "52%"], avoidLabelOverlap: true,
        label: { formatter: function (p) { return p.percent.toFixed(1) + "%"; }, color: C.text },
        itemStyle: { borderColor: "#fff", borderWidth: 2 },
        data: table.rows.map(function (r) { return { name: r[nameKey], value: r[valueKey] }; })
      }]
    });
  }

  var CHARTS = {
    volume_by_day: function (t) {
      if (!total(t, "tickets")) return null;
      return base({
        xAxis: category(t.rows.map(function (r) { return shortDay(r.day); })),
        yAxis: value("工单数"),
        series: [bar("新建工单", col(t, "tickets"), { itemStyle: { color: C.brand } }),
                 { type: "line", name: "其中超时", data: col(t, "breached"), symbolSize: 5,
                   itemStyle: { color: C.danger }, lineStyle: { width: 2 } }]
      });
    },
    volume_by_type: function (t) { return pie(t, "type", "tickets"); },
    volume_by_district: function (t) {
      if (!t.rows.length) return null;
      return base({
        xAxis: category(col(t, "district")),
        yAxis: [value("工单数"), value("达标率 %", { max: 100, minInterval: 0, splitLine: { show: false } })],
        series: [bar("工单数", col(t, "tickets"), { itemStyle: { color: C.brand } }),
                 { type: "line", name: "时限达标率", yAxisIndex: 1, data: col(t, "compliance"),
                   itemStyle: { color: C.accent }, connectNulls: true }]
      });
    },
    sla_by_type: function (t) {
      if (!t.rows.length) return null;
      return base({
        xAxis: category(col(t, "type"), { axisLabel: { color: C.muted, interval: 0 } }),
        yAxis: value("工单数"),
        series: [bar("按时完成", col(t, "met"), { stack: "sla", itemStyle: { color: C.brand } }),
                 bar("超时", col(t, "breached"), { stack: "sla", itemStyle: { color: C.danger } }),
                 bar("未到期/未办结", col(t, "pending"), { stack: "sla", itemStyle: { color: C.grey } })]
      });
    },
    durations: function (t) {
      if (!t.rows.some(function (r) { return r.dispatch !== null || r.arrive !== null || r.resolve !== null; })) return null;
      return base({
        xAxis: category(col(t, "type"), { axisLabel: { color: C.muted, interval: 0 } }),
        yAxis: value("分钟", { minInterval: 0 }),
        series: [bar("创建→派单", col(t, "dispatch"), { itemStyle: { color: C.brand3 } }),
                 bar("创建→到达现场", col(t, "arrive"), { itemStyle: { color: C.brand2 } }),
                 bar("创建→办结", col(t, "resolve"), { itemStyle: { color: C.brand } })]
      });
    },
    backlog_ageing: function (t) {
      if (!total(t, "tickets")) return null;
      return base({
        xAxis: category(col(t, "bucket")),
        yAxis: value("工单数"),
        series: [bar("未超时", t.rows.map(function (r) { return r.tickets - r.overdue; }),
                     { stack: "age", itemStyle: { color: C.warn } }),
                 bar("已超时", col(t, "overdue"), { stack: "age", itemStyle: { color: C.danger } })]
      });
    },
    satisfaction: function (t) {
      if (!total(t, "tickets")) return null;
      var colors = { "5 分": C.brand, "4 分": C.brand2, "3 分": C.accent, "2 分": C.warn, "1 分": C.danger };
      return base({
        legend: { show: false },
        xAxis: category(col(t, "score")),
        yAxis: value("工单数"),
        series: [bar("工单数", t.rows.map(function (r) {
          return { value: r.tickets, itemStyle: { color: colors[r.score] || C.grey } };
        }), { label: { show: true, position: "top", color: C.muted } })]
      });
    },
    crew_utilisation: function (t) {
      if (!t.rows.length) return null;
      return base({
        legend: { show: false },
        grid: { left: 12, right: 24, top: 40, bottom: 8, containLabel: true },
        tooltip: {
          trigger: "axis", axisPointer: { type: "shadow" },
          formatter: function (items) {
            var r = t.rows[items[0].dataIndex];
            return r.crew + "（" + r.district + "）<br>占用率 " + pct(r.utilisation) + "<br>作业 " + r.busy_hours +
              " 小时 / 在班 " + r.on_shift_hours + " 小时<br>作业工单 " + int(r.tickets) + " 张";
          }
        },
        xAxis: category(t.rows.map(function (r) { return r.crew; }),
                        { axisLabel: { color: C.muted, interval: 0, rotate: t.rows.length > 12 ? 30 : 0 } }),
        yAxis: value("占用率 %", { minInterval: 0 }),
        series: [bar("占用率", t.rows.map(function (r) {
          var over = r.utilisation !== null && r.utilisation > 100;
          return { value: r.utilisation, itemStyle: { color: over ? C.warn : C.brand } };
        }), { barMaxWidth: 36,
              label: { show: true, position: "top", color: C.muted, formatter: function (p) { return pct(p.value); } },
              markLine: { silent: true, symbol: "none",
                          label: { formatter: "100%", color: C.danger, position: "insideEndTop" },
                          lineStyle: { color: C.danger, type: "dashed" }, data: [{ yAxis: 100 }] } })]
      });
    },
    fallbacks: function (t) {
      if (!total(t, "turns")) return null;
      return base({
        xAxis: category(t.rows.map(function (r) { return shortDay(r.day); })),
        yAxis: [value("消息数"), value("未识别率 %", { minInterval: 0, splitLine: { show: false } })],
        series: [bar("客户消息数", col(t, "turns"), { itemStyle: { color: C.brand3 } }),
                 bar("未识别次数", col(t, "fallbacks"), { itemStyle: { color: C.danger } }),
                 { type: "line", name: "未识别率", yAxisIndex: 1, data: col(t, "rate"), connectNulls: true,
                   itemStyle: { color: C.accent }, symbolSize: 5 }]
      });
    },
    transfers_by_reason: function (t) { return pie(t, "reason", "conversations"); },
    top_intents: function (t) {
      if (!t.rows.length) return null;
      var rows = t.rows.slice(0, 10).reverse();
      return base({
        legend: { show: false },
        grid: { left: 12, right: 36, top: 8, bottom: 8, containLabel: true },
        yAxis: category(rows.map(function (r) { return r.label; })),
        xAxis: value(""),
        series: [bar("消息数", rows.map(function (r) {
          return { value: r.messages, itemStyle: { color: r.intent === "nlu_fallback" ? C.danger : C.brand } };
        }), { barMaxWidth: 16, label: { show: true, position: "right", color: C.muted } })]
      });
    },
    kb_feedback: function (t) {
      if (!t.rows.length) return null;
      var rows = t.rows.slice(0, 10).reverse();
      var names = rows.map(function (r) {
        var name = r.title || r.article_id;
        return name.length > 14 ? name.slice(0, 13) + "…" : name;
      });
      return base({
        grid: { left: 12, right: 16, top: 30, bottom: 8, containLabel: true },
        yAxis: category(names),
        xAxis: value(""),
        series: [bar("有帮助", rows.map(function (r) { return r.helpful; }), { stack: "kb", barMaxWidth: 16,
                   itemStyle: { color: C.brand } }),
                 bar("没解决", rows.map(function (r) { return r.not_helpful; }), { stack: "kb", barMaxWidth: 16,
                   itemStyle: { color: C.danger } })]
      });
    }
  };

  function chartOption(name, table) {
    var make = CHARTS[name];
    return make ? make(table) : null;
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () {
      Object.keys(charts).forEach(function (name) { charts[name].resize(); });
    }, 100);
  });

  session.start();
})();
