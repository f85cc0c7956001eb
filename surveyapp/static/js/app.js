// Progressive enhancement only: every page works without JavaScript.
// Nothing typed is kept in the browser's storage: the server is the only store.
(function () {
  "use strict";

  var form = null;

  // The language link on a page with a form posts the form, so typed text is kept
  // (the server re-shows the same page in the other language with what was typed).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-switch-lang]");
    var target = document.querySelector("form[data-lang-switch-form]");
    if (!link || !target) { return; }
    event.preventDefault();
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "_switch_lang";
    input.value = link.getAttribute("data-switch-lang");
    target.appendChild(input);
    target.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Move focus to the error summary so screen readers hear it first.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
    form = document.querySelector("form[data-autosave-url]");
    if (form) { autosave(form); }
  });

  function autosave(form) {
    var url = form.getAttribute("data-autosave-url");
    var statusEl = form.querySelector("[data-save-status]");
    var states = {};
    var DEBOUNCE = 800, MAX_WAIT = 4000, MAX_RETRY = 15000;

    var clearTimer = null;
    function msg(name) { return form.getAttribute("data-msg-" + name) || ""; }
    // One polite live region announces; the line beside the question (aria-hidden) shows
    // the same words where the person is typing. A "saved" bar leaves the screen after a
    // few seconds; problems stay until they are put right.
    function setStatus(text, key, transient) {
      clearTimeout(clearTimer);
      if (statusEl.textContent !== text) { statusEl.textContent = text; }
      if (transient) {
        clearTimer = setTimeout(function () { if (statusEl.textContent === text) { statusEl.textContent = ""; } }, 5000);
      }
      if (key) {
        var box = form.querySelector('[data-question="' + key + '"] [data-field-status]');
        if (box) { box.textContent = text; }
      }
    }
    function state(key) {
      if (!states[key]) { states[key] = { timer: null, firstDirty: 0, inFlight: false, pending: false, dirty: false, retry: 0, extra: null }; }
      return states[key];
    }
    function keyOf(el) {
      var box = el.closest("[data-question]");
      return box ? box.getAttribute("data-question") : null;
    }
    function revInput(key) { return form.querySelector('input[name="_rev_' + key + '"]'); }
    function fields(key) {
      return Array.prototype.filter.call(form.elements, function (el) {
        return el.name === key || el.name === key + "__other";
      });
    }
    function body(key, extra) {
      var params = new URLSearchParams();
      params.append("csrf_token", form.querySelector('input[name="csrf_token"]').value);
      params.append("_question", key);
      var bound = form.querySelector('input[name="_participant"]');
      if (bound) { params.append("_participant", bound.value); }
      params.append("_rev_" + key, revInput(key).value);
      fields(key).forEach(function (el) {
        if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
        params.append(el.name, el.value);
      });
      if (extra) { Object.keys(extra).forEach(function (k) { params.append(k, extra[k]); }); }
      return params;
    }
    function busy() {
      return Object.keys(states).some(function (k) { return states[k].inFlight; });
    }

    function schedule(key, delay) {
      var st = state(key);
      var now = Date.now();
      if (!st.dirty) { st.firstDirty = now; }
      st.dirty = true;
      clearTimeout(st.timer);
      var wait = Math.min(delay, Math.max(0, st.firstDirty + MAX_WAIT - now));
      st.timer = setTimeout(function () { save(key); }, wait);
    }

    function retryLater(key, atLeast) {
      var st = state(key);
      st.dirty = true;
      st.retry = Math.min(st.retry ? st.retry * 2 : 1000, MAX_RETRY);
      clearTimeout(st.timer);
      st.timer = setTimeout(function () { save(key); }, Math.max(st.retry, atLeast || 0));
      setStatus(msg("retrying"), key);
    }

    function save(key) {
      var st = state(key);
      clearTimeout(st.timer);
      if (st.inFlight) { st.pending = true; return; }
      st.inFlight = true;
      st.dirty = false;
      var extra = st.extra;
      st.extra = null;
      fetch(url, {
        method: "POST", body: body(key, extra), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (response.status === 413) { setStatus(msg("too-large"), key); return null; }
        return response.json().then(function (data) { return data; }, function () {
          throw new Error("not json");
        });
      }).then(function (data) {
        if (!data) { return; }
        if (data.status === "saved") {
          revInput(key).value = data.revision;
          st.retry = 0;
          removeConflict(key);
          setStatus(data.message, key, true);
        } else if (data.status === "csrf") {
          form.querySelector('input[name="csrf_token"]').value = data.csrf_token;
          st.extra = extra;
          retryLater(key);
        } else if (data.status === "rate_limited") {
          // Too many saves from this address for now: keep the text and try again later.
          st.extra = extra;
          retryLater(key, (data.retry_after || 1) * 1000);
        } else if (data.status === "conflict") {
          showConflict(key, data);
          setStatus(data.message, key);
        } else {
          setStatus(data.message || msg("retrying"), key);
        }
      }).catch(function () {
        st.extra = extra;
        retryLater(key);
      }).then(function () {
        st.inFlight = false;
        if (st.pending) { st.pending = false; save(key); }
      });
    }

    function removeConflict(key) {
      var panel = form.querySelector('[data-conflict-for="' + key + '"]');
      if (panel) { panel.remove(); }
      var server = document.getElementById("conflict-" + key);
      if (server) { server.remove(); }
    }

    function showConflict(key, data) {
      removeConflict(key);
      var box = form.querySelector('[data-question="' + key + '"]');
      var panel = document.createElement("div");
      panel.className = "conflict";
      panel.setAttribute("data-conflict-for", key);
      var title = document.createElement("p");
      title.className = "conflict__title";
      title.textContent = data.message;
      var label = document.createElement("p");
      label.textContent = msg("theirs");
      var theirs = document.createElement("blockquote");
      theirs.className = "conflict__theirs";
      theirs.textContent = data.theirs;
      var mine = document.createElement("button");
      mine.type = "button";
      mine.className = "button button--secondary";
      mine.textContent = msg("keep-mine");
      mine.addEventListener("click", function () {
        state(key).extra = { _keep: "mine" };
        save(key);
      });
      var other = document.createElement("button");
      other.type = "button";
      other.className = "button button--secondary";
      other.textContent = msg("keep-theirs");
      other.addEventListener("click", function () {
        applyData(key, data.theirs_data);
        revInput(key).value = data.revision;
        removeConflict(key);
      });
      [title, label, theirs, mine, other].forEach(function (el) { panel.appendChild(el); });
      box.parentNode.insertBefore(panel, box);
    }

    function applyData(key, values) {
      fields(key).forEach(function (el) {
        var value = values[el.name];
        if (el.type === "checkbox") {
          el.checked = Array.isArray(value) && value.indexOf(el.value) !== -1;
        } else if (el.type === "radio") {
          el.checked = value === el.value;
        } else {
          el.value = value === null || value === undefined ? "" : value;
        }
      });
    }

    form.addEventListener("input", function (event) {
      var key = keyOf(event.target);
      if (key) { schedule(key, DEBOUNCE); }
    });
    form.addEventListener("change", function (event) {
      var key = keyOf(event.target);
      if (key) { schedule(key, 0); }
    });
    form.addEventListener("focusout", function (event) {
      var key = keyOf(event.target);
      if (key && state(key).dirty) { save(key); }
    });
    window.addEventListener("online", function () {
      Object.keys(states).forEach(function (key) { if (states[key].dirty) { save(key); } });
    });
    // Closing or leaving the page: hand any unsaved answer to the browser to deliver.
    function flush() {
      Object.keys(states).forEach(function (key) {
        if (states[key].dirty && navigator.sendBeacon) {
          navigator.sendBeacon(url, body(key, states[key].extra));
        }
      });
    }
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { flush(); }
    });
    // A full save waits for any save in flight, so the revisions it carries are current.
    form.addEventListener("submit", function (event) {
      Object.keys(states).forEach(function (key) { clearTimeout(states[key].timer); states[key].dirty = false; });
      if (!busy()) { return; }
      event.preventDefault();
      var submitter = event.submitter;
      var wait = setInterval(function () {
        if (busy()) { return; }
        clearInterval(wait);
        form.requestSubmit(submitter || undefined);
      }, 50);
    });
  }
})();

