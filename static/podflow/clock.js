// The cluster's clock in the page: pause, step, resume; stop and start the scheduler and
// the controller manager; and "what happens next" — the actions the components hold while
// the clock is paused, in the order a step lets them through.
import { gettext, fmt, LANG } from "./i18n.js";
import { esc } from "./diagram.js";
import { ApiError } from "./api.js";

const COMPONENT_WORDS = {
  scheduler: () => gettext("scheduler"),
  "controller-manager": () => gettext("controller manager"),
  kubelet: () => gettext("kubelet"),
};

export class ClockPanel {
  constructor({ api, announce, onChange }) {
    this.api = api;
    this.announce = announce;
    this.onChange = onChange;
    this.root = document.getElementById("clock");
    this.state = { paused: false, stopped: [], next: [] };
    this.busy = false;
    // How many clock states the stream has brought. An HTTP answer (a refresh, or what a
    // pause or a step returns) is drawn only if none came while it was on its way: the
    // stream's may be newer (the stepped action already done by its component), and the
    // stream brings the state after every change of the clock in any case.
    this.fromStreamCount = 0;
    this.root.querySelector("#clock-pause").addEventListener("click", () => this.togglePause());
    this.root.querySelector("#clock-step").addEventListener("click", () => this.step());
    // The switches sit in the page's faults menu, outside the clock's own box.
    for (const button of document.querySelectorAll(".component-switch")) {
      button.addEventListener("click", () => this.toggleComponent(button.dataset.component));
    }
  }

  // A clock state the stream brought (the feed reads it after each change of the clock).
  fromStream(clock) {
    this.fromStreamCount += 1;
    this.render(clock);
  }

  async refresh() {
    const seen = this.fromStreamCount;
    try {
      const answer = await this.api.clock();
      if (this.fromStreamCount === seen) this.render(answer);
      if (this.onChange) this.onChange();
    } catch (err) {
      // The stream's next clock message brings the state anyway.
    }
  }

  async run(call, said) {
    if (this.busy) return;
    this.busy = true;
    const seen = this.fromStreamCount;
    try {
      const answer = await call();
      if (this.fromStreamCount === seen) this.render(answer);
      if (this.onChange) this.onChange();
      if (said) this.announce(said(answer));
    } catch (err) {
      this.announce(err instanceof ApiError ? err.message : String(err));
    } finally {
      this.busy = false;
      this.render(this.state);
    }
  }

  // Pausing and the component switches change #clock-status, a live region: that says it.
  togglePause() {
    return this.run(() => this.api.setPaused(!this.state.paused));
  }

  step() {
    return this.run(() => this.api.step(), (answer) => (answer.released
      ? fmt(gettext("Stepped: %(action)s"), { action: actionText(answer.released) })
      : gettext("Nothing was waiting.")));
  }

  toggleComponent(component) {
    const stopping = !this.state.stopped.includes(component);
    return this.run(() => this.api.switchComponent(component, stopping ? "stop" : "start"));
  }

  render(clock) {
    if (!clock) return;
    this.state = { paused: !!clock.paused, stopped: clock.stopped || [], next: clock.next || [] };
    const { paused, stopped, next } = this.state;
    this.root.dataset.paused = String(paused);
    const pause = this.root.querySelector("#clock-pause");
    pause.setAttribute("aria-pressed", String(paused));
    pause.disabled = this.busy;
    const stepButton = this.root.querySelector("#clock-step");
    stepButton.disabled = this.busy || !paused || !next.some((a) => !a.released);
    for (const button of document.querySelectorAll(".component-switch")) {
      const component = button.dataset.component;
      const isStopped = stopped.includes(component);
      button.setAttribute("aria-pressed", String(isStopped));
      button.disabled = this.busy;
      button.textContent = component === "scheduler"
        ? (isStopped ? gettext("Start the scheduler") : gettext("Stop the scheduler"))
        : (isStopped ? gettext("Start the controller manager") : gettext("Stop the controller manager"));
    }
    const parts = [paused
      ? gettext("Paused: the API server stores requests, but no component acts until you step or resume.")
      : gettext("The clock runs: each component acts as soon as it can.")];
    if (stopped.length) {
      parts.push(fmt(gettext("Stopped: %(components)s."), { components: stopped.map((c) => (COMPONENT_WORDS[c] || (() => c))()).join(", ") }));
    }
    const status = this.root.querySelector("#clock-status");
    const text = parts.join(" ");
    if (status.textContent !== text) status.textContent = text;
    const list = this.root.querySelector("#clock-next");
    const html = next.map((a) => `<li data-component="${esc(a.component)}"${a.step ? ` data-step="${a.step}"` : ""}>`
      + `<span class="clock-who">${esc((COMPONENT_WORDS[a.component] || (() => a.component))())}</span>`
      + (a.step ? ` <span class="clock-step-no">${esc(fmt(gettext("step %(number)s"), { number: a.step }))}</span>` : "")
      + ` <span class="clock-what">${esc(actionText(a))}</span>`
      + (a.released ? ` <span class="clock-released">${esc(gettext("(on its way)"))}</span>` : "")
      + `</li>`).join("");
    if (list.dataset.html !== html) {
      list.innerHTML = html;
      list.dataset.html = html;
    }
    this.root.querySelector("#clock-next-empty").hidden = next.length > 0;
  }
}

function actionText(action) {
  return (LANG === "ko" && action.action_ko) || action.action || "";
}
