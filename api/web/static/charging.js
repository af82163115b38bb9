/* 智电 · 充电运营与有序充电监控 (/charging) — for 坐席, 班长/主管 and 管理员. Plain JS, no build step; the chart
 * with the vendored Apache ECharts (/static/vendor/echarts.min.js), nothing from a CDN.
 *
 *   站点实时状态, 排队, 故障   GET /api/charging/board?district=      every 10 s
 *   台区功率与有序充电         GET /api/charging/areas?district=      every 30 s (the scheduler's plan, read only)
 *   充电分析, 客户充电习惯     GET /api/charging/analytics?start&end&district, /api/charging/segments.csv (same query)
 * Sign-in is staff.js (HttpOnly session cookie). The API decides who may read; the page shows its Chinese message.
 * Times are shown in Beijing time.
 */
(function () {
  "use strict";

  var api = ZhidianStaff.api;
  var show = ZhidianStaff.show;
  var $ = function (id) { return document.getElementById(id); };

  var ROLES = ["agent", "supervisor", "admin"];
  var TZ = "Asia/Shanghai";
  var BOARD_EVERY = 10000;
  var AREAS_EVERY = 30000;
  var MSG_EXPIRED = "登录已过期，请重新登录";
  var MSG_FAILED = "数据加载失败，请稍后重试";
  var STATE_NAMES = { free: "空闲", charging: "充电中", occupied: "占用", reserved: "已预约", faulted: "故障",
                      unavailable: "停用", offline: "离线" };
  var STATUS_NAMES = { Available: "可用", Preparing: "已插枪，准备充电", Charging: "充电中", SuspendedEV: "车端暂停",
                       SuspendedEVSE: "桩端暂停", Finishing: "充电结束，待拔枪", Reserved: "已预约",
                       Unavailable: "停用", Faulted: "故障" };
  var KINDS = { AC: "交流", DC: "直流" };
  var QUEUE_STATUS = { waiting: "排队中", called: "已叫号" };
  var PLAN_STATUS = { ok: "可按时充满", cannot_meet: "无法按时充满", done: "已充满" };
  var PLAN_REASONS = { max_power: "受充电枪功率所限", capacity: "受台区限额所限", departed: "已过离开时间" };
  var BASE_SOURCES = { forecast: "负荷预测P90", yesterday: "昨日同时段实测" };
  var C = { brand: "#00736a", brand2: "#4fb3a6", muted: "#86939a", line: "#e1e7e6", text: "#1f2a2e" };
  var FONT = getComputedStyle(document.body).fontFamily;

  // ---------- formatting ----------

  function isNum(v) { return v !== null && v !== undefined && v !== "" && isFinite(Number(v)); }
  function fixed(v, digits) {
    if (!isNum(v)) return "—";
    return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function int(v) { return isNum(v) ? Number(v).toLocaleString("zh-CN", { maximumFractionDigits: 0 }) : "—"; }
  function pct(share) { return isNum(share) ? fixed(Number(share) * 100, 1) + "%" : "—"; }
  function kw(v) { return isNum(v) ? fixed(v, 1) + " kW" : "—"; }
  function yuan(fen) { return isNum(fen) ? fixed(Number(fen) / 100, 2) : "—"; }
  function minutes(v) { return isNum(v) ? fixed(v, 1) + " 分钟" : "—"; }

  var timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false });
  var dayTimeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit",
                                                      hour: "2-digit", minute: "2-digit", hour12: false });
  var dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

  function sameDay(a, b) { return dayFmt.format(a) === dayFmt.format(b); }
  function when(value) {
    if (!value) return "—";
    var at = new Date(value);
    return sameDay(at, new Date()) ? timeFmt.format(at) : dayTimeFmt.format(at);
  }
  function ago(value) {
    if (!value) return "";
    var mins = Math.round((Date.now() - new Date(value).getTime()) / 60000);
    if (mins < 1) return "刚刚";
    if (mins < 60) return mins + "分钟前";
    if (mins < 48 * 60) return Math.floor(mins / 60) + "小时" + (mins % 60 ? (mins % 60) + "分钟" : "") + "前";
    return Math.floor(mins / 1440) + "天前";
  }
  function span(start, end) {
    return start.slice(0, 4) === end.slice(0, 4)
      ? start.slice(0, 4) + "年 " + start.slice(5) + " 至 " + end.slice(5) : start + " 至 " + end;
  }
  function today() { return dayFmt.format(new Date()); }
  function daysBefore(iso, days) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - days);
    return d.toISOString().slice(0, 10);
  }

  // ---------- DOM helpers ----------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function cell(row, text, className) {
    var td = el("td", className, text);
    row.appendChild(td);
    return td;
  }
  function two(main, sub) {
    var box = el("span", "cg-two-line");
    box.appendChild(el("span", "cg-main-text", main));
    if (sub) box.appendChild(el("span", "cg-sub-text", sub));
    return box;
  }
  function kpi(label, value, note, tone) {
    var box = el("div", "cg-kpi" + (tone ? " cg-kpi--" + tone : ""));
    box.appendChild(el("span", "cg-kpi-label", label));
    box.appendChild(el("span", "cg-kpi-value", value));
    if (note) box.appendChild(el("span", "cg-kpi-note", note));
    return box;
  }
  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k]) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  // ---------- the page ----------

  var els = { view: $("cg-view"), login: $("login-view"), error: $("cg-error"), refused: $("cg-refused"),
              board: $("cg-board") };
  var state = { user: null, timers: [], districts: {}, areaNames: {}, stationNames: {}, analytics: null, board: null,
                selected: null, boardBusy: false, areasBusy: false };
  var chart = null;

  function message(result, fallback) {
    var text = ZhidianStaff.message(result, fallback);
    return /[\u3400-\u9fff]/.test(String(text)) ? text : fallback;
  }

  /* 401 → sign in again; 403 → the no-permission notice; else the message in `into` (or the banner). */
  function failed(result, into) {
    if (result.status === 401) { session.signOut(MSG_EXPIRED); return; }
    if (result.status === 403) { refuse(); return; }
    show(into || els.error, message(result, MSG_FAILED));
  }

  function refuse() {
    stopTimers();
    els.board.hidden = true;
    els.refused.hidden = false;
  }

  function stopTimers() {
    state.timers.forEach(function (t) { clearTimeout(t); });
    state.timers = [];
  }

  /* Load now and again `ms` after each answer, while the board is shown (a failed render still reschedules). */
  function every(ms, load) {
    function again() { if (state.user && !els.board.hidden) state.timers.push(setTimeout(tick, ms)); }
    function tick() { load().then(again, again); }
    tick();
  }

  function start(user) {
    state.user = user;
    els.login.hidden = true;
    els.view.hidden = false;
    show(els.error, "");
    if (!user || ROLES.indexOf(user.role) < 0) { refuse(); return; }
    els.refused.hidden = true;
    els.board.hidden = false;
    var end = today();
    $("an-end").value = end;
    $("an-start").value = daysBefore(end, 29);
    stopTimers();
    every(BOARD_EVERY, loadBoard);
    every(AREAS_EVERY, loadAreas);
    loadAnalytics();
  }

  function stop() {
    stopTimers();
    state.user = null;
    state.analytics = null;
    state.board = null;
    state.selected = null;
    els.view.hidden = true;
    els.login.hidden = false;
    ["stations", "queue-rows", "faults-rows", "areas", "an-rows", "an-foot", "an-area-rows", "segments", "live-kpis",
     "an-kpis"].forEach(function (id) { clear($(id)); });
    if (chart) { chart.clear(); }
  }

  function addDistricts(stations) {
    var fresh = false;
    stations.forEach(function (s) {
      state.stationNames[s.code] = s.name;
      if (!state.districts[s.district]) { state.districts[s.district] = true; fresh = true; }
    });
    if (!fresh) return;
    var names = Object.keys(state.districts).sort(function (a, b) { return a.localeCompare(b, "zh-CN"); });
    ["live-district", "an-district"].forEach(function (id) {
      var select = $(id);
      var current = select.value;
      while (select.options.length > 1) select.remove(1);
      names.forEach(function (name) { select.appendChild(new Option(name, name)); });
      select.value = current;
    });
  }

  // ---------- 站点实时状态, 排队, 故障 ----------

  function loadBoard() {
    if (state.boardBusy) return Promise.resolve();
    state.boardBusy = true;
    return api("GET", "/api/charging/board" + query({ district: $("live-district").value })).then(function (result) {
      state.boardBusy = false;
      if (!state.user) return;
      if (!result.ok) { failed(result); return; }
      show(els.error, "");
      var board = result.data;
      addDistricts(board.stations);
      state.board = board;
      renderKpis(board);
      renderStations(board.stations);
      renderQueue(board.stations);
      renderFaults(board.faults);
      $("live-updated").textContent = "更新于 " + timeFmt.format(new Date(board.as_of)) + " · 每10秒自动刷新";
    });
  }

  function renderKpis(board) {
    var box = $("live-kpis");
    clear(box);
    var s = board.states;
    var total = Object.keys(s).reduce(function (sum, k) { return sum + s[k]; }, 0);
    box.appendChild(kpi("充电枪", int(total), board.stations.length + " 座充电站"));
    box.appendChild(kpi("空闲", int(s.free), "可立即充电"));
    box.appendChild(kpi("充电中", int(s.charging + s.occupied), "含插枪准备/结束中 " + int(s.occupied)));
    box.appendChild(kpi("当前充电功率", kw(board.charging_kw), "运行中会话实测功率合计"));
    box.appendChild(kpi("排队客户", int(board.waiting), "排队中与已叫号", board.waiting ? "warn" : ""));
    box.appendChild(kpi("故障 / 离线", int(s.faulted) + " / " + int(s.offline), "停用 " + int(s.unavailable),
                        s.faulted ? "danger" : ""));
  }

  function connectorTitle(c) {
    var reported = STATUS_NAMES[c.status] || c.status;
    var lines = [c.charge_point_id + " " + c.connector_no + "号枪 · " + (KINDS[c.kind] || c.kind) + " " + fixed(c.rated_kw, 0) + " kW",
                 "状态：" + STATE_NAMES[c.state] + (c.state === "offline" ? "（最后上报：" + reported + "）"
                                                    : reported !== STATE_NAMES[c.state] ? "（" + reported + "）" : "")];
    if (c.since) lines.push("状态时间：" + when(c.since) + "（" + ago(c.since) + "）");
    if (c.error_code && c.error_code !== "NoError") lines.push("故障代码：" + c.error_code + (c.info ? "（" + c.info + "）" : ""));
    if (c.session) {
      lines.push("充电卡：" + c.session.id_tag + " · 开始 " + when(c.session.started_at));
      lines.push("已充 " + fixed(c.session.energy_kwh, 1) + " 千瓦时" + (isNum(c.session.power_kw) ? " · 功率 " + kw(c.session.power_kw) : "") +
                 (isNum(c.session.soc_percent) ? " · 电量 " + fixed(c.session.soc_percent, 0) + "%" : ""));
    }
    return lines.join("\n");
  }

  function chip(c) {
    var li = el("li", "chip st-" + c.state);
    li.dataset.connector = c.charge_point_id + "-" + c.connector_no;
    li.dataset.state = c.state;
    li.title = connectorTitle(c);
    li.setAttribute("aria-label", c.charge_point_id + " " + c.connector_no + "号枪 " + STATE_NAMES[c.state]);
    li.appendChild(el("span", "chip-id", c.charge_point_id + " · " + c.connector_no + "号枪"));
    var middle = el("span", "chip-line");
    middle.appendChild(el("span", "chip-kind", (KINDS[c.kind] || c.kind) + " " + fixed(c.rated_kw, 0) + " kW"));
    if (c.session && c.state !== "offline" && isNum(c.session.soc_percent)) {
      middle.appendChild(el("span", "chip-soc", "SoC " + fixed(c.session.soc_percent, 0) + "%"));
    }
    li.appendChild(middle);
    var bottom = el("span", "chip-line");
    bottom.appendChild(el("span", "chip-state", STATE_NAMES[c.state]));
    var extra = "";
    if (c.session && c.state !== "offline") {
      extra = isNum(c.session.power_kw) ? fixed(c.session.power_kw, 1) + " kW" : fixed(c.session.energy_kwh, 1) + " kWh";
    } else if (c.state === "faulted") {
      extra = c.error_code;
    } else if (c.since && c.state !== "free" && c.state !== "offline") {
      extra = ago(c.since);
    }
    if (extra) bottom.appendChild(el("span", "chip-extra", extra));
    li.appendChild(bottom);
    return li;
  }

  function renderStations(stations) {
    var box = $("stations");
    clear(box);
    $("stations-empty").hidden = stations.length > 0;
    stations.forEach(function (s) {
      var card = el("article", "card cg-station");
      card.dataset.station = s.code;
      var head = el("header", "cg-station-head");
      var title = el("div", "cg-station-title");
      title.appendChild(el("h3", null, s.name));
      title.appendChild(el("span", "cg-sub-text", s.code + " · " + s.district +
                           (state.areaNames[s.transformer_area_id] ? " · " + state.areaNames[s.transformer_area_id] : "")));
      head.appendChild(title);
      var free = el("span", "cg-free" + (s.states.free ? "" : " none"),
                    "空闲 " + s.states.free + "/" + s.connectors.length);
      head.appendChild(free);
      card.appendChild(head);
      var figs = [];
      if (s.states.charging + s.states.occupied) figs.push("充电中 " + (s.states.charging + s.states.occupied));
      if (Number(s.charging_kw) > 0) figs.push("功率 " + kw(s.charging_kw));
      if (s.queue.length) figs.push("排队 " + s.queue.length + " 人");
      if (s.states.faulted) figs.push("故障 " + s.states.faulted);
      if (s.states.offline) figs.push("离线 " + s.states.offline);
      card.appendChild(el("p", "cg-station-figs", figs.join(" · ") || "全部空闲"));
      var list = el("ul", "chips");
      s.connectors.forEach(function (c) { list.appendChild(chip(c)); });
      card.appendChild(list);
      box.appendChild(card);
    });
  }

  function renderQueue(stations) {
    var rows = $("queue-rows");
    clear(rows);
    var count = 0;
    stations.forEach(function (s) {
      s.queue.forEach(function (q) {
        count += 1;
        var tr = el("tr");
        tr.dataset.entry = q.entry_id;
        tr.dataset.station = s.code;
        var st = cell(tr, "");
        st.appendChild(two(s.name, s.code));
        cell(tr, q.position ? String(q.position) : "—", "num");
        var card = cell(tr, "");
        card.appendChild(two(q.id_tag, (q.kind ? (KINDS[q.kind] || q.kind) : "交直流不限")));
        var status = cell(tr, "");
        status.appendChild(el("span", "tag tag-" + q.status, QUEUE_STATUS[q.status] || q.status));
        var since = cell(tr, "", "nowrap");
        since.appendChild(two(when(q.joined_at), ago(q.joined_at)));
        if (q.status === "called") {
          var left = Math.max(0, Math.round((new Date(q.window_until).getTime() - Date.now()) / 60000));
          var held = cell(tr, "");
          held.appendChild(two("保留至 " + when(q.window_until),
                               (q.charge_point_id ? q.charge_point_id + " " + q.connector_no + "号枪 · " : "") + "剩 " + left + " 分钟"));
        } else if (q.arrive_at && !q.position) {  // a booking whose time has not come: no place in line yet
          cell(tr, "预约 " + when(q.arrive_at) + " 到站");
        } else {
          cell(tr, isNum(q.expected_wait_minutes) ? "预计等待 " + q.expected_wait_minutes + " 分钟" : "暂无可用充电枪");
        }
        rows.appendChild(tr);
      });
    });
    $("queue-count").textContent = count ? "（" + count + "）" : "";
    $("queue-empty").hidden = count > 0;
    $("queue-table").hidden = count === 0;
  }

  function renderFaults(faults) {
    var rows = $("faults-rows");
    clear(rows);
    faults.forEach(function (f) {
      var tr = el("tr");
      tr.dataset.connector = f.charge_point_id + "-" + f.connector_no;
      var st = cell(tr, "");
      st.appendChild(two(f.station_name, f.station_code + " · " + f.district));
      var where = cell(tr, "", "nowrap");
      where.appendChild(two(f.charge_point_id, (f.connector_no ? f.connector_no + "号枪" : "整桩") +
                            (f.kind ? " · " + (KINDS[f.kind] || f.kind) : "")));
      var what = cell(tr, "");
      what.appendChild(two(f.error_text || f.error_code, f.error_code + (f.info ? " · " + f.info : "") +
                           (f.online ? "" : " · 充电桩当前离线")));
      var at = cell(tr, "", "nowrap");
      at.appendChild(two(f.since ? when(f.since) : "—", ago(f.since)));
      rows.appendChild(tr);
    });
    $("faults-count").textContent = faults.length ? "（" + faults.length + "）" : "";
    $("faults-empty").hidden = faults.length > 0;
    $("faults-table").hidden = faults.length === 0;
  }

  // ---------- 台区功率与有序充电 ----------

  function loadAreas() {
    if (state.areasBusy) return Promise.resolve();
    state.areasBusy = true;
    return api("GET", "/api/charging/areas" + query({ district: $("live-district").value })).then(function (result) {
      state.areasBusy = false;
      if (!state.user) return;
      if (!result.ok) { failed(result); return; }
      var areas = result.data || [];
      var named = areas.some(function (a) { return !state.areaNames[a.transformer_area_id]; });
      areas.forEach(function (a) { state.areaNames[a.transformer_area_id] = a.name; });
      if (named && state.board) renderStations(state.board.stations);
      renderAreas(areas);
      if (state.analytics) renderAreaFigures(state.analytics.areas);
      $("areas-updated").textContent = "更新于 " + timeFmt.format(new Date()) + " · 每30秒自动刷新";
    });
  }

  function bar(area) {
    var base = Number(area.base_kw || 0);
    var charging = Math.max(Number(area.charging_kw || 0), Number(area.allocated_kw || 0));
    var scale = Math.max(area.capacity_kw, base + charging, area.planned_peak_kw || 0) * 1.08 || 1;
    var box = el("div", "cg-bar");
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", "其他负荷 " + fixed(base, 1) + " 千瓦，充电分配 " + fixed(area.allocated_kw, 1) +
                     " 千瓦，限额 " + fixed(area.capacity_kw, 1) + " 千瓦");
    var fillBase = el("span", "cg-bar-base");
    fillBase.style.width = (base / scale * 100).toFixed(2) + "%";
    var fillEv = el("span", "cg-bar-ev");
    fillEv.style.width = (Number(area.allocated_kw || 0) / scale * 100).toFixed(2) + "%";
    var limit = el("span", "cg-bar-limit");
    limit.style.left = (area.capacity_kw / scale * 100).toFixed(2) + "%";
    limit.appendChild(el("span", "cg-bar-limit-label", "限额 " + fixed(area.capacity_kw, 0) + " kW"));
    box.appendChild(fillBase);
    box.appendChild(fillEv);
    box.appendChild(limit);
    return box;
  }

  function renderAreas(areas) {
    var box = $("areas");
    clear(box);
    $("areas-empty").hidden = areas.length > 0;
    areas.forEach(function (a) {
      var card = el("article", "card cg-area" + (a.sessions.length ? " busy" : ""));
      card.dataset.area = a.code;
      var head = el("header", "cg-area-head");
      var title = el("div");
      title.appendChild(el("h3", null, a.name + "（" + a.code + "）"));
      title.appendChild(el("span", "cg-sub-text", a.district + " · 供电充电站：" + a.station_names.join("、")));
      head.appendChild(title);
      var headroom = a.base_kw === null ? null : a.capacity_kw - a.base_kw - a.allocated_kw;
      head.appendChild(el("span", "cg-headroom" + (headroom !== null && headroom < 0 ? " over" : ""),
                          headroom === null ? "余量 —" : "余量 " + kw(headroom)));
      card.appendChild(head);
      card.appendChild(bar(a));
      var figs = el("dl", "cg-figs");
      [["限额", kw(a.capacity_kw) + "（" + fixed(a.capacity_kva, 0) + " kVA × 0.9）"],
       ["其他负荷（调度采用）", a.base_kw === null ? "—" : kw(a.base_kw) + "（" + (BASE_SOURCES[a.base_source] || "—") + "）"],
       ["台区实测（近1小时）", kw(a.measured_kw)],
       ["充电实测功率", kw(a.charging_kw)],
       ["调度分配（当前15分钟）", kw(a.allocated_kw)],
       ["计划峰值", isNum(a.planned_peak_kw) ? kw(a.planned_peak_kw) : "—"]].forEach(function (pair) {
        var item = el("div", "cg-fig");
        item.appendChild(el("dt", null, pair[0]));
        item.appendChild(el("dd", null, pair[1]));
        figs.appendChild(item);
      });
      card.appendChild(figs);
      if (!a.sessions.length) {
        card.appendChild(el("p", "hint cg-none", "该台区下当前没有充电会话。"));
      } else {
        if (a.cannot_meet) card.appendChild(el("p", "cg-warn", a.cannot_meet + " 个会话无法在离开前充满，已提示客户。"));
        card.appendChild(allocationTable(a));
      }
      box.appendChild(card);
    });
  }

  function allocationTable(area) {
    var table = el("table", "cg-table compact cg-alloc");
    var head = el("thead");
    var hr = el("tr");
    ["充电站 / 枪", "充电卡", "实测功率", "当前分配", "已充 / 需求", "客户意愿", "调度结果", "后续计划"].forEach(function (h, i) {
      var th = el("th", i >= 2 && i <= 4 ? "num" : null, h);
      th.scope = "col";
      hr.appendChild(th);
    });
    head.appendChild(hr);
    table.appendChild(head);
    var body = el("tbody");
    area.sessions.forEach(function (s) {
      var tr = el("tr");
      tr.dataset.transaction = s.transaction_id;
      var where = cell(tr, "");
      where.appendChild(two(state.stationNames[s.station_code] || s.station_code,
                            s.charge_point_id + " · " + s.connector_no + "号枪 · 额定" + fixed(s.max_kw, 0) + "kW"));
      cell(tr, s.id_tag, "mono");
      cell(tr, kw(s.power_kw), "num");
      cell(tr, kw(s.allocated_kw), "num strong");
      cell(tr, s.told ? fixed(s.delivered_kwh, 1) + " / " + fixed(s.kwh_requested, 1) + " kWh"
                      : fixed(s.delivered_kwh, 1) + " kWh / —", "num");
      cell(tr, s.told ? when(s.departure_at) + " 前离开" + (s.allow_delay ? " · 可谷段充" : " · 不延后")
                      : "未告知 · 尽快充满");
      var result = cell(tr, "");
      if (!s.told) {
        // a session nobody told us about is planned as fast as the area allows: no target to meet or miss
        result.appendChild(el("span", "tag tag-plan-asap", "尽快充电"));
      } else {
        result.appendChild(el("span", "tag tag-plan-" + s.status, PLAN_STATUS[s.status] || s.status));
        if (s.status === "cannot_meet" && s.reason) result.appendChild(el("span", "cg-sub-text", " " + (PLAN_REASONS[s.reason] || s.reason)));
        else if (s.finish) result.appendChild(el("span", "cg-sub-text", " 约 " + when(s.finish) + " 充满"));
      }
      cell(tr, s.profile.slice(0, 3).map(function (p) { return when(p.at) + "起 " + fixed(p.kw, 1) + " kW"; }).join("；"), "cg-profile");
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  // ---------- 充电分析, 客户充电习惯 ----------

  function rangeQuery() {
    return { start: $("an-start").value, end: $("an-end").value, district: $("an-district").value };
  }

  function loadAnalytics() {
    var q = rangeQuery();
    var formError = $("an-error");
    if (!q.start || !q.end) { show(formError, "请选择开始和结束日期"); return; }
    if (q.end < q.start) { show(formError, "结束日期不能早于开始日期"); return; }
    show(formError, "");
    $("an-apply").disabled = true;
    api("GET", "/api/charging/analytics" + query(q)).then(function (result) {
      $("an-apply").disabled = false;
      if (!state.user) return;
      if (!result.ok) { failed(result, result.status === 422 ? formError : null); return; }
      state.analytics = result.data;
      $("seg-csv").href = "/api/charging/segments.csv" + query(q);
      renderAnalytics(result.data);
    });
  }

  function renderAnalytics(a) {
    var box = $("an-kpis");
    clear(box);
    var t = a.total;
    box.appendChild(kpi("充电次数", int(t.sessions), span(a.start, a.end) + " · " + a.days + "天"));
    box.appendChild(kpi("充电电量", fixed(t.energy_kwh, 1), "千瓦时"));
    box.appendChild(kpi("充电收入", yuan(t.revenue_fen), "元（电费 + 服务费）"));
    box.appendChild(kpi("枪利用率", pct(t.utilisation), int(t.connectors) + " 把充电枪"));
    box.appendChild(kpi("排队等待", minutes(t.wait_avg_minutes), "P90 " + minutes(t.wait_p90_minutes) + " · " + int(t.waits) + " 人次叫号"));
    box.appendChild(kpi("故障", int(t.fault_stops) + " 次中止", "当前故障枪 " + int(t.faulted_now), t.fault_stops || t.faulted_now ? "danger" : ""));
    renderStationFigures(a);
    renderAreaFigures(a.areas);
    renderSegments(a);
    state.selected = null;
    drawHours();
  }

  function figureRow(tr, f) {
    cell(tr, int(f.connectors), "num");
    cell(tr, int(f.sessions), "num");
    cell(tr, fixed(f.energy_kwh, 1), "num");
    cell(tr, yuan(f.revenue_fen), "num");
    cell(tr, pct(f.utilisation), "num");
    cell(tr, minutes(f.wait_avg_minutes), "num");
    cell(tr, minutes(f.wait_p90_minutes), "num");
    cell(tr, int(f.faulted_now), "num" + (f.faulted_now ? " bad" : ""));
    cell(tr, int(f.fault_stops), "num" + (f.fault_stops ? " bad" : ""));
  }

  function renderStationFigures(a) {
    var rows = $("an-rows");
    clear(rows);
    a.stations.forEach(function (s) {
      var tr = el("tr", "cg-clickable");
      tr.dataset.station = s.code;
      tr.tabIndex = 0;
      var name = cell(tr, "");
      name.appendChild(two(s.name, s.code + " · " + s.district));
      figureRow(tr, s);
      tr.addEventListener("click", function () { select(s.code); });
      tr.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(s.code); } });
      rows.appendChild(tr);
    });
    var foot = $("an-foot");
    clear(foot);
    var tr = el("tr", "cg-clickable cg-total");
    tr.dataset.station = "";
    tr.tabIndex = 0;
    cell(tr, "合计");
    figureRow(tr, a.total);
    tr.addEventListener("click", function () { select(null); });
    tr.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(null); } });
    foot.appendChild(tr);
  }

  function renderAreaFigures(areas) {
    var rows = $("an-area-rows");
    clear(rows);
    areas.forEach(function (f) {
      var tr = el("tr");
      tr.dataset.area = f.transformer_area_id;
      var name = cell(tr, "");
      name.appendChild(two(state.areaNames[f.transformer_area_id] || "台区 #" + f.transformer_area_id, f.stations.join("、")));
      name.title = f.stations.map(function (c) { return state.stationNames[c] || c; }).join("、");
      cell(tr, int(f.sessions), "num");
      cell(tr, fixed(f.energy_kwh, 1), "num");
      cell(tr, yuan(f.revenue_fen), "num");
      cell(tr, pct(f.utilisation), "num");
      cell(tr, minutes(f.wait_p90_minutes), "num");
      cell(tr, int(f.fault_stops), "num" + (f.fault_stops ? " bad" : ""));
      rows.appendChild(tr);
    });
  }

  function select(code) {
    state.selected = state.selected === code ? null : code;
    drawHours();
  }

  function drawHours() {
    var a = state.analytics;
    if (!a) return;
    var station = state.selected && a.stations.filter(function (s) { return s.code === state.selected; })[0];
    var figures = station || a.total;
    Array.prototype.forEach.call(document.querySelectorAll("#an-rows tr, #an-foot tr"), function (tr) {
      tr.classList.toggle("selected", (tr.dataset.station || null) === (station ? station.code : null));
    });
    $("hour-title").textContent = "分时利用率 · " + (station ? station.name : "全部充电站");
    chart = chart || echarts.init($("hour-chart"), null, { renderer: "canvas" });
    var hours = [];
    for (var h = 0; h < 24; h++) hours.push(h + "时");
    chart.setOption({
      animation: false,
      textStyle: { fontFamily: FONT },
      grid: { left: 44, right: 12, top: 28, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return fixed(v, 1) + "%"; } },
      xAxis: { type: "category", data: hours, axisTick: { alignWithLabel: true },
               axisLabel: { color: C.muted, interval: 2 }, axisLine: { lineStyle: { color: C.line } } },
      yAxis: { type: "value", name: "利用率", min: 0, nameTextStyle: { color: C.muted },
               axisLabel: { color: C.muted, formatter: "{value}%" }, splitLine: { lineStyle: { color: C.line } } },
      series: [{
        name: "利用率", type: "bar", barWidth: "62%",
        data: figures.utilisation_by_hour.map(function (v, i) {
          var valley = i >= 22 || i < 8;
          return { value: Math.round(v * 1000) / 10, itemStyle: { color: valley ? C.brand2 : C.brand, borderRadius: [3, 3, 0, 0] } };
        })
      }],
      graphic: [{ type: "text", right: 12, top: 4, style: { text: "浅色为谷段 22:00–08:00", fill: C.muted, fontSize: 12 } }]
    }, true);
  }

  function renderSegments(a) {
    var box = $("segments");
    clear(box);
    $("seg-count").textContent = "（" + a.customers + " 位客户）";
    a.segments.forEach(function (s) {
      var card = el("article", "card cg-segment" + (s.customers ? "" : " none"));
      card.dataset.segment = s.segment;
      var head = el("div", "cg-segment-head");
      head.appendChild(el("h3", null, s.segment));
      head.appendChild(el("span", "cg-segment-count", int(s.customers)));
      card.appendChild(head);
      card.appendChild(el("p", "cg-segment-rule", s.rule));
      card.appendChild(el("p", "cg-segment-offer", "建议：" + s.offer));
      box.appendChild(card);
    });
  }

  // ---------- wiring ----------

  $("an-form").addEventListener("submit", function (event) { event.preventDefault(); loadAnalytics(); });
  $("live-district").addEventListener("change", function () { loadBoard(); loadAreas(); });
  window.addEventListener("resize", function () { if (chart) chart.resize(); });

  var session = ZhidianStaff.signIn({
    form: $("login-form"), username: $("username"), password: $("password"), error: $("login-error"),
    submit: $("login-submit"), logout: $("logout"), who: $("who"), onSignedIn: start, onSignedOut: stop
  });
  session.start();
})();
