// Quorum workspace: autosave, keyboard shortcuts, time on task, focus after each swap, and failures made visible.
(() => {
  "use strict";

  const SAVE_DELAY_MS = 1500;
  const STRENGTHS = ["slight", "clear", "strong"];
  const LOGIN_URL = "/login/";
  let timer = null;
  let retryDelay = 2000;
  let shownAt = performance.now();
  let inFlight = null; // the autosave request under way, a Promise of whether it was stored
  let pending = false; // the form holds changes the server does not have yet
  let sessionExpired = false;
  let leaving = false; // a plain form post is navigating away: its text goes with it

  const form = () => document.getElementById("task-form");
  const autosaved = (f) => Boolean(f && f.dataset.draftUrl);

  // Read the token at each request: logging in again (in another tab) rotates it, and Django checks a form's
  // own token field before the header, so the page's token fields are brought up to date as well.
  function csrf() {
    const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
    const token = cookie
      ? decodeURIComponent(cookie.slice("csrftoken=".length))
      : JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"];
    document.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach((input) => {
      input.value = token;
    });
    return token;
  }

  // The status bar of the page: the form's save state, else a line at the top of the page.
  function setState(text, state, link) {
    let el = document.getElementById("save-state");
    if (!el) {
      el = document.getElementById("request-state") || document.createElement("p");
      el.id = "request-state";
      el.className = "error";
      el.setAttribute("role", "alert");
      document.getElementById("main")?.prepend(el);
    }
    el.textContent = text;
    el.dataset.state = state;
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = "Log in (new tab)";
      el.append(" ", a);
    }
  }

  function expired(what) {
    sessionExpired = true;
    setState(`Your session has expired: ${what}. Your text is kept on this page.`, "expired", LOGIN_URL);
  }

  function failure(status, detail) {
    if (status === 403) return `the server refused it (403 Forbidden${detail ? `: ${detail}` : ""})`;
    if (status === 404) return "it was not found (404): reload the page";
    if (status >= 500) return `the server failed (${status})`;
    return detail || `the server answered ${status}`;
  }

  const MAX_TIME_ON_TASK_MS = 24 * 3600 * 1000; // the server's MAX_TIME_SPENT_MS: a tab left open for days stops there

  function timeOnTask(f) {
    const spent = Math.round(Number(f.dataset.baseTime || 0) + performance.now() - shownAt);
    return Math.min(spent, MAX_TIME_ON_TASK_MS);
  }

  function stampTime(f) {
    if (f.elements.time_spent_ms) f.elements.time_spent_ms.value = timeOnTask(f);
  }

  function retry() {
    clearTimeout(timer);
    timer = setTimeout(save, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  async function send(f) {
    stampTime(f);
    setState("Saving…", "saving");
    let response;
    let body = {};
    try {
      const headers = { "X-CSRFToken": csrf(), Accept: "application/json" };
      response = await fetch(f.dataset.draftUrl, {
        method: "POST",
        body: new FormData(f),
        headers,
        credentials: "same-origin",
        redirect: "manual",
      });
      body = await response.json().catch(() => ({}));
    } catch {
      pending = true;
      setState("Save failed (offline?), retrying…", "failed");
      retry();
      return false;
    }
    if (response.ok && Number.isInteger(body.version)) {
      if (f.isConnected) f.elements.draft_version.value = body.version;
      sessionExpired = false;
      retryDelay = 2000;
      setState("Saved", "saved");
      return true;
    }
    pending = true;
    if (response.status === 401 || response.type === "opaqueredirect" || body.login_url) {
      expired("log in again and it is saved");
      retry();
    } else if (response.status === 409 || response.status === 400) {
      setState(`Not saved: ${body.detail || "the server refused the draft"}`, "conflict");
    } else if (response.status === 403 && body.detail) {
      setState(`Save refused: ${body.detail}`, "failed");
    } else {
      setState(`Save failed: ${failure(response.status, body.detail)}. Retrying…`, "failed");
      retry();
    }
    return false;
  }

  // One save at a time; resolves to whether the form's text is now on the server.
  async function save() {
    clearTimeout(timer);
    timer = null;
    const f = form();
    if (!autosaved(f)) return true;
    while (inFlight) await inFlight;
    if (!pending) return true;
    pending = false;
    inFlight = send(f);
    try {
      return await inFlight;
    } finally {
      inFlight = null;
    }
  }

  function schedule() {
    pending = true;
    clearTimeout(timer);
    if (!sessionExpired) setState("Editing…", "dirty");
    timer = setTimeout(save, SAVE_DELAY_MS);
  }

  function start() {
    clearTimeout(timer);
    timer = null;
    pending = false;
    retryDelay = 2000;
    shownAt = performance.now();
    document.querySelectorAll("form").forEach(syncStrength);
    const f = form();
    if (!f) return;
    f.dataset.baseTime = (f.elements.time_spent_ms && f.elements.time_spent_ms.value) || 0;
    let target = f.querySelector("[aria-invalid=true]") || f.querySelector("[data-focus]");
    if (target?.matches("fieldset")) target = target.querySelector("input, textarea, select") || target;
    if (target) {
      target.focus({ preventScroll: false });
      if (target.tagName === "TEXTAREA") target.setSelectionRange(target.value.length, target.value.length);
    }
  }

  // A tie has no strength: while Tie is chosen the strengths are cleared and disabled, so the server never refuses one.
  function syncStrength(f) {
    const tie = Boolean(f?.querySelector('input[name="choice"][value="tie"]')?.checked);
    f?.querySelectorAll('input[name="strength"]').forEach((radio) => {
      radio.disabled = tie;
      if (tie) radio.checked = false;
    });
  }

  function choose(name, value) {
    const input = form()?.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input?.disabled) {
      setState("A tie has no strength: choose A or B to give one.", "conflict");
    } else if (input) {
      input.checked = true;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
    }
  }

  // Closing a dialog or the guidelines drawer, any way, gives focus back to what had it when it opened.
  const openers = new WeakMap();

  function giveFocusBack(panel) {
    const opener = openers.get(panel);
    openers.delete(panel);
    const active = document.activeElement;
    if (active && active !== document.body && !panel.contains(active)) return; // focus has moved on already
    if (opener?.isConnected && !opener.inert && !opener.closest("[inert]")) opener.focus();
  }

  function rememberOpener(panel) {
    const active = document.activeElement;
    if (active && active !== document.body && !panel.contains(active)) openers.set(panel, active);
  }

  // The drawer is modal: everything else on the page is inert while it is open.
  function toggleGuidelines(open) {
    const drawer = document.getElementById("guidelines");
    if (!drawer) return;
    const opening = open === undefined ? drawer.hidden : open;
    if (opening === !drawer.hidden) return;
    if (opening) rememberOpener(drawer);
    drawer.hidden = !opening;
    for (const el of document.body.children) {
      if (el !== drawer && el.tagName !== "SCRIPT" && el.tagName !== "DIALOG") el.inert = opening;
    }
    if (opening) drawer.focus();
    else giveFocusBack(drawer);
  }

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    rememberOpener(dialog);
    dialog.showModal();
  }

  // "close" does not bubble: listen in the capture phase for every dialog, including those htmx swaps in.
  document.addEventListener("close", (event) => {
    if (event.target.tagName === "DIALOG") giveFocusBack(event.target);
  }, true);

  const isTyping = (el) =>
    el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type));

  // Ctrl+Enter submits the form that has focus (the paraphrase box adds a paraphrase, the skip dialog skips).
  // A form with several decisions (review) is submitted only from a part that names one.
  function submitFocused(event) {
    const target = event.target.form || event.target.closest?.("form") || form();
    if (!target) return;
    event.preventDefault();
    if (!target.hasAttribute("data-needs-submitter")) {
      target.requestSubmit();
      return;
    }
    const part = event.target.closest?.("[data-submit-with]");
    const button = part && target.querySelector(`button[name="decision"][value="${part.dataset.submitWith}"]`);
    if (button) target.requestSubmit(button);
    else setState("Choose a decision: Accept, Reject, or Save edit and accept (Ctrl+Enter works in the edit box).", "conflict");
  }

  // Tab and Shift+Tab go round the open drawer's controls and never leave it.
  function keepTabInDrawer(event) {
    const drawer = document.getElementById("guidelines");
    if (!drawer || drawer.hidden) return false;
    const stops = [...drawer.querySelectorAll("a[href], button, input, select, textarea, [tabindex='0']")].filter(
      (el) => !el.disabled && el.getClientRects().length,
    );
    if (!stops.length) return false;
    const at = stops.indexOf(document.activeElement);
    const next = event.shiftKey ? (at <= 0 ? stops.length - 1 : at - 1) : at === stops.length - 1 ? 0 : at + 1;
    event.preventDefault();
    stops[next].focus();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    const f = form();
    if (event.key === "Tab" && keepTabInDrawer(event)) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      submitFocused(event);
      return;
    }
    if (event.key === "Escape") {
      const drawer = document.getElementById("guidelines");
      if (drawer && !drawer.hidden) toggleGuidelines(false);
      else if (isTyping(event.target)) event.target.blur();
      return;
    }
    if (event.target.closest("dialog[open]")) {
      if (event.key === "Enter" && event.target.type === "radio") {
        event.preventDefault();
        event.target.form.requestSubmit();
      }
      return;
    }
    if (isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const digit = event.code.startsWith("Digit") ? Number(event.code.slice(5)) : 0;
    // Arrows always pick A/B/tie, also from the choice radios, where the browser would move along the group instead.
    const arrowsChoose = event.target.type !== "radio" || event.target.name === "choice";
    let handled = true;
    if (event.key === "?") openDialog("help");
    else if (event.key === "g" || event.key === "G") toggleGuidelines();
    else if ((event.key === "s" || event.key === "S") && f && f.dataset.kind) openDialog("skip-dialog");
    else if (event.shiftKey && digit >= 1 && digit <= 3) choose("strength", STRENGTHS[digit - 1]);
    else if (digit === 1 || (event.key === "ArrowLeft" && arrowsChoose)) choose("choice", "left");
    else if (digit === 2 || (event.key === "ArrowRight" && arrowsChoose)) choose("choice", "right");
    else if (digit === 3 || (event.key === "ArrowDown" && arrowsChoose)) choose("choice", "tie");
    else handled = false;
    if (handled) event.preventDefault();
  });

  // A refused field's error goes as soon as the field changes; the summary goes with the last error.
  const errorKey = (name) =>
    name.startsWith("turn_") ? "continuation" : name.startsWith("rank_") ? "ranking" : name.startsWith("criterion_") ? "criteria" : name;

  function errorText(holder) {
    const described = holder.getAttribute("aria-describedby");
    if (described) return document.getElementById(described);
    if (holder.tagName === "FIELDSET") return holder.querySelector(":scope > .error");
    const next = holder.nextElementSibling;
    return next?.matches(".error:not([data-error-summary])") ? next : null;
  }

  function clearError(el) {
    const f = el.form;
    if (!f || !el.name) return;
    const key = errorKey(el.name);
    // A ranking is fixed only once every response has a place.
    if (key === "ranking" && [...f.querySelectorAll("[name^=rank_]")].some((select) => !select.value)) return;
    const named = (holder) =>
      holder.name ? errorKey(holder.name) === key : [...holder.querySelectorAll("[name]")].some((c) => errorKey(c.name) === key);
    for (const holder of f.querySelectorAll("[aria-invalid=true]")) {
      if (!named(holder)) continue;
      errorText(holder)?.remove();
      holder.setAttribute("aria-invalid", "false");
      holder.removeAttribute("aria-describedby");
    }
    const afterTurns = key === "continuation" ? el.closest("#turns")?.nextElementSibling : null;
    if (afterTurns?.matches(".error")) afterTurns.remove();
    const summary = f.querySelector("[data-error-summary]");
    const link = summary?.querySelector(`[data-error-for="${key}"]`);
    if (!link) return;
    const separator = [link.nextElementSibling, link.previousElementSibling].find((node) => node?.matches(".sep"));
    separator?.remove();
    link.remove();
    if (!summary.querySelector("[data-error-for]")) summary.remove();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-error-summary] a[href^='#']");
    const target =
      link &&
      (document.getElementById(link.getAttribute("href").slice(1)) ||
        link.closest("form")?.querySelector(`[name="${link.dataset.errorFor}"]`));
    if (!target) return;
    event.preventDefault();
    const control = target.matches("input, textarea, select") ? target : target.querySelector("input:not([disabled]), textarea, select");
    target.scrollIntoView({ block: "center" });
    (control || target).focus();
  });

  function changed(event) {
    clearError(event.target);
    if (event.target.name === "choice") syncStrength(event.target.form);
    if (event.target.form && event.target.form === form() && autosaved(form())) schedule();
  }
  document.addEventListener("input", changed);
  document.addEventListener("change", changed);

  document.addEventListener("click", (event) => {
    const el = event.target.closest(
      "[data-add-turn], [data-open-skip], [data-close-dialog], [data-close-drawer], [data-open-guidelines]",
    );
    if (!el) return;
    if (el.matches("[data-open-guidelines]")) {
      if (!document.getElementById("guidelines")) return; // a plain link to the guidelines page
      event.preventDefault();
      toggleGuidelines(true);
      return;
    }
    if (el.matches("[data-add-turn]")) {
      const turn = document.getElementById("turn-template").content.cloneNode(true);
      document.getElementById("turns").appendChild(turn);
      document.querySelector("#turns .follow-up:last-child textarea").focus();
    } else if (el.matches("[data-open-skip]")) {
      openDialog("skip-dialog");
    } else if (el.matches("[data-close-dialog]")) {
      el.closest("dialog").close();
    } else {
      toggleGuidelines(false);
    }
  });

  // A plain post (authoring, no htmx) waits for the pending autosave, and is held back while logged out.
  document.addEventListener("submit", (event) => {
    const f = event.target;
    if (event.defaultPrevented) return; // htmx posts it
    csrf();
    if (f === form()) stampTime(f);
    if (f === form() && autosaved(f) && !f.dataset.flushed && (pending || inFlight || sessionExpired)) {
      event.preventDefault();
      const submitter = event.submitter;
      save().then((stored) => {
        if (sessionExpired || (!stored && timer)) return; // offline or failing: the text stays, with the status
        f.dataset.flushed = "1";
        f.requestSubmit(submitter);
      });
      return;
    }
    leaving = true;
  });

  // The task form's submit first flushes the pending autosave, so a refused submit never leaves an older draft.
  document.addEventListener("htmx:confirm", (event) => {
    const f = form();
    if (event.detail.elt !== f || !autosaved(f) || !(pending || inFlight || timer)) return;
    event.preventDefault();
    save().then(() => event.detail.issueRequest(true));
  });

  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["x-csrftoken"] = csrf();
    if (event.detail.parameters.csrfmiddlewaretoken) event.detail.parameters.csrfmiddlewaretoken = csrf();
    const f = form();
    const source = event.detail.elt;
    if (f && (source === f || source.closest("dialog[open]"))) {
      clearTimeout(timer);
      timer = null;
      event.detail.parameters.time_spent_ms = timeOnTask(f);
    }
  });

  document.addEventListener("htmx:load", (event) => {
    if (event.target.id === "task") start();
  });

  const ACTIONS = { POST: "Sending", GET: "Loading" };

  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let body = {};
    try {
      body = JSON.parse(xhr.responseText) || {};
    } catch {
      body = {};
    }
    const detail = body.detail || "";
    const what = event.detail.elt === form() ? "Submit" : ACTIONS[event.detail.requestConfig?.verb?.toUpperCase()] || "Request";
    if (autosaved(form())) pending = true;
    if (xhr.status === 401 || body.login_url) expired(`log in again, then ${what.toLowerCase()} again`);
    // A refusal with a reason says what happened to the text; trying again would not help.
    else if (xhr.status === 403 && detail) setState(`${what} refused: ${detail}`, "failed");
    else setState(`${what} failed: ${failure(xhr.status, detail)}. Your text is kept here; try again.`, "failed");
  });

  // The text of a submit that never reached the server waits as an unsaved draft: retried, and saved on coming online.
  document.addEventListener("htmx:sendError", () => {
    setState("Offline: the server could not be reached. Your text is kept here; submit again when back online.", "failed");
    if (autosaved(form())) {
      pending = true;
      retry();
    }
  });

  // Back online, or back from logging in in another tab: send what is waiting now.
  function resume() {
    if (pending && (timer || sessionExpired) && !inFlight) save();
  }
  window.addEventListener("online", () => {
    retryDelay = 2000;
    resume();
  });
  window.addEventListener("focus", resume);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") resume();
  });

  // Warn only when leaving would lose text: an autosave not yet stored, or typing in a form with no autosave.
  const typedText = (f) =>
    [...f.elements].some(
      (el) => (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text")) && el.value !== el.defaultValue,
    );

  window.addEventListener("beforeunload", (event) => {
    if (leaving) return;
    const f = form();
    if (autosaved(f) && (pending || inFlight)) {
      save();
      event.preventDefault();
      return;
    }
    const unsaved = [...document.forms].some(
      (other) => other.method === "post" && !autosaved(other) && !other.closest("dialog") && typedText(other),
    );
    if (unsaved) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", start);
})();

// Admin pages.
(() => {
  // The settings page's task-type mix: the sum of the targets as they are typed, with a warning unless it is 100%.
  function showMixTotal(fieldset) {
    const total = [...fieldset.querySelectorAll("[data-mix-share]")]
      .map((input) => parseFloat(input.value) || 0)
      .reduce((a, b) => a + b, 0);
    const out = fieldset.querySelector("[data-mix-total]");
    const rounded = Math.round(total * 100) / 100;
    const off = total > 0 && Math.abs(total - 100) > 0.01;
    out.className = off ? "notice warn" : "muted";
    out.textContent = "Total: ";
    const strong = document.createElement("strong");
    strong.textContent = `${rounded}%`;
    out.appendChild(strong);
    if (off) out.append(" — the targets do not add up to 100%.");
  }
  document.addEventListener("input", (event) => {
    const fieldset = event.target.closest("[data-mix]");
    if (fieldset && event.target.matches("[data-mix-share]")) showMixTotal(fieldset);
  });
})();

// A one-time invite link or API key: copied with one click (the field stays selectable without JavaScript).
(() => {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    const field = button && document.getElementById(button.dataset.copy);
    if (!field) return;
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Selected: press Ctrl+C";
    }
  });
})();

// The data browser: one box checks or unchecks every row on the page (each row's box works without JavaScript).
(() => {
  document.addEventListener("change", (event) => {
    const all = event.target.closest("[data-check-all]");
    if (!all) return;
    for (const box of document.querySelectorAll(`input[type=checkbox][name="${all.dataset.checkAll}"]`)) {
      box.checked = all.checked;
    }
  });
})();
