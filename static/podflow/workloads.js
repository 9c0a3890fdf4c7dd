// Deployments and their ReplicaSets, so that a rollout can be followed: the revision, the
// counts kubectl get deploy shows, each ReplicaSet with its pod-template-hash; and the
// changes kubectl makes: scale, set image, rollout undo (to a chosen revision).
import { gettext, ngettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { revisionOf, ownedBy, rolloutState, HASH_LABEL, REVISION, isReady } from "./k8s.js";
import { clearFieldErrors, showResult, showError, busy, ok } from "./forms.js";

const $ = (sel, root = document) => root.querySelector(sel);

// What kubectl rollout undo does not copy from the ReplicaSet to the Deployment.
const SKIP_ANNOTATIONS = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to",
]);

const keyOf = (obj) => `${obj.metadata.namespace}/${obj.metadata.name}`;

function rolloutText(r) {
  switch (r.key) {
    case "complete": return { mark: "✓", text: fmt(ngettext("Rollout complete: the pod runs the newest template.", "Rollout complete: all %(n)s pods run the newest template.", r.want), { n: r.want }) };
    case "updating": return { mark: "⟳", text: fmt(gettext("Rolling update: %(updated)s of %(want)s pods updated."), r) };
    case "terminating-old": return { mark: "⟳", text: fmt(ngettext("Rolling update: %(old)s old pod still to stop.", "Rolling update: %(old)s old pods still to stop.", r.old), r) };
    case "availability": return { mark: "⟳", text: fmt(gettext("Rolling update: %(available)s of %(updated)s updated pods available."), r) };
    case "observing": return { mark: "⟳", text: gettext("The deployment controller has not acted on the change yet.") };
    case "paused": return { mark: "❚❚", text: gettext("Paused: nothing rolls out until kubectl rollout resume.") };
    case "deadline": return { mark: "✕", text: fmt(gettext("Stuck (ProgressDeadlineExceeded): %(message)s"), { message: r.message }) };
    default: return { mark: "", text: "" };
  }
}

export class DeploymentsPanel {
  constructor({ state, api, announce }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.cards = new Map(); // uid -> element
    this.wire();
  }

  replicaSetsOf(dep) {
    return [...this.state.replicasets.values()]
      .filter((rs) => ownedBy(rs, dep))
      .sort((a, b) => (revisionOf(b) || 0) - (revisionOf(a) || 0) || a.metadata.name.localeCompare(b.metadata.name));
  }

  podsOf(rs) {
    return [...this.state.pods.values()].filter((p) => ownedBy(p, rs));
  }

  render() {
    const list = $("#deployments-list");
    const deps = this.state.sorted("deployments");
    const seen = new Set();
    let empty = $(".deployments-empty", list);
    if (!deps.length && !empty) {
      empty = document.createElement("p");
      empty.className = "muted deployments-empty";
      empty.textContent = gettext("No deployments yet.");
      list.append(empty);
    } else if (deps.length && empty) {
      empty.remove();
    }
    let previous = null;
    for (const dep of deps) {
      const uid = dep.metadata.uid;
      seen.add(uid);
      let card = this.cards.get(uid);
      if (!card) {
        card = this.makeCard(dep);
        this.cards.set(uid, card);
      }
      // Keep the cards in name order without moving a card that is in place (focus stays).
      const want = previous ? previous.nextElementSibling : list.firstElementChild;
      if (want !== card) list.insertBefore(card, want);
      this.fill(card, dep);
      previous = card;
    }
    for (const [uid, card] of this.cards) {
      if (!seen.has(uid)) {
        card.remove();
        this.cards.delete(uid);
      }
    }
    this.renderExposeChoices(deps);
  }

