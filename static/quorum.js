// Quorum workspace: autosave, keyboard shortcuts, time on task, focus after each swap.
(() => {
  "use strict";

  const SAVE_DELAY_MS = 1500;
  const STRENGTHS = ["slight", "clear", "strong"];
  let timer = null;
  let retryDelay = 2000;
  let shownAt = performance.now();
  let saving = false;
  let changedWhileSaving = false;

  const form = () => document.getElementById("task-form");
  const csrf = () => JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"];

  function setState(text, state) {
    const el = document.getElementById("save-state");
    if (el) {
      el.textContent = text;
      el.dataset.state = state;
    }
  }

  function timeOnTask(f) {
    return Math.round(Number(f.dataset.baseTime || 0) + performance.now() - shownAt);
  }

  function stampTime(f) {
    if (f.elements.time_spent_ms) f.elements.time_spent_ms.value = timeOnTask(f);
  }

  async function save() {
    const f = form();
    clearTimeout(timer);
    timer = null;
    if (!f || !f.dataset.draftUrl) return;
    if (saving) {
      changedWhileSaving = true;
      return;
    }
    saving = true;
    changedWhileSaving = false;
    stampTime(f);
    setState("Saving…", "saving");
    try {
      const response = await fetch(f.dataset.draftUrl, {
        method: "POST",
        body: new FormData(f),
        headers: { "X-CSRFToken": csrf() },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        if (f.isConnected) f.elements.draft_version.value = body.version;
        setState("Saved", "saved");
        retryDelay = 2000;
      } else if (response.status === 409 || response.status === 400) {
        setState(body.detail || "Not saved", "conflict");
      } else {
        throw new Error(String(response.status));
      }
    } catch {
      setState("Save failed, retrying…", "failed");
      timer = setTimeout(save, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    } finally {
      saving = false;
      if (changedWhileSaving && f.isConnected) schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    setState("Editing…", "dirty");
    timer = setTimeout(save, SAVE_DELAY_MS);
  }

  function start() {
    clearTimeout(timer);
    timer = null;
    retryDelay = 2000;
    shownAt = performance.now();
    const f = form();
    if (!f) return;
    f.dataset.baseTime = (f.elements.time_spent_ms && f.elements.time_spent_ms.value) || 0;
    const target = f.querySelector("[aria-invalid=true]") || f.querySelector("[data-focus]");
    if (target) {
      target.focus({ preventScroll: false });
      if (target.tagName === "TEXTAREA") target.setSelectionRange(target.value.length, target.value.length);
    }
  }

  function choose(name, value) {
    const input = form()?.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) {
      input.checked = true;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
    }
  }

  function toggleGuidelines(open) {
    const drawer = document.getElementById("guidelines");
    if (!drawer) return;
    drawer.hidden = open === undefined ? !drawer.hidden : !open;
    if (!drawer.hidden) drawer.focus();
  }

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
  }

  const isTyping = (el) =>
    el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type));

  document.addEventListener("keydown", (event) => {
    const f = form();
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      const target = event.target.closest("dialog form") || f;
      if (target) {
        event.preventDefault();
        target.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape") {
      toggleGuidelines(false);
      if (isTyping(event.target)) event.target.blur();
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
    const onRadio = event.target.type === "radio";
    let handled = true;
    if (event.key === "?") openDialog("help");
    else if (event.key === "g" || event.key === "G") toggleGuidelines();
    else if ((event.key === "s" || event.key === "S") && f && f.dataset.kind) openDialog("skip-dialog");
    else if (event.shiftKey && digit >= 1 && digit <= 3) choose("strength", STRENGTHS[digit - 1]);
    else if (digit === 1 || (event.key === "ArrowLeft" && !onRadio)) choose("choice", "left");
    else if (digit === 2 || (event.key === "ArrowRight" && !onRadio)) choose("choice", "right");
    else if (digit === 3 || (event.key === "ArrowDown" && !onRadio)) choose("choice", "tie");
    else handled = false;
    if (handled) event.preventDefault();
  });

  document.addEventListener("input", (event) => {
    if (event.target.form && event.target.form === form()) schedule();
  });
  document.addEventListener("change", (event) => {
    if (event.target.form && event.target.form === form()) schedule();
  });

  document.addEventListener("click", (event) => {
    const el = event.target.closest("[data-add-turn], [data-open-skip], [data-close-dialog], [data-close-drawer]");
    if (!el) return;
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

  // A plain submit (no htmx) still records time on task.
  document.addEventListener("submit", (event) => {
    if (event.target === form()) stampTime(event.target);
  });

  document.addEventListener("htmx:configRequest", (event) => {
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

  document.addEventListener("htmx:sendError", () => setState("Offline: your text is kept here; submit again", "failed"));

  window.addEventListener("beforeunload", (event) => {
    if (timer || saving) {
      save();
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", start);
})();
