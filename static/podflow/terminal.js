// The page's terminal: a kubectl command line run by the server against this cluster
// (podflow/v1/kubectl), its output streamed in as it comes; ↑/↓ walk the history. A
// manifest comes as a here-document (kubectl apply -f - <<EOF … EOF): while one is open,
// Enter adds a line, as in a shell; Ctrl+Enter runs at once.
import { gettext } from "./i18n.js";
import { ApiError } from "./api.js";

const HISTORY_KEY = "podflow.kubectl.history";
const MAX_OUTPUT = 200000; // characters kept on screen

export class Terminal {
  constructor({ api, announce }) {
    this.api = api;
    this.announce = announce;
    this.form = document.getElementById("terminal-form");
    this.input = document.getElementById("terminal-input");
    this.output = document.getElementById("terminal-output");
    this.stopButton = document.getElementById("terminal-stop");
    this.history = load();
    this.cursor = this.history.length;
    this.running = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(this.input.value.trim());
    });
    this.stopButton.addEventListener("click", () => this.stop());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("input", () => this.fit());
    this.fit();
  }

  // As many rows as the command has lines (at most 14; it scrolls beyond).
  fit() {
    this.input.rows = Math.min(14, Math.max(1, this.input.value.split("\n").length));
  }

  key(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      if (event.ctrlKey || event.metaKey || !openHeredoc(this.input.value)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
      return; // inside an open here-document Enter adds a line
    }
    const multiline = this.input.value.includes("\n");
    if (multiline && (event.key === "ArrowUp" || event.key === "ArrowDown")) return; // moves the caret
    if (event.key === "ArrowUp" && this.cursor > 0) {
      this.cursor -= 1;
    } else if (event.key === "ArrowDown" && this.cursor < this.history.length) {
      this.cursor += 1;
    } else {
      return;
    }
    event.preventDefault();
    this.input.value = this.history[this.cursor] || "";
    this.fit();
  }

  // Put a command in the line (a lab's or a scene's suggestion), ready to run.
  suggest(command) {
    this.input.value = command;
    this.fit();
    this.input.focus();
  }

  stop() {
    if (this.running) this.running.abort();
  }

  async run(command) {
    if (!command) return;
    if (this.running) this.stop();
    this.history = [...this.history.filter((c) => c !== command), command].slice(-50);
    this.cursor = this.history.length;
    save(this.history);
    const controller = new AbortController();
    this.running = controller;
    this.stopButton.disabled = false;
    this.write(`$ ${command}\n`, true);
    try {
      const reader = await this.api.kubectl(command, controller.signal);
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.write(decoder.decode(value, { stream: true }));
      }
      this.announce(gettext("The command finished."));
    } catch (err) {
      if (err && err.name === "AbortError") {
        this.write(`\n${gettext("[stopped]")}\n`);
      } else {
        this.write(`${err instanceof ApiError ? err.message : String(err)}\n`);
        this.announce(err instanceof ApiError ? err.message : String(err));
      }
    } finally {
      if (this.running === controller) {
        this.running = null;
        this.stopButton.disabled = true;
      }
    }
  }

  write(text, fresh = false) {
    const next = (fresh ? "" : this.output.textContent) + text;
    this.output.textContent = next.length > MAX_OUTPUT ? next.slice(-MAX_OUTPUT) : next;
    this.output.scrollTop = this.output.scrollHeight;
  }
}

// The delimiter of a here-document the text opens and does not close yet, or null.
export function openHeredoc(text) {
  const lines = text.split("\n");
  const found = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(lines[0]);
  if (!found) return null;
  const closed = lines.slice(1).some((line) => line.replace(/^\t+/, "").trimEnd() === found[2]);
  return closed ? null : found[2];
}

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((c) => typeof c === "string").slice(-50) : [];
  } catch (err) {
    return [];
  }
}

function save(history) {
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(history));
  } catch (err) {
    // private browsing: the history lasts as long as the page
  }
}
