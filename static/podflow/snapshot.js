// The server sends a large cluster's snapshot in bounded frames: a "snapshot" that says how
// many "snapshot-part" messages follow, each with more of its lists. This puts them back
// together; the page applies the snapshot once it is whole.

export class SnapshotAssembler {
  constructor() {
    this.pending = null;
  }

  // Returns the whole snapshot when `msg` completes one, else null (for a part, or the
  // first frame of a snapshot with parts still to come).
  take(msg) {
    if (msg.type === "snapshot") {
      this.pending = msg.parts > 0 ? { snapshot: msg, missing: msg.parts } : null;
      return this.pending ? null : msg;
    }
    if (msg.type !== "snapshot-part" || !this.pending || msg.revision !== this.pending.snapshot.revision) return null;
    const whole = this.pending.snapshot;
    for (const [key, value] of Object.entries(msg)) {
      if (Array.isArray(value)) whole[key] = (whole[key] || []).concat(value);
    }
    this.pending.missing -= 1;
    if (this.pending.missing > 0) return null;
    this.pending = null;
    return whole;
  }
}
