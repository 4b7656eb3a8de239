// The review queue's keyboard: A accept, R reject (a reason first), E edit, S/J skip, U undo, ? the list.
// Ctrl+Enter (the edit) is quorum.js's, as on every form; the Undo button is disabled once its minute is over.
(() => {
  "use strict";

  const reviewForm = () => document.getElementById("review-form");

  const isTyping = (el) =>
    el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type));

  function say(text) {
    let el = document.getElementById("review-error");
    if (!el) {
      el = document.createElement("p");
      el.id = "review-error";
      el.className = "error";
      el.setAttribute("role", "alert");
      document.querySelector("#review-panel h1")?.after(el);
    }
    el.textContent = text;
  }

  function decide(f, decision) {
    f.requestSubmit(f.querySelector(`button[name="decision"][value="${decision}"]`));
  }

  // R with a reason chosen rejects; without one it takes the reviewer to the reasons and says so.
  function reject(f) {
    if (f.querySelector('input[name="reason"]:checked')) {
      decide(f, "reject");
      return;
    }
    const reasons = f.querySelector(".review-reasons");
    reasons.setAttribute("aria-invalid", "true");
    reasons.setAttribute("aria-describedby", "review-error");
    say("Reject because: choose one of the reasons (arrows move, Enter rejects).");
    reasons.querySelector('input[name="reason"]').focus();
  }

  function edit() {
    const details = document.getElementById("review-edit");
    if (!details) return;
    details.open = true;
    const box = details.querySelector("textarea");
    box?.focus();
    box?.setSelectionRange(box.value.length, box.value.length);
  }

  function openHelp() {
    const dialog = document.getElementById("review-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  // While a panel is on its way, shortcuts wait: a second A must not decide the next one unseen, and a link htmx has
  // not taken over yet would reload the whole page.
  let swapping = false;
  const forPanel = (event) => event.detail.target?.id === "review-panel";
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (forPanel(event)) swapping = true;
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (forPanel(event) && !event.detail.successful && event.detail.xhr?.status !== 409 && event.detail.xhr?.status !== 422) {
      swapping = false;
    }
  });
  // Keys work again once htmx has taken over the new panel's links and forms (data-keys-ready says so).
  const keysReady = (panel) => {
    swapping = false;
    panel.dataset.keysReady = "";
  };
  document.addEventListener("htmx:load", (event) => {
    if (event.detail.elt.id === "review-panel") keysReady(event.detail.elt);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.getElementById("review-panel");
    if (panel) keysReady(panel);
  });

  document.addEventListener("keydown", (event) => {
    const f = reviewForm();
    if (event.target.closest?.("dialog[open]") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (swapping && !isTyping(event.target)) {
      event.preventDefault();
      return;
    }
    // Enter on a reason rejects with it (the browser would otherwise submit the form's default button).
    if (event.key === "Enter" && event.target.name === "reason" && f) {
      event.preventDefault();
      decide(f, "reject");
      return;
    }
    if (isTyping(event.target)) return;
    const key = event.key.toLowerCase();
    let handled = true;
    if (event.key === "?") openHelp();
    else if (key === "u" && document.querySelector("[data-undo]:not(:disabled)")) {
      document.querySelector("[data-undo]").closest("form").requestSubmit();
    } else if (!f) handled = false;
    else if (key === "a") decide(f, "accept");
    else if (key === "r") reject(f);
    else if (key === "e") edit();
    else if (key === "s" || key === "j") document.querySelector("[data-review-skip]")?.click();
    else handled = false;
    if (handled) event.preventDefault();
  });

  // htmx leaves out the button that submitted the form when a script submits it (A, R, Ctrl+Enter): add it.
  document.addEventListener("htmx:configRequest", (event) => {
    const submitter = event.detail.triggeringEvent?.submitter;
    if (event.detail.elt.id === "review-form" && submitter?.name) {
      event.detail.parameters[submitter.name] = submitter.value;
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-review-help]")) openHelp();
    else if (event.target.closest("[data-review-edit]")) {
      event.preventDefault();
      edit();
    }
  });

  function expireUndo() {
    for (const undo of document.querySelectorAll("form[data-undo-seconds]:not([data-armed])")) {
      undo.dataset.armed = "1";
      setTimeout(() => {
        const button = undo.querySelector("[data-undo]");
        button.disabled = true;
        button.textContent = "Undo is over (one minute)";
      }, Number(undo.dataset.undoSeconds) * 1000);
    }
  }

  document.addEventListener("DOMContentLoaded", expireUndo);
  document.addEventListener("htmx:load", expireUndo);
})();