  makeCard(dep) {
    const name = dep.metadata.name;
    const id = `dep-${dep.metadata.uid}`;
    const card = document.createElement("article");
    card.className = "dep-card";
    card.dataset.deployment = keyOf(dep);
    card.setAttribute("aria-labelledby", `${id}-title`);
    card.innerHTML = `<div class="dep-info"></div>`
      + `<div class="dep-actions">`
      + `<form class="dep-scale" novalidate><label>${esc(gettext("Replicas"))} <input name="replicas" type="number" min="0" max="50" inputmode="numeric" aria-describedby="${id}-status"></label>`
      + ` <button type="submit" class="btn btn-small btn-primary">${esc(gettext("Scale"))}</button></form>`
      + `<form class="dep-image" novalidate><label class="dep-container-label">${esc(gettext("Container"))} <select name="container"></select></label>`
      + `<label>${esc(gettext("New image"))} <input name="image" autocomplete="off" spellcheck="false" aria-describedby="${id}-status"></label>`
      + ` <button type="submit" class="btn btn-small btn-primary">${esc(gettext("Set image"))}</button></form>`
      + `<button type="button" class="btn btn-small btn-danger delete-deployment" data-name="${esc(name)}" data-namespace="${esc(dep.metadata.namespace)}"`
      + ` aria-label="${esc(fmt(gettext("Delete deployment %(name)s"), { name }))}">${esc(gettext("Delete"))}</button>`
      + `</div><div id="${id}-status" class="form-status" aria-live="polite" hidden></div>`;
    return card;
  }

