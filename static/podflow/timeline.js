// The timeline under the diagram: a scrubber over the cluster's revisions. Moving it
// draws the cluster as it was at that revision (the server rebuilds it from the change
// log, etcd's history); "Live" follows the present again, replaying what happened since.
// ?at=<revision> in the page's address opens it there.
import { gettext, fmt } from "./i18n.js";

export class Timeline {
  constructor({ url, onPast, onLive }) {
    this.url = url;
    this.onPast = onPast;
    this.onLive = onLive;
    this.root = document.getElementById("timeline");
    this.range = document.getElementById("timeline-range");
    this.liveButton = document.getElementById("timeline-live");
    this.status = document.getElementById("timeline-status");
    this.live = true;
    this.timer = null;
    this.seq = 0;
    this.range.addEventListener("input", () => {
      // The learner holds the scrubber: the live end stops moving it meanwhile.
      const wanted = Number(this.range.value);
      this.scrubbing = true;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.goTo(wanted), 150);
    });
    this.liveButton.addEventListener("click", () => this.goLive());
  }

  // The live revision moved: the scrubber's end follows it while live.
  follow(revision) {
    if (!this.live || this.scrubbing || !revision) return;
    this.range.max = String(revision);
    this.range.value = String(revision);
  }

  async goTo(revision) {
    const seq = ++this.seq;
    let snap;
    try {
      const response = await fetch(`${this.url}?at=${encodeURIComponent(revision)}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      snap = await response.json();
      if (!response.ok) throw new Error(snap.message || String(response.status));
    } catch (err) {
      this.scrubbing = false;
      this.status.textContent = fmt(gettext("Revision %(revision)s cannot be shown: %(why)s"), { revision, why: err.message });
      return;
    }
    if (seq !== this.seq) return;
    this.scrubbing = false;
    this.live = false;
    this.root.dataset.live = "false";
    this.liveButton.setAttribute("aria-pressed", "false");
    this.range.min = String(snap.oldest || 1);
    this.range.max = String(snap.live || revision);
    this.range.value = String(snap.revision);
    this.status.textContent = fmt(gettext("Looking back at revision %(revision)s of %(live)s (read-only). Live returns to the present."), { revision: snap.revision, live: snap.live });
    this.onPast(snap);
  }

  goLive() {
    if (this.live) return;
    this.seq += 1;
    this.live = true;
    this.root.dataset.live = "true";
    this.liveButton.setAttribute("aria-pressed", "true");
    this.status.textContent = gettext("Live: every change as it happens.");
    this.onLive();
  }
}
