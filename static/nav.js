// The header's menu on narrow screens. Without this script the menu simply stays open.
(() => {
  const header = document.querySelector("header.bar");
  const button = header && header.querySelector(".menu-toggle");
  if (!button) return;
  const shown = () => button.offsetParent !== null;
  const isOpen = () => button.getAttribute("aria-expanded") === "true";
  const set = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.dataset.menu = open ? "open" : "closed";
  };
  set(false);
  button.hidden = false;
  button.addEventListener("click", () => set(!isOpen()));
  header.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !isOpen() || !shown()) return;
    event.preventDefault();
    set(false);
    button.focus();
  });
})();
