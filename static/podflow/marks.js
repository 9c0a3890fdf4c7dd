// The newest batch of simulated requests (a Service's or an Ingress's), and the pods that
// answered them: marked in the diagram for MARK_MS, flashing for the first FLASH_MS.

export const MARK_MS = 20000;
export const FLASH_MS = 1500;
// The stream's copy of a batch the page itself just sent arrives within this long.
const DUPLICATE_MS = 5000;

export class AnswerBatch {
  // redraw: the diagram must be drawn again (marks came or went); expired: the marks are gone.
  constructor({ redraw, expired }) {
    this.redraw = redraw;
    this.expired = expired;
    this.current = null; // {answers, first, pods, time, source}
    this.timers = [];
  }

  // The new batch, or null when it is the stream's copy of what the page already shows.
  take(answers, source) {
    const first = answers[0];
    const now = Date.now();
    const pods = `${first.ingress || ""}|${first.service || ""}|${first.namespace}|` + answers.map((a) => `${a.pod || ""}:${a.status}`).join(",");
    const last = this.current;
    if (last && source === "stream" && last.source === "page" && now - last.time < DUPLICATE_MS && last.pods === pods) {
      last.source = "both";
      return null;
    }
    this.current = { answers, first, pods, time: now, source };
    for (const t of this.timers) clearTimeout(t);
    this.timers = [setTimeout(() => this.redraw(), FLASH_MS + 20), setTimeout(() => { this.redraw(); this.expired(); }, MARK_MS + 20)];
    this.redraw();
    return this.current;
  }

  isFresh() {
    return Boolean(this.current) && Date.now() - this.current.time < MARK_MS;
  }

  // For the diagram: how many of the batch's answers this pod gave, while they are fresh.
  hitsFor(pod) {
    const batch = this.current;
    if (!batch) return null;
    const age = Date.now() - batch.time;
    if (age >= MARK_MS || pod.metadata.namespace !== batch.first.namespace) return null;
    const mine = batch.answers.filter((a) => a.pod === pod.metadata.name);
    if (!mine.length) return null;
    return {
      count: mine.length, total: batch.answers.length, service: mine[0].service, ingress: batch.first.ingress || null,
      elapsed: age < FLASH_MS ? age : null, time: batch.time,
    };
  }
}
