// Ranking three to eight responses, ties allowed. Each response's place select (rank_<position>) is what the form
// posts and autosave keeps; this script lays the responses out by place and moves them by drag and drop or by
// keyboard on a focused response: ↑/↓ a place up or down, Shift+↑/↓ tie with the place above or below,
// 1–8 that place, 0 out of the ranking.
(() => {
  "use strict";

  let dragged = null;

  const cardsOf = (root) => [...root.querySelectorAll(".rank-card")];
  const selectOf = (card) => card.querySelector("select[data-rank]");
  const placeOf = (card) => Number(selectOf(card).value) || 0;
  const byPosition = (a, b) => Number(a.dataset.position) - Number(b.dataset.position);

  function element(tag, className, text) {
    const el = document.createElement(tag);
    el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function gap(value) {
    const el = element("li", "tier-gap");
    el.dataset.value = String(value);
    el.setAttribute("aria-hidden", "true");
    return el;
  }

  function layout(root) {
    const focused = root.contains(document.activeElement) ? document.activeElement : null;
    const cards = cardsOf(root).sort(byPosition);
    const tiers = root.querySelector("[data-tiers]");
    const pool = root.querySelector("[data-unranked]");
    const places = [...new Set(cards.map(placeOf).filter((place) => place > 0))].sort((a, b) => a - b);
    tiers.replaceChildren();
    places.forEach((place) => {
      tiers.append(gap(place - 0.5));
      const tier = element("li", "tier");
      tier.dataset.place = String(place);
      tier.setAttribute("aria-label", `Place ${place}`);
      const holder = element("div", "tier-cards");
      holder.append(...cards.filter((card) => placeOf(card) === place));
      tier.append(element("span", "place-number", String(place)), holder);
      tiers.append(tier);
    });
    tiers.append(gap(places.length + 0.5));
    pool.append(...cards.filter((card) => placeOf(card) === 0));
    if (focused && document.activeElement !== focused) focused.focus();
  }

  function describe(root, card) {
    const place = placeOf(card);
    if (!place) return `Response ${card.dataset.letter}: not ranked`;
    const total = new Set(cardsOf(root).map(placeOf).filter((p) => p > 0)).size;
    const tied = cardsOf(root).filter((other) => other !== card && placeOf(other) === place);
    const with_ = tied.length ? `, tied with ${tied.map((other) => other.dataset.letter).join(", ")}` : "";
    return `Response ${card.dataset.letter}: place ${place} of ${total}${with_}`;
  }

  // Give `card` the place `value` (a fraction makes a place of its own between two others; 0 takes it out),
  // then number the places 1, 2, 3… again.
  function move(root, card, value) {
    const wanted = new Map(cardsOf(root).map((other) => [other, other === card ? value : placeOf(other)]));
    const places = [...new Set([...wanted.values()].filter((place) => place > 0))].sort((a, b) => a - b);
    for (const [other, place] of wanted) {
      selectOf(other).value = place > 0 ? String(places.indexOf(place) + 1) : "";
    }
    layout(root);
    card.focus();
    selectOf(card).dispatchEvent(new Event("change", { bubbles: true }));
    root.querySelector("[data-ranking-status]").textContent = describe(root, card);
  }

  function onKey(event) {
    const card = event.target;
    if (!card.classList.contains("rank-card") || event.ctrlKey || event.metaKey || event.altKey) return;
    const root = card.closest("[data-ranking]");
    const place = placeOf(card);
    const count = new Set(cardsOf(root).map(placeOf).filter((p) => p > 0)).size;
    const alone = cardsOf(root).filter((other) => placeOf(other) === place).length === 1;
    const digit = event.code.startsWith("Digit") ? Number(event.code.slice(5)) : -1;
    let value = null;
    if (event.key === "ArrowUp" && event.shiftKey) {
      value = place === 0 ? Math.max(count, 1) : place > 1 ? place - 1 : null;
    } else if (event.key === "ArrowUp") {
      value = place === 0 ? count + 1 : !alone ? place - 0.5 : place > 1 ? place - 1.5 : null;
    } else if (event.key === "ArrowDown" && event.shiftKey) {
      value = place > 0 && place < count ? place + 1 : null;
    } else if (event.key === "ArrowDown") {
      value = place === 0 ? null : !alone ? place + 0.5 : place < count ? place + 1.5 : null;
    } else if (!event.shiftKey && digit >= 0 && digit <= cardsOf(root).length) {
      value = digit;
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (value !== null) move(root, card, value);
  }

  const dropTarget = (el) => (el instanceof Element ? el.closest(".tier, .tier-gap, [data-unranked]") : null);

  function dropValue(target) {
    if (target.matches(".tier")) return Number(target.dataset.place);
    if (target.matches(".tier-gap")) return Number(target.dataset.value);
    return 0;
  }

  function clearMarks() {
    document.querySelectorAll(".drop-over").forEach((el) => el.classList.remove("drop-over"));
  }

  document.addEventListener("dragstart", (event) => {
    const card = event.target instanceof Element ? event.target.closest(".rank-card") : null;
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", `Response ${card.dataset.letter}`);
  });

  document.addEventListener("dragover", (event) => {
    const target = dropTarget(event.target);
    if (!dragged || !target || target.closest("[data-ranking]") !== dragged.closest("[data-ranking]")) return;
    event.preventDefault();
    clearMarks();
    target.classList.add("drop-over");
  });

  document.addEventListener("drop", (event) => {
    const target = dropTarget(event.target);
    if (!dragged || !target || target.closest("[data-ranking]") !== dragged.closest("[data-ranking]")) return;
    event.preventDefault();
    move(target.closest("[data-ranking]"), dragged, dropValue(target));
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearMarks();
  });

  // A place picked in a select by hand (its own events only: move() announces the ones it makes).
  document.addEventListener("change", (event) => {
    if (event.isTrusted && event.target.matches?.("select[data-rank]")) {
      const root = event.target.closest("[data-ranking]");
      layout(root);
      root.querySelector("[data-ranking-status]").textContent = describe(root, event.target.closest(".rank-card"));
    }
  });

  function init(scope) {
    for (const root of scope.querySelectorAll("[data-ranking]")) {
      if (root.dataset.ready) continue;
      root.dataset.ready = "true";
      root.addEventListener("keydown", onKey);
      layout(root);
    }
  }

  document.addEventListener("htmx:load", (event) => init(event.target.parentNode || document));
  document.addEventListener("DOMContentLoaded", () => init(document));
})();