  fill(card, dep) {
    const name = dep.metadata.name;
    const id = `dep-${dep.metadata.uid}`;
    const sets = this.replicaSetsOf(dep);
    const revision = revisionOf(dep);
    const st = dep.status || {};
    const r = rolloutState(dep);
    const roll = rolloutText(r);
    const counts = fmt(gettext("wanted %(want)s · up to date %(updated)s · ready %(ready)s · available %(available)s"), {
      want: r.want, updated: st.updatedReplicas || 0, ready: st.readyReplicas || 0, available: st.availableReplicas || 0,
    });
    const rows = sets.map((rs) => {
      const rev = revisionOf(rs);
      const current = rev !== null && rev === revision;
      const hash = (rs.metadata.labels || {})[HASH_LABEL] || "";
      const image = (((rs.spec || {}).template || {}).spec || { containers: [] }).containers.map((c) => c.image).join(", ");
      const pods = this.podsOf(rs);
      const ready = pods.filter(isReady).length;
      const want = (rs.spec && rs.spec.replicas) ?? 0;
      const have = (rs.status && rs.status.replicas) || pods.length;
      const podsText = want === 0
        ? (have ? fmt(ngettext("scaled to 0: %(n)s pod still stopping", "scaled to 0: %(n)s pods still stopping", have), { n: have }) : gettext("scaled to 0"))
        : fmt(gettext("%(ready)s of %(want)s ready"), { ready, want }) + (have !== want ? ` · ${fmt(ngettext("%(n)s pod", "%(n)s pods", have), { n: have })}` : "");
      const tag = current ? `<span class="tag tag-current">${esc(gettext("current"))}</span>` : `<span class="tag">${esc(gettext("old"))}</span>`;
      const action = current || rev === null
        ? ""
        : `<button type="button" class="btn btn-small btn-quiet rollback" data-deployment="${esc(keyOf(dep))}" data-rs="${esc(rs.metadata.name)}" data-focus-key="rollback:${esc(rs.metadata.uid)}"`
          + ` aria-label="${esc(fmt(gettext("Roll %(name)s back to revision %(rev)s (%(image)s)"), { name, rev, image }))}">${esc(fmt(gettext("Roll back to revision %(rev)s"), { rev }))}</button>`;
      return `<tr class="${current ? "is-current" : ""}" data-rs="${esc(rs.metadata.name)}" data-revision="${rev ?? ""}" data-hash="${esc(hash)}">`
        + `<td><span class="mono">${esc(rs.metadata.name)}</span> ${tag}</td>`
        + `<td class="mono">${esc(hash)}</td><td>${rev ?? "—"}</td><td class="mono">${esc(image)}</td><td>${esc(podsText)}</td><td>${action}</td></tr>`;
    }).join("");
    const table = sets.length
      ? `<div class="table-wrap" role="region" aria-labelledby="${id}-rs" tabindex="0" data-focus-key="rs:${esc(dep.metadata.uid)}"><table class="grid-table rs-table"><caption id="${id}-rs" class="visually-hidden">${esc(fmt(gettext("ReplicaSets of %(name)s"), { name }))}</caption>`
        + `<thead><tr><th scope="col">${esc(gettext("ReplicaSet"))}</th><th scope="col">pod-template-hash</th><th scope="col">${esc(gettext("Revision"))}</th><th scope="col">${esc(gettext("Image"))}</th><th scope="col">${esc(gettext("Pods"))}</th><th scope="col"><span class="visually-hidden">${esc(gettext("Actions"))}</span></th></tr></thead>`
        + `<tbody>${rows}</tbody></table></div>`
      : `<p class="muted small">${esc(gettext("No ReplicaSet yet: the deployment controller makes one."))}</p>`;
    const info = `<h3 class="dep-title" id="${id}-title"><span class="mono">${esc(name)}</span>`
      + (dep.metadata.namespace !== "default" ? ` <span class="muted small">${esc(fmt(gettext("namespace %(ns)s"), { ns: dep.metadata.namespace }))}</span>` : "")
      + ` <span class="tag tag-revision" data-revision="${revision ?? ""}">${esc(revision === null ? gettext("no revision yet") : fmt(gettext("revision %(rev)s"), { rev: revision }))}</span></h3>`
      + `<p class="rollout-state" data-state="${esc(r.key)}"><span aria-hidden="true">${esc(roll.mark)} </span>${esc(roll.text)}</p>`
      + `<p class="dep-counts">${esc(counts)}</p>${table}`;
    const box = $(".dep-info", card);
    if (box.dataset.html !== info) {
      // The new table keeps the old one's sideways scroll (a narrow screen scrolls it).
      const scrolled = $(".table-wrap", box);
      const left = scrolled ? scrolled.scrollLeft : 0;
      box.innerHTML = info;
      box.dataset.html = info;
      const wrap = $(".table-wrap", box);
      if (wrap && left) wrap.scrollLeft = left;
    }
    // The forms show the current values until the learner types something else.
    const want = (dep.spec && dep.spec.replicas) ?? 1;
    const replicas = $("input[name=replicas]", card);
    if (replicas.dataset.shown === undefined || replicas.value === replicas.dataset.shown) replicas.value = String(want);
    replicas.dataset.shown = String(want);
    const containers = ((((dep.spec || {}).template || {}).spec || {}).containers || []);
    const select = $("select[name=container]", card);
    const names = containers.map((c) => c.name).join(",");
    if (select.dataset.names !== names) {
      const chosen = select.value;
      select.innerHTML = containers.map((c) => `<option value="${esc(c.name)}">${esc(c.name)}</option>`).join("");
      if (containers.some((c) => c.name === chosen)) select.value = chosen;
      select.dataset.names = names;
    }
    $(".dep-container-label", card).hidden = containers.length < 2;
    const container = containers.find((c) => c.name === select.value) || containers[0] || { name: "", image: "" };
    const image = $("input[name=image]", card);
    image.setAttribute("aria-label", fmt(gettext("New image for container %(c)s of %(name)s"), { c: container.name, name }));
    $("input[name=replicas]", card).setAttribute("aria-label", fmt(gettext("Replicas of %(name)s"), { name }));
    if (image.dataset.shown === undefined || image.value === image.dataset.shown) image.value = container.image || "";
    image.dataset.shown = container.image || "";
  }

  renderExposeChoices(deps) {
    const select = $("#expose-form select[name=deployment]");
    const names = deps.map(keyOf).join(",");
    if (select.dataset.names === names) return;
    const chosen = select.value;
    select.innerHTML = deps.length
      ? deps.map((d) => `<option value="${esc(keyOf(d))}">${esc(d.metadata.namespace === "default" ? d.metadata.name : keyOf(d))}</option>`).join("")
      : `<option value="">${esc(gettext("(no deployments yet)"))}</option>`;
    if (deps.some((d) => keyOf(d) === chosen)) select.value = chosen;
    else if (deps.length) select.value = keyOf(deps[deps.length - 1]);
    select.dataset.names = names;
  }

  deployment(key) {
    const [ns, name] = key.split("/");
    return this.state.find("deployments", ns, name);
  }

