// The lab panel: the labs of labs/ (podflow/v1/labs), the current step of the one this
// learner is doing, its checks — re-run by the server as the stream changes, so a check
// turns green by itself —, progressive hints, the solution behind a confirmation, and the
// predict-then-reveal questions. Progress is the server's (LabProgress): a reload resumes.
import { gettext, fmt, LANG } from "./i18n.js";
import { esc } from "./diagram.js";
import { ApiError } from "./api.js";

// A lab's level (labs/README.md: beginner, intermediate or advanced) in the page's language.
function levelText(level) {
  const words = { beginner: gettext("beginner"), intermediate: gettext("intermediate"), advanced: gettext("advanced") };
  return words[level] || level;
}

// Said when a lab action (its setup, above all) takes more than a moment.
function slowText() {
  return gettext("Working on it: a lab's setup waits until the cluster has settled, which can take a few seconds.");
}

const KEY = "podflow.lab"; // which lab this browser had open, per cluster
const MIN_INTERVAL_MS = 1000;

function say(text) {
  if (!text) return "";
  if (typeof text === "string") return text;
  return text[LANG] || text.en || "";
}

function errorText(err) {
  if (err instanceof ApiError) return err.message;
  return String(err);
}

export class LabPanel {
  constructor({ api, root, announce, cluster, onSuggest }) {
    this.api = api;
    this.root = root;
    this.announce = announce;
    this.onSuggest = onSuggest;
    this.storageKey = `${KEY}.${cluster}`;
    this.lab = null; // the lab view of the open lab, or null: the catalogue
    this.catalogue = null;
    this.checks = null; // the current step's last results
    this.hints = [];
    this.busy = false;
    this.lastFetch = 0;
    this.timer = null;
    this.seen = -1;
    this.error = "";
    this.saidChecks = new Map(); // check index -> ok, to announce a change once
    this.root.addEventListener("click", (event) => this.click(event));
    this.root.addEventListener("submit", (event) => this.submit(event));
  }

  visible() {
    return this.root.isConnected && this.root.getClientRects().length > 0;
  }

  // The tab was opened: read the catalogue, and the lab this browser had open.
  async show() {
    if (this.lab) {
      await this.reloadLab(this.lab.id);
      return;
    }
    let open = null;
    try { open = localStorage.getItem(this.storageKey); } catch (err) { open = null; }
    if (open && await this.reloadLab(open, { quiet: true })) return;
    await this.loadCatalogue();
  }

