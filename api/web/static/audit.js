/* 智电 · 营销稽查工作台 (/audit) — for 稽查, 班长/主管 and 管理员. Plain JS, no build step; charts with the
 * vendored Apache ECharts (/static/vendor/echarts.min.js), nothing from a CDN.
 *
 * Sign-in is staff.js (HttpOnly session cookie). Five tabs, each loaded when first shown:
 *   稽查线索  GET /api/audit/findings?rule&status&district&area_code&account_no&severity&limit&offset,
 *            /api/audit/findings.csv (same filters), POST /api/audit/scan {days}; the evidence chart is
 *            drawn from finding.evidence.series with evidence.limits as mark lines
 *   线损分析  GET /api/audit/line-loss?level&period&date, /api/audit/line-loss/areas/{code}/customers
 *   稽查主题  GET/POST /api/audit/themes, GET /api/audit/themes/{n}, POST /api/audit/themes/{n}/transitions
 *            (only the theme's allowed_actions are offered; 退回 asks for the reason)
 *   稽查任务  GET /api/audit/tasks?status&theme, /api/audit/tasks/{n}; POST …/result, …/photos (multipart),
 *            …/rectified, …/review; GET …/photos/{id}
 *   稽查成效  GET /api/audit/stats, and the themes' evaluations
 * Area names and districts come from GET /api/forecasting/targets. The API decides who may do what;
 * the page shows its Chinese message. Times are shown in Beijing time.
 */
