// Translation helpers. Django's JavaScript catalog (/jsi18n/) defines the globals
// gettext and interpolate before this module runs; without it the English text stands.

export const LANG = (document.documentElement.lang || "en").toLowerCase().startsWith("ko") ? "ko" : "en";

export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof window.ngettext === "function") return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// fmt("Step %(n)s", {n: 3}) -> "Step 3"
export function fmt(text, values) {
  return text.replace(/%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

// The narration of a step in the page's language (the server sends both).
export function stepText(step) {
  if (!step || !step.text) return "";
  return step.text[LANG] || step.text.en || "";
}
