/* 智电 staff pages — what the crew page, the agent console and the supervisor dashboard share:
 * HTTP with the session cookie, Chinese error text, and the sign-in form.
 *
 * POST /api/staff/login sets an HttpOnly session cookie that every later same-origin call sends,
 * so no page script ever sees a token. Which role may see what is decided by the API (401 → sign
 * in again, 403 → the API's message); pages show what it says.
 *
 *   ZhidianStaff.api(method, path, body) → Promise<{ok, status, data}>   (never rejects)
 *   ZhidianStaff.message(result, fallback) → the API's Chinese message, or fallback
 *   ZhidianStaff.show(el, text)            → set text and hide the element when empty
 *   ZhidianStaff.signIn({form, username, password, error, submit, logout, who,
 *                        onSignedIn(user), onSignedOut()}) → {start(), signOut(notice)}
 */
window.ZhidianStaff = (function () {
  "use strict";

  var MSG_NETWORK = "网络异常，请检查网络后重试";

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
        return { ok: response.ok, status: response.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: null };
    });
  }

  function message(result, fallback) {
    var detail = result.data && result.data.detail;
    if (detail && typeof detail.message === "string") return detail.message;
    if (typeof detail === "string") return detail;
    return result.status === 0 ? MSG_NETWORK : fallback;
  }

  function show(el, text) {
    el.textContent = text || "";
    el.hidden = !text;
  }

  function describe(user) {
    return user ? (user.display_name || user.username) + " · " + (user.role_name || "") : "";
  }

  /* Wire a sign-in form and a sign-out button; start() asks /api/staff/me once. */
  function signIn(els) {
    function signedOut(notice) {
      els.logout.hidden = true;
      els.who.textContent = "请先登录";
      show(els.error, notice);
      els.submit.disabled = false;
      els.onSignedOut();
      (els.username.value ? els.password : els.username).focus();
    }

    function signedIn(user) {
      els.logout.hidden = false;
      els.who.textContent = describe(user);
      els.onSignedIn(user);
    }

    els.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var username = els.username.value.trim();
      var password = els.password.value;
      if (!username || !password) {
        show(els.error, "请输入用户名和密码");
        return;
      }
      els.submit.disabled = true;
      show(els.error, "");
      api("POST", "/api/staff/login", { username: username, password: password }).then(function (result) {
        els.submit.disabled = false;
        if (!result.ok) {
          show(els.error, message(result, "登录失败，请稍后重试"));
          els.password.select();
          return;
        }
        els.password.value = "";
        signedIn(result.data && result.data.user);
      });
    });

    els.logout.addEventListener("click", function () {
      els.logout.disabled = true;
      api("POST", "/api/staff/logout").then(function () {
        els.logout.disabled = false;
        signedOut("");
      });
    });

    return {
      start: function () {
        api("GET", "/api/staff/me").then(function (result) {
          if (result.ok && result.data) signedIn(result.data);
          else signedOut("");
        });
      },
      signOut: signedOut
    };
  }

  return { api: api, message: message, show: show, signIn: signIn };
})();