(function () {
  "use strict";

  var api = ZhidianStaff.api;
  var show = ZhidianStaff.show;
  var $ = function (id) { return document.getElementById(id); };

  var ROLES = ["auditor", "supervisor", "admin"];
  var TZ = "Asia/Shanghai";
  var PAGE_SIZE = 20;
  var MSG_EXPIRED = "登录已过期，请重新登录";
  var MSG_FAILED = "数据加载失败，请稍后重试";
  var MSG_REFUSED = "您的账号没有稽查权限";
  var C = { brand: "#00736a", brand2: "#4fb3a6", brand3: "#a8dcd3", accent: "#f2b705", danger: "#c7392f",
            warn: "#e08a00", grey: "#b8c4c2", blue: "#3a7bd5", purple: "#8e6cc0", text: "#1f2a2e",
            muted: "#86939a", line: "#e1e7e6" };
  var SERIES_COLORS = [C.brand, C.blue, C.warn, C.purple, C.accent, C.brand2];
  var FONT = getComputedStyle(document.body).fontFamily;

  var SEVERITY = { high: "高", medium: "中", low: "低" };
  var SOURCES = { theme: "稽查主题", customer_report: "群众举报", lead: "群众举报", manual: "人工立案" };
  var ROLE_NAMES = { auditor: "稽查", supervisor: "主管", admin: "管理员", crew: "班组", agent: "坐席" };
  var THEME_ACTIONS = [
    ["submit", "重新提交", "primary"], ["approve", "批准", "primary"], ["publish", "发布并派发任务", "primary"],
    ["complete", "完成并评价", "primary"], ["return", "退回", "ghost danger"], ["withdraw", "撤销申请", "ghost"]
  ];
  var THEME_DONE = { submit: "已重新提交，等待主管审批", approve: "已批准，可以发布", return: "已退回申请人",
                     publish: "已发布", complete: "主题已完成，成效评价已生成", withdraw: "申请已撤销" };
  var CUSTOMER_CLASSES = ["居民", "一般工商业", "大工业"];
  var LOSS_REASONS = { no_supply: "无总表供电量", no_sales: "无售电量", few_readings: "用户采集不完整",
                      incomplete_days: "部分日期数据不全", no_usable_days: "无可用日数据" };
  var FLAGS = { high: "高损", negative: "负损", missing: "数据缺失", normal: "正常", ok: "正常" };

  // ---------- formatting ----------

  function isNum(v) { return v !== null && v !== undefined && v !== "" && isFinite(Number(v)); }
  function num(v, digits) {
    if (!isNum(v)) return "—";
    var d = digits === undefined ? 2 : digits;
    return Number(v).toLocaleString("zh-CN", { maximumFractionDigits: d });
  }
  function fixed(v, digits) {
    if (!isNum(v)) return "—";
    return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function int(v) { return isNum(v) ? Number(v).toLocaleString("zh-CN", { maximumFractionDigits: 0 }) : "—"; }
  function pct(fraction, digits) {
    return isNum(fraction) ? fixed(Number(fraction) * 100, digits === undefined ? 1 : digits) + "%" : "—";
  }
  function yuan(v) { return isNum(v) ? fixed(v, 2) + " 元" : "—"; }
  function kwh(v) { return isNum(v) ? num(v, 1) + " 千瓦时" : "—"; }
  function hasCjk(text) { return /[\u3400-\u9fff]/.test(String(text)); }

  var dtFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
                                                 hour: "2-digit", minute: "2-digit", hour12: false });
  var partsFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
                                                    hour: "2-digit", minute: "2-digit", hour12: false });
  function parts(value) {
    var out = {};
    partsFmt.formatToParts(new Date(value)).forEach(function (p) { out[p.type] = p.value; });
    if (out.hour === "24") out.hour = "00";
    return out;
  }
  function dateTime(value) { return value ? dtFmt.format(new Date(value)) : "—"; }
  function mdhm(value) { var p = parts(value); return p.month + "-" + p.day + " " + p.hour + ":" + p.minute; }
  function md(value) { var p = parts(value); return p.month + "-" + p.day; }
  function ymd(value) { var p = parts(value); return p.year + "-" + p.month + "-" + p.day; }
  function midnight(value) { var p = parts(value); return p.hour === "00" && p.minute === "00"; }
  function today() { return ymd(Date.now()); }
  function addDays(iso, days) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }
  function dayText(iso) { return iso ? String(iso).slice(0, 10) : "—"; }
  /* An episode: one instant, whole local days, or hours. */
  function span(start, end) {
    if (!start) return "—";
    var a = new Date(start).getTime(), b = new Date(end || start).getTime();
    if (a === b) return mdhm(start);
    if (midnight(start) && midnight(end)) {
      var last = new Date(b - 1);
      return md(start) === md(last) ? md(start) : md(start) + " 至 " + md(last);
    }
    return mdhm(start) + " 至 " + mdhm(end);
  }
  function actor(name) {
    if (!name) return "—";
    if (name === "service") return "智能客服";
    var i = name.indexOf(":");
    if (i < 0) return name;
    var role = name.slice(0, i), who = name.slice(i + 1);
    if (role === "system") return "系统自动";
    if (role === "customer") return "客户来电/留言";
    return (ROLE_NAMES[role] || "") + " " + who;
  }

  // ---------- DOM helpers ----------

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }
  function td(text, className) { return node("td", className, text); }
  function tag(text, kind) { return node("span", "au-tag au-tag--" + kind, text); }
  function statusTag(status) { return tag(status || "—", "s-" + (status || "none")); }
  function clear(el) { el.textContent = ""; return el; }
  function option(select, value, label) {
    var el = document.createElement("option");
    el.value = value;
    el.textContent = label;
    select.appendChild(el);
    return el;
  }
  function figure(dl, label, value, key) {
    var wrap = node("div", "au-fig");
    if (key) wrap.setAttribute("data-key", key);
    wrap.appendChild(node("dt", null, label));
    var dd = node("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = value;
    wrap.appendChild(dd);
    dl.appendChild(wrap);
    return wrap;
  }
  function selectRow(tbody, row) {
    Array.prototype.forEach.call(tbody.querySelectorAll("tr.selected"), function (r) {
      r.classList.remove("selected");
      r.removeAttribute("aria-selected");
    });
    if (row) { row.classList.add("selected"); row.setAttribute("aria-selected", "true"); }
  }
  /* A table row that opens something: the whole row is clickable, its first cell holds a real button. */
  function clickableRow(tbody, cells, label, onOpen) {
    var tr = node("tr", "au-clickable");
    cells.forEach(function (cell, i) {
      if (i === 0) {
        var first = td();
        var button = node("button", "au-rowbtn");
        button.type = "button";
        button.setAttribute("aria-label", label);
        if (cell instanceof Node) button.appendChild(cell); else button.textContent = cell;
        first.appendChild(button);
        tr.appendChild(first);
      } else {
        tr.appendChild(asCell(cell));
      }
    });
    tr.addEventListener("click", function () { selectRow(tbody, tr); onOpen(tr); });
    tbody.appendChild(tr);
    return tr;
  }
  function asCell(content) {
    if (!(content instanceof Node)) return td(content);
    if (content.tagName === "TD") return content;
    var cell = td();
    cell.appendChild(content);
    return cell;
  }
  /* Short facts separated by dots, each kept on one line. */
  function pieces(el, texts) {
    clear(el);
    texts.filter(Boolean).forEach(function (text, i) {
      if (i) el.appendChild(node("span", "au-dot", "·"));
      el.appendChild(node("span", "au-piece", text));
    });
  }
  function twoLine(main, sub) {
    var box = node("span", "au-two");
    box.appendChild(node("span", "au-main-text", main));
    box.appendChild(node("span", "au-sub-text", sub));
    return box;
  }

  // ---------- the page ----------

  var els = {
    view: $("au-view"), login: $("login-view"), error: $("au-error"), refused: $("au-refused"), board: $("au-board")
  };
  var state = { user: null, rules: [], ruleLabels: {}, areas: [], areaNames: {}, districts: [], loaded: {},
                tab: "findings" };
  var charts = {};

  /* The API's Chinese message, never an English framework default ("Not Found"). */
  function message(result, fallback) {
    var text = ZhidianStaff.message(result, fallback);
    return hasCjk(text) ? text : fallback;
  }

  /* 401 → sign in again; 403 → the no-permission notice; else a message in `into` (or the banner). */
  function failed(result, into, fallback) {
    if (result.status === 401) { session.signOut(MSG_EXPIRED); return; }
    if (result.status === 403 && !into) { refuse(); return; }
    show(into || els.error, message(result, fallback || MSG_FAILED));
  }

  function refuse() {
    els.board.hidden = true;
    els.refused.hidden = false;
  }

  function start(user) {
    state.user = user;
    state.loaded = {};
    els.login.hidden = true;
    els.view.hidden = false;
    show(els.error, "");
    if (!user || ROLES.indexOf(user.role) < 0) { refuse(); return; }
    els.refused.hidden = true;
    api("GET", "/api/audit/rules").then(function (result) {
      if (!result.ok) { failed(result); return; }
      state.rules = result.data || [];
      state.ruleLabels = {};
      state.rules.forEach(function (r) { state.ruleLabels[r.rule] = r.label; });
      return api("GET", "/api/forecasting/targets").then(function (targets) {
        state.areas = (targets.ok && targets.data && targets.data.area) || [];
        state.areaNames = {};
        var districts = {};
        state.areas.forEach(function (a) { state.areaNames[a.key] = a.name; if (a.district) districts[a.district] = 1; });
        state.districts = Object.keys(districts).sort(function (a, b) { return a.localeCompare(b, "zh-CN"); });
        fillOptions();
        els.board.hidden = false;
        var wanted = (location.hash || "").slice(1);
        openTab(TABS[wanted] ? wanted : "findings", false);
      });
    });
  }

  function stop() {
    els.view.hidden = true;
    els.login.hidden = false;
    state.user = null;
    resetDetails();
  }

  /* Nothing of the last account stays on the page: selections and detail panels back to their hints. */
  var HINTS = {};
  ["e-sub", "c-sub", "t-d-sub", "k-d-sub", "e-title", "c-title", "t-d-title", "k-d-title"].forEach(function (id) {
    HINTS[id] = $(id).textContent;
  });
  function resetDetails() {
    findings.selected = themes.selected = tasks.selected = tasks.current = lineLoss.selected = null;
    Object.keys(HINTS).forEach(function (id) { $(id).textContent = HINTS[id]; });
    ["e-figures", "e-links", "t-d-info", "t-d-actions", "t-d-eval", "t-d-events", "k-d-info", "k-d-findings",
     "k-d-events", "k-photos", "c-rows", "f-rows", "t-rows", "k-rows", "l-rows", "s-rule-rows", "s-theme-rows"]
      .forEach(function (id) { clear($(id)); });
    ["e-chart", "e-figures-title", "c-table", "t-form", "t-return", "t-d-eval-title", "t-d-events-title",
     "k-d-findings-title", "k-result", "k-rectified", "k-review", "k-photos-box", "k-d-events-title"]
      .forEach(function (id) { $(id).hidden = true; });
    ["t-d-error", "t-d-ok", "k-d-error", "k-d-ok", "t-form-error"].forEach(function (id) { show($(id), ""); });
    $("f-scan-result").textContent = "";
    $("t-detail").hidden = false;
  }

  var session = ZhidianStaff.signIn({
    form: $("login-form"), username: $("username"), password: $("password"), error: $("login-error"),
    submit: $("login-submit"), logout: $("logout"), who: $("who"), onSignedIn: start, onSignedOut: stop
  });

  function ruleLabel(rule) { return state.ruleLabels[rule] || rule; }
  function areaText(code) { return code ? (state.areaNames[code] || code) : "—"; }

  function fillOptions() {
    var rule = $("f-rule"), district = $("f-district"), area = $("f-area");
    rule.length = 1; district.length = 1; area.length = 1;
    state.rules.forEach(function (r) { option(rule, r.rule, r.label); });
    state.districts.forEach(function (d) { option(district, d, d); });
    fillAreas();
  }

  function fillAreas() {
    var area = $("f-area"), district = $("f-district").value, keep = area.value;
    area.length = 1;
    state.areas.forEach(function (a) {
      if (!district || a.district === district) option(area, a.key, a.name + "（" + a.key + "）");
    });
    area.value = keep;
    if (area.value !== keep) area.value = "";
  }

  // ---------- tabs ----------

  var TABS = { findings: loadFindings, lineloss: loadLineLoss, themes: loadThemes, tasks: loadTasks, stats: loadStats };
  var tabButtons = Array.prototype.slice.call(document.querySelectorAll(".au-tab"));

  function openTab(name, focus) {
    state.tab = name;
    tabButtons.forEach(function (button) {
      var on = button.getAttribute("data-tab") === name;
      button.setAttribute("aria-selected", on ? "true" : "false");
      button.tabIndex = on ? 0 : -1;
      $("panel-" + button.getAttribute("data-tab")).hidden = !on;
      if (on && focus) button.focus();
    });
    if (history.replaceState) history.replaceState(null, "", "#" + name);
    TABS[name]();
    resizeCharts();
  }

  tabButtons.forEach(function (button, i) {
    button.addEventListener("click", function () { openTab(button.getAttribute("data-tab"), false); });
    button.addEventListener("keydown", function (event) {
      var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      event.preventDefault();
      var next = tabButtons[(i + step + tabButtons.length) % tabButtons.length];
      openTab(next.getAttribute("data-tab"), true);
    });
  });

  // ---------- charts ----------

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }
  function resizeCharts() {
    Object.keys(charts).forEach(function (id) {
      if ($(id).offsetWidth) charts[id].resize();
    });
  }
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(resizeCharts, 100);
  });
  function base(extra) {
    var option = {
      animation: false,
      textStyle: { fontFamily: FONT, color: C.text },
      grid: { left: 12, right: 20, top: 40, bottom: 8, containLabel: true },
      legend: { top: 0, left: "center", itemWidth: 14, itemHeight: 8, textStyle: { color: C.muted } }
    };
    Object.keys(extra).forEach(function (key) { option[key] = extra[key]; });
    return option;
  }

  // =====================================================================================
  // 稽查线索
  // =====================================================================================

  var findings = { offset: 0, total: 0, items: [], selected: null };

  function findingQuery() {
    var params = new URLSearchParams();
    [["rule", "f-rule"], ["district", "f-district"], ["area_code", "f-area"], ["severity", "f-severity"],
     ["status", "f-status"], ["account_no", "f-account"]].forEach(function (pair) {
      var value = $(pair[1]).value.trim();
      if (value) params.set(pair[0], value);
    });
    return params;
  }

  function loadFindings(keepOffset) {
    var account = $("f-account").value.trim();
    if (account && !/^\d{10}$/.test(account)) {
      show(els.error, "户号应为10位数字");
      return;
    }
    show(els.error, "");
    var params = findingQuery();
    $("f-csv").href = "/api/audit/findings.csv" + (params.toString() ? "?" + params.toString() : "");
    if (keepOffset !== true) findings.offset = 0;
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String(findings.offset));
    $("f-apply").disabled = true;
    api("GET", "/api/audit/findings?" + params.toString()).then(function (result) {
      $("f-apply").disabled = false;
      if (!result.ok) { failed(result); return; }
      findings.total = result.data.total;
      findings.items = result.data.items;
      renderFindings();
    });
  }

  function renderFindings() {
    var rows = clear($("f-rows"));
    $("f-count").textContent = "（共 " + int(findings.total) + " 条）";
    $("f-empty").hidden = findings.items.length > 0;
    findings.items.forEach(function (f) {
      var tr = clickableRow(rows, [
        twoLine(f.customer_name || "—", f.account_no),
        twoLine(areaText(f.area_code), f.district || ""),
        ruleLabel(f.rule) || f.rule_label,
        severityCell(f.severity),
        td(span(f.start, f.end), "nowrap"),
        statusCell(f.status)
      ], "查看线索证据：" + (f.customer_name || f.account_no) + " " + (f.rule_label || ""), function () { openFinding(f); });
      tr.setAttribute("data-id", String(f.id));
      tr.setAttribute("data-rule", f.rule);
      tr.setAttribute("data-account", f.account_no);
      if (findings.selected === f.id) selectRow(rows, tr);
    });
    var pages = Math.max(1, Math.ceil(findings.total / PAGE_SIZE));
    var page = Math.floor(findings.offset / PAGE_SIZE) + 1;
    $("f-page").textContent = "第 " + page + " / " + pages + " 页";
    $("f-prev").disabled = page <= 1;
    $("f-next").disabled = page >= pages;
    if (!findings.selected && findings.items.length) {
      var first = rows.querySelector("tr");
      selectRow(rows, first);
      openFinding(findings.items[0]);
    }
  }

  function severityCell(severity) {
    var cell = td();
    cell.appendChild(tag(SEVERITY[severity] || "—", "sev-" + severity));
    return cell;
  }
  function statusCell(status) {
    var cell = td();
    cell.appendChild(statusTag(status));
    return cell;
  }

  $("f-filters").addEventListener("submit", function (event) {
    event.preventDefault();
    findings.selected = null;
    loadFindings();
  });
  $("f-district").addEventListener("change", fillAreas);
  $("f-prev").addEventListener("click", function () {
    findings.offset = Math.max(0, findings.offset - PAGE_SIZE);
    loadFindings(true);
  });
  $("f-next").addEventListener("click", function () {
    findings.offset += PAGE_SIZE;
    loadFindings(true);
  });
  $("f-scan").addEventListener("click", function () {
    var button = $("f-scan"), out = $("f-scan-result");
    button.disabled = true;
    out.textContent = "正在扫描近30天的计量数据…";
    api("POST", "/api/audit/scan", { days: 30 }).then(function (result) {
      button.disabled = false;
      if (!result.ok) { out.textContent = ""; failed(result, null, "扫描失败，请稍后重试"); return; }
      var s = result.data;
      var by = Object.keys(s.by_rule || {}).map(function (r) { return ruleLabel(r) + " " + int(s.by_rule[r]); });
      out.textContent = "扫描完成：共扫描 " + int(s.customers) + " 户，发现线索 " + int(s.findings) + " 条（新增 " +
        int(s.new) + " 条），用时 " + num(s.seconds, 1) + " 秒" + (by.length ? "。" + by.join("、") : "") +
        (s.disabled && Object.keys(s.disabled).length ? "；因缺少数据未运行的规则 " + Object.keys(s.disabled).length + " 条" : "");
      findings.selected = null;
      loadFindings();
    });
  });

  // --- the evidence of one finding ---

  /* key → [label, unit or kind, digits]; kinds: pct (a fraction), times (×), bool, list, date, text. */
  var FIGURES = {
    peak_kw: ["最大负荷", "kW", 1], contract_kva: ["合同容量", "kVA", 0], contract_kw: ["合同有功容量", "kW", 1],
    limit_kw: ["超容判定限值", "kW", 1], power_factor: ["功率因数", "", 2], peak_ratio: ["超容倍数", "times"],
    hours_over: ["越限时长", "小时", 0], longest_hours: ["最长连续时长", "小时", 0],
    hours_at_high_ratio: ["严重超容时长", "小时", 0], energy_over_limit_kwh: ["超限电量", "kWh", 1],
    mode: ["判定方式", "enum"], ct_ratio: ["电流互感器变比", "ct"], ct_rated_a: ["额定二次电流", "A", 1],
    limit_a: ["二次电流过载限值", "A", 2], peak_secondary_a: ["最大二次电流", "A", 2],
    peak_primary_a: ["折算一次电流", "A", 1], hours_pinned: ["饱和削顶时长", "小时", 0],
    longest_hours_at_high_overload: ["严重过载最长连续", "小时", 0],
    pinned_level_a: ["削顶电流", "A", 2], pinned_hours: ["削顶时长", "小时", 0],
    kw_expected_at_level: ["按削顶电流折算负荷", "kW", 1], kw_observed_at_level: ["削顶时实测负荷", "kW", 1],
    phases: ["异常相别", "list"], three_phase: ["计量方式", "bool", ["三相计量", "单相计量"]],
    nominal_v: ["额定电压", "V", 1], threshold_v: ["判定阈值电压", "V", 1], min_v: ["最低电压", "V", 1],
    hours: ["异常时长", "小时", 0], events: ["电能表事件记录", "次", 0], source: ["证据来源", "enum"],
    reverse_kwh: ["反向电量", "kWh", 2], forward_kwh: ["正向电量", "kWh", 2], reverse_share: ["反向电量占比", "pct"],
    "class": ["用户类别", "text"], mean_imbalance: ["平均不平衡率", "pct"], max_imbalance: ["最大不平衡率", "pct"],
    lowest_phase: ["电流最小相", "text"], load_threshold_a: ["负荷判定电流", "A", 2],
    zero_days: ["零电量天数", "天", 0], days: ["异常天数", "天", 0], baseline_kwh_per_day: ["基线日均电量", "kWh", 2],
    threshold_kwh_per_day: ["近零判定阈值（日）", "kWh", 2], kwh_in_episode: ["异常期间累计电量", "kWh", 2],
    same_days_last_year_kwh_per_day: ["去年同期日均电量", "kWh", 2], voltage_present_share: ["有电压时段占比", "pct"],
    mean_current_a: ["平均电流", "A", 2], mean_kw: ["平均负荷", "kW", 2],
    window_kwh_per_day: ["突降期日均电量", "kWh", 2], ratio: ["突降期电量为基线的", "pct"],
    worst_ratio: ["最低时为基线的", "pct"], peer_ratio: ["同类用户同期为基线的", "pct"],
    relative_ratio: ["相对同类用户", "pct"], recovered: ["是否已恢复", "bool", ["已恢复", "未恢复"]],
    after_kwh_per_day: ["之后日均电量", "kWh", 2], before_kwh_per_day: ["此前日均电量", "kWh", 2],
    change: ["前后电量变化", "pct"],
    period_start: ["账期开始", "date"], period_end: ["账期结束", "date"], billed_kwh: ["抄表电量", "kWh", 2],
    metered_kwh: ["计量电量", "kWh", 2], metered_estimate_kwh: ["计量电量（按完整率折算）", "kWh", 2],
    coverage: ["计量数据完整率", "pct"], difference_kwh: ["电量差额", "kWh", 2], difference_pct: ["差额比例", "pct"],
    contract_power_factor: ["力率考核标准", "", 2], months: ["月度功率因数", "months"],
    score: ["窃电嫌疑评分", "", 3], rank: ["嫌疑排名", "rank"], reasons: ["主要疑点", "list"], event_times: ["事件时间", "times-list"]
  };
  /* Where one rule words a figure its own way. */
  var RULE_FIGURES = {
    over_contract_capacity: { power_factor: ["折算功率因数", "", 2] },
    low_power_factor: { power_factor: ["实际功率因数", "", 2] },
    ct_over_limit: { peak_ratio: ["最大二次电流为额定的", "times"] },
    cover_open: { before_kwh_per_day: ["开盖前日均电量", "kWh", 2], after_kwh_per_day: ["开盖后日均电量", "kWh", 2],
                  change: ["开盖前后电量变化", "pct"] }
  };
  /* The figure that says most about the rule goes first (and is emphasised). */
  var HEADLINE = {
    over_contract_capacity: ["peak_kw", "limit_kw", "contract_kva", "peak_ratio"],
    ct_over_limit: ["peak_secondary_a", "limit_a", "ct_ratio"],
    voltage_loss: ["min_v", "threshold_v", "phases"], phase_failure: ["phases", "threshold_v"],
    reverse_energy: ["reverse_kwh", "reverse_share"], current_imbalance: ["mean_imbalance", "lowest_phase"],
    zero_consumption: ["zero_days", "baseline_kwh_per_day"], sudden_drop: ["ratio", "baseline_kwh_per_day"],
    cover_open: ["events", "change"], billing_mismatch: ["difference_kwh", "difference_pct"],
    low_power_factor: ["power_factor", "contract_power_factor"], theft_score: ["score", "rank", "reasons"]
  };
  var ENUMS = {
    mode: { over_limit: "二次电流越限", saturation: "互感器饱和削顶", both: "越限并饱和削顶" },
    source: { readings: "计量数据", events: "电能表事件记录", "readings+events": "计量数据与电能表事件记录" }
  };
  var SKIP = { label: 1, series: 1, limits: 1, customers: 1 };

  function figureValue(key, spec, value, evidence) {
    var kind = spec[1];
    if (value === null || value === undefined || value === "") return null;
    if (kind === "pct") return isNum(value) ? pct(value) : null;
    if (kind === "times") return isNum(value) ? fixed(value, 2) + " 倍" : null;
    if (kind === "bool") return value ? spec[2][0] : spec[2][1];
    if (kind === "enum") return (ENUMS[key] || {})[value] || (hasCjk(value) ? String(value) : null);
    if (kind === "text") return hasCjk(value) || /^[A-C]$/.test(String(value)) ? String(value) + (key === "lowest_phase" ? "相" : "") : null;
    if (kind === "date") return dayText(String(value));
    if (kind === "list") {
      if (!Array.isArray(value) || !value.length) return null;
      return value.join(key === "phases" ? "、" : "；") + (key === "phases" ? "相" : "");
    }
    if (kind === "times-list") {
      if (!Array.isArray(value) || !value.length) return null;
      var shown = value.slice(0, 5).map(mdhm).join("、");
      return shown + (value.length > 5 ? " 等 " + int(value.length) + " 次" : "");
    }
    if (kind === "months") {
      if (!Array.isArray(value) || !value.length) return null;
      return value.map(function (m) {
        return String(m.month).replace(/^(\d{4})-(\d{2})$/, "$1年$2月") + " " + fixed(m.power_factor, 2);
      }).join("；");
    }
    if (kind === "rank") {
      if (!isNum(value)) return null;
      return "第 " + int(value) + " 名" + (isNum(evidence.customers) ? "（共 " + int(evidence.customers) + " 户）" : "");
    }
    if (kind === "ct") {
      if (!isNum(value)) return null;
      var rated = isNum(evidence.ct_rated_a) ? Number(evidence.ct_rated_a) : 5;
      return num(Number(value) * rated, 0) + "/" + num(rated, 0) + "（" + num(value, 0) + " 倍）";
    }
    if (!isNum(value)) return hasCjk(value) ? String(value) : null;
    return num(value, spec[2] === undefined ? 2 : spec[2]) + (kind ? " " + kind : "");
  }

  function keyFigures(finding) {
    var evidence = finding.evidence || {};
    var flat = {};
    Object.keys(evidence).forEach(function (key) {
      var v = evidence[key];
      if (v && typeof v === "object" && !Array.isArray(v)) {  // nested figures (CT saturation)
        Object.keys(v).forEach(function (k) { flat[k] = v[k]; });
      } else {
        flat[key] = v;
      }
    });
    var order = (HEADLINE[finding.rule] || []).filter(function (k) { return k in flat; });
    Object.keys(flat).forEach(function (k) { if (order.indexOf(k) < 0) order.push(k); });
    var out = [];
    order.forEach(function (key) {
      if (SKIP[key]) return;
      var spec = (RULE_FIGURES[finding.rule] || {})[key] || FIGURES[key];
      var text = null;
      if (spec) text = figureValue(key, spec, flat[key], evidence);
      else if (typeof flat[key] === "string" && hasCjk(flat[key])) { spec = ["说明"]; text = flat[key]; }
      if (text !== null) out.push({ key: key, label: spec[0], text: text, wide: text.length > 24,
                                    headline: (HEADLINE[finding.rule] || []).indexOf(key) >= 0 });
    });
    return out;
  }

  function openFinding(f) {
    findings.selected = f.id;
    var evidence = f.evidence || {};
    $("e-card").setAttribute("data-finding", String(f.id));
    $("e-title").textContent = (f.rule_label || ruleLabel(f.rule)) + " · " + (f.customer_name || f.account_no);
    pieces($("e-sub"), ["户号 " + f.account_no, areaText(f.area_code) + (f.district ? "（" + f.district + "）" : ""),
                        f.customer_class, "严重程度：" + (SEVERITY[f.severity] || "—"), "异常时段 " + span(f.start, f.end),
                        "发现于 " + dateTime(f.detected_at)]);
    var series = (evidence.series || []).filter(function (s) { return s.points && s.points.length; });
    $("e-chart").hidden = !series.length;
    $("e-no-series").hidden = !!series.length;
    var drawnLimits = series.length ? drawEvidence(f, series, evidence.limits || [], evidence.event_times || []) : [];
    var dl = clear($("e-figures"));
    var figures = keyFigures(f);
    figures.forEach(function (fig) {
      var row = figure(dl, fig.label, fig.text, fig.key);
      if (fig.headline) row.classList.add("headline");
      if (fig.wide) row.classList.add("full");
    });
    var labels = figures.map(function (fig) { return fig.label; });
    (evidence.limits || []).forEach(function (limit) {  // a limit not drawn on the chart is listed
      if (!isNum(limit.value) || drawnLimits.indexOf(limit.name) >= 0 || labels.indexOf(limit.name) >= 0) return;
      var rate = !limit.unit && /率/.test(limit.name) && Number(limit.value) <= 1;  // 不平衡率阈值 0.5 → 50.0%
      figure(dl, limit.name, rate ? pct(limit.value) : num(limit.value, 2) + (limit.unit ? " " + limit.unit : ""), "limit");
    });
    $("e-figures-title").hidden = !dl.firstChild;
    var links = clear($("e-links"));
    if (f.theme_number) links.appendChild(document.createTextNode("所属稽查主题 " + f.theme_number + "。"));
    if (f.task_number) {
      links.appendChild(document.createTextNode("稽查任务 "));
      var go = node("button", "au-linkbtn", f.task_number);
      go.type = "button";
      go.addEventListener("click", function () { tasks.selected = f.task_number; openTab("tasks", false); });
      links.appendChild(go);
      links.appendChild(document.createTextNode("。"));
    }
    if (isNum(f.score) && !isNum(evidence.score)) links.appendChild(document.createTextNode("嫌疑评分 " + fixed(f.score, 3) + "。"));
  }

  /* The episode spans the whole curve (a score over all the days): nothing to shade. */
  function coversAll(f, series) {
    var first = Infinity, last = -Infinity;
    series.forEach(function (s) {
      s.points.forEach(function (p) { var t = new Date(p[0]).getTime(); first = Math.min(first, t); last = Math.max(last, t); });
    });
    return new Date(f.start).getTime() <= first && new Date(f.end).getTime() >= last;
  }

  function drawEvidence(f, series, limits, events) {
    var units = [];
    series.forEach(function (s) { if (units.indexOf(s.unit || "") < 0) units.push(s.unit || ""); });
    units = units.slice(0, 2);
    var daily = series.every(function (s) { return s.points.every(function (p) { return midnight(p[0]); }); });
    var yAxes = units.map(function (unit, i) {
      return { type: "value", name: unit, scale: true, position: i ? "right" : "left",
               nameTextStyle: { color: C.muted }, axisLabel: { color: C.muted },
               splitLine: { show: i === 0, lineStyle: { color: C.line } } };
    });
    var used = {}, drawn = [];
    var out = series.map(function (s, i) {
      var axis = Math.max(0, units.indexOf(s.unit || ""));
      var item = { name: s.name + (s.unit ? "（" + s.unit + "）" : ""), type: "line", yAxisIndex: axis,
                   data: s.points.map(function (p) { return [new Date(p[0]).getTime(), p[1]]; }),
                   showSymbol: s.points.length < 40, symbolSize: 4, connectNulls: false,
                   lineStyle: { width: 1.8 }, color: SERIES_COLORS[i % SERIES_COLORS.length] };
      if (!used[axis]) {  // the limits of this unit and the episode go on the first series of the axis
        used[axis] = true;
        var lines = limits.filter(function (l) { return isNum(l.value) && (l.unit || "") === (s.unit || ""); })
          .map(function (l, k) {
            drawn.push(l.name);
            return { yAxis: Number(l.value), name: l.name,
                     lineStyle: { color: k ? C.warn : C.danger, type: "dashed", width: 1.5 },
                     label: { formatter: l.name + " " + num(l.value, 2) + (l.unit ? " " + l.unit : ""),
                              position: "insideStartTop", color: k ? C.warn : C.danger } };
          });
        if (axis === 0) {
          events.slice(0, 20).forEach(function (t) {
            lines.push({ xAxis: new Date(t).getTime(), name: "事件",
                         lineStyle: { color: C.purple, type: "dotted", width: 1.5 },
                         label: { formatter: "事件", position: "end", color: C.purple } });
          });
        }
        if (lines.length) item.markLine = { silent: true, symbol: "none", data: lines };
        if (axis === 0 && f.start && f.end && f.start !== f.end && !coversAll(f, series)) {
          item.markArea = { silent: true, itemStyle: { color: "rgba(199,57,47,.07)" },
                            label: { show: true, position: "insideBottom", color: C.danger, formatter: "异常时段" },
                            data: [[{ xAxis: new Date(f.start).getTime() }, { xAxis: new Date(f.end).getTime() }]] };
        }
      }
      return item;
    });
    chart("e-chart").setOption(base({
      color: SERIES_COLORS,
      legend: { type: "scroll", top: 0, left: "center", itemWidth: 14, itemHeight: 8, textStyle: { color: C.muted } },
      grid: { left: 12, right: units.length > 1 ? 12 : 24, top: 56, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", formatter: function (items) {
        if (!items.length) return "";
        var head = daily ? md(items[0].value[0]) : mdhm(items[0].value[0]);
        return head + items.map(function (p) {
          return "<br>" + p.marker + p.seriesName + "：" + (isNum(p.value[1]) ? num(p.value[1], 2) : "无数据");
        }).join("");
      } },
      xAxis: { type: "time", axisLabel: { color: C.muted, hideOverlap: true,
                                          formatter: function (v) {
                                            if (daily || midnight(v)) return md(v);
                                            var p = parts(v);
                                            return p.hour + ":" + p.minute;
                                          } },
               axisLine: { lineStyle: { color: C.line } }, splitLine: { show: false } },
      yAxis: yAxes,
      series: out
    }), true);
    $("e-chart").setAttribute("aria-label", "证据曲线：" + series.map(function (s) { return s.name; }).join("、") +
      (limits.length ? "；参考线：" + limits.map(function (l) { return l.name; }).join("、") : ""));
    charts["e-chart"].resize();
    return drawn;
  }

  // =====================================================================================
  // 线损分析
  // =====================================================================================

  var lineLoss = { rows: [], selected: null };

  function setDateInput() {
    var month = $("l-period").value === "month";
    var input = $("l-date");
    input.type = month ? "month" : "date";
    $("l-date-label").textContent = month ? "统计月份" : "统计日期";
    var yesterday = addDays(today(), -1);
    input.value = month ? yesterday.slice(0, 7) : yesterday;
    input.max = month ? today().slice(0, 7) : today();
  }

  function loadLineLoss() {
    if (!$("l-date").value) setDateInput();
    var level = $("l-level").value;
    var params = new URLSearchParams({ level: level, period: $("l-period").value, date: $("l-date").value });
    $("l-apply").disabled = true;
    api("GET", "/api/audit/line-loss?" + params.toString()).then(function (result) {
      $("l-apply").disabled = false;
      var off = $("l-unavailable");
      if (result.status === 404 || result.status === 405) {
        off.textContent = "线损分析服务暂未开通，请稍后再试。";
        off.hidden = false;
        $("l-board").hidden = true;
        $("l-summary").textContent = "";
        return;
      }
      if (!result.ok) { failed(result); return; }
      off.hidden = true;
      $("l-board").hidden = false;
      renderLineLoss(result.data);
    });
  }

  function renderLineLoss(data) {
    var rows = data.rows || [];  // worst first, missing data last (the API's order)
    lineLoss.rows = rows;
    var area = data.level === "area";
    var noun = area ? "台区" : "线路";
    var counts = { high: 0, negative: 0, missing: 0 };
    rows.forEach(function (r) { if (r.flag in counts) counts[r.flag] += 1; });
    $("l-summary").textContent = (data.period === "month" ? "统计月份 " : "统计日期 ") + data.date + " · " + noun +
      "高损判定线 " + pct(data.limit_rate) + " · 高损 " + counts.high + " 个，负损 " + counts.negative + " 个，数据缺失 " +
      counts.missing + " 个";
    $("l-count").textContent = "（" + int(rows.length) + " 个" + noun + "）";
    $("l-chart-title").textContent = noun + "线损率排名";
    $("l-hint").textContent = area ? "按线损率从高到低排列；点击台区查看其下客户的疑点排行。" : "按线损率从高到低排列。";
    $("c-card").hidden = !area;
    var body = clear($("l-rows"));
    $("l-empty").hidden = rows.length > 0;
    rows.forEach(function (r, i) {
      var flag = td();
      flag.appendChild(tag(FLAGS[r.flag] || "—", "flag-" + r.flag));
      var why = (r.reasons || []).map(function (x) { return LOSS_REASONS[x]; }).filter(Boolean);
      if (r.meters) why.push("采集 " + int(r.reporting) + "/" + int(r.meters) + " 户");
      if (r.flag !== "normal" && why.length) flag.appendChild(node("span", "au-sub-text au-why", why.join("；")));
      var cells = [String(i + 1), twoLine(r.name || r.code, r.code), r.district || "—",
                   td(num(r.supplied_kwh, 1), "num"), td(num(r.sold_kwh, 1), "num"), td(num(r.loss_kwh, 1), "num"),
                   td(pct(r.loss_rate, 2), "num" + (r.flag === "high" ? " bad" : r.flag === "negative" ? " warn" : "")),
                   td(isNum(r.power_factor) ? fixed(r.power_factor, 2) : "—", "num"), flag];
      var tr;
      if (area) {
        tr = clickableRow(body, cells, "查看" + (r.name || r.code) + "的客户疑点排行", function () { openArea(r); });
      } else {
        tr = node("tr");
        cells.forEach(function (c) { tr.appendChild(asCell(c)); });
        body.appendChild(tr);
      }
      tr.setAttribute("data-code", r.code);
      tr.setAttribute("data-flag", r.flag);
    });
    drawLineLoss(rows, data.limit_rate, noun);
  }


  function drawLineLoss(rows, limit, noun) {
    var top = rows.filter(function (r) { return isNum(r.loss_rate); }).slice(0, 20);
    var colors = { high: C.danger, negative: C.warn, missing: C.grey };
    chart("l-chart").setOption(base({
      legend: { show: false },
      grid: { left: 12, right: 24, top: 28, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (items) {
        var r = top[items[0].dataIndex];
        return (r.name || r.code) + "（" + (FLAGS[r.flag] || "") + "）<br>线损率 " + pct(r.loss_rate, 2) + "<br>供电量 " +
          num(r.supplied_kwh, 1) + " 千瓦时<br>售电量 " + num(r.sold_kwh, 1) + " 千瓦时";
      } },
      xAxis: { type: "category", data: top.map(function (r) { return r.name || r.code; }),
               axisLabel: { color: C.muted, interval: 0, rotate: top.length > 8 ? 30 : 0,
                            formatter: function (v) { return v.length > 8 ? v.slice(0, 7) + "…" : v; } },
               axisTick: { show: false }, axisLine: { lineStyle: { color: C.line } } },
      yAxis: { type: "value", name: "线损率 %", nameTextStyle: { color: C.muted }, axisLabel: { color: C.muted },
               splitLine: { lineStyle: { color: C.line } } },
      series: [{ type: "bar", name: "线损率", barMaxWidth: 28,
                 data: top.map(function (r) {
                   return { value: Number((Number(r.loss_rate) * 100).toFixed(2)),
                            itemStyle: { color: colors[r.flag] || C.brand } };
                 }),
                 markLine: isNum(limit) ? { silent: true, symbol: "none",
                   lineStyle: { color: C.danger, type: "dashed" },
                   label: { formatter: noun + "高损线 " + pct(limit), color: C.danger, position: "insideEndTop" },
                   data: [{ yAxis: Number((Number(limit) * 100).toFixed(2)) }] } : undefined }]
    }), true);
  }

  function openArea(r) {
    lineLoss.selected = r.code;
    $("c-title").textContent = (r.name || r.code) + " · 客户疑点排行";
    $("c-sub").textContent = "线损率 " + pct(r.loss_rate, 2) + "（" + (FLAGS[r.flag] || "—") + "）；按异常证据从多到少排列，" +
      "可据此确定现场核查对象。";
    $("c-card").setAttribute("data-area", r.code);
    var body = clear($("c-rows"));
    $("c-table").hidden = true;
    api("GET", "/api/audit/line-loss/areas/" + encodeURIComponent(r.code) + "/customers").then(function (result) {
      if (!result.ok) { failed(result, $("c-sub"), "客户排行加载失败，请稍后重试"); $("c-sub").hidden = false; return; }
      var customers = result.data || [];
      $("c-table").hidden = !customers.length;
      if (!customers.length) $("c-sub").textContent = "该台区客户暂无异常证据。";
      customers.forEach(function (c) {
        var tr = node("tr");
        tr.setAttribute("data-account", c.account_no);
        tr.appendChild(td(c.account_no));
        tr.appendChild(td(c.name || "—"));
        tr.appendChild(td(c.customer_class || "—"));
        tr.appendChild(td(num(c.evidence_score, 2), "num"));
        tr.appendChild(td((c.rules || []).map(ruleLabel).join("、") || "—"));
        body.appendChild(tr);
      });
    });
  }

  $("l-filters").addEventListener("submit", function (event) { event.preventDefault(); loadLineLoss(); });
  $("l-period").addEventListener("change", function () { setDateInput(); loadLineLoss(); });
  $("l-level").addEventListener("change", loadLineLoss);

  // =====================================================================================
  // 稽查主题
  // =====================================================================================

  var themes = { items: [], selected: null };

  /* The list, then the selected theme again; `then` runs once both are on the page. */
  function loadThemes(then) {
    api("GET", "/api/audit/themes").then(function (result) {
      if (!result.ok) { failed(result); return; }
      themes.items = result.data || [];
      fillThemeSelect();
      return renderThemes().then(function () { if (typeof then === "function") then(); });
    });
  }

  function renderThemes() {
    var body = clear($("t-rows"));
    $("t-count").textContent = themes.items.length ? "（" + themes.items.length + " 个）" : "";
    $("t-empty").hidden = themes.items.length > 0;
    themes.items.forEach(function (t) {
      var tr = clickableRow(body, [
        t.number, t.title, statusCell(t.status), td(actor(t.applicant), "nowrap"),
        td(t.period_start.slice(5) + " 至 " + t.period_end.slice(5), "nowrap"),
        td(int(t.findings), "num"), td(int(t.tasks_done) + " / " + int(t.tasks), "num")
      ], "查看稽查主题 " + t.title, function () { openTheme(t.number, false); });
      tr.setAttribute("data-theme", t.number);
      if (themes.selected === t.number) selectRow(body, tr);
    });
    return themes.selected ? openTheme(themes.selected, true) : Promise.resolve();
  }

  function fillThemeSelect() {
    var select = $("k-theme"), keep = select.value;
    select.length = 1;
    themes.items.forEach(function (t) {
      if (t.tasks || t.status === "已发布" || t.status === "已完成") option(select, t.number, t.number + " " + t.title);
    });
    select.value = keep;
    if (select.value !== keep) select.value = "";
  }

  /* Show one theme; `quiet` keeps the last message (a reload after an action). */
  function openTheme(number, quiet) {
    themes.selected = number;
    $("t-form").hidden = true;
    $("t-detail").hidden = false;
    if (!quiet) { show($("t-d-error"), ""); show($("t-d-ok"), ""); }
    return api("GET", "/api/audit/themes/" + encodeURIComponent(number)).then(function (result) {
      if (!result.ok) { failed(result, $("t-d-error"), "主题加载失败，请稍后重试"); return; }
      renderTheme(result.data);
    });
  }

  function renderTheme(t) {
    $("t-detail").setAttribute("data-theme", t.number);
    $("t-d-title").textContent = t.title;
    var sub = clear($("t-d-sub"));
    sub.appendChild(document.createTextNode(t.number + " · "));
    sub.appendChild(statusTag(t.status));
    var info = clear($("t-d-info"));
    figure(info, "稽查规则", t.rules.map(ruleLabel).join("、") || "—");
    figure(info, "区县", t.districts.join("、") || "全部区县");
    figure(info, "台区", t.area_codes.map(areaText).join("、") || "全部台区");
    figure(info, "用户类别", t.customer_classes.join("、") || "全部类别");
    figure(info, "稽查周期", dayText(t.period_start) + " 至 " + dayText(t.period_end));
    figure(info, "申请人", actor(t.applicant) + " · " + dateTime(t.created_at));
    if (t.approver) figure(info, "审批人", actor(t.approver));
    figure(info, "派查线索 / 稽查任务", int(t.findings) + " 条 / " + int(t.tasks) + " 张（已完成 " + int(t.tasks_done) + " 张）");
    if (t.description) figure(info, "稽查说明", t.description).classList.add("full");
    if (t.return_reason && t.status === "已退回") figure(info, "退回原因", t.return_reason).classList.add("full", "bad");
    var actions = clear($("t-d-actions"));
    $("t-return").hidden = true;
    THEME_ACTIONS.forEach(function (spec) {
      if ((t.allowed_actions || []).indexOf(spec[0]) < 0) return;
      var button = node("button", spec[2], spec[1]);
      button.type = "button";
      button.setAttribute("data-action", spec[0]);
      button.addEventListener("click", function () {
        if (spec[0] === "return") {
          $("t-return").hidden = false;
          $("t-return-note").focus();
          return;
        }
        transition(t.number, spec[0], "");
      });
      actions.appendChild(button);
    });
    if (!actions.firstChild) actions.appendChild(node("span", "hint", t.status === "待审批" ?
      "等待班长/主管审批。" : t.status === "已批准" ? "等待班长/主管发布。" : "当前没有您可办理的操作。"));
    var ev = clear($("t-d-eval"));
    $("t-d-eval-title").hidden = !t.evaluation;
    if (t.evaluation) evaluationFigures(ev, t.evaluation);
    var list = clear($("t-d-events"));
    $("t-d-events-title").hidden = !(t.events && t.events.length);
    (t.events || []).forEach(function (e) { list.appendChild(eventItem(e)); });
  }

  function evaluationFigures(dl, e) {
    figure(dl, "任务数", int(e.tasks) + " 张");
    figure(dl, "已核查", int(e.checked) + " 张");
    figure(dl, "查实", int(e.hits) + " 张");
    figure(dl, "查实率", pct(e.hit_rate));
    figure(dl, "追补电量", kwh(e.recovered_kwh));
    figure(dl, "追补电费", yuan(e.recovered_fee_yuan));
    figure(dl, "平均核查用时", isNum(e.mean_days_to_result) ? num(e.mean_days_to_result, 1) + " 天" : "—");
    var outcomes = e.outcomes || {};
    var text = Object.keys(outcomes).map(function (k) { return k + " " + outcomes[k]; }).join("、");
    if (text) figure(dl, "核查结论", text);
  }

  function eventItem(e) {
    var li = node("li");
    li.appendChild(node("span", "au-when", dateTime(e.at)));
    li.appendChild(node("strong", null, e.action));
    li.appendChild(node("span", "au-who", actor(e.actor)));
    if (e.note) li.appendChild(node("span", "au-note-text", e.note));
    return li;
  }

  function transition(number, action, note) {
    var buttons = $("t-detail").querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    show($("t-d-error"), "");
    show($("t-d-ok"), "");
    api("POST", "/api/audit/themes/" + encodeURIComponent(number) + "/transitions", { action: action, note: note })
      .then(function (result) {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        if (!result.ok) { failed(result, $("t-d-error"), "操作失败，请稍后重试"); return; }
        var t = result.data;
        themes.selected = t.number;
        loadThemes(function () {
          show($("t-d-ok"), THEME_DONE[action] + (action === "publish" ? "，已生成稽查任务 " + int(t.tasks) + " 张" : "") + "。");
        });
        state.loaded.tasks = false;
        state.loaded.stats = false;
      });
  }

  $("t-return").addEventListener("submit", function (event) {
    event.preventDefault();
    var note = $("t-return-note").value.trim();
    if (!note) { show($("t-d-error"), "退回时请写明原因"); $("t-return-note").focus(); return; }
    transition(themes.selected, "return", note);
    $("t-return-note").value = "";
  });
  $("t-return-cancel").addEventListener("click", function () { $("t-return").hidden = true; });

  // --- the application form ---

  function checks(box, name, items) {
    Array.prototype.slice.call(box.querySelectorAll(".au-check")).forEach(function (el) { el.remove(); });
    items.forEach(function (item, i) {
      var id = "t-" + name + "-" + i;
      var label = node("label", "au-check");
      label.setAttribute("for", id);
      var input = node("input");
      input.type = "checkbox";
      input.id = id;
      input.name = name;
      input.value = item[0];
      label.appendChild(input);
      label.appendChild(document.createTextNode(item[1]));
      box.appendChild(label);
    });
  }
  function checked(box) {
    return Array.prototype.map.call(box.querySelectorAll("input:checked"), function (i) { return i.value; });
  }
  function fillFormAreas() {
    var districts = checked($("t-districts"));
    var select = $("t-areas");
    var keep = Array.prototype.map.call(select.selectedOptions, function (o) { return o.value; });
    select.length = 0;
    state.areas.forEach(function (a) {
      if (districts.length && districts.indexOf(a.district) < 0) return;
      var o = option(select, a.key, a.name + "（" + a.district + "）");
      o.selected = keep.indexOf(a.key) >= 0;
    });
  }

  $("t-new").addEventListener("click", function () {
    var form = $("t-form");
    form.reset();
    checks($("t-rules"), "rule", state.rules.filter(function (r) { return r.rule !== "customer_report"; })
      .map(function (r) { return [r.rule, r.label]; }));
    checks($("t-districts"), "district", state.districts.map(function (d) { return [d, d]; }));
    checks($("t-classes"), "class", CUSTOMER_CLASSES.map(function (c) { return [c, c]; }));
    fillFormAreas();
    $("t-start").value = addDays(today(), -30);
    $("t-end").value = today();
    show($("t-form-error"), "");
    form.hidden = false;
    $("t-detail").hidden = true;
    $("t-title").focus();
  });
  $("t-districts").addEventListener("change", fillFormAreas);
  $("t-cancel").addEventListener("click", function () { $("t-form").hidden = true; $("t-detail").hidden = false; });

  $("t-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var error = $("t-form-error");
    var body = {
      title: $("t-title").value.trim(), description: $("t-desc").value.trim(), rules: checked($("t-rules")),
      districts: checked($("t-districts")),
      area_codes: Array.prototype.map.call($("t-areas").selectedOptions, function (o) { return o.value; }),
      customer_classes: checked($("t-classes")), period_start: $("t-start").value, period_end: $("t-end").value
    };
    if (body.title.length < 2) { show(error, "请填写主题名称（至少2个字）"); $("t-title").focus(); return; }
    if (!body.rules.length) { show(error, "请至少选择一项稽查规则"); return; }
    if (!body.period_start || !body.period_end) { show(error, "请选择稽查周期"); return; }
    if (body.period_end < body.period_start) { show(error, "稽查周期结束日期不能早于开始日期"); return; }
    show(error, "");
    $("t-submit").disabled = true;
    api("POST", "/api/audit/themes", body).then(function (result) {
      $("t-submit").disabled = false;
      if (!result.ok) { failed(result, error, result.status === 422 ? "申请内容有误，请检查后重新提交" : "提交失败，请稍后重试"); return; }
      $("t-form").hidden = true;
      themes.selected = result.data.number;
      loadThemes(function () { show($("t-d-ok"), "稽查主题申请已提交，等待班长/主管审批。"); });
    });
  });

  // =====================================================================================
  // 稽查任务
  // =====================================================================================

  var tasks = { items: [], selected: null, current: null };

  function loadTasks() {
    if (!themes.items.length) loadThemesQuietly();
    var params = new URLSearchParams();
    if ($("k-status").value) params.set("status", $("k-status").value);
    if ($("k-theme").value) params.set("theme", $("k-theme").value);
    api("GET", "/api/audit/tasks" + (params.toString() ? "?" + params.toString() : "")).then(function (result) {
      if (!result.ok) { failed(result); return; }
      tasks.items = result.data || [];
      renderTasks();
    });
  }

  function loadThemesQuietly() {
    api("GET", "/api/audit/themes").then(function (result) {
      if (!result.ok) return;
      themes.items = result.data || [];
      fillThemeSelect();
    });
  }

  function ageText(days) {
    if (!isNum(days)) return "—";
    if (days * 24 < 1) return "不足1小时";
    return days < 1 ? num(days * 24, 0) + " 小时" : num(days, 1) + " 天";
  }

  function renderTasks() {
    var body = clear($("k-rows"));
    $("k-count").textContent = "（" + int(tasks.items.length) + " 张）";
    $("k-empty").hidden = tasks.items.length > 0;
    tasks.items.forEach(function (t) {
      var tr = clickableRow(body, [
        t.ticket_number,
        twoLine(t.customer_name || "—", t.account_no || "举报线索"),
        t.theme_number ? twoLine(SOURCES[t.source] || "稽查主题", t.theme_number) : (SOURCES[t.source] || "—"),
        statusCell(t.status), t.ticket_status || "—", td(ageText(t.age_days), "num"), t.outcome || "—"
      ], "查看稽查任务 " + t.ticket_number, function () { openTask(t.ticket_number, false); });
      tr.setAttribute("data-task", t.ticket_number);
      tr.setAttribute("data-account", t.account_no || "");
      if (tasks.selected === t.ticket_number) selectRow(body, tr);
    });
    if (tasks.selected) openTask(tasks.selected, true);
  }

  /* Show one task; `quiet` keeps the last message (a reload after an action). */
  function openTask(number, quiet) {
    tasks.selected = number;
    if (!quiet) { show($("k-d-error"), ""); show($("k-d-ok"), ""); }
    api("GET", "/api/audit/tasks/" + encodeURIComponent(number)).then(function (result) {
      if (!result.ok) { failed(result, $("k-d-error"), "任务加载失败，请稍后重试"); return; }
      renderTask(result.data);
    });
  }

  function renderTask(t) {
    var same = tasks.current && tasks.current.ticket_number === t.ticket_number;
    tasks.current = t;
    show($("k-d-error"), "");
    $("k-detail").setAttribute("data-task", t.ticket_number);
    $("k-detail").setAttribute("data-status", t.status);
    $("k-d-title").textContent = "稽查任务 " + t.ticket_number;
    var sub = clear($("k-d-sub"));
    sub.appendChild(statusTag(t.status));
    sub.appendChild(document.createTextNode(" " + (t.customer_name || "") + (t.account_no ? "（户号 " + t.account_no + "）" : "") +
      " · 已历时 " + ageText(t.age_days)));
    var info = clear($("k-d-info"));
    figure(info, "任务来源", (SOURCES[t.source] || "—") + (t.theme_number ? " " + t.theme_number : ""));
    figure(info, "工单状态", (t.ticket_status || "—") + (t.crew_id ? " · 班组 " + t.crew_id : " · 尚未派单"));
    figure(info, "立案时间", dateTime(t.created_at));
    if (t.outcome) {
      figure(info, "核查结论", t.outcome, "outcome").classList.add(t.outcome === "误报" ? "muted" : "bad");
      figure(info, "追补电量", kwh(t.recovered_kwh));
      figure(info, "追补电费", yuan(t.recovered_fee_yuan));
      figure(info, "核查人", actor(t.result_by) + " · " + dateTime(t.result_at));
      if (t.rectify_by) figure(info, "整改期限", dayText(t.rectify_by));
      if (t.rectified_at) figure(info, "整改完成", dateTime(t.rectified_at));
      if (t.notes) figure(info, "现场情况", t.notes).classList.add("full");
    }
    if (t.reviewed_by) {
      figure(info, "复核", actor(t.reviewed_by) + " · " + dateTime(t.reviewed_at) + (t.review_note ? " · " + t.review_note : ""))
        .classList.add("full");
    }
    var list = clear($("k-d-findings"));
    $("k-d-findings-title").hidden = !t.findings.length;
    t.findings.forEach(function (f) {
      var li = node("li");
      var head = node("div", "au-finding-head");
      head.appendChild(tag(SEVERITY[f.severity] || "—", "sev-" + f.severity));
      head.appendChild(node("strong", null, f.rule_label || ruleLabel(f.rule)));
      head.appendChild(node("span", "au-when", span(f.start, f.end)));
      head.appendChild(statusTag(f.status));
      li.appendChild(head);
      var figs = keyFigures(f).slice(0, 4).map(function (x) { return x.label + " " + x.text; }).join("；");
      if (figs) li.appendChild(node("p", "au-finding-figs", figs));
      var go = node("button", "au-linkbtn", "查看证据曲线");
      go.type = "button";
      go.addEventListener("click", function () { showFindingEvidence(f); });
      li.appendChild(go);
      list.appendChild(li);
    });
    $("k-result").hidden = t.status !== "待核查";
    if (!same) { $("k-result").reset(); $("k-rectified").reset(); $("k-review").reset(); }
    $("k-rectified").hidden = t.status !== "待整改";
    $("k-review").hidden = t.status !== "待复核";
    var box = $("k-photos-box");
    box.hidden = false;
    var photos = clear($("k-photos"));
    $("k-photo-count").textContent = t.photos.length ? "（" + t.photos.length + " 张）" : "";
    if (!t.photos.length) photos.appendChild(node("p", "hint", "还没有现场照片。"));
    t.photos.forEach(function (id, i) {
      var src = "/api/audit/tasks/" + encodeURIComponent(t.ticket_number) + "/photos/" + id;
      var a = node("a", "au-thumb");
      a.href = src;
      a.target = "_blank";
      a.rel = "noopener";
      var img = node("img");
      img.src = src;
      img.alt = "现场照片 " + (i + 1);
      img.loading = "lazy";
      a.appendChild(img);
      photos.appendChild(a);
    });
    var events = clear($("k-d-events"));
    $("k-d-events-title").hidden = !(t.events && t.events.length);
    (t.events || []).slice().reverse().forEach(function (e) {
      events.appendChild(eventItem(e.action === "上传照片" ? { at: e.at, actor: e.actor, action: e.action, note: "" } : e));
    });
  }

  function showFindingEvidence(f) {
    findings.selected = f.id;
    openTab("findings", false);
    openFinding(f);
  }

  function taskDone(result, text) {
    if (!result.ok) { failed(result, $("k-d-error"), "提交失败，请稍后重试"); return false; }
    renderTask(result.data);
    show($("k-d-ok"), text);
    state.loaded.stats = false;
    var params = new URLSearchParams();
    if ($("k-status").value) params.set("status", $("k-status").value);
    if ($("k-theme").value) params.set("theme", $("k-theme").value);
    api("GET", "/api/audit/tasks" + (params.toString() ? "?" + params.toString() : "")).then(function (r) {
      if (!r.ok) return;
      tasks.items = r.data || [];
      var keep = tasks.selected;
      tasks.selected = null;  // do not reopen the task (the message stays)
      renderTasks();
      tasks.selected = keep;
      var row = $("k-rows").querySelector('tr[data-task="' + keep + '"]');
      if (row) selectRow($("k-rows"), row);
    });
    return true;
  }

  $("k-filters").addEventListener("submit", function (event) { event.preventDefault(); loadTasks(); });

  $("k-result").addEventListener("submit", function (event) {
    event.preventDefault();
    var t = tasks.current;
    var outcome = $("k-outcome").value;
    if (!outcome) { show($("k-d-error"), "请选择核查结论"); $("k-outcome").focus(); return; }
    var kwhValue = $("k-kwh").value || "0", fee = $("k-fee").value || "0", days = $("k-rectify").value || "15";
    if (!(Number(kwhValue) >= 0) || !(Number(fee) >= 0)) { show($("k-d-error"), "追补电量和电费不能为负数"); return; }
    if (!/^\d+$/.test(days) || Number(days) < 1 || Number(days) > 180) {
      show($("k-d-error"), "整改期限应为1至180天"); return;
    }
    show($("k-d-error"), "");
    show($("k-d-ok"), "");
    $("k-result-submit").disabled = true;
    api("POST", "/api/audit/tasks/" + encodeURIComponent(t.ticket_number) + "/result", {
      outcome: outcome, notes: $("k-notes").value.trim(), recovered_kwh: Number(Number(kwhValue).toFixed(1)),
      recovered_fee_yuan: Number(Number(fee).toFixed(2)), rectify_days: Number(days)
    }).then(function (result) {
      $("k-result-submit").disabled = false;
      taskDone(result, outcome === "误报" ? "核查结果已提交（误报），等待复核。" :
        "核查结果已提交，任务转入待整改" + (result.ok && result.data.rectify_by ? "，整改期限至 " + dayText(result.data.rectify_by) : "") + "。");
    });
  });

  $("k-rectified").addEventListener("submit", function (event) {
    event.preventDefault();
    var t = tasks.current;
    $("k-rectified-ok").disabled = true;
    api("POST", "/api/audit/tasks/" + encodeURIComponent(t.ticket_number) + "/rectified",
        { note: $("k-rectified-note").value.trim() }).then(function (result) {
      $("k-rectified-ok").disabled = false;
      if (taskDone(result, "已确认整改完成，等待复核。")) $("k-rectified-note").value = "";
    });
  });

  function review(accept) {
    var t = tasks.current;
    var note = $("k-review-note").value.trim();
    if (!accept && !note) { show($("k-d-error"), "复核退回时请写明原因"); $("k-review-note").focus(); return; }
    $("k-review-ok").disabled = $("k-review-back").disabled = true;
    api("POST", "/api/audit/tasks/" + encodeURIComponent(t.ticket_number) + "/review", { accept: accept, note: note })
      .then(function (result) {
        $("k-review-ok").disabled = $("k-review-back").disabled = false;
        if (taskDone(result, accept ? "复核通过，任务已完成。" : "已退回重新办理。")) $("k-review-note").value = "";
      });
  }
  $("k-review-ok").addEventListener("click", function () { review(true); });
  $("k-review-back").addEventListener("click", function () { review(false); });

  $("k-photo").addEventListener("change", function () {
    var input = $("k-photo"), file = input.files && input.files[0], t = tasks.current;
    if (!file || !t) return;
    if (!/^image\/(jpeg|png)$/.test(file.type)) { show($("k-d-error"), "只能上传 JPEG 或 PNG 格式的照片"); input.value = ""; return; }
    if (file.size > 5 * 1024 * 1024) { show($("k-d-error"), "照片不能超过 5 MB"); input.value = ""; return; }
    var data = new FormData();
    data.append("photo", file, file.name);
    $("k-photo-hint").textContent = "正在上传…";
    fetch("/api/audit/tasks/" + encodeURIComponent(t.ticket_number) + "/photos",
          { method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { ok: response.ok, status: response.status, data: body };
        });
      }, function () { return { ok: false, status: 0, data: null }; })
      .then(function (result) {
        input.value = "";
        $("k-photo-hint").textContent = "支持 JPEG、PNG，单张不超过 5 MB";
        if (!result.ok) { failed(result, $("k-d-error"), "照片上传失败，请稍后重试"); return; }
        show($("k-d-error"), "");
        show($("k-d-ok"), "照片已上传。");
        openTask(t.ticket_number, true);
      });
  });

  // =====================================================================================
  // 稽查成效
  // =====================================================================================

  function loadStats() {
    api("GET", "/api/audit/stats").then(function (result) {
      if (!result.ok) { failed(result); return; }
      renderStats(result.data);
    });
    api("GET", "/api/audit/themes").then(function (result) {
      if (!result.ok) return;
      themes.items = result.data || [];
      renderThemeEvaluations();
    });
  }

  function renderStats(s) {
    var checkedAll = 0, confirmedAll = 0;
    s.rules.forEach(function (r) { checkedAll += r.checked; confirmedAll += r.confirmed; });
    var kpis = clear($("s-kpis"));
    [["在办任务", int(s.tasks_open) + " 张", "待核查、待整改、待复核", s.tasks_open ? "warn" : ""],
     ["已办结任务", int(s.tasks_done) + " 张", "复核通过", ""],
     ["线索查实率", checkedAll ? pct(confirmedAll / checkedAll) : "—",
      "查实 " + int(confirmedAll) + " 条 / 已核查 " + int(checkedAll) + " 条", ""],
     ["追补电量", num(s.recovered_kwh, 1) + " 千瓦时", "已录入结果的任务合计", ""],
     ["追补电费", fixed(s.recovered_fee_yuan, 2) + " 元", "含违约使用电费", ""]
    ].forEach(function (k, i) {
      var tile = node("div", "au-kpi" + (k[3] ? " au-kpi--" + k[3] : ""));
      tile.setAttribute("data-kpi", ["open", "done", "precision", "kwh", "fee"][i]);
      tile.appendChild(node("span", "au-kpi-label", k[0]));
      tile.appendChild(node("strong", "au-kpi-value", k[1]));
      tile.appendChild(node("span", "au-kpi-note", k[2]));
      kpis.appendChild(tile);
    });
    var body = clear($("s-rule-rows"));
    var shown = s.rules.filter(function (r) { return r.findings > 0; });
    (shown.length ? shown : s.rules).forEach(function (r) {
      var tr = node("tr");
      tr.setAttribute("data-rule", r.rule);
      tr.appendChild(td(r.rule_label));
      tr.appendChild(td(int(r.findings), "num"));
      tr.appendChild(td(int(r.open), "num"));
      tr.appendChild(td(int(r.checked), "num"));
      tr.appendChild(td(int(r.confirmed), "num"));
      tr.appendChild(td(int(r.false_positive), "num"));
      var p = td(r.precision === null ? "未核查" : pct(r.precision), "num precision" + (r.precision === null ? " none" : ""));
      tr.appendChild(p);
      body.appendChild(tr);
    });
    drawRules(shown);
    drawAgeing(s.ageing || {});
    drawOutcomes(s.outcomes || {});
    renderMonths(s.months || []);
  }

  /* The periodic evaluation: the last six months, newest first. */
  function renderMonths(months) {
    var body = clear($("s-month-rows"));
    months.slice().reverse().forEach(function (m) {
      var tr = node("tr");
      tr.setAttribute("data-month", m.month);
      tr.appendChild(td(m.month.replace("-", "年") + "月"));
      tr.appendChild(td(int(m.tasks_opened), "num"));
      tr.appendChild(td(int(m.checked), "num"));
      tr.appendChild(td(int(m.hits), "num"));
      tr.appendChild(td(int(m.false_positive), "num"));
      tr.appendChild(td(m.checked ? pct(m.hit_rate) : "—", "num"));
      tr.appendChild(td(m.checked ? kwh(m.recovered_kwh) : "—", "num"));
      tr.appendChild(td(m.checked ? yuan(m.recovered_fee_yuan) : "—", "num"));
      tr.appendChild(td(isNum(m.mean_days_to_result) ? num(m.mean_days_to_result, 1) + " 天" : "—", "num"));
      tr.appendChild(td(int(m.closed), "num"));
      tr.appendChild(td(int(m.still_open), "num" + (m.still_open ? " warn" : "")));
      body.appendChild(tr);
    });
  }

  /* An axis label over two lines when long (稽查规则 names run to 11 characters). */
  function wrapLabel(v) {
    if (v.length <= 6) return v;
    var half = Math.ceil(v.length / 2);
    return v.slice(0, half) + "\n" + v.slice(half);
  }

  function drawRules(rules) {
    chart("s-rules-chart").setOption(base({
      color: [C.danger, C.grey, C.brand3],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 12, right: 16, top: 56, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: rules.map(function (r) { return r.rule_label; }),
               axisLabel: { color: C.muted, interval: 0, lineHeight: 14, formatter: wrapLabel },
               axisTick: { show: false }, axisLine: { lineStyle: { color: C.line } } },
      yAxis: [{ type: "value", name: "线索数", minInterval: 1, nameTextStyle: { color: C.muted },
                axisLabel: { color: C.muted }, splitLine: { lineStyle: { color: C.line } } },
              { type: "value", name: "查实率 %", min: 0, max: 100, nameTextStyle: { color: C.muted },
                axisLabel: { color: C.muted }, splitLine: { show: false } }],
      series: [
        { type: "bar", name: "查实", stack: "n", barMaxWidth: 26, data: rules.map(function (r) { return r.confirmed; }) },
        { type: "bar", name: "误报", stack: "n", barMaxWidth: 26, data: rules.map(function (r) { return r.false_positive; }) },
        { type: "bar", name: "待核查", stack: "n", barMaxWidth: 26, data: rules.map(function (r) { return r.open; }) },
        { type: "line", name: "查实率", yAxisIndex: 1, color: C.brand, symbolSize: 7, connectNulls: false,
          data: rules.map(function (r) { return r.precision === null ? null : Number((r.precision * 100).toFixed(1)); }),
          label: { show: true, position: "top", color: C.brand, formatter: function (p) { return p.value + "%"; } } }
      ]
    }), true);
  }

  function drawAgeing(ageing) {
    var bands = Object.keys(ageing);
    chart("s-ageing-chart").setOption(base({
      legend: { show: false },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 12, right: 16, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: bands, axisTick: { show: false }, axisLabel: { color: C.muted, interval: 0 },
               axisLine: { lineStyle: { color: C.line } } },
      yAxis: { type: "value", name: "任务数", minInterval: 1, nameTextStyle: { color: C.muted },
               axisLabel: { color: C.muted }, splitLine: { lineStyle: { color: C.line } } },
      series: [{ type: "bar", name: "在办任务", barMaxWidth: 36,
                 label: { show: true, position: "top", color: C.muted },
                 data: bands.map(function (b, i) {
                   return { value: ageing[b], itemStyle: { color: i >= 3 ? C.danger : i === 2 ? C.warn : C.brand } };
                 }) }]
    }), true);
  }

  function drawOutcomes(outcomes) {
    var names = Object.keys(outcomes);
    $("s-outcomes-empty").hidden = names.length > 0;
    $("s-outcomes-chart").hidden = !names.length;
    if (!names.length) return;
    var colors = { "私自增容": C.danger, "窃电": "#8b1e16", "违约用电": C.warn, "计量故障": C.blue, "误报": C.grey };
    chart("s-outcomes-chart").setOption(base({
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + int(p.value) + " 张（" + p.percent.toFixed(1) + "%）"; } },
      legend: { orient: "vertical", right: 8, top: "middle", textStyle: { color: C.muted } },
      series: [{ type: "pie", radius: ["40%", "68%"], center: ["38%", "52%"],
                 label: { formatter: function (p) { return p.name + " " + p.value; }, color: C.text },
                 itemStyle: { borderColor: "#fff", borderWidth: 2 },
                 data: names.map(function (n) { return { name: n, value: outcomes[n], itemStyle: { color: colors[n] || C.brand } }; }) }]
    }), true);
    charts["s-outcomes-chart"].resize();
  }

  function renderThemeEvaluations() {
    var body = clear($("s-theme-rows"));
    var list = themes.items.filter(function (t) { return t.status === "已发布" || t.status === "已完成"; });
    $("s-themes-empty").hidden = list.length > 0;
    list.forEach(function (t) {
      var e = t.evaluation;
      var tr = node("tr");
      tr.setAttribute("data-theme", t.number);
      var name = td();
      name.appendChild(twoLine(t.title, t.number));
      tr.appendChild(name);
      tr.appendChild(statusCell(t.status));
      tr.appendChild(td(int(e ? e.tasks : t.tasks), "num"));
      tr.appendChild(td(e ? int(e.checked) : "—", "num"));
      tr.appendChild(td(e ? int(e.hits) : "—", "num"));
      tr.appendChild(td(e ? pct(e.hit_rate) : "办结后评价", "num"));
      tr.appendChild(td(e ? kwh(e.recovered_kwh) : "—", "num"));
      tr.appendChild(td(e ? yuan(e.recovered_fee_yuan) : "—", "num"));
      tr.appendChild(td(e && isNum(e.mean_days_to_result) ? num(e.mean_days_to_result, 1) + " 天" : "—", "num"));
      body.appendChild(tr);
    });
  }

  session.start();
})();
