/* 智电 · 运营监控看板 — the supervisor dashboard. Plain JS, no build step; charts with the vendored
 * Apache ECharts (/static/vendor/echarts.min.js), nothing from a CDN.
 *
 * Sign-in is staff.js (HttpOnly session cookie). GET /api/analytics/filters fills the filter bar;
 * GET /api/analytics/dashboard?date_from&date_to&district&type gives {kpis, tables}; the 经营成果 and
 * 工作质量 sections come from /api/analytics/business and /api/analytics/quality with the same query
 * (each says which filters it ignores); every table has a CSV at /api/analytics/export/<name>.csv with
 * the same query. The API decides who may see it (supervisor, admin): a 403 shows the API's message.
 * The 主动发现告警 card (the proactive service's feed: what the meter data showed, the policy applied and
 * what was done) is GET /api/monitoring/alerts?hours=24, independent of the filters, refreshed every 30 s.
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
  var LONG_CELL = 60;  // characters of a text cell shown before the rest goes to its tooltip

  function cell(v) {
    if (v === null || v === undefined || v === "") return "—";
    return typeof v === "number" ? v.toLocaleString("zh-CN", { maximumFractionDigits: 3 }) : String(v);
  }
  function shortDay(iso) { return iso.slice(5).replace("-", "/"); }
  function fixed2(n) {
    return n === null || n === undefined || n === "" ? "—" :
      Number(n).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function pct2(n) { return n === null || n === undefined ? "—" : Number(n).toFixed(2) + "%"; }
  var UNIT_FORMAT = { "元": "yuan", "千瓦时": "kwh", "%": "pct", "户": "int" };

  /* A table cell as the column says: 元 and 千瓦时 with two decimals and thousands separators. */
  function formatted(value, format, row) {
    if (format === "unit") format = UNIT_FORMAT[row.unit];
    if (format === "yuan" || format === "kwh") return fixed2(value);
    if (format === "pct") return pct(value);
    if (format === "int") return int(value);
    return cell(value);
  }

  var KPIS = [
    { key: "tickets", label: "工单总量", fmt: int,
      note: function (k) { return "独立工单 " + int(k.work_tickets) + " 件"; } },
    { key: "sla_compliance", label: "时限达标率", fmt: pct,
      note: function (k) { return "按时 " + int(k.sla_met) + " · 未到期 " + int(k.sla_pending); } },
    { key: "sla_breaches", label: "超时工单", fmt: int, tone: "danger",
      note: function () { return "含系统记录的超时和迟到"; } },
    { key: "mean_dispatch_minutes", label: "平均派单用时", fmt: minutes,
      note: function () { return "现场工单 · 创建 → 派单"; } },
    { key: "mean_arrive_minutes", label: "平均到达用时", fmt: minutes,
      note: function () { return "创建 → 到达现场"; } },
    { key: "mean_resolve_minutes", label: "平均办结用时", fmt: minutes,
      note: function () { return "创建 → 处理完成"; } },
    { key: "backlog", label: "当前积压", fmt: int, tone: "warn",
      note: function (k) { return "其中 3 天以上 " + int(k.backlog_over_3d) + " 件"; } },
    { key: "crew_utilisation", label: "班组占用率", fmt: pct,
      note: function (k) {
        return k.crew_utilisation > 100 ? "超过100%：班组同时处理多张工单，作业时长累加"
                                        : "作业时长 ÷ 在班时长";
      } },
    { key: "containment_rate", label: "机器人独立解决率", fmt: pct, bot: true,
      note: function (k) { return int(k.conversations) + " 个会话，独立解决 " + int(k.contained) + " 个"; } },
    { key: "transfers", label: "转人工会话", fmt: int, bot: true,
      note: function (k) { return "占全部会话 " + pct(k.transfer_rate); } },
    { key: "fallback_rate", label: "未识别率", fmt: pct, bot: true,
      note: function (k) { return "未识别 " + int(k.fallbacks) + " 次 / 客户消息 " + int(k.customer_turns) + " 条"; } },
    { key: "satisfaction_mean", label: "客户满意度", fmt: score,
      note: function (k) {
        return int(k.satisfaction_responses) + " 份评价 · 知识库有帮助 " + pct(k.kb_helpful_rate);
      } }
  ];

  // ---------- views ----------

  function showLogin() {
    stopAlerts();
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
    startAlerts();
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
      stopAlerts();
      els.board.hidden = true;
      els.refused.hidden = false;
    }
  }

  // ---------- 主动发现告警: the alert feed, its own request every 30 s ----------

  var ALERT_HOURS = 24;
  var ALERT_ACTIVE_HOURS = 24 * 31;  // the most the API looks back
  var ALERT_REFRESH_MS = 30000;
  var ALERT_STATUS = { active: "进行中", cleared: "已恢复", merged: "已并入台区停电" };
  var ALERT_ACTIONS = {
    detected: "发现", ticket: "开单", dispatched: "已派单", queued: "待派", held: "挂起待确认",
    notified: "已通知", cleared: "已清除", reopened: "再次出现", restored: "已恢复", closed: "已撤销",
    merged: "并入台区停电"
  };
  var feed = {
    box: document.getElementById("alerts"),
    timer: null,
    loading: 0,   // the latest request's number; older answers are dropped
    open: {}      // alert id → its 处置记录 is unfolded (kept across refreshes)
  };

  function startAlerts() {
    stopAlerts();
    loadAlerts();
    feed.timer = window.setInterval(loadAlerts, ALERT_REFRESH_MS);
  }

  function stopAlerts() {
    if (feed.timer !== null) window.clearInterval(feed.timer);
    feed.timer = null;
    feed.loading++;
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && feed.timer !== null) loadAlerts();  // a tab brought back shows the feed as it is now
  });

  /* The last 24 hours, and the alerts still active that were detected before them (the feed's window is by
   * detection time, the active count is not): an outage that has lasted two days stays on the card. */
  function loadAlerts() {
    if (document.hidden) return;
    var mine = ++feed.loading;
    feed.box.setAttribute("aria-busy", "true");
    Promise.all([
      api("GET", "/api/monitoring/alerts?hours=" + ALERT_HOURS),
      api("GET", "/api/monitoring/alerts?status=active&hours=" + ALERT_ACTIVE_HOURS + "&limit=500")
    ]).then(function (results) {
      if (mine !== feed.loading) return;
      feed.box.removeAttribute("aria-busy");
      var error = feed.box.querySelector("[data-error]");
      var bad = results.filter(function (r) { return !r.ok; })[0];
      if (bad) {
        if (bad.status === 401) { failed(bad); return; }
        if (bad.status === 403) stopAlerts();  // this account may not see the feed: no point asking again
        show(error, message(bad, "告警加载失败，将在 30 秒后自动重试"));
        return;
      }
      show(error, "");
      var recent = results[0].data;
      var seen = {};
      recent.alerts.forEach(function (a) { seen[a.id] = true; });
      var older = results[1].data.alerts.filter(function (a) { return !seen[a.id]; });
      renderAlerts(recent, older);
    });
  }

  function when(iso) { return iso ? clockFmt.format(new Date(iso)) : "—"; }

  function renderAlerts(data, older) {
    var alerts = data.alerts.concat(older);
    var active = feed.box.querySelector("[data-active]");
    active.textContent = "";
    active.appendChild(document.createTextNode("进行中 "));
    var count = node("strong", "alerts-count", int(data.active));
    count.setAttribute("data-value", String(data.active));
    active.appendChild(count);
    active.appendChild(document.createTextNode(" 条"));
    active.classList.toggle("alerts-active--on", data.active > 0);
    feed.box.querySelector("[data-updated]").textContent = "最近" + ALERT_HOURS + "小时发现 " + int(data.alerts.length) +
      " 条" + (older.length ? "，另有 " + int(older.length) + " 条更早发现、仍在进行中" : "") +
      " · 更新于 " + when(data.as_of) + "（北京时间）· 每 30 秒自动刷新";

    var list = feed.box.querySelector("[data-list]");
    list.textContent = "";
    alerts.forEach(function (a) { list.appendChild(alertItem(a)); });
    list.hidden = !alerts.length;
    feed.box.querySelector("[data-empty]").hidden = !!alerts.length;
    feed.box.setAttribute("data-loaded", data.as_of);
  }

  function fact(box, key, label, text, className) {
    var row = node("div", "alert-fact");
    row.setAttribute("data-field", key);
    row.appendChild(node("dt", null, label));
    row.appendChild(node("dd", className || null, text));
    box.appendChild(row);
  }

  function alertItem(a) {
    var on = a.status === "active";
    var li = node("li", "alert " + (on ? "alert--active" : "alert--cleared"));
    li.setAttribute("data-alert-id", String(a.id));
    li.setAttribute("data-kind", a.kind);
    li.setAttribute("data-status", a.status);

    var head = node("div", "alert-head");
    head.appendChild(node("span", "alert-kind", a.kind_label));
    head.appendChild(node("span", "alert-status", ALERT_STATUS[a.status] || a.status));
    head.appendChild(node("span", "alert-subject", [a.subject, a.district].filter(Boolean).join(" · ")));
    var detected = node("time", "alert-time", "发现于 " + when(a.detected_at));
    detected.setAttribute("datetime", a.detected_at);
    head.appendChild(detected);
    li.appendChild(head);

    li.appendChild(node("p", "alert-summary", a.summary));

    var facts = node("dl", "alert-facts");
    fact(facts, "policy", "处置策略", a.policy || "—");
    fact(facts, "ticket", "工单", a.ticket_number || "未开工单", a.ticket_number ? "ticket-no" : "muted");
    fact(facts, "notified", "已通知客户", int(a.customers_notified) + " 户");
    fact(facts, "started", "开始时间", when(a.started_at));
    if (a.cleared_at) fact(facts, "cleared", "恢复于", when(a.cleared_at));
    li.appendChild(facts);

    if (a.actions.length) li.appendChild(actionLog(a));
    return li;
  }

  function actionLog(a) {
    var details = node("details", "alert-log");
    details.open = !!feed.open[a.id];
    details.addEventListener("toggle", function () { feed.open[a.id] = details.open; });
    details.appendChild(node("summary", null, "处置记录（" + a.actions.length + " 条）"));
    var table = node("table", "data-table alert-actions");
    var thead = node("thead");
    var tr = node("tr");
    ["时间", "处置", "执行", "说明"].forEach(function (label) { tr.appendChild(node("th", null, label)); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = node("tbody");
    a.actions.forEach(function (act) {
      var row = node("tr");
      row.setAttribute("data-action", act.action);
      row.appendChild(node("td", "at", when(act.at)));
      row.appendChild(node("td", "action-name", ALERT_ACTIONS[act.action] || act.action));
      row.appendChild(node("td", null, act.actor === "system" ? "系统" : act.actor));
      row.appendChild(node("td", null, act.note || "—"));
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    details.appendChild(table);
    return details;
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
    loadPart("business", q);
    loadPart("quality", q);
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

  // ---------- 经营成果 and 工作质量: their own requests, so a slow one never holds the others ----------

  var PARTS = {
    business: { path: "/api/analytics/business", loading: 0, applies: "所选时段和区县" },
    quality: { path: "/api/analytics/quality", loading: 0, applies: "所选时段和区县（稽查线索除外）" }
  };

  function loadPart(name, q) {
    var part = PARTS[name];
    var section = document.getElementById(name);
    var mine = ++part.loading;
    section.setAttribute("aria-busy", "true");
    api("GET", part.path + "?" + q).then(function (result) {
      if (mine !== part.loading) return;
      section.removeAttribute("aria-busy");
      var error = section.querySelector("[data-error]");
      if (!result.ok) {
        if (result.status === 401 || result.status === 403) { failed(result); return; }
        show(error, message(result, MSG_FAILED));
        return;
      }
      show(error, "");
      renderPart(name, section, result.data, q);
    });
  }

  function renderPart(name, section, data, q) {
    var f = data.filters;
    var scope = "统计范围：" + f.date_from + " 至 " + f.date_to + "（" + f.days + " 天）· " +
      (f.district || "全部区县") + "。按" + PARTS[name].applies + "统计，工单类型筛选不适用";
    if (data.ignored_filters.indexOf("type") >= 0) scope += "（已忽略所选的“" + f.type + "”）";
    section.querySelector("[data-scope]").textContent = scope + "。";
    var notes = section.querySelector("[data-notes]");
    notes.textContent = "";
    data.notes.forEach(function (text) { notes.appendChild(node("li", null, text)); });
    renderTiles(section.querySelector("[data-kpis]"), name === "business" ? businessTiles(data) : qualityTiles(data));
    Array.prototype.forEach.call(section.querySelectorAll(".panel[data-table]"), function (panel) {
      var table = panel.getAttribute("data-table");
      if (data.tables[table]) renderPanel(panel, table, data.tables[table], q);
    });
    section.setAttribute("data-loaded", q);
  }

  function change(value, unit) {
    if (value === null || value === undefined) return "上期无可比数据";
    var sign = value > 0 ? "+" : value < 0 ? "−" : "±";
    return "较上期 " + sign + Math.abs(value).toFixed(1) + unit;
  }

  function businessTiles(d) {
    var now = d.current, before = d.previous, c = d.change;
    var months = now.periods.length ? "电费月份 " + now.periods.join("、") : "时段内无账单发行";
    return [
      { key: "energy_kwh", label: "售电量（千瓦时）", value: fixed2(now.energy_kwh), raw: now.energy_kwh,
        note: change(c.energy_kwh, "%"), more: months },
      { key: "billed_yuan", label: "应收电费（元）", value: fixed2(now.billed_yuan), raw: now.billed_yuan,
        note: change(c.billed_yuan, "%"), more: "账单 " + int(now.bills) + " 张" },
      { key: "collected_yuan", label: "实收电费（元）", value: fixed2(now.collected_yuan), raw: now.collected_yuan,
        note: change(c.collected_yuan, "%"), more: "未收 " + fixed2(now.outstanding_yuan) + " 元" },
      { key: "collection_rate", label: "电费回收率", value: pct(now.collection_rate), raw: now.collection_rate,
        note: change(c.collection_rate, " 个百分点"), more: "上期 " + pct(before.collection_rate) },
      { key: "received_yuan", label: "期内到账（元）", value: fixed2(now.received_yuan), raw: now.received_yuan,
        note: change(c.received_yuan, "%"), more: "按缴费时间，不分电费月份" },
      { key: "arrears_yuan", label: "欠费金额（元）", value: fixed2(now.arrears_yuan), raw: now.arrears_yuan,
        tone: Number(now.arrears_yuan) > 0 ? "danger" : null,
        note: change(c.arrears_yuan, "%"), more: "欠费 " + int(now.arrears_customers) + " 户，逾期未缴" }
    ];
  }

  function qualityTiles(d) {
    var k = d.kpis;
    return [
      { key: "completeness", label: "采集完整率", value: pct2(k.completeness), raw: k.completeness,
        tone: k.completeness !== null && k.completeness < 98 ? "warn" : null,
        note: "实采 " + int(k.received_hours) + " 条", more: "应采 " + int(k.expected_hours) + " 条" },
      { key: "meters_incomplete", label: "缺数电表", value: int(k.meters_incomplete), raw: k.meters_incomplete,
        tone: k.meters_incomplete ? "warn" : null,
        note: "缺 " + int(k.missing_hours) + " 小时", more: "共 " + int(k.meters) + " 块表" },
      { key: "stuck_meters", label: "零电量/冻结/无数据", value: int(k.stuck_meters), raw: k.stuck_meters,
        tone: k.stuck_meters ? "warn" : null,
        note: "零电量 " + int(k.zero_meters) + " · 冻结 " + int(k.frozen_meters), more: "无数据 " + int(k.silent_meters) + "（连续 24 小时及以上）" },
      { key: "billing_anomalies", label: "账单电量异常", value: int(k.billing_anomalies), raw: k.billing_anomalies,
        tone: k.billing_anomalies ? "danger" : null,
        note: "已比对 " + int(k.bills_checked) + " 张", more: "未比对 " + int(k.bills_unchecked) + " 张（采集不足 95%）" },
      { key: "audit_open", label: "未处理稽查线索", value: int(k.audit_open), raw: k.audit_open,
        note: "待核查、已派查", more: "全部区县，不受时段筛选" },
      { key: "cutoff", label: "数据统计截至", value: clockFmt.format(new Date(k.cutoff)).slice(0, 11), raw: k.cutoff,
        note: "当天只统计已过去的整点", more: "北京时间" }
    ];
  }

  function renderTiles(box, tiles) {
    box.textContent = "";
    tiles.forEach(function (t) {
      var tile = node("div", "kpi" + (t.tone ? " kpi--" + t.tone : ""));
      tile.setAttribute("data-kpi", t.key);
      var value = node("strong", "kpi-value", t.value);
      value.setAttribute("data-value", t.raw === null || t.raw === undefined ? "" : String(t.raw));
      tile.appendChild(node("span", "kpi-label", t.label));
      tile.appendChild(value);
      [t.note, t.more].forEach(function (text) {
        if (!text) return;
        var note = node("span", "kpi-note", text);
        note.title = text;
        tile.appendChild(note);
      });
      box.appendChild(tile);
    });
  }

  function render(data, q) {
    var f = data.filters;
    els.updated.textContent = "统计 " + f.date_from + " 至 " + f.date_to + "（" + f.days + " 天）" +
      (f.district ? " · " + f.district : "") + (f.type ? " · " + f.type : "") +
      " · 更新于 " + clockFmt.format(new Date(data.generated_at));
    renderKpis(data.kpis, !!(f.district || f.type));
    Array.prototype.forEach.call(document.querySelectorAll(".panel[data-table]:not([data-source])"), function (panel) {
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

  // With a district or type filter the bot's figures cover only chats whose customer is known: they say so.
  function renderKpis(k, filtered) {
    els.kpis.textContent = "";
    KPIS.forEach(function (spec) {
      var tile = node("div", "kpi" + (spec.tone && k[spec.key] ? " kpi--" + spec.tone : ""));
      tile.setAttribute("data-kpi", spec.key);
      var value = node("strong", "kpi-value", spec.fmt(k[spec.key]));
      value.setAttribute("data-value", k[spec.key] === null ? "" : String(k[spec.key]));
      tile.appendChild(node("span", "kpi-label", spec.label));
      tile.appendChild(value);
      tile.appendChild(node("span", "kpi-note", spec.note(k)));
      if (spec.bot && filtered) tile.appendChild(node("span", "kpi-note kpi-note--scope", "仅统计已识别客户或已报工单的会话"));
      els.kpis.appendChild(tile);
    });
  }

  function renderPanel(panel, name, table, q) {
    if (!panel.firstChild) buildPanel(panel, name);
    panel.querySelector(".panel-title").textContent = table.title;
    panel.querySelector("a.csv").href = "/api/analytics/export/" + name + ".csv?" + q;
    var holder = panel.querySelector(".table-holder");
    holder.textContent = "";
    holder.appendChild(dataTable(table, panel.getAttribute("data-empty")));
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
    var empty = node("p", "chart-empty", panel.getAttribute("data-empty") || "所选时段暂无数据");
    empty.hidden = true;
    wrap.appendChild(empty);
    panel.appendChild(wrap);
    var details = node("details", "data");
    details.appendChild(node("summary", null, "查看数据表"));
    details.appendChild(holder);
    panel.appendChild(details);
  }

  function dataTable(table, emptyText) {
    if (!table.rows.length) return node("p", "empty small", emptyText || "所选时段暂无数据");
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
        var numeric = typeof row[c.key] === "number" || (!!c.format && row[c.key] !== null && row[c.key] !== "");
        var text = formatted(row[c.key], c.format, row);
        var td = node("td", numeric ? "num" : null, text);
        if (!numeric && typeof text === "string" && text.length > LONG_CELL) {  // a customer's long message:
          td.textContent = text.slice(0, LONG_CELL) + "…";  // the card keeps its shape, the whole text on hover
          td.title = text;
          td.className = "long";
        }
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

  // ---------- 经营成果 and 工作质量 charts (money and energy come as decimal strings) ----------

  function nums(table, key) { return table.rows.map(function (r) { return r[key] === null ? null : Number(r[key]); }); }
  function sum(table, key) { return nums(table, key).reduce(function (a, b) { return a + (b || 0); }, 0); }
  function yuanAxis(name, extra) {
    return value(name, Object.assign({ minInterval: 0, axisLabel: { color: C.muted, formatter: function (v) {
      return Math.abs(v) >= 10000 ? (v / 10000).toLocaleString("zh-CN") + "万" : v.toLocaleString("zh-CN");
    } } }, extra || {}));
  }
  var DISTRICT_COLORS = [C.brand, C.blue, C.accent, C.warn, C.brand2, C.danger, C.grey];

  Object.assign(CHARTS, {
    business_by_month: function (t) {
      if (!sum(t, "billed")) return null;
      return base({
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: fixed2 },
        xAxis: category(col(t, "period").map(function (p) { return p.replace("-", "年") + "月"; })),
        yAxis: [yuanAxis("元"), yuanAxis("千瓦时", { splitLine: { show: false } })],
        series: [bar("应收电费（元）", nums(t, "billed"), { itemStyle: { color: C.brand3 } }),
                 bar("实收电费（元）", nums(t, "collected"), { itemStyle: { color: C.brand } }),
                 { type: "line", name: "售电量（千瓦时）", yAxisIndex: 1, data: nums(t, "kwh"), symbolSize: 7,
                   itemStyle: { color: C.accent } }]
      });
    },
    business_by_class: function (t) {
      if (!sum(t, "kwh")) return null;
      return base({
        tooltip: { trigger: "item", formatter: function (p) {
          var r = t.rows[p.dataIndex];
          return r.customer_class + "<br>售电量 " + fixed2(r.kwh) + " 千瓦时（" + pct(r.share) + "）<br>应收 " +
            fixed2(r.billed) + " 元 · 回收率 " + pct(r.rate);
        } },
        legend: { orient: "vertical", right: 0, top: "middle", textStyle: { color: C.muted } },
        series: [{
          type: "pie", radius: ["42%", "70%"], center: ["38%", "52%"],
          label: { formatter: function (p) { return p.name + "\n" + p.percent.toFixed(1) + "%"; }, color: C.text },
          itemStyle: { borderColor: "#fff", borderWidth: 2 },
          data: t.rows.map(function (r) { return { name: r.customer_class, value: Number(r.kwh) }; })
        }]
      });
    },
    arrears_ageing: function (t) {
      if (!sum(t, "amount")) return null;
      var tones = [C.accent, C.warn, C.danger, "#8e2019"];
      return base({
        legend: { show: false },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (items) {
          var r = t.rows[items[0].dataIndex];
          return r.band + "<br>欠费 " + fixed2(r.amount) + " 元<br>" + int(r.customers) + " 户 · " + int(r.bills) + " 张账单";
        } },
        xAxis: category(col(t, "band").map(function (b) { return b.replace("逾期", ""); })),
        yAxis: yuanAxis("元"),
        series: [bar("欠费金额", t.rows.map(function (r, i) {
          return { value: Number(r.amount), itemStyle: { color: tones[i] } };
        }), { barMaxWidth: 48, label: { show: true, position: "top", color: C.muted, formatter: function (p) {
          return int(t.rows[p.dataIndex].customers) + " 户";
        } } })]
      });
    },
    completeness_by_day: function (t) {
      if (!sum(t, "expected")) return null;
      var districts = t.columns.filter(function (c) { return c.key.indexOf("rate:") === 0; });
      var all = [].concat.apply(nums(t, "rate"), districts.map(function (c) { return nums(t, c.key); }))
        .filter(function (v) { return v !== null; });
      var low = Math.min.apply(null, all);
      return base({
        tooltip: { trigger: "axis", valueFormatter: function (v) { return pct2(v); } },
        xAxis: category(t.rows.map(function (r) { return shortDay(r.day); }), { boundaryGap: false }),
        yAxis: value("完整率 %", { minInterval: 0, max: 100, min: low >= 99 ? 98 : Math.max(0, Math.floor(low - 1)),
                                  axisLabel: { color: C.muted, formatter: function (v) { return v + "%"; } } }),
        series: [{ type: "line", name: "全部区县", data: nums(t, "rate"), symbolSize: 4, connectNulls: true,
                   lineStyle: { width: 3 }, itemStyle: { color: C.text }, z: 3 }].concat(districts.map(function (c, i) {
          return { type: "line", name: c.label.replace("（%）", ""), data: nums(t, c.key), symbol: "none",
                   connectNulls: true, lineStyle: { width: 1.5 }, itemStyle: { color: DISTRICT_COLORS[i % 7] } };
        }))
      });
    },
    completeness_by_district: function (t) {
      if (!sum(t, "expected")) return null;
      return base({
        legend: { show: false },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (items) {
          var r = t.rows[items[0].dataIndex];
          return r.district + "<br>完整率 " + pct2(r.rate) + "<br>" + int(r.meters) + " 块表，缺 " + int(r.missing) + " 条";
        } },
        xAxis: category(col(t, "district")),
        yAxis: value("完整率 %", { minInterval: 0, max: 100, axisLabel: { color: C.muted, formatter: "{value}%" } }),
        series: [bar("完整率", t.rows.map(function (r) {
          return { value: r.rate, itemStyle: { color: r.rate !== null && r.rate < 98 ? C.warn : C.brand } };
        }), { barMaxWidth: 40, label: { show: true, position: "top", color: C.muted, formatter: function (p) {
          return pct2(p.value);
        } } })]
      });
    },
    audit_open_by_rule: function (t) {
      var rows = t.rows.filter(function (r) { return r.open > 0; }).slice(0, 10).reverse();
      if (!rows.length) return null;
      return base({
        legend: { show: false },
        grid: { left: 12, right: 36, top: 8, bottom: 8, containLabel: true },
        yAxis: category(rows.map(function (r) { return r.rule_label; })),
        xAxis: value(""),
        series: [bar("未处理线索", rows.map(function (r) { return r.open; }),
                     { barMaxWidth: 16, itemStyle: { color: C.warn }, label: { show: true, position: "right", color: C.muted } })]
      });
    }
  });

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
