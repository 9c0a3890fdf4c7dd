// The page's dock: the forms and the other panels (kubectl, pods, nodes, workloads,
// Services, Ingress, etcd, API requests, glossary) as one set of tabs under the diagram,
// so the core lesson — diagram, steps, controls — fits on one screen.
import { tablist } from "./tabs.js";
import { gettext } from "./i18n.js";

const KEY = "podflow.dock";

export class Dock {
  constructor() {
    this.tabs = [...document.querySelectorAll('#dock .dock-tabs [role="tab"]')];
    this.listeners = new Map(); // tab key -> [fn] called when that tab is shown
    const show = tablist(this.tabs);
    this.showTab = (tab, focus) => {
      show(tab, focus);
      if (this.root.dataset.folded === "true") this.fold(false);
      this.current = tab.dataset.dock;
      try { sessionStorage.setItem(KEY, this.current); } catch (err) { /* storage off: fine */ }
      for (const fn of this.listeners.get(this.current) || []) fn();
    };
    // tablist's own click/key handlers show the tab; tell the listeners too.
    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.showTab(tab, false));
      tab.addEventListener("keydown", () => queueMicrotask(() => {
        const selected = this.tabs.find((t) => t.getAttribute("aria-selected") === "true");
        if (selected && selected.dataset.dock !== this.current) this.showTab(selected, false);
      }));
    }
    this.root = document.getElementById("dock");
    this.foldButton = document.getElementById("dock-fold");
    this.foldButton.addEventListener("click", () => this.fold(this.root.dataset.folded !== "true"));
    this.current = "create";
    let saved = null;
    try { saved = sessionStorage.getItem(KEY); } catch (err) { saved = null; }
    if (saved && saved !== "create") this.open(saved);
  }

  // Show a tab from code (a link, a fault, a test): `focus` moves the keyboard there too.
  open(key, { focus = false } = {}) {
    const tab = this.tabs.find((t) => t.dataset.dock === key);
    if (tab) this.showTab(tab, focus);
    return Boolean(tab);
  }

  isOpen(key) {
    return this.current === key && this.root.dataset.folded !== "true";
  }

  // Folded, only the tabs show and the diagram takes the room; a tab unfolds it again.
  fold(folded) {
    this.root.dataset.folded = String(folded);
    this.foldButton.setAttribute("aria-expanded", String(!folded));
    this.foldButton.textContent = folded ? gettext("Unfold the tools") : gettext("Fold the tools");
    if (!folded) for (const fn of this.listeners.get(this.current) || []) fn();
  }

  onShow(key, fn) {
    if (!this.listeners.has(key)) this.listeners.set(key, []);
    this.listeners.get(key).push(fn);
  }
}
