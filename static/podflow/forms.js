// What every form of the page does with the API server's answer: a status line beside the
// form (a polite live region), the Status's causes listed and their fields marked invalid.
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { fieldFor, ApiError } from "./api.js";

export function clearFieldErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// `where` is a form (its .form-status) or the status element itself.
function statusOf(where) {
  return where.classList && where.classList.contains("form-status") ? where : where.querySelector(".form-status");
}

export function showResult(where, kind, html) {
  const out = statusOf(where);
  out.dataset.kind = kind;
  out.innerHTML = html;
  out.hidden = !html;
}

export function errorHtml(err) {
  const body = err instanceof ApiError ? err.body || {} : { message: String(err) };
  const causes = (body.details && body.details.causes) || [];
  const code = err instanceof ApiError && err.status ? `${err.status}${body.reason ? " " + body.reason : ""}` : "";
  let html = `<p class="err-lead"><span aria-hidden="true">✕ </span>`;
  html += code ? esc(fmt(gettext("The API server refused it (%(code)s)."), { code })) : esc(gettext("That did not work."));
  html += "</p>";
  if (causes.length) {
    html += `<ul class="err-causes">${causes.map((c) => `<li><code>${esc(c.field || "")}</code>: ${esc(c.message || "")}</li>`).join("")}</ul>`;
    html += `<details class="err-full"><summary>${esc(gettext("The API server's full message"))}</summary><p>${esc(body.message || "")}</p></details>`;
  } else if (body.message) {
    html += `<p class="err-message">${esc(body.message)}</p>`;
  }
  return { html, causes };
}

export function showError(where, err, form = null) {
  const { html, causes } = errorHtml(err);
  showResult(where, "error", html);
  const target = form || (where.tagName === "FORM" ? where : null);
  if (!target) return;
  for (const c of causes) {
    const field = fieldFor(c.field);
    const input = field && target.elements[field];
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

// While a form's request is on its way its submit button is disabled; a disabled button
// drops the keyboard focus to the page's body, so the focus is put back on the button
// when it is enabled again (unless the user has moved it elsewhere meanwhile).
const focusedBefore = new WeakMap();

export function busy(form, on) {
  const buttons = [...form.querySelectorAll("button[type=submit]")];
  if (on && buttons.includes(document.activeElement)) focusedBefore.set(form, document.activeElement);
  for (const button of buttons) button.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
  if (!on) {
    const button = focusedBefore.get(form);
    focusedBefore.delete(form);
    if (button && (document.activeElement === document.body || document.activeElement === null)) button.focus();
  }
}

export function ok(text) {
  return `<p>${esc(text)}</p>`;
}
