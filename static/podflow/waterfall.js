// The selected pod's eight steps on a time axis: when each happened after the request
// (step 1) and how long it took since the step before it — where a pod's start-up time goes.
// A table (a screen reader reads it row by row); the bars only repeat its numbers.
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";

const NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8];

function seconds(ms) {
  if (ms < 1000) return fmt(gettext("%(ms)s ms"), { ms: Math.round(ms) });
  return fmt(gettext("%(s)s s"), { s: (ms / 1000).toFixed(ms < 10000 ? 2 : 1) });
}

export function waterfallHtml(pod, steps) {
  if (!pod) return `<p class="muted">${esc(gettext("No pod selected."))}</p>`;
  const first = steps.get(1) || steps.get(2);
  const start = first && first.time ? Date.parse(first.time) : NaN;
  if (Number.isNaN(start)) return `<p class="muted">${esc(gettext("No step has happened yet."))}</p>`;
  const rows = [];
  let previous = start;
  let end = start;
  for (const n of NUMBERS) {
    const step = steps.get(n);
    if (step && step.status === "done" && step.time) end = Math.max(end, Date.parse(step.time));
  }
  const span = Math.max(end - start, 1);
  for (const n of NUMBERS) {
    const step = steps.get(n);
    const route = document.querySelector(`#steps li[data-step="${n}"] .step-route`);
    const name = route ? route.textContent : String(n);
    if (!step) {
      rows.push(`<tr data-step="${n}" data-state="pending"><th scope="row"><span class="wf-no">${n}</span> ${esc(name)}</th><td>—</td><td>${esc(gettext("not yet"))}</td><td class="wf-bar-cell" aria-hidden="true"></td></tr>`);
      continue;
    }
    if (step.status !== "done") {
      rows.push(`<tr data-step="${n}" data-state="not-needed"><th scope="row"><span class="wf-no">${n}</span> ${esc(name)}</th><td>—</td><td>${esc(gettext("not needed"))}</td><td class="wf-bar-cell" aria-hidden="true"></td></tr>`);
      continue;
    }
    const at = Date.parse(step.time);
    const took = Math.max(at - previous, 0);
    const left = ((previous - start) / span) * 100;
    const width = Math.max((took / span) * 100, 0.6);
    previous = Math.max(previous, at);
    rows.push(`<tr data-step="${n}" data-state="done"><th scope="row"><span class="wf-no">${n}</span> ${esc(name)}</th>`
      + `<td class="num">+${esc(seconds(at - start))}</td><td class="num">${esc(seconds(took))}</td>`
      + `<td class="wf-bar-cell" aria-hidden="true"><span class="wf-bar" style="margin-left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></td></tr>`);
  }
  return `<div class="table-wrap" role="region" aria-label="${esc(gettext("The steps on a time axis"))}" tabindex="0"><table class="grid-table waterfall">`
    + `<thead><tr><th scope="col">${esc(gettext("Step"))}</th><th scope="col">${esc(gettext("At"))}</th><th scope="col">${esc(gettext("Took"))}</th><th scope="col"><span class="visually-hidden">${esc(gettext("On the time axis"))}</span></th></tr></thead>`
    + `<tbody>${rows.join("")}</tbody></table></div>`
    + `<p class="small-hint">${esc(fmt(gettext("From the request to the last step: %(total)s. \u201cTook\u201d is the time since the step before."), { total: seconds(end - start) }))}</p>`;
}