// The personal link's copy button: shown only where the clipboard can be written; says
// "copied" (or how to copy by hand) politely, in the page's language.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy-box]"), function (box) {
      var button = box.querySelector("[data-copy-button]");
      var source = box.querySelector("[data-copy-source]");
      var status = box.querySelector("[data-copy-status]");
      if (!button || !source || !navigator.clipboard || !window.isSecureContext) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = source.getAttribute("href") || source.textContent;
        status.textContent = "";
        navigator.clipboard.writeText(text).then(function () {
          status.textContent = box.getAttribute("data-msg-copied");
        }, function () {
          status.textContent = box.getAttribute("data-msg-copy-failed");
        });
      });
    });
  });
})();

// A sending batch: poll its progress and update the bar and the polite status line.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-batch-progress]");
    if (!box || box.getAttribute("data-finished") === "true") { return; }
    var bar = box.querySelector("progress");
    var text = box.querySelector("[role=status]");
    var timer = setInterval(function () {
      fetch(box.getAttribute("data-batch-progress"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          bar.max = data.total; bar.value = data.done;
          if (text.textContent !== data.message) { text.textContent = data.message; }
          if (data.status === "done" || data.status === "interrupted") {
            clearInterval(timer);
            window.location.reload();  // once, to show each message's outcome in the table
          }
        })
        .catch(function () { /* try again on the next tick */ });
    }, 2000);
  });
})();

// A nominee file being imported by the worker: poll how far it has got; reload once finished
// (to show the outcome, or the problems found).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-import-progress]");
    if (!box || box.getAttribute("data-finished") === "true") { return; }
    var text = box.querySelector("[role=status]");
    var timer = setInterval(function () {
      fetch(box.getAttribute("data-import-progress"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (text.textContent !== data.message) { text.textContent = data.message; }
          if (data.finished) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* try again on the next tick */ });
    }, 2000);
  });
})();
