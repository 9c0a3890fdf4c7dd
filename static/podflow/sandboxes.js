// "Your sandboxes": a form for a new sandbox, and Reset / Delete for this one, each confirmed
// in a native <dialog>. The forms post as plain HTML forms would (they work without the
// script too); the script asks for JSON instead, so that errors stay beside the form and a
// reset happens under the learner's eyes, the diagram emptying over its websocket.
import { gettext, fmt, LANG } from "./i18n.js";
import { esc } from "./diagram.js";

// A message to show on the next page (after going to a new sandbox, or away from a deleted
// one), when the server did not leave one there itself.
const FLASH_KEY = "podflow:flash";

export class SandboxPanel {
  constructor({ csrfToken }) {
    this.root = document.getElementById("sandboxes");
    this.csrfToken = csrfToken;
    if (!this.root) return;
    this.status = document.getElementById("sandbox-status");
    this.form = document.getElementById("sandbox-form");
    this.toggle = document.getElementById("sandbox-new-toggle");
    this.wireNew();
    for (const button of this.root.querySelectorAll("button[data-dialog]")) this.wireDialog(button);
    this.showFlash();
    this.showWhen();
  }

  // "active 3 minutes ago" in the browser's words for the page's language ("now" rather
  // than the server's "0 minutes ago").
  showWhen() {
    if (typeof Intl === "undefined" || !Intl.RelativeTimeFormat) return;
    const words = new Intl.RelativeTimeFormat(LANG === "ko" ? "ko" : "en", { numeric: "auto" });
    for (const time of this.root.querySelectorAll("time.sandbox-active")) {
      const then = Date.parse(time.getAttribute("datetime"));
      if (Number.isNaN(then)) continue;
      const minutes = Math.round((then - Date.now()) / 60000);
      let when;
      if (minutes === 0) when = words.format(0, "second"); // "now"
      else if (Math.abs(minutes) < 60) when = words.format(minutes, "minute");
      else if (Math.abs(minutes) < 48 * 60) when = words.format(Math.round(minutes / 60), "hour");
      else when = words.format(Math.round(minutes / 1440), "day");
      time.textContent = fmt(gettext("active %(when)s"), { when });
    }
  }

  // --- the answers of the sandbox views --------------------------------------------------

  async post(url, form) {
    const body = new FormData(form);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": this.csrfToken() },
      });
    } catch (err) {
      return { ok: false, data: { error: gettext("Could not reach the server. Is podflow still running?") } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const fallback = response.status === 404
        ? gettext("This sandbox is not there any more, or it is not yours.")
        : fmt(gettext("The server answered %(code)s."), { code: response.status });
      return { ok: false, status: response.status, data: { error: (data && data.error) || fallback, fields: (data && data.fields) || {} } };
    }
    return { ok: true, status: response.status, data: data || {} };
  }

  say(kind, text, where = this.status) {
    where.dataset.kind = kind;
    const lead = kind === "error" ? `<span class="err-lead"><span aria-hidden="true">✕ </span>${esc(gettext("That did not work."))}</span> ` : "";
    where.innerHTML = `<p>${lead}${esc(text)}</p>`;
    where.hidden = false;
  }

  flash(text) {
    try {
      sessionStorage.setItem(FLASH_KEY, text);
    } catch (err) {
      // No storage (private mode): the server's own message, if any, has to do.
    }
  }

  showFlash() {
    let text = null;
    try {
      text = sessionStorage.getItem(FLASH_KEY);
      sessionStorage.removeItem(FLASH_KEY);
    } catch (err) {
      text = null;
    }
    // The server said it already (a message from a plain form post): say it once.
    if (!text || this.status.querySelector(".server-message")) return;
    this.say("ok", text);
  }

  // --- a new sandbox -----------------------------------------------------------------------

  wireNew() {
    const { form, toggle } = this;
    toggle.addEventListener("click", () => {
      const open = form.hidden;
      form.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) form.elements.name.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      this.clearErrors();
      const out = document.getElementById("sandbox-form-status");
      const nodes = Number.parseInt(form.elements.nodes.value, 10);
      const max = Number.parseInt(form.elements.nodes.max, 10) || 5;
      if (!(nodes >= 1 && nodes <= max)) {
        this.fieldError("nodes", fmt(gettext("A sandbox has 1 to %(max)s nodes."), { max }));
        this.say("error", gettext("Correct the marked field, then try again."), out);
        form.elements.nodes.focus();
        return;
      }
      this.busy(form, true);
      this.say("busy", gettext("Making the sandbox: its nodes are registering…"), out);
      const answer = await this.post(form.action, form);
      if (!answer.ok) {
        this.busy(form, false);
        const fields = answer.data.fields || {};
        let first = null;
        for (const [field, message] of Object.entries(fields)) {
          if (this.fieldError(field, message) && !first) first = field;
        }
        this.say("error", answer.data.error, out);
        if (first) form.querySelector(`[name="${first}"]`).focus();
        return;
      }
      const { name, url } = answer.data;
      const text = answer.data.message || fmt(gettext("Sandbox %(name)s is ready."), { name });
      this.say("ok", `${text} ${gettext("Opening it…")}`, out);
      this.flash(text);
      window.location.assign(url);
    });
  }

  fieldError(field, message) {
    const input = this.form.elements[field];
    const slot = document.getElementById(`sandbox-error-${field}`);
    if (!input || !slot) return false;
    slot.innerHTML = `<span aria-hidden="true">✕ </span>${esc(message)}`;
    slot.hidden = false;
    if (input instanceof RadioNodeList) {
      for (const radio of input) radio.setAttribute("aria-invalid", "true");
    } else {
      input.setAttribute("aria-invalid", "true");
    }
    return true;
  }

  clearErrors() {
    for (const slot of this.form.querySelectorAll(".field-error")) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const input of this.form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  busy(form, on) {
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  // --- reset and delete, each confirmed in a dialog ---------------------------------------

  wireDialog(opener) {
    const dialog = document.getElementById(opener.dataset.dialog);
    if (!dialog) return;
    const form = dialog.querySelector("form");
    const out = dialog.querySelector(".confirm-status");
    opener.addEventListener("click", () => {
      out.textContent = "";
      this.busy(form, false);
      dialog.showModal();
    });
    // Escape or Cancel closes it; the keyboard goes back to the button that opened it.
    dialog.addEventListener("close", () => opener.focus());
    form.addEventListener("submit", async (event) => {
      const submitter = event.submitter;
      if (submitter && submitter.value === "cancel") return; // method=dialog: just closes
      event.preventDefault();
      this.busy(form, true);
      const answer = await this.post(form.action, form);
      if (!answer.ok) {
        this.busy(form, false);
        this.say("error", answer.data.error, out);
        return;
      }
      if (form.dataset.action === "reset") {
        const text = answer.data.message || fmt(gettext("Sandbox %(name)s is back to its first state."), { name: answer.data.name });
        dialog.close();
        // The stream brings the deletions: the diagram empties by itself, without a reload.
        this.say("ok", `${text} ${gettext("Watch its objects disappear from the diagram.")}`);
      } else {
        const text = answer.data.message || fmt(gettext("Sandbox %(name)s was deleted."), { name: answer.data.deleted });
        this.say("ok", `${text} ${gettext("Going to your sandboxes…")}`, out);
        this.flash(text);
        window.location.assign(this.root.dataset.home || "/");
      }
    });
  }
}