  // A stream message: the open lab's checks again, at most once a second.
  // `force`: something a check may read changed without a new revision (the clock).
  refresh(revision, { force = false } = {}) {
    if (!this.lab || !this.lab.progress || this.lab.progress.completed) return;
    if (!force && typeof revision === "number" && revision <= this.seen) return;
    if (this.timer) return;
    const wait = Math.max(0, this.lastFetch + MIN_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.seen = typeof revision === "number" ? revision : this.seen;
      this.loadChecks();
    }, wait);
  }

  async loadCatalogue() {
    try {
      const answer = await this.api.labs();
      this.catalogue = answer.items || [];
      this.error = "";
    } catch (err) {
      this.error = errorText(err);
    }
    this.lab = null;
    this.render();
  }

  async reloadLab(id, { quiet = false } = {}) {
    try {
      const lab = await this.api.lab(id);
      if (!lab.progress) {
        if (quiet) return false;
      }
      this.takeLab(lab);
      return true;
    } catch (err) {
      if (!quiet) {
        this.error = errorText(err);
        this.render();
      }
      return false;
    }
  }

  takeLab(lab) {
    this.lab = lab;
    this.checks = lab.current;
    this.error = "";
    try { localStorage.setItem(this.storageKey, lab.id); } catch (err) { /* storage off */ }
    this.noteChecks(lab.current, false);
    this.render();
  }

  async loadChecks() {
    if (!this.lab) return;
    this.lastFetch = Date.now();
    try {
      const answer = await this.api.labChecks(this.lab.id);
      const before = this.checks;
      this.checks = answer;
      if (before && before.step && answer.step && before.step.index !== answer.step.index) {
        await this.reloadLab(this.lab.id);
        return;
      }
      this.noteChecks(answer, true);
      this.renderChecks();
    } catch (err) {
      // The next stream message tries again.
    }
  }

  // A check that turned green (or red again) is said once, politely.
  noteChecks(current, speak) {
    if (!current) return;
    const said = [];
    current.checks.forEach((check, i) => {
      const key = `${current.step.id}:${i}`;
      const was = this.saidChecks.get(key);
      if (was !== undefined && was !== check.ok && speak) {
        said.push(fmt(check.ok ? gettext("Check passed: %(what)s") : gettext("Check no longer passes: %(what)s"), { what: say(check.text) }));
      }
      this.saidChecks.set(key, check.ok);
    });
    if (speak && current.canAdvance && current.total && said.length) said.push(gettext("Every check of this step passes: you may go on."));
    if (said.length) this.announce(said.join(" "));
  }

  async run(call, after) {
    if (this.busy) return;
    this.busy = true;
    this.render();
    // A lab's setup waits for the cluster to settle (seconds at normal speed): past a
    // moment, say so, in the panel and to a screen reader.
    const slow = setTimeout(() => {
      this.slow = true;
      this.render();
      this.announce(slowText());
    }, 800);
    try {
      const answer = await call();
      this.error = "";
      await after(answer);
    } catch (err) {
      this.error = errorText(err);
      this.announce(this.error);
    } finally {
      clearTimeout(slow);
      this.slow = false;
      this.busy = false;
      this.render();
    }
  }

  busyHtml() {
    return this.slow ? `<p class="lab-busy"><span aria-hidden="true">⏳ </span>${esc(slowText())}</p>` : "";
  }

  click(event) {
    const button = event.target.closest("button[data-lab-do]");
    if (!button || button.disabled) return;
    const what = button.dataset.labDo;
    const id = button.dataset.lab || (this.lab && this.lab.id);
    if (what === "open") {
      this.run(() => this.api.lab(id), async (lab) => {
        if (lab.progress) this.takeLab(lab);
        else await this.run2(() => this.api.labAct(id, "start"), (started) => this.takeLab(started));
        this.focusStep();
      });
    } else if (what === "restart") {
      if (!window.confirm(gettext("Start this lab again from its first step? Its setup runs again."))) return;
      this.run(() => this.api.labAct(id, "start"), (lab) => { this.saidChecks.clear(); this.takeLab(lab); this.focusStep(); });
    } else if (what === "all") {
      try { localStorage.removeItem(this.storageKey); } catch (err) { /* storage off */ }
      this.loadCatalogue();
    } else if (what === "hint") {
      this.run(() => this.api.labAct(id, "hint"), async (answer) => {
        await this.reloadLab(id);
        const last = (answer.hints || [])[answer.hints.length - 1];
        if (last) this.announce(fmt(gettext("Hint: %(text)s"), { text: say(last) }));
      });
    } else if (what === "solution") {
      if (!window.confirm(gettext("Show the solution of this step? Try the hints first: the solution is recorded as shown."))) return;
      this.run(() => this.api.labAct(id, "solution"), async () => { await this.reloadLab(id); });
    } else if (what === "next") {
      this.run(() => this.api.labAct(id, "next"), (lab) => { this.takeLab(lab); this.focusStep(); });
    } else if (what === "cleanup") {
      this.run(() => this.api.labAct(id, "cleanup"), async () => {
        this.announce(gettext("The lab's objects are cleaned up."));
        try { localStorage.removeItem(this.storageKey); } catch (err) { /* storage off */ }
        await this.loadCatalogue();
      });
    } else if (what === "suggest") {
      if (this.onSuggest) this.onSuggest(button.dataset.command);
    }
  }

  // A call made inside run(): run() is busy already.
  async run2(call, after) {
    const answer = await call();
    await after(answer);
  }

  submit(event) {
    const form = event.target.closest("form[data-lab-question]");
    if (!form) return;
    event.preventDefault();
    const chosen = form.querySelector("input[name=choice]:checked");
    if (!chosen) {
      this.error = gettext("Choose an answer first.");
      this.render();
      return;
    }
    const step = form.dataset.labQuestion;
    this.run(() => this.api.labAnswer(this.lab.id, step, chosen.value), async (answer) => {
      await this.reloadLab(this.lab.id);
      this.announce(answer.correct ? gettext("Your answer is right.") : gettext("Your answer is recorded: see what really happens."));
    });
  }

  focusStep() {
    const heading = this.root.querySelector(".lab-step-title");
    if (heading) heading.focus();
  }

  // --- drawing -------------------------------------------------------------------------

  render() {
    const html = this.busyHtml() + (this.lab ? this.labHtml() : this.catalogueHtml());
    if (html === this.shown) return;
    const focusKey = this.root.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    this.shown = html;
    this.root.innerHTML = html;
    if (focusKey) {
      const again = this.root.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  renderChecks() {
    this.render(); // only what changed is written: render compares the whole markup
  }

  errorHtml() {
    return this.error ? `<p class="lab-error" role="alert"><span aria-hidden="true">✕ </span>${esc(this.error)}</p>` : "";
  }

  catalogueHtml() {
    if (!this.catalogue) return `<p class="muted">${esc(gettext("Loading…"))}</p>${this.errorHtml()}`;
    const rows = this.catalogue.map((lab) => {
      const p = lab.progress;
      const state = !p ? gettext("not started") : p.completed ? gettext("done") : fmt(gettext("step %(n)s of %(total)s"), { n: p.stepIndex + 1, total: lab.steps });
      return `<li class="lab-item" data-lab="${esc(lab.id)}"><div class="lab-item-head">`
        + `<strong>${lab.number ? `${esc(lab.number)}. ` : ""}${esc(say(lab.title))}</strong>`
        + ` <span class="muted small">${esc(fmt(gettext("%(level)s · about %(minutes)s min · %(steps)s steps"), { level: levelText(lab.level), minutes: lab.minutes, steps: lab.steps }))}</span></div>`
        + (lab.summary ? `<p class="lab-summary">${esc(say(lab.summary))}</p>` : "")
        + `<p class="lab-state">${esc(state)}</p>`
        + `<button type="button" class="btn btn-small ${p && !p.completed ? "btn-primary" : ""}" data-lab-do="open" data-lab="${esc(lab.id)}" data-focus-key="open:${esc(lab.id)}"${this.busy ? " disabled" : ""}>`
        + `${esc(p && !p.completed ? gettext("Continue") : gettext("Start the lab"))}<span class="visually-hidden"> ${esc(say(lab.title))}</span></button></li>`;
    }).join("");
    return `<p class="form-hint">${esc(gettext("Guided labs: each step says what to do, and its checks turn green by themselves when your cluster shows it is done."))}</p>`
      + this.errorHtml()
      + (rows ? `<ol class="lab-list">${rows}</ol>` : `<p class="muted">${esc(gettext("No labs are installed."))}</p>`);
  }

  labHtml() {
    const lab = this.lab;
    const p = lab.progress;
    const index = p ? p.stepIndex : 0;
    const step = lab.steps[index];
    const current = this.checks;
    const head = `<div class="lab-head"><p class="lab-title"><strong>${esc(say(lab.title))}</strong></p>`
      + `<p class="lab-where">${esc(p && p.completed ? gettext("Lab complete") : fmt(gettext("Step %(n)s of %(total)s"), { n: index + 1, total: lab.steps.length }))}</p>`
      + `<div class="lab-tools"><button type="button" class="btn btn-small btn-quiet" data-lab-do="all" data-focus-key="lab-all">${esc(gettext("All labs"))}</button>`
      + ` <button type="button" class="btn btn-small btn-quiet" data-lab-do="restart" data-focus-key="lab-restart"${this.busy ? " disabled" : ""}>${esc(gettext("Start again"))}</button></div></div>`
      + `<ol class="lab-progress" aria-label="${esc(gettext("Steps of the lab"))}">${lab.steps.map((s, i) => `<li data-state="${i < index || (p && p.completed) ? "done" : i === index ? "current" : "todo"}"${i === index ? ' aria-current="step"' : ""}><span class="visually-hidden">${esc(fmt(gettext("Step %(n)s"), { n: i + 1 }))}${i < index || (p && p.completed) ? ` (${esc(gettext("done"))})` : ""}</span><span aria-hidden="true">${i + 1}</span></li>`).join("")}</ol>`;
    if (p && p.completed) {
      return head + this.errorHtml() + `<p class="lab-done" role="status"><span aria-hidden="true">✓ </span>${esc(gettext("You finished this lab."))}</p>`
        + `<button type="button" class="btn btn-small" data-lab-do="cleanup" data-focus-key="lab-cleanup"${this.busy ? " disabled" : ""}>${esc(gettext("Clean up its objects"))}</button>`;
    }
    const parts = [head, this.errorHtml()];
    parts.push(`<h3 class="lab-step-title subhead" tabindex="-1">${esc(say(step.title) || fmt(gettext("Step %(n)s"), { n: index + 1 }))}</h3>`);
    if (step.text) parts.push(`<div class="lab-text">${say(step.text).split(/\n{2,}/).map((para) => `<p>${esc(para)}</p>`).join("")}</div>`);
    if (step.suggest && step.suggest.length) {
      parts.push(`<ul class="lab-suggest" aria-label="${esc(gettext("Commands to try"))}">${step.suggest.map((cmd, i) => `<li><code${cmd.includes("\n") ? ' class="lab-suggest-block"' : ""}>${esc(cmd)}</code> `
        + `<button type="button" class="btn btn-small" data-lab-do="suggest" data-command="${esc(cmd)}" data-focus-key="suggest:${i}">${esc(gettext("Put it in the terminal"))}<span class="visually-hidden"> ${esc(cmd.split("\n")[0])}</span></button></li>`).join("")}</ul>`);
    }
    if (step.question) parts.push(this.questionHtml(step));
    parts.push(this.checksHtml(step, current));
    const hintsLeft = step.hintsLeft || 0;
    if (step.hints && step.hints.length) {
      parts.push(`<ol class="lab-hints" aria-label="${esc(gettext("Hints"))}">${step.hints.map((h) => `<li>${esc(say(h))}</li>`).join("")}</ol>`);
    }
    const tools = [];
    if (hintsLeft) tools.push(`<button type="button" class="btn btn-small" data-lab-do="hint" data-focus-key="lab-hint"${this.busy ? " disabled" : ""}>${esc(fmt(gettext("Show a hint (%(n)s left)"), { n: hintsLeft }))}</button>`);
    if (step.hasSolution && !step.solution) tools.push(`<button type="button" class="btn btn-small btn-quiet" data-lab-do="solution" data-focus-key="lab-solution"${this.busy ? " disabled" : ""}>${esc(gettext("Show the solution…"))}</button>`);
    const can = current && current.canAdvance;
    tools.push(`<button type="button" class="btn btn-small btn-primary" data-lab-do="next" data-focus-key="lab-next"${!can || this.busy ? " disabled" : ""}${!can ? ' aria-describedby="lab-blocked"' : ""}>${esc(index + 1 === lab.steps.length ? gettext("Finish the lab") : gettext("Next step"))}</button>`);
    parts.push(`<div class="lab-actions">${tools.join(" ")}</div>`);
    if (!can && current && current.blocked) parts.push(`<p id="lab-blocked" class="small-hint">${esc(say(current.blocked))}</p>`);
    if (step.solution) parts.push(this.solutionHtml(step.solution));
    return parts.join("");
  }

  checksHtml(step, current) {
    if (!step.checks || !step.checks.length) return "";
    const results = current && current.step && current.step.id === step.id ? current.checks : [];
    const items = step.checks.map((described, i) => {
      const r = results[i];
      const ok = r ? r.ok : false;
      const word = r ? (ok ? gettext("passes") : gettext("not yet")) : gettext("not checked yet");
      return `<li class="lab-check" data-ok="${r ? String(ok) : "unknown"}"><span class="lab-check-mark" aria-hidden="true">${ok ? "✓" : "○"}</span>`
        + ` <span class="lab-check-word">${esc(word)}</span>: ${esc(say((r && r.text) || described))}`
        + (r && !ok && r.why ? `<span class="lab-check-why">${esc(say(r.why))}</span>` : "")
        + `</li>`;
    }).join("");
    const count = current ? fmt(gettext("%(passed)s of %(total)s checks pass"), { passed: current.passed, total: current.total }) : "";
    return `<h4 class="minihead">${esc(gettext("Checks"))} <span class="muted small">${esc(count)}</span></h4><ul class="lab-checks">${items}</ul>`;
  }

  questionHtml(step) {
    const q = step.question;
    const name = `q-${step.id}`;
    if (q.answered) {
      const right = q.correctAnswer;
      const words = (id) => say((q.choices.find((c) => c.id === id) || {}).text) || id;
      return `<section class="lab-question" aria-labelledby="${esc(name)}-h"><h4 id="${esc(name)}-h" class="minihead">${esc(q.kind === "predict" ? gettext("Your prediction") : gettext("Question"))}</h4>`
        + `<p>${esc(say(q.question))}</p>`
        + `<p>${esc(fmt(gettext("You answered: %(answer)s"), { answer: words(q.answered.answer) }))}`
        + (right ? ` — ${esc(q.answered.answer === right ? gettext("right.") : fmt(gettext("the answer is %(answer)s."), { answer: words(right) }))}` : "") + `</p>`
        + (q.explanation ? `<p class="lab-explanation">${esc(say(q.explanation))}</p>` : "")
        + `</section>`;
    }
    const choices = q.choices.map((c, i) => `<label class="lab-choice"><input type="radio" name="choice" value="${esc(c.id)}" data-focus-key="${esc(name)}:${i}"> ${esc(say(c.text) || c.id)}</label>`).join("");
    return `<form class="lab-question" data-lab-question="${esc(step.id)}"><fieldset><legend>${esc(say(q.question))}</legend>${choices}</fieldset>`
      + `<p class="small-hint">${esc(q.kind === "predict" ? gettext("Commit to an answer before the cluster shows you: it is recorded, and then you see what really happens.") : gettext("Choose an answer."))}</p>`
      + `<button type="submit" class="btn btn-small btn-primary" data-focus-key="${esc(name)}:commit"${this.busy ? " disabled" : ""}>${esc(q.kind === "predict" ? gettext("Commit my prediction") : gettext("Answer"))}</button></form>`;
  }

  solutionHtml(solution) {
    const actions = (solution.actions || []).map((a) => `<li>${esc(say(a))}${a.command ? ` <code>${esc(a.command)}</code>` : ""}${a.manifest ? `<pre class="lab-manifest" tabindex="0">${esc(a.manifest)}</pre>` : ""}</li>`).join("");
    return `<section class="lab-solution" aria-labelledby="lab-solution-h"><h4 id="lab-solution-h" class="minihead">${esc(gettext("Solution"))}</h4>`
      + (solution.text ? `<p>${esc(say(solution.text))}</p>` : "")
      + (actions ? `<ol>${actions}</ol>` : "") + `</section>`;
  }
}