  wire() {
    const list = $("#deployments-list");
    list.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const card = form.closest(".dep-card");
      const dep = this.deployment(card.dataset.deployment);
      const status = $(".form-status", card);
      if (!dep) return;
      const { namespace, name } = dep.metadata;
      clearFieldErrors(form);
      busy(form, true);
      try {
        if (form.classList.contains("dep-scale")) {
          const n = parseInt(form.elements.replicas.value, 10);
          if (Number.isNaN(n) || n < 0) {
            form.elements.replicas.setAttribute("aria-invalid", "true");
            showResult(status, "error", ok(gettext("Type a number of replicas, 0 or more.")));
            return;
          }
          await this.api.scaleDeployment(namespace, name, n);
          form.elements.replicas.dataset.shown = String(n);
          showResult(status, "ok", ok(fmt(ngettext(
            "%(name)s now wants %(n)s replica: the desired count is in etcd, and the controller manager makes the ReplicaSet match it.",
            "%(name)s now wants %(n)s replicas: the desired count is in etcd, and the controller manager makes the ReplicaSet match it.", n,
          ), { name, n })));
        } else if (form.classList.contains("dep-image")) {
          const container = form.elements.container.value;
          const image = form.elements.image.value.trim();
          if (!image) {
            form.elements.image.setAttribute("aria-invalid", "true");
            showResult(status, "error", ok(gettext("Type an image, such as nginx:1.27.")));
            return;
          }
          await this.api.setImage(namespace, name, container, image);
          form.elements.image.dataset.shown = image;
          showResult(status, "ok", ok(fmt(gettext("New pod template for %(name)s (%(container)s=%(image)s): the deployment controller makes a new ReplicaSet and rolls the pods over to it."), { name, container, image })));
        }
      } catch (err) {
        showError(status, err, form);
      } finally {
        busy(form, false);
      }
    });
    list.addEventListener("change", (event) => {
      if (event.target.name !== "container") return;
      const card = event.target.closest(".dep-card");
      const image = $("input[name=image]", card);
      delete image.dataset.shown;
      const dep = this.deployment(card.dataset.deployment);
      if (dep) this.fill(card, dep);
    });
    list.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const card = button.closest(".dep-card");
      if (!card) return;
      const status = $(".form-status", card);
      if (button.classList.contains("delete-deployment")) {
        const { name, namespace } = button.dataset;
        try {
          await this.api.deleteDeploymentIn(namespace, name);
          showResult($("#deploy-form"), "ok", ok(fmt(gettext("Deployment %(name)s deleted; the garbage collector removes its ReplicaSet and pods."), { name })));
          this.announce(fmt(gettext("Deployment %(name)s deleted; the garbage collector removes its ReplicaSet and pods."), { name }));
        } catch (err) {
          showError(status, err);
        }
      } else if (button.classList.contains("rollback")) {
        await this.rollback(button, status);
      }
    });
  }

  // kubectl rollout undo --to-revision=N: the ReplicaSet's template and annotations back
  // on the Deployment, in one JSON patch.
  async rollback(button, status) {
    const dep = this.deployment(button.dataset.deployment);
    const rs = dep && this.replicaSetsOf(dep).find((r) => r.metadata.name === button.dataset.rs);
    if (!dep || !rs) return;
    const template = JSON.parse(JSON.stringify((rs.spec && rs.spec.template) || {}));
    if (template.metadata && template.metadata.labels) delete template.metadata.labels[HASH_LABEL];
    const annotations = {};
    const current = dep.metadata.annotations || {};
    for (const k of SKIP_ANNOTATIONS) if (k in current) annotations[k] = current[k];
    for (const [k, v] of Object.entries(rs.metadata.annotations || {})) if (!SKIP_ANNOTATIONS.has(k)) annotations[k] = v;
    button.disabled = true;
    try {
      await this.api.rollback(dep.metadata.namespace, dep.metadata.name, template, annotations);
      showResult(status, "ok", ok(fmt(gettext("Rolling %(name)s back to revision %(rev)s: its old ReplicaSet %(rs)s is scaled up again and becomes the newest revision."), { name: dep.metadata.name, rev: revisionOf(rs), rs: rs.metadata.name })));
    } catch (err) {
      showError(status, err);
    } finally {
      button.disabled = false;
    }
  }
}
